package adapter

import (
	"context"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The engine's waits (a shutdown draining its bodies, a group cancel or a
// cleaning resync waiting for cancelled processes to end, a group cancel
// letting launches in flight land) end on the event they wait for, or on
// their context; none of them sleeps.

// changes wakes waiters when something they watch may have changed here: a
// body activity returned, or a mirror activity of this engine wrote a
// process's end. The zero value is ready.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// next returns a channel that is closed at the next notify. Take it before
// looking, so that a change made after the look is not missed.
func (c *changes) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

func (c *changes) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// notifying wraps an activity so that c is notified each time it returns.
func notifying[In, Out any](c *changes, fn func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		defer c.notify()
		return fn(ctx, in)
	}
}

// awaitInactive waits until the document id is in no active state (or
// gone), or ctx ends. A process's end is written inside its workflow run, by
// whichever worker runs it, so the wait wakes when the run closes (a
// long poll on Temporal) as well as on this engine's own writes; a run that
// closed with its document still active (an end write being retried, a stuck
// document the reconciler will fail) is waited for on this engine's writes
// only, until one of them comes.
func (e *Engine) awaitInactive(ctx context.Context, id bson.ObjectID) error {
	runClosed := false
	for {
		next := e.changed.next()
		p, err := e.store.Get(ctx, id)
		switch {
		case isNotFound(err):
			return nil
		case err != nil:
			return err
		case !p.Status.State.Active():
			return nil
		}
		if runClosed {
			select {
			case <-next:
			case <-ctx.Done():
				return ctx.Err()
			}
			runClosed = false
			continue
		}
		runClosed = e.awaitRunClosed(ctx, e.WorkflowID(p.ProcessID), next)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// awaitBodiesReturned waits until no body runs here, or ctx ends.
func (e *Engine) awaitBodiesReturned(ctx context.Context) error {
	for {
		next := e.changed.next()
		if e.bodies.Running() == 0 {
			return nil
		}
		select {
		case <-next:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// awaitDocsInactive waits until none of the documents (hex _ids) is active,
// or ctx ends; one that cannot be read counts as inactive.
func (e *Engine) awaitDocsInactive(ctx context.Context, docs []string) error {
	for _, d := range docs {
		id, err := bson.ObjectIDFromHex(d)
		if err != nil {
			continue
		}
		if err := e.awaitInactive(ctx, id); err != nil && ctx.Err() != nil {
			return err
		}
	}
	return nil
}

// awaitRunClosed waits for the current run of workflow wfID to close (or
// to be found missing), and reports whether it did; next or ctx end the
// wait first.
func (e *Engine) awaitRunClosed(ctx context.Context, wfID string, next <-chan struct{}) bool {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = e.cfg.Temporal.GetWorkflow(rctx, wfID, "").Get(rctx, nil)
	}()
	select {
	case <-closed:
		return rctx.Err() == nil
	case <-next:
	case <-ctx.Done():
	}
	cancel()
	<-closed
	return false
}

// claimGate lets a group cancel wait for the launches that were claiming a
// document when it blocked launches: each claim holds it shared.
type claimGate struct{ mu sync.RWMutex }

func (g *claimGate) enter() func() {
	g.mu.RLock()
	return g.mu.RUnlock
}

// settle waits until every claim in progress when it was called has
// finished, or ctx ends. Claims that begin meanwhile wait for it, and see
// the block.
func (g *claimGate) settle(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		g.mu.Lock()
		close(done)
		g.mu.Unlock()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
