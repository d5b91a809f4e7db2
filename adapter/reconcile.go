package adapter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/optio-temporal/optio/internal/reconcilepass"
	"github.com/optio-temporal/optio/internal/tick"
	"github.com/optio-temporal/optio/mirror"
)

// The reconciler is the safety net under the closed-run watcher
// (closed_runs.go), which fails within a second the documents of runs the
// server terminated or timed out. What the watcher cannot see is a document
// left active with no run to close: a claim whose workflow never started
// (the engine died in between), a run closed while no engine watched, a
// namespace that lost its data. Such a document stops changing, so the
// reconciler describes a document's workflow only once the document has
// kept the same state (and run start) for staleAfter, then again every
// recheckAfter while it stays that way (a run that failed because its
// mirror writes did, for instance), at most reconcileBatch workflows a
// pass: its Temporal calls grow with what changed or went stale, not with
// how many processes are active (10,000 running processes used to cost one
// DescribeWorkflowExecution each, every pass: 2,000 calls/s at the default
// interval). A document is failed only when two passes in a row find its
// workflow not running, with the same run of the document and the same
// workflow run: a launch between the two passes (a claim restarts the log)
// is not taken for stuck.
//
// The times scale with Config.ReconcileInterval (5 s by default): a
// document is described after 30 s unchanged and every 30 minutes after;
// a pass describes at most 10 workflows (2 calls/s) unless it finds stuck
// documents.
const (
	staleAfterPasses   = 6
	recheckAfterPasses = 360
	// reconcileBatch is the most workflows a pass describes besides its
	// suspects (at most the previous pass's batch). A pass that finds stuck
	// documents doubles the next batch, up to reconcileMaxBatch, so that a
	// mass loss (a Temporal server restarted without its data) is cleaned
	// up in minutes.
	reconcileBatch    = 10
	reconcileMaxBatch = 16 * reconcileBatch
)

// reconcilePace bounds the share of the engine's time the reconciler's
// query for the active documents takes: after a pass whose query took d,
// the next pass starts no sooner than reconcilePace times d after this one
// did (and no sooner than Config.ReconcileInterval). On MongoDB the query
// uses the status.state index and takes milliseconds, so passes keep the
// interval. FerretDB, the dev stack's server, reads the whole collection
// for it (about 1 s at 10,000 documents and 13 s at 100,000 on a 2-core
// machine), and at the interval alone the passes kept a core busy at
// 100,000, with nothing running.
const reconcilePace = 10

// newChildGrace is how long a new child's document, still scheduled, may
// wait for its workflow run before the reconciler counts it as stuck.
const newChildGrace = 2 * time.Minute

// reconciler is the reconcile loop's memory between passes.
type reconciler struct {
	e        *Engine
	interval time.Duration
	watched  map[bson.ObjectID]*watch
	suspects map[bson.ObjectID]suspect
	batch    int
}

// watch is what the reconciler knows of one active document: the state and
// run start it last listed, since when, and when it last described the
// document's workflow (zero: never).
type watch struct {
	state        mirror.State
	runningSince time.Time
	since        time.Time
	checked      time.Time
}

// suspect is what a pass saw of a document whose workflow was not running:
// its state, in the run that began at the first log entry's time, and the
// workflow run Temporal reported (none: ""). A later pass fails the
// document only if it sees the same.
type suspect struct {
	state  mirror.State
	run    string
	wfRun  string
	status enumspb.WorkflowExecutionStatus
}

// reconcileLoop runs a reconcile pass every Config.ReconcileInterval, or
// less often where the query for the active documents is slow (see
// reconcilePace).
func (e *Engine) reconcileLoop(ctx context.Context) {
	defer e.bg.Done()
	r := &reconciler{e: e, interval: e.cfg.ReconcileInterval, watched: map[bson.ObjectID]*watch{}, suspects: map[bson.ObjectID]suspect{}, batch: reconcileBatch}
	m, _ := e.cfg.Metrics.(reconcilepass.Observer)
	tick.Paced(ctx, e.cfg.ReconcileInterval, func() time.Duration {
		start := time.Now()
		pass, err := r.pass(ctx, start)
		if err != nil && ctx.Err() == nil {
			e.log.Warn("reconcile pass failed", "error", err)
		}
		if m != nil && err == nil {
			m.ReconcilePass(pass)
		}
		return nextPassIn(e.cfg.ReconcileInterval, pass.Listed, time.Since(start))
	})
}

// nextPassIn is how long after a pass that took took, whose query for the
// active documents took listed, the next one starts.
func nextPassIn(interval, listed, took time.Duration) time.Duration {
	return max(interval, reconcilePace*listed) - took
}

// pass lists the active documents, describes the workflows of those that
// are due, and fails the confirmed suspects.
func (r *reconciler) pass(ctx context.Context, now time.Time) (reconcilepass.Pass, error) {
	e := r.e
	heads, err := e.store.ActiveHeads(ctx)
	if err != nil {
		// Not paced: a query that failed slowly (Mongo unreachable until
		// the driver's timeout) says nothing of the next one's cost.
		return reconcilepass.Pass{}, err
	}
	out := reconcilepass.Pass{Active: len(heads), Listed: time.Since(now)}
	due := r.observe(heads, now)
	next := map[bson.ObjectID]suspect{}
	for _, p := range due {
		w := r.watched[p.ID]
		status, wfRun, err := e.workflowStatus(ctx, p.ProcessID)
		out.TemporalCalls++
		if err != nil {
			return out, err
		}
		w.checked = now
		if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			continue
		}
		if status == enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED && p.ParentID != nil && p.Status.State == mirror.Scheduled &&
			e.store.Now().Sub(p.CreatedAt) < newChildGrace {
			// A child's document is written just before its workflow starts;
			// on a busy server the start can lag by seconds. One that has
			// run has had its workflow: with none now, it was deleted.
			continue
		}
		doc, err := e.store.Get(ctx, p.ID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return out, err
		}
		if !doc.Status.State.Active() {
			continue
		}
		seen := suspectOf(doc, wfRun, status)
		if r.suspects[p.ID] != seen {
			next[p.ID] = seen
			continue
		}
		if e.failStuck(ctx, doc, status) {
			out.Failed++
		}
	}
	r.suspects = next
	out.Suspects = len(next)
	if len(next) == 0 {
		r.batch = reconcileBatch
	} else {
		r.batch = min(2*r.batch, reconcileMaxBatch)
	}
	out.Took = time.Since(now)
	return out, nil
}

// observe records the listed documents' states and returns those to
// describe now: the suspects first, then up to the batch of documents
// unchanged for staleAfter and not described for recheckAfter, those never
// described and unchanged the longest first.
func (r *reconciler) observe(heads []mirror.Process, now time.Time) []mirror.Process {
	staleAfter, recheckAfter := staleAfterPasses*r.interval, recheckAfterPasses*r.interval
	listed := make(map[bson.ObjectID]bool, len(heads))
	var suspects, stale []mirror.Process
	for _, p := range heads {
		listed[p.ID] = true
		var running time.Time
		if p.Status.RunningSince != nil {
			running = *p.Status.RunningSince
		}
		w := r.watched[p.ID]
		if w == nil || w.state != p.Status.State || !w.runningSince.Equal(running) {
			r.watched[p.ID] = &watch{state: p.Status.State, runningSince: running, since: now}
			if _, ok := r.suspects[p.ID]; !ok {
				continue
			}
			w = r.watched[p.ID]
		}
		switch {
		case r.suspects[p.ID] != suspect{}:
			suspects = append(suspects, p)
		case now.Sub(w.since) >= staleAfter && (w.checked.IsZero() || now.Sub(w.checked) >= recheckAfter):
			stale = append(stale, p)
		}
	}
	for id := range r.watched {
		if !listed[id] {
			delete(r.watched, id)
		}
	}
	slices.SortFunc(stale, func(a, b mirror.Process) int {
		wa, wb := r.watched[a.ID], r.watched[b.ID]
		return cmp.Or(wa.checked.Compare(wb.checked), wa.since.Compare(wb.since))
	})
	return append(suspects, stale[:min(len(stale), r.batch)]...)
}

func suspectOf(p *mirror.Process, wfRun string, status enumspb.WorkflowExecutionStatus) suspect {
	s := suspect{state: p.Status.State, wfRun: wfRun, status: status}
	if len(p.Log) > 0 {
		s.run = p.Log[0].Timestamp
	}
	return s
}

// workflowStatus returns the status and run ID of a process's latest
// workflow run, or UNSPECIFIED when it has none.
func (e *Engine) workflowStatus(ctx context.Context, processID string) (enumspb.WorkflowExecutionStatus, string, error) {
	desc, err := e.cfg.Temporal.DescribeWorkflowExecution(ctx, e.WorkflowID(processID), "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("describe workflow of %q: %w", processID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	return info.GetStatus(), info.GetExecution().GetRunId(), nil
}

// failStuck fails a document whose workflow is not running, and reports
// whether it did.
func (e *Engine) failStuck(ctx context.Context, p *mirror.Process, status enumspb.WorkflowExecutionStatus) bool {
	how := "has no workflow run"
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED {
		how = "workflow was " + strings.ToLower(strings.TrimPrefix(status.String(), "WORKFLOW_EXECUTION_STATUS_")) + " on the Temporal side"
		how = strings.Replace(how, "was continued_as_new", "continued as new", 1)
	}
	msg := fmt.Sprintf("Process %s while %s", how, p.Status.State)
	event := mirror.NewLogEntry(e.store.Now(), mirror.LevelEvent,
		fmt.Sprintf("State reconciled: %s -> failed (%s)", p.Status.State, how))
	if _, err := e.store.Fail(ctx, p.ID, msg, event); err != nil {
		if !errors.Is(err, mirror.ErrConflict) {
			e.log.Warn("reconcile write failed", "process", p.ProcessID, "error", err)
		}
		return false
	}
	e.log.Warn("reconciled stuck process", "process", p.ProcessID, "state", p.Status.State, "why", how)
	return true
}
