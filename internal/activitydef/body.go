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
	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/internal/textclip"
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
	// workflowNeeded is closed when the body first needs its workflow.
	workflowNeeded chan struct{}
	needOnce       sync.Once
}

// NeedWorkflow tells a body started inline that it needs its workflow (to
// start children): the local activity that started it then stops holding
// the workflow task open and leaves the body running. It returns at once.
func (r *BodyRun) NeedWorkflow() {
	if r.workflowNeeded != nil {
		r.needOnce.Do(func() { close(r.workflowNeeded) })
	}
}

// needsWorkflow is closed once NeedWorkflow was called.
func (r *BodyRun) needsWorkflow() <-chan struct{} { return r.workflowNeeded }

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
//
// A body starts either in the body activity or inline, in a local activity
// of the workflow task that started its run (BodyInline). An inline body
// that ends soon ends the run in that same workflow task; one that runs on
// is left running (detached) and taken over by a body activity (Adopt),
// which heartbeats for it and reports its end.
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
	// Ended, when set, is called each time a body's function has returned
	// and its end is settled.
	Ended func()
	// HeartbeatInterval is how often the body activity heartbeats.
	HeartbeatInterval time.Duration

	mu      sync.Mutex
	entries map[string]*bodyEntry
}

// bodyEntry is one body started in this process: running, or ended and
// waiting for the activity that reports it.
type bodyEntry struct {
	docID  string
	run    *BodyRun
	cancel context.CancelCauseFunc
	// returned is closed when the Runner has returned; done once res and
	// err are final (the body's own terminal write included).
	returned, done chan struct{}
	res            BodyResult
	err            error
	// adopted and expire are guarded by Bodies.mu; expire is set once
	// BodyInline has left the body running (detached).
	adopted bool
	expire  *time.Timer
}

// errNotAdopted cancels a detached body that no body activity took over in
// time: its workflow counts the worker lost and runs the body elsewhere.
var errNotAdopted = errors.New("optio: no body activity took the inline body over")

func bodyKey(workflowID, runID string) string { return workflowID + "\x00" + runID }

// Body runs a process's function until it returns. It heartbeats with the
// latest progress (and checkpoint) as details. An error from the function fails the activity
// with a non-retryable ApplicationError of type BodyFailedType. With
// BodyInput.Adopt it takes over the body BodyInline left running here
// instead.
func (b *Bodies) Body(ctx context.Context, in BodyInput) (BodyResult, error) {
	key := bodyKey(in.WorkflowID, in.RunID)
	if in.Adopt {
		b.mu.Lock()
		e := b.entries[key]
		ok := e != nil && !e.adopted
		if ok {
			e.adopted = true
			if e.expire != nil {
				e.expire.Stop()
			}
		}
		b.mu.Unlock()
		if !ok {
			return BodyResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("the body of %q started inline does not run on this worker", in.ProcessID), activities.BodyGoneType, nil)
		}
		return b.watch(ctx, key, e)
	}
	if res, ok := b.endedBefore(ctx, in); ok {
		return res, nil
	}
	return b.watch(ctx, key, b.start(ctx, in))
}

// BodyInline is the local activity that starts a body in the workflow task
// that started its run. It waits up to BodyInput.InlineFor for the body to
// end and then reports its end as Body would. A body that runs longer, or
// that asks for children (it needs its workflow, whose task this local
// activity holds open), is left running and reported Detached; it waits up
// to BodyInput.AdoptWithin for a body activity with Adopt to take it over.
func (b *Bodies) BodyInline(ctx context.Context, in BodyInput) (BodyResult, error) {
	key := bodyKey(in.WorkflowID, in.RunID)
	b.mu.Lock()
	e := b.entries[key]
	b.mu.Unlock()
	if e == nil {
		// Else the workflow task that started it failed, and this is its
		// retry: the body runs already.
		e = b.start(ctx, in)
	}
	window := time.NewTimer(in.InlineFor)
	defer window.Stop()
	select {
	case <-e.returned:
		<-e.done
		b.remove(key, e)
		return e.res, e.err
	case <-e.run.needsWorkflow():
	case <-window.C:
	case <-ctx.Done():
	}
	b.mu.Lock()
	if e.expire == nil && !e.adopted {
		e.expire = time.AfterFunc(in.AdoptWithin, func() { b.abandon(key, e) })
	}
	b.mu.Unlock()
	return BodyResult{Detached: true}, nil
}

// Has reports whether a body of the given workflow run runs here, or has
// ended here and waits for the activity that reports it.
func (b *Bodies) Has(workflowID, runID string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.entries[bodyKey(workflowID, runID)]
	return ok
}

// abandon cancels a detached body that nothing took over.
func (b *Bodies) abandon(key string, e *bodyEntry) {
	b.mu.Lock()
	gone := !e.adopted && b.entries[key] == e
	if gone {
		delete(b.entries, key)
	}
	b.mu.Unlock()
	if gone {
		e.cancel(errNotAdopted)
	}
}

// start runs the body of in in a goroutine of its own and registers it. Its
// context keeps ctx's values but not its cancellation: the body outlives a
// local activity that starts it inline.
func (b *Bodies) start(ctx context.Context, in BodyInput) *bodyEntry {
	bodyCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	e := &bodyEntry{
		docID:    in.DocID,
		run:      &BodyRun{Input: in, workflowNeeded: make(chan struct{})},
		cancel:   cancel,
		returned: make(chan struct{}),
		done:     make(chan struct{}),
	}
	key := bodyKey(in.WorkflowID, in.RunID)
	b.mu.Lock()
	if b.entries == nil {
		b.entries = map[string]*bodyEntry{}
	}
	b.entries[key] = e
	b.mu.Unlock()
	go b.execute(bodyCtx, e)
	return e
}

// execute runs the body and settles its end: the result or typed failure,
// and the run's terminal write when the body finishes itself.
func (b *Bodies) execute(bodyCtx context.Context, e *bodyEntry) {
	defer func() {
		e.cancel(nil)
		close(e.done)
		if b.Ended != nil {
			b.Ended()
		}
	}()
	in := e.run.Input
	res, err := b.Runner.RunBody(bodyCtx, e.run)
	close(e.returned)
	if bodyCtx.Err() != nil {
		switch cause := context.Cause(bodyCtx); {
		case errors.Is(cause, activities.ErrCancelRequested), errors.Is(cause, activities.ErrShutdown):
		default:
			// Whatever the body made of it, it was cut short from outside.
			e.res = BodyResult{Interrupted: true}
			return
		}
	}
	switch {
	case errors.Is(err, activities.ErrNoExecute):
		e.res, e.err = res, temporal.NewNonRetryableApplicationError(err.Error(), activities.NoExecuteType, nil)
		return
	case err != nil:
		// The text becomes the run's failure (a history event) and the
		// document's error: clipped, so that a long one breaks neither.
		msg := textclip.Clip(err.Error(), docstore.MaxMessageBytes)
		e.res, e.err = res, temporal.NewNonRetryableApplicationError(msg, activities.BodyFailedType, nil)
		return
	}
	if in.Finish != nil && b.Finish != nil && !res.Cancelled && !res.Interrupted && !res.SpawnedChildren {
		fin := *in.Finish
		fin.Outcome = OutcomeDone
		fctx, cancel := context.WithTimeout(context.WithoutCancel(bodyCtx), 30*time.Second)
		fr, ferr := b.Finish(fctx, fin)
		cancel()
		if ferr == nil {
			res.Finished = &fr
		} // else the workflow's Finish local activity retries it
	}
	e.res = res
}

// watch reports the body of e to the body activity of ctx: it heartbeats
// for it and returns its end. The activity's context ending (a cancel the
// server delivered, heartbeats that kept failing, the worker stopping) cuts
// the body short.
func (b *Bodies) watch(ctx context.Context, key string, e *bodyEntry) (BodyResult, error) {
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
			activity.RecordHeartbeat(ctx, e.run.heartbeatDetails()...)
		}
	}()
	select {
	case <-e.done:
	case <-ctx.Done():
		e.cancel(context.Cause(ctx))
		<-e.done
	}
	close(stop)
	hb.Wait()
	b.remove(key, e)
	return e.res, e.err
}

// remove forgets e once its end was reported.
func (b *Bodies) remove(key string, e *bodyEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.expire != nil {
		e.expire.Stop()
	}
	if b.entries[key] == e {
		delete(b.entries, key)
	}
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
	e, ok := b.entries[bodyKey(workflowID, runID)]
	b.mu.Unlock()
	if ok {
		e.cancel(cause)
	}
	return ok
}

// CancelWorkflow cancels the body of any run of workflowID running here.
func (b *Bodies) CancelWorkflow(workflowID string, cause error) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	found := false
	for key, e := range b.entries {
		if len(key) > len(workflowID) && key[:len(workflowID)] == workflowID && key[len(workflowID)] == 0 {
			e.cancel(cause)
			found = true
		}
	}
	return found
}

// CancelAll cancels every body running in this process and returns how many.
func (b *Bodies) CancelAll(cause error) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.entries {
		e.cancel(cause)
	}
	return b.runningLocked()
}

// Running returns how many bodies run in this process.
func (b *Bodies) Running() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runningLocked()
}

func (b *Bodies) runningLocked() int {
	n := 0
	for _, e := range b.entries {
		select {
		case <-e.done:
		default:
			n++
		}
	}
	return n
}

// RunningDocs returns the document ids of the bodies running in this process.
func (b *Bodies) RunningDocs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.entries))
	for _, e := range b.entries {
		select {
		case <-e.done:
		default:
			out = append(out, e.docID)
		}
	}
	return out
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
