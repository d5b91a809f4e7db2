package activitydef

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/mirror"
)

// BodyRunner runs the user's function for one body activity. The engine
// implements it: it builds the ProcessContext, buffers progress and recovers
// panics.
type BodyRunner interface {
	RunBody(ctx context.Context, run *BodyRun) (BodyResult, error)
}

// BodyRun is one execution of a body, as handed to the BodyRunner.
type BodyRun struct {
	Input      BodyInput
	progress   atomic.Pointer[func() mirror.Progress]
	checkpoint atomic.Pointer[func() *mirror.Checkpoint]
}

// SetCheckpointSource tells the heartbeat where to read the latest
// checkpoint, which it sends as the second heartbeat detail.
func (r *BodyRun) SetCheckpointSource(f func() *mirror.Checkpoint) { r.checkpoint.Store(&f) }

// Checkpoint returns the latest checkpoint, for heartbeat details; nil
// when the body saved none.
func (r *BodyRun) Checkpoint() *mirror.Checkpoint {
	if f := r.checkpoint.Load(); f != nil {
		return (*f)()
	}
	return nil
}

// heartbeatDetails are the body activity's heartbeat details: the latest
// progress, then the latest checkpoint when there is one. Temporal keeps
// the last ones the server received in the activity's timeout failure, so
// a re-run after a lost worker can read them (PreviousCheckpoint); they
// never become history events of their own.
func (r *BodyRun) heartbeatDetails() []any {
	if cp := r.Checkpoint(); cp != nil {
		return []any{r.Progress(), cp}
	}
	return []any{r.Progress()}
}

// SetProgressSource tells the heartbeat where to read the latest progress.
func (r *BodyRun) SetProgressSource(f func() mirror.Progress) { r.progress.Store(&f) }

// Progress returns the latest progress, for heartbeat details.
func (r *BodyRun) Progress() *mirror.Progress {
	if f := r.progress.Load(); f != nil {
		p := (*f)()
		return &p
	}
	return nil
}

// Bodies implements the body activity and keeps track of the bodies running
// in this process, so that a cancel reaches them directly rather than through
// the next heartbeat response.
type Bodies struct {
	Runner BodyRunner
	// Finish writes a run's terminal state (Mirror.Finish), for bodies that
	// finish themselves (BodyInput.Finish).
	Finish func(context.Context, FinishInput) (FinishResult, error)
	// EndWritten reports whether a run's end is already in its document
	// (Mirror.EndWritten). A body that finishes itself checks it before a
	// re-run after a lost worker: the lost attempt may have written the end
	// and died before Temporal heard of it, and the body must not run again.
	EndWritten func(ctx context.Context, docID string) (bool, error)
	// HeartbeatInterval is how often the body activity heartbeats.
	HeartbeatInterval time.Duration

	mu      sync.Mutex
	running map[string]context.CancelCauseFunc
	docs    map[string]string
}

func bodyKey(workflowID, runID string) string { return workflowID + "\x00" + runID }

// Body runs a process's function until it returns. It heartbeats with the
// latest progress (and checkpoint) as details. An error from the function fails the activity
// with a non-retryable ApplicationError of type BodyFailedType.
func (b *Bodies) Body(ctx context.Context, in BodyInput) (BodyResult, error) {
	if res, ok := b.endedBefore(ctx, in); ok {
		return res, nil
	}
	bodyCtx, cancel := context.WithCancelCause(ctx)
	key := bodyKey(in.WorkflowID, in.RunID)
	b.mu.Lock()
	if b.running == nil {
		b.running = map[string]context.CancelCauseFunc{}
		b.docs = map[string]string{}
	}
	b.running[key] = cancel
	b.docs[key] = in.DocID
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.running, key)
		delete(b.docs, key)
		b.mu.Unlock()
		cancel(nil)
	}()

	run := &BodyRun{Input: in}
	stop := make(chan struct{})
	var hb sync.WaitGroup
	hb.Add(1)
	go func() {
		defer hb.Done()
		interval := b.HeartbeatInterval
		if interval <= 0 {
			interval = time.Second
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		// The first heartbeat waits an interval: a short body sends none.
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			activity.RecordHeartbeat(ctx, run.heartbeatDetails()...)
		}
	}()
	res, err := b.Runner.RunBody(bodyCtx, run)
	close(stop)
	hb.Wait()
	if bodyCtx.Err() != nil {
		switch cause := context.Cause(bodyCtx); {
		case errors.Is(cause, activities.ErrCancelRequested), errors.Is(cause, activities.ErrShutdown):
		default:
			// Whatever the body made of it, it was cut short from outside.
			return BodyResult{Interrupted: true}, nil
		}
	}
	switch {
	case errors.Is(err, activities.ErrNoExecute):
		return res, temporal.NewNonRetryableApplicationError(err.Error(), activities.NoExecuteType, nil)
	case err != nil:
		return res, temporal.NewNonRetryableApplicationError(err.Error(), activities.BodyFailedType, nil)
	}
	if in.Finish != nil && b.Finish != nil && !res.Cancelled && !res.Interrupted && !res.SpawnedChildren {
		fin := *in.Finish
		fin.Outcome = OutcomeDone
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		fr, ferr := b.Finish(fctx, fin)
		cancel()
		if ferr == nil {
			res.Finished = &fr
		} // else the workflow's Finish local activity retries it
	}
	return res, nil
}

// endedBefore reports, for a body re-run after a lost worker, whether the
// lost attempt had already finished the run (BodyInput.Finish) and only its
// completion was lost; it then returns what that attempt would have
// reported, read back from the document, and the body does not run again.
// A failed check runs the body, as before.
func (b *Bodies) endedBefore(ctx context.Context, in BodyInput) (BodyResult, bool) {
	if in.Attempt <= 1 || in.Finish == nil || b.Finish == nil || b.EndWritten == nil {
		return BodyResult{}, false
	}
	if ended, err := b.EndWritten(ctx, in.DocID); err != nil || !ended {
		return BodyResult{}, false
	}
	fin := *in.Finish
	fin.Outcome = OutcomeDone
	// The document is past running, so this writes nothing: it reads the end
	// back (and deletes an ephemeral process left behind).
	fr, err := b.Finish(ctx, fin)
	if err != nil {
		return BodyResult{}, false
	}
	return BodyResult{Finished: &fr}, true
}

// CancelBody cancels the body of the given workflow run if it runs here.
func (b *Bodies) CancelBody(_ context.Context, in CancelBodyInput) (bool, error) {
	return b.Cancel(in.WorkflowID, in.RunID, activities.ErrCancelRequested), nil
}

// Cancel cancels the body of the given workflow run if it runs in this
// process, and reports whether it did.
func (b *Bodies) Cancel(workflowID, runID string, cause error) bool {
	b.mu.Lock()
	cancel, ok := b.running[bodyKey(workflowID, runID)]
	b.mu.Unlock()
	if ok {
		cancel(cause)
	}
	return ok
}

// CancelAll cancels every body running in this process and returns how many.
func (b *Bodies) CancelAll(cause error) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, cancel := range b.running {
		cancel(cause)
	}
	return len(b.running)
}

// Running returns how many bodies run in this process.
func (b *Bodies) Running() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.running)
}

// RunningDocs returns the document ids of the bodies running in this process.
func (b *Bodies) RunningDocs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.docs))
	for _, d := range b.docs {
		out = append(out, d)
	}
	return out
}

// CancelWorkflow cancels the body of any run of workflowID running here.
func (b *Bodies) CancelWorkflow(workflowID string, cause error) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	found := false
	for key, cancel := range b.running {
		if len(key) > len(workflowID) && key[:len(workflowID)] == workflowID && key[len(workflowID)] == 0 {
			cancel(cause)
			found = true
		}
	}
	return found
}

// PreviousCheckpoint returns the checkpoint in the last heartbeat details
// the server received from a body activity of the workflow run that timed
// out (its worker was lost), nil when there is none. The re-run body
// compares it with the checkpoint in Mongo and keeps the later.
func PreviousCheckpoint(ctx context.Context, c client.Client, workflowID, runID string) (*mirror.Checkpoint, error) {
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	bodies := map[int64]bool{}
	var last *commonpb.Payloads
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("read history of %s: %w", workflowID, err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == activities.BodyName {
			bodies[ev.GetEventId()] = true
		}
		a := ev.GetActivityTaskTimedOutEventAttributes()
		if a == nil || !bodies[a.GetScheduledEventId()] {
			continue
		}
		for f := a.GetFailure(); f != nil; f = f.GetCause() {
			if d := f.GetTimeoutFailureInfo().GetLastHeartbeatDetails(); len(d.GetPayloads()) > 1 {
				last = d
				break
			}
		}
	}
	if last == nil {
		return nil, nil
	}
	var progress *mirror.Progress
	var cp *mirror.Checkpoint
	if err := converter.GetDefaultDataConverter().FromPayloads(last, &progress, &cp); err != nil {
		return nil, fmt.Errorf("decode heartbeat details of %s: %w", workflowID, err)
	}
	return cp, nil
}
