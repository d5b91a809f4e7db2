package adapter

import (
	"slices"
	"sync"
	"time"
)

// childThrottle is the most often an on-child-progress callback fires for
// progress reports; a child's end fires it at once.
const childThrottle = 100 * time.Millisecond

// childTracker keeps a parent's list of children for its on-child-progress
// callback.
type childTracker struct {
	mu       sync.Mutex
	entries  []ChildProgressInfo
	callback func([]ChildProgressInfo)
	last     time.Time
	timer    *time.Timer
}

func (c *ProcessContext) tracker() *childTracker {
	c.trackerOnce.Do(func() { c.children = &childTracker{} })
	return c.children
}

func (t *childTracker) setCallback(cb func([]ChildProgressInfo)) {
	t.mu.Lock()
	t.callback = cb
	t.mu.Unlock()
}

func (t *childTracker) index(processID string) int {
	return slices.IndexFunc(t.entries, func(e ChildProgressInfo) bool { return e.ProcessID == processID })
}

// add lists a child as scheduled (or resets a re-run one).
func (t *childTracker) add(processID, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	info := ChildProgressInfo{ProcessID: processID, Name: name, State: StateScheduled}
	if i := t.index(processID); i >= 0 {
		if t.entries[i].State.End() {
			return // a recorded child: it will report its end again
		}
		t.entries[i] = info
		return
	}
	t.entries = append(t.entries, info)
}

// ended reports whether the child of processID has ended in this run.
func (t *childTracker) ended(processID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.index(processID)
	return i >= 0 && t.entries[i].State.End()
}

func (t *childTracker) remove(processID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := t.index(processID); i >= 0 {
		t.entries = slices.Delete(t.entries, i, i+1)
	}
}

// report records a child's progress report and fires the callback, throttled.
func (t *childTracker) report(processID, name string, percent *float64, message *string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	info := ChildProgressInfo{ProcessID: processID, Name: name, State: StateRunning, Percent: percent, Message: message}
	if i := t.index(processID); i >= 0 {
		if t.entries[i].State.End() {
			return // a report that arrived after the child's end
		}
		t.entries[i] = info
	} else {
		t.entries = append(t.entries, info)
	}
	if t.callback == nil {
		return
	}
	if wait := childThrottle - time.Since(t.last); wait > 0 {
		if t.timer == nil {
			t.timer = time.AfterFunc(wait, func() {
				t.mu.Lock()
				defer t.mu.Unlock()
				t.timer = nil
				t.fireLocked()
			})
		}
		return
	}
	t.fireLocked()
}

// finish records a child's end (its percent counts as 100) and fires the
// callback at once.
func (t *childTracker) finish(processID string, state State) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hundred := 100.0
	if i := t.index(processID); i >= 0 {
		t.entries[i].State = state
		t.entries[i].Percent = &hundred
	}
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	t.fireLocked()
}

func (t *childTracker) fireLocked() {
	if t.callback == nil {
		return
	}
	t.last = time.Now()
	t.callback(slices.Clone(t.entries))
}

// childPercent is a child's contribution to a helper: 100 when it has ended,
// 0 when unknown.
func childPercent(c ChildProgressInfo) float64 {
	if c.State.End() {
		return 100
	}
	if c.Percent == nil {
		return 0
	}
	return *c.Percent
}

// SequentialProgress returns an on-child-progress callback for n sequential
// children: the parent's 0-100% is split into n equal slots and each child's
// 0-100% fills its slot. n must be positive: with no children to split the
// range between (optio-core raises ZeroDivisionError there), or a nil ctx,
// the callback reports nothing.
func SequentialProgress(ctx *ProcessContext, n int) func([]ChildProgressInfo) {
	if n <= 0 || ctx == nil {
		return ignoreProgress
	}
	slot := 100 / float64(n)
	return func(children []ChildProgressInfo) {
		total := 0.0
		for i, c := range children {
			if i >= n {
				break
			}
			total += childPercent(c) / 100 * slot
		}
		ctx.ReportProgress(total, "")
	}
}

// AverageProgress returns an on-child-progress callback that reports the
// average of the children's percents (ended children count as 100). With a
// nil ctx the callback reports nothing.
func AverageProgress(ctx *ProcessContext) func([]ChildProgressInfo) {
	if ctx == nil {
		return ignoreProgress
	}
	return func(children []ChildProgressInfo) {
		if len(children) == 0 {
			return
		}
		total := 0.0
		for _, c := range children {
			total += childPercent(c)
		}
		ctx.ReportProgress(total/float64(len(children)), "")
	}
}

// MappedProgress returns an on-child-progress callback that maps the latest
// child's 0-100% into the parent's range [start, end], given as fractions
// from 0.0 to 1.0: the parent reports start*100 when the child is at 0% and
// end*100 when it is at 100%. A bound outside [0, 1] is clamped to it (NaN
// counts as 0), so the parent never reports a percent outside 0-100 (a
// negative one would read as Indeterminate); a range given backwards (start
// past end) counts down, as in optio-core. With a nil ctx the callback
// reports nothing.
func MappedProgress(ctx *ProcessContext, start, end float64) func([]ChildProgressInfo) {
	if ctx == nil {
		return ignoreProgress
	}
	start, end = clampFraction(start), clampFraction(end)
	return func(children []ChildProgressInfo) {
		if len(children) == 0 {
			return
		}
		c := children[len(children)-1]
		ctx.ReportProgress(start*100+childPercent(c)/100*(end-start)*100, "")
	}
}

// clampFraction brings f into [0, 1]; NaN becomes 0.
func clampFraction(f float64) float64 {
	switch {
	case f > 1:
		return 1
	case f >= 0:
		return f
	}
	return 0 // negative or NaN
}

// ignoreProgress is the callback of a progress helper given nothing to
// report to, or no range to report in.
func ignoreProgress([]ChildProgressInfo) {}
