package adapter

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/optio-temporal/optio/internal/tick"
)

// A wait for a run's end (endWait) that has gone its delay without a notice
// falls back on Temporal. Rather than each such wait holding a long poll of
// its run's history open (one call per run, sent again whenever the server
// lets it expire: every 5 s on the development server), the waits register
// their runs here, and one visibility query per interval asks which of them
// have closed. A wait then fetches its run's result, which the server answers
// at once for a closed run. Under load, when many runs outlast the delay,
// the engine's Temporal calls for them grow with the number of runs waited
// for divided by runClosesBatch, not with the time each one takes; and no
// wait depends on a close notice that the server could drop.
//
// A run deleted while it ran (`temporal workflow delete`) never shows as
// closed there, and a visibility store can lag: so a run waited for
// runCloseCheckPasses intervals is also described, then again after twice
// as long each time (up to runCloseCheckMaxFactor times the first gap), at
// most runCloseChecksPerPass a pass, and released once it is gone or closed.

// runClosesBatch is the most run IDs one visibility query names: a few
// queries a pass even for thousands of runs, well inside a namespace's
// default rate of visibility calls.
const runClosesBatch = 500

// runCloseCheckPasses is how many intervals a run is waited for before it
// is first described.
const runCloseCheckPasses = 30

// runCloseCheckMaxFactor caps the gap between two descriptions of a run, as
// a multiple of the first (10 minutes at the default interval).
const runCloseCheckMaxFactor = 20

// runCloseChecksPerPass bounds the descriptions of a pass: at most 10 calls
// a second at the default interval, however many runs are waited for.
const runCloseChecksPerPass = 10

// runCloses are the runs whose close waits are expecting from Temporal. Its
// zero value is off: await returns at once, and the wait polls the run
// itself.
type runCloses struct {
	mu sync.Mutex
	// waiting holds the waits by run ID; nil while the watch is off.
	waiting map[string]*closeWaiters
	// firstCheck is how long a run is waited for before it is described.
	firstCheck time.Duration
}

// closeWaiters are the waits for one run.
type closeWaiters struct {
	closed chan struct{}
	n      int
	// wfID is the run's workflow ID, for a description of the run.
	wfID string
	// nextCheck is when the run is next described; checkGap is the time
	// from the last description (or the registration) to then.
	nextCheck time.Time
	checkGap  time.Duration
}

// start turns the watch on; waits register from then on, and a run is
// described once it has been waited for firstCheck.
func (c *runCloses) start(firstCheck time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting == nil {
		c.waiting = map[string]*closeWaiters{}
	}
	c.firstCheck = firstCheck
}

// stop turns the watch off and releases every wait, which then polls its
// run itself.
func (c *runCloses) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.waiting {
		close(w.closed)
	}
	c.waiting = nil
}

// await returns once the watch has seen run runID of workflow wfID closed
// or gone, or has given it up (a failed query, the watch stopping), or ctx
// is done. It returns at once when the watch is off or runID is empty or not
// a run ID.
func (c *runCloses) await(ctx context.Context, wfID, runID string) {
	if !validRunID(runID) {
		return
	}
	c.mu.Lock()
	if c.waiting == nil {
		c.mu.Unlock()
		return
	}
	w := c.waiting[runID]
	if w == nil {
		w = &closeWaiters{closed: make(chan struct{}), wfID: wfID, nextCheck: time.Now().Add(c.firstCheck), checkGap: c.firstCheck}
		c.waiting[runID] = w
	}
	w.n++
	c.mu.Unlock()
	select {
	case <-w.closed:
	case <-ctx.Done():
		c.mu.Lock()
		if w.n--; w.n == 0 && c.waiting[runID] == w {
			delete(c.waiting, runID)
		}
		c.mu.Unlock()
	}
}

// validRunID reports whether s can be named in a visibility query as it is:
// the server's run IDs are UUIDs.
func validRunID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == '-') {
			return false
		}
	}
	return true
}

// pending returns the run IDs waited for, sorted.
func (c *runCloses) pending() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.waiting))
	for runID := range c.waiting {
		ids = append(ids, runID)
	}
	slices.Sort(ids)
	return ids
}

// closeCheck is a run due for a description.
type closeCheck struct{ wfID, runID string }

// due returns up to n runs due for a description at now, the longest due
// first, and schedules their next one twice as far off as the last (up to
// runCloseCheckMaxFactor times firstCheck).
func (c *runCloses) due(now time.Time, n int) []closeCheck {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for runID, w := range c.waiting {
		if !w.nextCheck.After(now) {
			ids = append(ids, runID)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return c.waiting[a].nextCheck.Compare(c.waiting[b].nextCheck) })
	ids = ids[:min(len(ids), n)]
	out := make([]closeCheck, len(ids))
	for i, runID := range ids {
		w := c.waiting[runID]
		w.checkGap = min(2*w.checkGap, runCloseCheckMaxFactor*c.firstCheck)
		w.nextCheck = now.Add(w.checkGap)
		out[i] = closeCheck{wfID: w.wfID, runID: runID}
	}
	return out
}

// release ends the waits for the runs runIDs.
func (c *runCloses) release(runIDs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, runID := range runIDs {
		if w := c.waiting[runID]; w != nil {
			close(w.closed)
			delete(c.waiting, runID)
		}
	}
}

// closedRunsQuery is the visibility query for which of runIDs have closed.
func closedRunsQuery(runIDs []string) string {
	var b strings.Builder
	b.WriteString("RunId IN (")
	for i, id := range runIDs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + id + "'")
	}
	b.WriteString(") AND ExecutionStatus != 'Running'")
	return b.String()
}

// watchRunCloses asks Temporal every interval which of the runs waited for
// have closed, until ctx ends; then it releases the waits left.
func (e *Engine) watchRunCloses(ctx context.Context, interval time.Duration) {
	defer e.bg.Done()
	defer e.closes.stop()
	tick.Every(ctx, interval, func() {
		e.runClosesPass(ctx)
		e.checkLongWaits(ctx)
	})
}

// runClosesPass is one look: a query per runClosesBatch runs waited for.
// A query the server refuses for good (a visibility store that cannot
// answer it, a caller not allowed to list) releases its runs, to poll
// themselves; any other failure (the server busy, rate-limited or
// unreachable) leaves them to the next pass.
func (e *Engine) runClosesPass(ctx context.Context) {
	for batch := range slices.Chunk(e.closes.pending(), runClosesBatch) {
		closed, err := e.closedAmong(ctx, batch)
		if err == nil {
			e.closes.release(closed...)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if !refusedForGood(err) {
			e.log.Debug("run close query failed; next pass", "runs", len(batch), "error", err)
			return
		}
		e.log.Warn("run close query refused; the waits poll their runs", "runs", len(batch), "error", err)
		e.closes.release(batch...)
	}
}

// checkLongWaits describes the runs due for it, runCloseChecksPerPass at
// most, and releases those that are gone (deleted while they ran: the
// wait's poll then learns that) or closed (the visibility store lagging). A
// failed description ends the pass, the server being unwell: its run and
// those after it wait for their next turn.
func (e *Engine) checkLongWaits(ctx context.Context) {
	for _, r := range e.closes.due(time.Now(), runCloseChecksPerPass) {
		desc, err := e.cfg.Temporal.DescribeWorkflowExecution(ctx, r.wfID, r.runID)
		var gone *serviceerror.NotFound
		switch {
		case errors.As(err, &gone):
			e.closes.release(r.runID)
		case err != nil:
			if ctx.Err() == nil {
				e.log.Debug("describe of a run waited for failed; next turn", "workflowId", r.wfID, "runId", r.runID, "error", err)
			}
			return
		case desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			e.closes.release(r.runID)
		}
	}
}

// refusedForGood reports whether a visibility query's failure will recur
// whatever the server's load.
func refusedForGood(err error) bool {
	var (
		invalid     *serviceerror.InvalidArgument
		denied      *serviceerror.PermissionDenied
		unsupported *serviceerror.Unimplemented
	)
	return errors.As(err, &invalid) || errors.As(err, &denied) || errors.As(err, &unsupported)
}

// closedAmong returns which of runIDs Temporal's visibility store shows
// closed.
func (e *Engine) closedAmong(ctx context.Context, runIDs []string) ([]string, error) {
	var closed []string
	req := &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: e.cfg.Namespace, Query: closedRunsQuery(runIDs), PageSize: runClosesBatch,
	}
	for {
		resp, err := e.cfg.Temporal.ListWorkflow(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, ex := range resp.GetExecutions() {
			closed = append(closed, ex.GetExecution().GetRunId())
		}
		if req.NextPageToken = resp.GetNextPageToken(); len(req.NextPageToken) == 0 {
			return closed, nil
		}
	}
}
