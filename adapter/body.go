package adapter

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/mirror"
)

// bodyRunner runs task functions for the body activity.
type bodyRunner struct{ e *Engine }

// RunBody builds the ProcessContext, runs the function, and makes the final
// progress flush before the body activity reports back.
func (r bodyRunner) RunBody(ctx context.Context, run *activities.BodyRun) (activities.BodyResult, error) {
	e, in := r.e, run.Input
	entry, ok := e.reg.lookup(in.ProcessID)
	fn, params := entry.execute, entry.params
	if !ok {
		return activities.BodyResult{}, activities.ErrNoExecute
	}
	docID, err := bson.ObjectIDFromHex(in.DocID)
	if err != nil {
		return activities.BodyResult{}, fmt.Errorf("bad document id %q: %w", in.DocID, err)
	}
	buf := mirror.NewProgressBuffer(e.store, docID, in.RunningSince, e.cfg.ProgressFlushInterval)
	run.SetProgressSource(buf.Latest)
	if params == nil {
		params = map[string]any{}
	}
	metadata := in.Metadata
	if metadata == nil {
		metadata = map[string]any{}
	}
	pc := &ProcessContext{
		ctx:        ctx,
		engine:     e,
		processID:  in.ProcessID,
		docID:      docID,
		workflowID: in.WorkflowID,
		runID:      in.RunID,
		revision:   in.Revision,
		params:     params,
		metadata:   metadata,
		services:   e.cfg.Services,
		progress:   buf,
		listener:   entry.onProgress,
	}
	if in.Attempt > 1 {
		e.log.Info("re-running body after a lost worker", "process", in.ProcessID, "attempt", in.Attempt)
	}
	bodyErr := callBody(fn, pc)
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := buf.Close(flushCtx); err != nil {
		e.log.Warn("final progress flush failed", "process", in.ProcessID, "error", err)
	}
	cancelled := ctx.Err() != nil
	if bodyErr != nil {
		if cancelled && errors.Is(bodyErr, context.Canceled) {
			// Returning ctx.Err() is how a Go body honours cancellation.
			return activities.BodyResult{Cancelled: true}, nil
		}
		return activities.BodyResult{}, bodyErr
	}
	return activities.BodyResult{Cancelled: cancelled, SpawnedChildren: pc.spawned.Load()}, nil
}

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
