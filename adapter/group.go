package adapter

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// GroupOptions shapes a ParallelGroup.
type GroupOptions struct {
	// MaxConcurrency bounds how many children run at once; Spawn blocks while
	// that many are running. Zero or less means 10.
	MaxConcurrency int
	// SurviveFailure keeps Wait from returning an error for failed children
	// and keeps a failure from cancelling the siblings.
	SurviveFailure bool
	// SurviveCancel likewise for cancelled children.
	SurviveCancel bool
	// OnChildProgress, when set, becomes the parent's child-progress callback.
	OnChildProgress func([]ChildProgressInfo)
}

// ErrGroupClosed is returned by Spawn after Wait.
var ErrGroupClosed = errors.New("parallel group already closed")

// GroupError is returned by ParallelGroup.Wait when a child failed (or was
// cancelled) and the group does not survive that. It lists every child that
// did not end done, as optio-core's ExceptionGroup does; errors.As finds each
// *ChildError.
type GroupError struct {
	// Children are the children that did not end done, in spawn order.
	Children []*ChildError
	// survivesFailure is the group's SurviveFailure: its failed children
	// did not break it.
	survivesFailure bool
}

// Error summarises the group's failures in optio-core's wording.
func (e *GroupError) Error() string {
	plural := "s"
	if len(e.Children) == 1 {
		plural = ""
	}
	return fmt.Sprintf("Parallel group failed (%d sub-exception%s)", len(e.Children), plural)
}

// Unwrap returns the children's errors.
func (e *GroupError) Unwrap() []error {
	out := make([]error, len(e.Children))
	for i, c := range e.Children {
		out[i] = c
	}
	return out
}

// cancelledOnly reports whether the group broke because of cancelled
// children alone: each child listed was cancelled, or failed in a group
// that survives failures. Returned after a cancel of the parent, such an
// error ends the parent cancelled.
func (e *GroupError) cancelledOnly() bool {
	cancelled := false
	for _, c := range e.Children {
		switch {
		case c.State == StateCancelled:
			cancelled = true
		case c.State == StateFailed && e.survivesFailure:
		default:
			return false
		}
	}
	return cancelled
}

// ParallelGroup runs child processes concurrently, at most MaxConcurrency at a
// time. Spawn children, then call Wait once.
//
// A body that returns nil without calling Wait does not leave its children
// behind: its return waits for them as Wait would, so its process ends only
// after them, a cancel of the process still reaches them, and a child that
// breaks the group fails (or cancels) the process as Wait's error would.
// The engine logs a warning when it does this. A body that returns an error
// (or panics) ends at once, and the children it did not wait for are
// cancelled.
type ParallelGroup struct {
	pc   *ProcessContext
	opts GroupOptions
	sem  chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	breach  bool
	results []ChildResult
	specs   map[string]bool
	active  map[string]bool
	// starting holds the spawns whose goroutine has not taken them yet, in
	// spawn order (runOldest).
	starting []groupSpawn
	// admit is held by the goroutine whose spawn is on its way to the
	// host's queue, so that the requests follow spawn order.
	admit sync.Mutex
}

// groupSpawn is a spawned child on its way to its goroutine.
type groupSpawn struct {
	idx  int
	spec ChildSpec
	size int
}

// ParallelGroup creates a group for running children concurrently.
func (c *ProcessContext) ParallelGroup(opts GroupOptions) *ParallelGroup {
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = 10
	}
	if opts.OnChildProgress != nil {
		c.tracker().setCallback(opts.OnChildProgress)
	}
	g := &ParallelGroup{
		pc: c, opts: opts,
		sem:    make(chan struct{}, opts.MaxConcurrency),
		specs:  map[string]bool{},
		active: map[string]bool{},
	}
	c.kids.addGroup(g)
	return g
}

// settle runs once the body's function has returned bodyErr, and returns
// the process's outcome. A body that returned nil ends only after the
// children it started: it waits for the groups it left unwaited (whose
// error, if one broke, becomes the outcome) and for the children its own
// goroutines still run. warn, when not nil, is told first how many groups
// were left and how many children had not ended, when some had not.
// A failed body does not wait: its close cancels its children.
func (c *ProcessContext) settle(bodyErr error, warn func(groups, children int)) error {
	if bodyErr != nil {
		c.kids.close(false)
		return bodyErr
	}
	groups, active, calls := c.leftGroups()
	if children := max(active, calls); children > 0 && warn != nil {
		warn(len(groups), children)
	}
	bodyErr = waitLeft(groups)
	c.kids.close(true)
	return bodyErr
}

// leftGroups returns the groups with spawned children that the body has
// not called Wait on, how many of their children have not ended yet, and
// how many runChild calls (of groups or of the body's goroutines) are in
// progress.
func (c *ProcessContext) leftGroups() (left []*ParallelGroup, active, calls int) {
	groups, calls := c.kids.snapshot()
	for _, g := range groups {
		g.mu.Lock()
		if !g.closed && len(g.specs) > 0 {
			left = append(left, g)
			active += len(g.active)
		}
		g.mu.Unlock()
	}
	return left, active, calls
}

// waitLeft waits for the children of groups that a body returning nil left
// unwaited, and returns the body's outcome: nil, or the error of the first
// group broken by its children.
func waitLeft(groups []*ParallelGroup) error {
	var first error
	for _, g := range groups {
		if _, err := g.Wait(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Spawn starts a child in the group; it blocks while MaxConcurrency children
// are running. It returns an error, and starts nothing, for a bad spec, a
// process ID already spawned in this group, a closed group, a body that has
// returned (ErrBodyReturned), or a cancelled parent (the last is logged on
// the parent as optio-core does). The children of one group are created in
// the order they were spawned: their order numbers and the parent's
// "Spawned child" entries follow it.
func (g *ParallelGroup) Spawn(spec ChildSpec) error {
	size, err := g.pc.checkChild(spec, "spawn child")
	if err != nil {
		return err
	}
	if g.pc.kids.isClosed() {
		return fmt.Errorf("spawn child %q: %w", spec.ProcessID, ErrBodyReturned)
	}
	g.mu.Lock()
	switch {
	case g.closed:
		g.mu.Unlock()
		return fmt.Errorf("spawn child %q: %w", spec.ProcessID, ErrGroupClosed)
	case g.specs[spec.ProcessID]:
		g.mu.Unlock()
		return fmt.Errorf("%w: child process id %q spawned twice in this group", ErrInvalidInput, spec.ProcessID)
	}
	if err := g.pc.checkChildNotEnded(spec.ProcessID, "spawn child"); err != nil {
		g.mu.Unlock()
		return err
	}
	g.specs[spec.ProcessID] = true
	// Counted before the lock is let go, so that a Wait from another
	// goroutine, once it has closed the group, waits for this child too.
	g.wg.Add(1)
	g.mu.Unlock()

	slot := false
	select {
	case g.sem <- struct{}{}:
		slot = true
	case <-g.pc.ctx.Done():
	}
	if g.pc.ctx.Err() != nil {
		if slot {
			<-g.sem
		}
		g.mu.Lock()
		g.results = append(g.results, ChildResult{ProcessID: spec.ProcessID, Name: spec.Name, State: StateCancelled, Error: "parent cancelled"})
		g.mu.Unlock()
		g.wg.Done()
		return g.pc.refuse(spec)
	}
	g.mu.Lock()
	idx := len(g.results)
	g.results = append(g.results, ChildResult{ProcessID: spec.ProcessID, Name: spec.Name, State: StateScheduled})
	g.active[spec.ProcessID] = true
	g.starting = append(g.starting, groupSpawn{idx: idx, spec: spec, size: size})
	g.mu.Unlock()
	go g.runOldest()
	return nil
}

// runOldest runs the oldest spawn no goroutine has taken yet, once the
// spawn before it has its place in the host's queue of requests. Each spawn
// starts one goroutine, but Go runs the goroutine started last first: one
// that ran its own spawn at once would make a group's last spawn the first
// to ask for its child, and take order number 0. optio-core's tasks start in
// the order they were created.
func (g *ParallelGroup) runOldest() {
	g.admit.Lock()
	var once sync.Once
	queued := func() { once.Do(g.admit.Unlock) }
	defer queued()
	g.mu.Lock()
	next := g.starting[0]
	g.starting[0] = groupSpawn{}
	g.starting = g.starting[1:]
	g.mu.Unlock()
	g.run(next.idx, next.spec, next.size, queued)
}

// run runs one spawned child to its end; queued is called once its request
// holds its place (runChild).
func (g *ParallelGroup) run(idx int, spec ChildSpec, size int, queued func()) {
	defer g.wg.Done()
	defer func() { <-g.sem }()
	reply, err := g.pc.runChild(spec, size, queued)
	res := ChildResult{ProcessID: spec.ProcessID, Name: spec.Name, State: reply.State, Error: reply.Error}
	refused := errors.Is(err, ErrParentCancelled)
	switch {
	case refused:
		// Refused because the parent was cancelled while the spawn was on
		// its way: recorded as Spawn records a refusal, without a breach.
		res.State, res.Error = StateCancelled, "parent cancelled"
	case err != nil:
		res.State, res.Error = StateFailed, err.Error()
	case res.State != StateDone && res.Error == "":
		res.Error = "Child " + string(res.State)
	}
	g.mu.Lock()
	g.results[idx] = res
	delete(g.active, spec.ProcessID)
	breach := !refused && ((res.State == StateFailed && !g.opts.SurviveFailure) || (res.State == StateCancelled && !g.opts.SurviveCancel))
	var siblings []string
	if breach {
		g.breach = true
		for id := range g.active {
			siblings = append(siblings, id)
		}
	}
	g.mu.Unlock()
	g.cancelSiblings(siblings)
}

// cancelSiblings cancels the children of the group still active after one
// broke it. A child whose spawn is still on its way has no document to
// cancel yet: it is asked again, more slowly each time, until it is there
// or has ended (its spawn refused, say).
func (g *ParallelGroup) cancelSiblings(ids []string) {
	wait := minSiblingRetry
	for len(ids) > 0 {
		var again []string
		for _, id := range ids {
			if !g.pc.host.CancelChild(g.pc.ctx, id) {
				again = append(again, id)
			}
		}
		if len(again) == 0 {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-g.pc.ctx.Done():
			// A cancelled parent cancels its children itself.
			t.Stop()
			return
		}
		wait = min(2*wait, maxSiblingRetry)
		g.mu.Lock()
		ids = ids[:0]
		for _, id := range again {
			if _, ok := g.active[id]; ok {
				ids = append(ids, id)
			}
		}
		g.mu.Unlock()
	}
}

// minSiblingRetry and maxSiblingRetry bound the pauses of cancelSiblings.
const (
	minSiblingRetry = 10 * time.Millisecond
	maxSiblingRetry = time.Second
)

// Wait closes the group, waits for every child to end and returns their
// results in spawn order. It returns a *GroupError when a child failed (or
// was cancelled) and the group's options do not survive that.
func (g *ParallelGroup) Wait() ([]ChildResult, error) {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	results := append([]ChildResult(nil), g.results...)
	if !g.breach {
		return results, nil
	}
	ge := &GroupError{survivesFailure: g.opts.SurviveFailure}
	for _, r := range results {
		if r.State != StateDone {
			ge.Children = append(ge.Children, &ChildError{ProcessID: r.ProcessID, Name: r.Name, State: r.State, Err: r.Error})
		}
	}
	return results, ge
}
