package workflowdef

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/mirror"
)

// The parent's "Spawned child" entries of a big launch are written apart
// from their children's inserts. A parent's log holds an entry per child,
// and each append rewrites the parent's document on the embedded server
// (FerretDB stores a document whole): a group of 1,000 children made about
// a hundred appends of 13 ms each, every one on the way to its children's
// starts. From a launch's SpawnLogFrom-th child on, the children workflow
// keeps the entries (stamped when their children are inserted, and recorded
// in the insert's result) and writes them beside the starts, at most once
// per spawnLogEvery; what is left is written before the run continues as
// new or completes, so the parent's log holds every entry before its end
// state.

// SpawnLogFrom is how many of a launch's children have their parent's
// "Spawned child" entries written with their inserts; the children workflow
// writes the later ones apart.
const SpawnLogFrom = 100

// spawnLogEvery is the least time between two writes of the entries a
// children workflow keeps.
const spawnLogEvery = 250 * time.Millisecond

// spawnLogChange is the workflow.GetVersion change ID from which a children
// workflow writes the entries of a launch's children past SpawnLogFrom
// apart from their inserts.
const spawnLogChange = "optio.children-spawn-log-apart"

// spawnLogTimerChange is the workflow.GetVersion change ID from which
// flushLog cancels the timer of writeLogLoop's wait between two writes.
const spawnLogTimerChange = "optio.children-spawn-log-timer"

// spawnLog is a children workflow run's record of the entries it keeps.
type spawnLog struct {
	// due are the entries still to write; writing is set while a write is
	// under way, which began at last.
	due     []mirror.LogEntry
	writing bool
	last    time.Time
	// looping is set once the coroutine that writes them runs.
	looping bool
	// endWait cancels the loop's wait between two writes, while it waits.
	endWait workflow.CancelFunc
}

// deferLog reports whether the children now inserted leave their parent's
// entries to the run (CreateChildrenInput.DeferLog).
func (h *children) deferLog(ctx workflow.Context) bool {
	// GetVersion records its marker once per run, at the first call, and
	// answers later calls the same.
	return h.in.NextOrder >= SpawnLogFrom && workflow.GetVersion(ctx, spawnLogChange, workflow.DefaultVersion, 1) >= 1
}

// keepLog takes entries an insert left to the run, and starts the
// coroutine that writes them.
func (h *children) keepLog(entries []mirror.LogEntry) {
	if len(entries) == 0 {
		return
	}
	h.log.due = append(h.log.due, entries...)
	if !h.log.looping {
		h.log.looping = true
		workflow.Go(h.mctx, h.writeLogLoop)
	}
}

// writeLogLoop writes the entries due as they come, one write per
// spawnLogEvery at most. A write that failed is tried again a spawnLogEvery
// later.
func (h *children) writeLogLoop(ctx workflow.Context) {
	for {
		_ = workflow.Await(ctx, func() bool { return len(h.log.due) > 0 && !h.log.writing })
		if wait := h.log.last.Add(spawnLogEvery).Sub(workflow.Now(ctx)); wait > 0 {
			wctx, cancel := workflow.WithCancel(ctx)
			h.log.endWait = cancel
			_ = workflow.Sleep(wctx, wait)
			h.log.endWait = nil
		}
		_ = h.writeLog(ctx)
	}
}

// writeLog writes the entries due, after any write under way. Entries a
// failed write held are due again.
func (h *children) writeLog(ctx workflow.Context) error {
	_ = workflow.Await(ctx, func() bool { return !h.log.writing })
	if len(h.log.due) == 0 {
		return nil
	}
	due := h.log.due
	h.log.due, h.log.writing, h.log.last = nil, true, workflow.Now(ctx)
	err := localIn(ctx, activities.AppendLogName, activitydef.AppendLogInput{DocID: h.in.ParentDocID, Stamped: due}, nil)
	h.log.writing = false
	if err != nil {
		h.log.due = append(due, h.log.due...)
	}
	return err
}

// flushLog writes every entry due, before the run continues as new or
// completes. It also cancels the timer of the loop's wait, if it waits:
// a timer that fires while the run's last workflow task completes makes
// the server refuse that task (UnhandledCommand), and the task runs again
// on a replay of the run's whole history (bench measurement 5: once in ten
// runs, "then timerfired"). Cancelled in that task or before it, the timer
// can fire no more; if it has already fired and the event waits, the
// cancel takes the event away and the task completes.
func (h *children) flushLog() error {
	if h.log.endWait != nil && workflow.GetVersion(h.mctx, spawnLogTimerChange, workflow.DefaultVersion, 1) >= 1 {
		h.log.endWait()
	}
	for len(h.log.due) > 0 || h.log.writing {
		if err := h.writeLog(h.mctx); err != nil {
			return err
		}
	}
	return nil
}
