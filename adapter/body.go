package adapter

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/adapter/internal/bodyhost"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/internal/docstore"
)

// bodyRunner runs task functions for the body activity.
type bodyRunner struct{ e *Engine }

// RunBody builds the ProcessContext, runs the function, and makes the final
// progress flush before the body activity reports back.
func (r bodyRunner) RunBody(ctx context.Context, run *activitydef.BodyRun) (activitydef.BodyResult, error) {
	e, in := r.e, run.Input
	if m := e.cfg.Metrics; m != nil {
		m.BodyStarted()
		defer m.BodyEnded()
	}
	entry, ok := e.reg.lookup(in.ProcessID)
	fn, params := entry.execute, entry.params
	if !ok {
		return activitydef.BodyResult{}, activities.ErrNoExecute
	}
	docID, err := bson.ObjectIDFromHex(in.DocID)
	if err != nil {
		return activitydef.BodyResult{}, fmt.Errorf("bad document id %q: %w", in.DocID, err)
	}
	var onFlush func(time.Duration, error)
	if e.cfg.Metrics != nil {
		onFlush = e.cfg.Metrics.ProgressFlush
	}
	buf := docstore.NewProgressBuffer(e.store, docID, in.RunningSince, e.cfg.ProgressFlushInterval, onFlush)
	run.SetProgressSource(buf.Latest)
	if params == nil {
		params = map[string]any{}
	}
	metadata := in.Metadata
	if metadata == nil {
		metadata = map[string]any{}
	}
	host := &engineHost{
		e:   e,
		ctx: ctx,
		proc: bodyhost.Process{
			ProcessID: in.ProcessID,
			Params:    params,
			Metadata:  metadata,
			Services:  e.cfg.Services,
		},
		docID:      docID,
		workflowID: in.WorkflowID,
		runID:      in.RunID,
		revision:   in.Revision,
		progress:   buf,
		listener:   entry.onProgress,
		body:       run,
		attempt:    in.Attempt,
	}
	pc := newProcessContext(ctx, host)
	if in.Attempt > 1 {
		e.log.Info("re-running body after a lost worker", "process", in.ProcessID, "attempt", in.Attempt)
	}
	bodyErr := pc.settle(callBody(fn, pc), func(groups, children int) {
		e.log.Warn("body returned before its children ended; waiting for them", "process", in.ProcessID, "unwaitedGroups", groups, "childrenRunning", children)
	})
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := buf.Close(flushCtx); err != nil {
		e.log.Warn("final progress flush failed", "process", in.ProcessID, "error", err)
	}
	if err := pc.closeCheckpoints(flushCtx); err != nil {
		e.log.Warn("final checkpoint write failed", "process", in.ProcessID, "error", err)
	}
	cancelled := ctx.Err() != nil
	if bodyErr != nil {
		if stoppedByCancel(ctx, bodyErr) {
			return activitydef.BodyResult{Cancelled: true}, nil
		}
		return activitydef.BodyResult{}, bodyErr
	}
	return activitydef.BodyResult{Cancelled: cancelled, SpawnedChildren: host.spawned.Load()}, nil
}

// stoppedByCancel reports whether a body that returned err stopped because
// its process was cancelled (or the engine shut down), so that it ends
// cancelled rather than failed. Returning the cancel is how a Go body
// honours it: ctx.Err(), the refusal of a spawn after the cancel, or the
// *ChildError or *GroupError of children cancelled with it. A refused spawn
// proves the cancel even before it reaches this body's context: the
// workflow refuses children only once it is cancelled.
func stoppedByCancel(ctx context.Context, err error) bool {
	if ctx.Err() == nil && !errors.Is(err, ErrParentCancelled) {
		return false
	}
	return onlyCancellation(err)
}

// onlyCancellation reports whether err is made of cancellation and nothing
// else: every branch of its tree ends in context.Canceled (or an error that
// matches it, such as ErrParentCancelled), a cancelled child's *ChildError,
// or a *GroupError broken by cancelled children only. A failed child, a
// panic or any other error anywhere in the tree makes it a real failure.
func onlyCancellation(err error) bool {
	switch e := err.(type) {
	case nil:
		return false
	case *ChildError:
		return e.State == StateCancelled
	case *GroupError:
		return e.cancelledOnly()
	}
	if err == context.Canceled {
		return true
	}
	if is, ok := err.(interface{ Is(error) bool }); ok && is.Is(context.Canceled) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return onlyCancellation(u.Unwrap())
	case interface{ Unwrap() []error }:
		errs := u.Unwrap()
		for _, e := range errs {
			if !onlyCancellation(e) {
				return false
			}
		}
		return len(errs) > 0
	}
	return false
}

// cancellation is an error that means "stopped because of a cancel": it
// matches context.Canceled, so errors.Is(err, context.Canceled) holds for
// it and a body may return it to end cancelled.
type cancellation string

func (e cancellation) Error() string { return string(e) }

// Is makes a cancellation match context.Canceled.
func (e cancellation) Is(target error) bool { return target == context.Canceled }

// callBody runs fn, turning a panic into an error so that a buggy task fails
// its process instead of the worker.
func callBody(fn TaskFunc, pc *ProcessContext) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(pc)
}
