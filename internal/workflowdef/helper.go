package workflowdef

import (
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// closeChildren is the argument of SignalCloseChildren.
type closeChildren struct {
	// Cancel asks for the running children to be cancelled (the body failed).
	Cancel bool
}

// DefaultChildrenEventBudget is the history length at which a children
// workflow continues as new when the server has not suggested it earlier.
const DefaultChildrenEventBudget = 2000

// childrenBatch bounds how many children one update starts in the first run
// of a children workflow, which knows nothing yet of the server's history
// limits: a batch's events must fit in a run whatever they are.
const childrenBatch = 10

// maxChildrenBatch bounds how many children one update starts in a later
// run, which knows a history length the server allows (ChildrenInput.Proven):
// it takes as many as that room holds, up to this.
const maxChildrenBatch = 100

// eventsPerChild is what one started child costs a run's history at most:
// its initiated, started and ended events, with a workflow task (three
// events) for each of the last two.
const eventsPerChild = 9

// errRollingOver rejects an update that arrives while a children workflow is
// about to continue as new; the body sends it again, to the next run.
var errRollingOver = errors.New("children workflow is rolling over; send again")

// IsRollingOver reports whether an update error asks the caller to send the
// update again (the children workflow was continuing as new).
func IsRollingOver(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == rollingOverType
}

const rollingOverType = "optio.RollingOver"

// ChildrenInput starts (or continues) the children workflow of one launch.
type ChildrenInput struct {
	// ParentDocID and ParentProcessID name the process whose children these are.
	ParentDocID     string
	ParentProcessID string
	// ParentWorkflowID is the process workflow's ID.
	ParentWorkflowID string
	// IDPrefix makes a child's workflow ID from its processId.
	IDPrefix string
	Timeouts Timeouts
	Revision int
	// Cancellable is the process's cancellable flag: a children workflow of a
	// process that is not cancellable ignores a cancel unless its process
	// workflow has closed.
	Cancellable bool
	// EventBudget is the history length at which a run continues as new;
	// zero means DefaultChildrenEventBudget.
	EventBudget int `json:",omitempty"`
	// Proven is the longest history an earlier run of this launch's
	// children workflow reached (the server's limits allow at least that
	// many events); zero in the first run. Later runs size their batches to
	// stay within it.
	Proven int `json:",omitempty"`
	// SearchAttributes, from revision 3, starts the children with their
	// search attributes set (StartSearchAttributes); nil when the process
	// keeps none.
	SearchAttributes *ChildSearchAttributes `json:",omitempty"`

	// Pipelined makes the run take an update's children as the history
	// room allows, one update after another in arrival order, while the
	// children of earlier updates are still starting: the body may have
	// several updates in flight, and an update is answered Retry only when
	// the run is about to roll over (runChildrenPipelined). Process
	// workflows set it from this version on; the recorded runs without it
	// replay as they ran.
	Pipelined bool `json:",omitempty"`

	// Carried over by continue-as-new.
	NextOrder int            `json:",omitempty"`
	Closing   *closeChildren `json:",omitempty"`
	Cancelled bool           `json:",omitempty"`
	Runs      int            `json:",omitempty"`
	// Unsettled counts the children of the earlier runs whose clean end
	// those runs did not see (see children.unsettled); UnsettledCounted
	// says every earlier run counted them (a run of an older version did
	// not).
	Unsettled        int  `json:",omitempty"`
	UnsettledCounted bool `json:",omitempty"`
}

// children is one run of the children workflow. It keeps no record of the
// children it started: their documents are the record (a child of this
// launch is a document under the parent's), so a run can continue as new at
// any point with nothing but an order counter to carry.
type children struct {
	in      ChildrenInput
	mctx    workflow.Context
	pending int // children being started by update handlers
	// creating is set while an update inserts documents.
	creating bool
	// tickets numbers the updates of a Pipelined run as they come; turn is
	// the one taking its children now.
	tickets, turn int
	// started counts the children this run started; starts holds them, to
	// count those whose end is still to come into this run's history.
	started int
	starts  []workflow.ChildWorkflowFuture
	// cancelled is set once the running children were cancelled; later
	// spawns are refused.
	cancelled bool
	// known counts the children this run found running rather than
	// started (a request sent again): their end does not come to it.
	known int
	// log keeps the parent's "Spawned child" entries of a big launch.
	log spawnLog
}

// Children is the children workflow: it creates the documents of a
// process's children and starts their process workflows as its own child
// workflows, on UpdateRunChildren from the process's body. Its history grows
// with the children it starts, so it continues as new when the server
// suggests it or at EventBudget events; children outlive a roll-over
// (parent close policy Abandon), and a cancel of the process reaches them
// from whichever run is current.
func Children(ctx workflow.Context, in ChildrenInput) error {
	if in.EventBudget <= 0 {
		in.EventBudget = DefaultChildrenEventBudget
	}
	h := &children{in: in, mctx: mirrorCtx(ctx), cancelled: in.Cancelled}
	closing := in.Closing
	closeCh := workflow.GetSignalChannel(ctx, workflows.SignalCloseChildren)
	onClose := func(c closeChildren) {
		if closing == nil {
			closing = &closeChildren{}
		}
		closing.Cancel = closing.Cancel || c.Cancel
	}
	// The main coroutine reads close signals itself, in its wait conditions
	// (which run in it): a second coroutine could hold a signal it has
	// received but not yet recorded when this one continues as new.
	drainClose := func() {
		var c closeChildren
		for closeCh.ReceiveAsync(&c) {
			onClose(c)
			c = closeChildren{}
		}
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, workflows.UpdateRunChildren, h.runChildren, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context, reqs []ChildRequest) error {
			if h.rollDue(ctx) {
				return temporal.NewApplicationError(errRollingOver.Error(), rollingOverType)
			}
			return validateChildRequests(reqs)
		},
	}); err != nil {
		return err
	}
	cancelSeen := false
	// interrupted reads the close signals come, and reports whether a close
	// or a first cancel waits to be handled at the top of the loop.
	interrupted := func() bool {
		drainClose()
		return closing != nil || (!cancelSeen && ctx.Err() != nil)
	}
	for {
		_ = workflow.Await(h.mctx, func() bool {
			drainClose()
			return closing != nil || h.rollDue(ctx) || (!cancelSeen && ctx.Err() != nil)
		})
		if ctx.Err() != nil && !cancelSeen {
			cancelSeen = true
			if h.cancelHonoured(ctx) {
				h.cancelChildren()
				if closing == nil {
					closing = &closeChildren{}
				}
			}
			continue
		}
		if closing != nil {
			break
		}
		// Roll over: no handler may be half-way through a batch, and a close
		// signal that came meanwhile is handled here.
		_ = workflow.Await(h.mctx, func() bool { return workflow.AllHandlersFinished(h.mctx) })
		if interrupted() {
			continue // a close or a cancel came meanwhile: handle it here
		}
		h.drainStarts(ctx, interrupted)
		if interrupted() {
			continue
		}
		return h.continueAsNew(ctx, closing)
	}
	// From this version on, a cancel that comes while the run waits for the
	// children still cancels them: the close signal of a cancelled parent
	// can arrive before the cancel itself.
	w := closeWait{watch: workflow.GetVersion(ctx, cancelWhileClosingChange, workflow.DefaultVersion, 1) >= 1, seen: cancelSeen}
	if closing.Cancel && !h.cancelled {
		h.cancelChildren()
	}
	_ = workflow.Await(h.mctx, func() bool { return h.pending == 0 && workflow.AllHandlersFinished(h.mctx) })
	if h.started > 0 && !h.waitInRun(ctx, &w) {
		// The ends of the children this run started would land in its
		// history while it waits: wait in a fresh run instead.
		return h.continueAsNew(ctx, closing)
	}
	// Children end before their parent: wait for the last of them, unless
	// every child of the launch ended cleanly where a run saw it (their
	// documents hold their end already).
	var err error
	if !h.settled(ctx, closing) {
		fut := awaitChildren(h.mctx, h.childrenOf())
		h.awaitCancelling(ctx, &w, fut.IsReady)
		err = fut.Get(h.mctx, nil)
	}
	// A close that came after the one acted on (a cancelled parent's, behind
	// the cancel) asks for nothing more; it is read so that the run does not
	// end with it unhandled, which the SDK logs as a warning.
	drainClose()
	if ferr := h.flushLog(); err == nil {
		err = ferr
	}
	return err
}

// settledChange is the workflow.GetVersion change ID from which a closing
// run whose launch's children all ended cleanly where a run saw them does
// not run AwaitChildren.
const settledChange = "optio.children-settled-close"

// settled reports whether the closing run may end without AwaitChildren:
// the close is not a cancel, every earlier run counted the children whose
// clean end it did not see and found none, and so does this one. A child's
// process workflow that returns without an error has written its end to
// its document first (Finish), or found the document ended or deleted; any
// other end (an error, a termination, a start that failed), a child left
// open at a roll-over, or one found running rather than started, leaves
// the wait to AwaitChildren, which reads the documents. AwaitChildren
// lists the launch's active children by parentId and state, a read that
// FerretDB answers by decoding the whole collection (107-198 ms at the end
// of a group of 1,000 in bench measurement 5, on the process's path to its
// end).
func (h *children) settled(ctx workflow.Context, closing *closeChildren) bool {
	if closing.Cancel || h.cancelled || ctx.Err() != nil || !h.counted() {
		return false
	}
	if h.in.Unsettled > 0 || h.unsettled(ctx) > 0 {
		return false
	}
	return workflow.GetVersion(ctx, settledChange, workflow.DefaultVersion, 1) >= 1
}

// counted reports whether this run and every earlier one count their
// unsettled children: Pipelined runs, each after a run that counted.
func (h *children) counted() bool {
	return h.in.Pipelined && (h.in.Runs == 0 || h.in.UnsettledCounted)
}

// unsettled counts the children of this run whose clean end it has not
// seen: those it started that are still open or ended with an error, and
// those it found running rather than started.
func (h *children) unsettled(ctx workflow.Context) int {
	n := h.known
	for _, f := range h.starts {
		if !f.IsReady() || f.Get(ctx, nil) != nil {
			n++
		}
	}
	return n
}

// awaitChildren runs the AwaitChildren activity, which returns once no
// child of a launch is active any more.
func awaitChildren(ctx workflow.Context, of activitydef.ChildrenOf) workflow.Future {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 100 * 365 * 24 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
		Summary:             "wait for the children to end",
	})
	return workflow.ExecuteActivity(actx, activities.AwaitChildrenName, of)
}

// cancelWhileClosingChange is the workflow.GetVersion change ID from which
// a closing run goes on honouring a cancel while it waits for the children
// (closeWait); runs recorded before it ignored one.
const cancelWhileClosingChange = "optio.children-cancel-while-closing"

// closeWait is how a closing run treats a cancel while it waits for the
// children: watch says it honours one, seen that it has handled one.
type closeWait struct {
	watch, seen bool
}

// awaitCancelling waits until done reports true. A cancel that comes
// meanwhile, when w watches for one and has not handled one, is honoured as
// in the run's main loop: the children still active are cancelled, and the
// wait goes on for their ends.
func (h *children) awaitCancelling(ctx workflow.Context, w *closeWait, done func() bool) {
	for {
		_ = workflow.Await(h.mctx, func() bool { return done() || w.watch && !w.seen && ctx.Err() != nil })
		if done() {
			return
		}
		w.seen = true
		if !h.cancelled && h.cancelHonoured(ctx) {
			h.cancelChildren()
		}
	}
}

// waitInRunChange is the workflow.GetVersion change ID under which a closing
// Pipelined run waits for the children it started in itself, when their ends
// fit in its history (waitInRun); runs recorded before it continued as new
// to wait.
const waitInRunChange = "optio.children-wait-in-run"

// waitInRun waits for the children this run started to end, in this run,
// when it has room for their ends: at most childrenBatch of them still open,
// their events within EventBudget, and no continue-as-new suggested by the
// server. It reports whether it waited. Continuing as new instead would
// cost a short parent up to a second: the server holds back the first
// workflow task of a run continued from one younger than
// history.workflowIdReuseMinimalInterval (1 s) until that age.
func (h *children) waitInRun(ctx workflow.Context, w *closeWait) bool {
	if !h.in.Pipelined || workflow.GetVersion(ctx, waitInRunChange, workflow.DefaultVersion, 1) < 1 {
		return false
	}
	info := workflow.GetInfo(ctx)
	if n := h.openStarts(); n > childrenBatch || info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength()+n*eventsPerChild >= h.in.EventBudget {
		return false
	}
	h.awaitCancelling(ctx, w, func() bool { return h.openStarts() == 0 })
	return true
}

// openStarts counts the children in starts whose end has not come yet.
func (h *children) openStarts() int {
	n := 0
	for _, f := range h.starts {
		if !f.IsReady() {
			n++
		}
	}
	return n
}

// rollDrainChange is the workflow.GetVersion change ID from which a run due
// to roll over first lets the children it started end (drainStarts); runs
// recorded before it continued as new at once.
const rollDrainChange = "optio.children-drain-before-roll"

// rollDrainFor bounds drainStarts' wait.
const rollDrainFor = time.Second

// drainStarts lets the children this run started end before it continues
// as new, for rollDrainFor at most, or until stop reports true (a close or
// a cancel to handle first). A child's end that reaches the run while its
// last workflow task completes makes the server refuse that task's
// continue-as-new (UnhandledCommand), and the task runs again on a worker
// that replays the run's whole history: with a group's short children
// ending many times a second, up to five times in a group of 1,000 with
// two roll-overs (bench measurement 5: 5, 5, 0, 4, 4, 4 in six runs).
// Children still open after the wait go on (parent close policy Abandon),
// their ends recorded in their documents as before. The parent's log
// entries kept are written first, so that the last task has none to write.
func (h *children) drainStarts(ctx workflow.Context, stop func() bool) {
	if h.openStarts() == 0 || workflow.GetVersion(ctx, rollDrainChange, workflow.DefaultVersion, 1) < 1 {
		return
	}
	// A failed write leaves its entries due: continueAsNew tries again.
	_ = h.flushLog()
	_, _ = workflow.AwaitWithTimeout(h.mctx, rollDrainFor, func() bool { return h.openStarts() == 0 || stop() })
}

// continueAsNew ends this run and carries what the next one needs.
func (h *children) continueAsNew(ctx workflow.Context, closing *closeChildren) error {
	if err := h.flushLog(); err != nil {
		return err
	}
	next := h.in
	next.Runs++
	next.Proven = max(next.Proven, workflow.GetInfo(ctx).GetCurrentHistoryLength())
	next.Unsettled += h.unsettled(ctx)
	next.UnsettledCounted = h.counted()
	next.Closing, next.Cancelled = closing, h.cancelled
	return workflow.NewContinueAsNewError(ctx, workflows.ChildrenName, next)
}

// rollDue reports whether this run should continue as new.
func (h *children) rollDue(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= h.in.EventBudget
}

func (h *children) childrenOf() activitydef.ChildrenOf {
	return activitydef.ChildrenOf{ParentDocID: h.in.ParentDocID, IDPrefix: h.in.IDPrefix}
}

// cancelHonoured decides what a cancel of this workflow means: the process
// was cancelled (or its workflow closed: the server applies the parent close
// policy), unless the process is not cancellable and its workflow still runs.
func (h *children) cancelHonoured(ctx workflow.Context) bool {
	if h.in.Cancellable {
		return true
	}
	var open bool
	err := localIn(h.mctx, activities.WorkflowOpenName, activitydef.WorkflowRef{WorkflowID: h.in.ParentWorkflowID}, &open)
	return err != nil || !open
}

// cancelChildren cancels every child of the launch still active, from its
// document, whichever run started it; spawns after it are refused.
func (h *children) cancelChildren() {
	h.cancelled = true
	cancelChildrenOf(h.mctx, h.childrenOf())
}

// cancelChildrenOf runs the CancelChildren activity, which cancels every
// child of a launch still active, and waits for it.
func cancelChildrenOf(ctx workflow.Context, of activitydef.ChildrenOf) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
		Summary:             "cancel the children",
	})
	_ = workflow.ExecuteActivity(actx, activities.CancelChildrenName, of).Get(actx, nil)
}

// runChildren handles UpdateRunChildren: it creates the documents of the
// requested children and starts them, or answers what became of the ones
// this launch already has (a body re-run after a lost worker asking again).
// At most childrenBatch new children are started per update; the rest are
// answered Retry, so that a run never takes more than it can hold.
func (h *children) runChildren(ctx workflow.Context, reqs []ChildRequest) ([]ChildReply, error) {
	if h.in.Pipelined {
		return h.runChildrenPipelined(ctx, reqs)
	}
	replies := make([]ChildReply, len(reqs))
	if h.cancelled || ctx.Err() != nil && h.in.Cancellable {
		for i := range replies {
			replies[i] = ChildReply{State: mirror.Cancelled, Refused: true}
		}
		return replies, nil
	}
	take := min(len(reqs), h.batchRoom(ctx))
	for i := take; i < len(reqs); i++ {
		replies[i] = ChildReply{Retry: true}
	}
	specs := make([]activitydef.ChildSpec, take)
	for i, req := range reqs[:take] {
		specs[i] = activitydef.ChildSpec{ProcessID: req.ProcessID, Name: req.Name, Description: req.Description, Params: req.Params}
	}
	h.pending++
	defer func() { h.pending-- }()
	mctx := mirrorCtx(ctx)
	// One insert at a time, so that order numbers follow spawn order with no
	// gaps for the children a re-run body asks for again.
	_ = workflow.Await(mctx, func() bool { return !h.creating })
	h.creating = true
	var created activitydef.CreateChildrenResult
	err := localIn(mctx, activities.CreateChildrenName, activitydef.CreateChildrenInput{
		ParentDocID: h.in.ParentDocID, FirstOrder: h.in.NextOrder, Children: specs, Known: true,
		Launch: workflow.GetInfo(ctx).FirstRunID,
	}, &created)
	h.creating = false
	if err != nil {
		return nil, err
	}
	for _, c := range created.Children {
		if !c.Duplicate && !c.Known {
			h.in.NextOrder++
		}
	}
	var starts []workflow.ChildWorkflowFuture
	var startedAt []int
	for i, c := range created.Children {
		req := reqs[i]
		wfID := h.in.IDPrefix + req.ProcessID
		var fresh bool
		if replies[i], fresh = replyExisting(mctx, c, req, wfID); fresh {
			h.started++
			fut := h.startChild(ctx, req, c.DocID, wfID)
			if h.in.Proven > 0 {
				h.starts = append(h.starts, fut)
			}
			starts = append(starts, fut)
			startedAt = append(startedAt, i)
		}
	}
	for k, fut := range starts {
		i := startedAt[k]
		var exec workflow.Execution
		if err := fut.GetChildWorkflowExecution().Get(mctx, &exec); err != nil {
			replies[i] = ReplyFromResult(ProcessResult{}, err)
			continue
		}
		replies[i] = ChildReply{WorkflowID: exec.ID, RunID: exec.RunID}
		if h.cancelled {
			// Cancelled while this batch was starting: the cancel pass may
			// not have seen these.
			workflow.RequestCancelExternalWorkflow(mctx, exec.ID, exec.RunID)
		}
	}
	return replies, nil
}

// runChildrenPipelined handles UpdateRunChildren in a Pipelined run. Updates
// take their children one after another, in the order they came (the
// workflow's coroutines wake in that order), so order numbers follow the
// body's requests (each takes a ticket as it begins). An update takes its children in chunks as startRoom
// allows, without waiting for an earlier update's children to start; it
// answers once its own children have started. What an update has not taken
// when the run is due to roll over is answered Retry (the updates waiting
// for their turn take nothing then), and refused once the children were
// cancelled.
func (h *children) runChildrenPipelined(ctx workflow.Context, reqs []ChildRequest) ([]ChildReply, error) {
	replies := make([]ChildReply, len(reqs))
	refused := func() bool { return h.cancelled || ctx.Err() != nil && h.in.Cancellable }
	if refused() {
		for i := range replies {
			replies[i] = ChildReply{State: mirror.Cancelled, Refused: true}
		}
		return replies, nil
	}
	h.pending++
	defer func() { h.pending-- }()
	mctx := mirrorCtx(ctx)
	// Take a turn: handlers begin in the order their updates came, but
	// wake from a wait in no set order.
	turn := h.tickets
	h.tickets++
	_ = workflow.Await(mctx, func() bool { return h.turn == turn })
	var starts []workflow.ChildWorkflowFuture
	var startedAt []int
	next := 0
	for next < len(reqs) {
		room := 0
		_ = workflow.Await(mctx, func() bool {
			if refused() || h.rollDue(ctx) {
				room = 0
				return true
			}
			// Wait for room for a chunk worth its document writes and
			// history events, or for as much as there will be.
			var starting int
			room, starting = h.startRoom(ctx)
			return room >= min(len(reqs)-next, childrenBatch) || room > 0 && starting == 0
		})
		if refused() || room == 0 {
			for i := next; i < len(reqs); i++ {
				if refused() {
					replies[i] = ChildReply{State: mirror.Cancelled, Refused: true}
				} else {
					replies[i] = ChildReply{Retry: true}
				}
			}
			break
		}
		take := min(room, len(reqs)-next)
		chunk := reqs[next : next+take]
		specs := make([]activitydef.ChildSpec, take)
		for i, req := range chunk {
			specs[i] = activitydef.ChildSpec{ProcessID: req.ProcessID, Name: req.Name, Description: req.Description, Params: req.Params}
		}
		var created activitydef.CreateChildrenResult
		err := localIn(mctx, activities.CreateChildrenName, activitydef.CreateChildrenInput{
			ParentDocID: h.in.ParentDocID, FirstOrder: h.in.NextOrder, Children: specs, Known: true,
			Launch: workflow.GetInfo(ctx).FirstRunID, DeferLog: h.deferLog(ctx),
		}, &created)
		if err != nil {
			h.turn++
			return nil, err
		}
		h.keepLog(created.Log)
		for k, c := range created.Children {
			i, req := next+k, chunk[k]
			if !c.Duplicate && !c.Known {
				h.in.NextOrder++
			}
			wfID := h.in.IDPrefix + req.ProcessID
			var fresh bool
			if replies[i], fresh = replyExisting(mctx, c, req, wfID); fresh {
				h.started++
				fut := h.startChild(ctx, req, c.DocID, wfID)
				h.starts = append(h.starts, fut)
				starts = append(starts, fut)
				startedAt = append(startedAt, i)
			} else if c.Known && !c.State.End() {
				h.known++
			}
		}
		next += take
	}
	h.turn++
	for k, fut := range starts {
		i := startedAt[k]
		var exec workflow.Execution
		if err := fut.GetChildWorkflowExecution().Get(mctx, &exec); err != nil {
			replies[i] = ReplyFromResult(ProcessResult{}, err)
			continue
		}
		replies[i] = ChildReply{WorkflowID: exec.ID, RunID: exec.RunID}
		if h.cancelled {
			workflow.RequestCancelExternalWorkflow(mctx, exec.ID, exec.RunID)
		}
	}
	return replies, nil
}

// startRoom is how many children a Pipelined run may start now, and how
// many are starting. Children
// whose start is still on its way count as a whole child's events each
// (eventsPerChild), started ones still to end as their end's share. The
// first run keeps at most childrenBatch children starting at once; a later
// run fills the room between its history and the length an earlier run
// proved, with at least one child when none is starting, and at most
// maxChildrenBatch starting at once. It forgets the children that ended.
func (h *children) startRoom(ctx workflow.Context) (room, starting int) {
	open := 0
	kept := h.starts[:0]
	for _, f := range h.starts {
		if f.IsReady() {
			continue
		}
		kept = append(kept, f)
		open++
		if !f.GetChildWorkflowExecution().IsReady() {
			starting++
		}
	}
	clear(h.starts[len(kept):])
	h.starts = kept
	if h.in.Proven == 0 {
		return max(childrenBatch-starting, 0), starting
	}
	events := h.in.Proven - workflow.GetInfo(ctx).GetCurrentHistoryLength() - open*eventsPerChild/3 - starting*(eventsPerChild-eventsPerChild/3)
	n := events / eventsPerChild
	if starting == 0 {
		n = max(n, 1)
	}
	return min(max(n, 0), maxChildrenBatch-starting), starting
}

// batchRoom is how many children the next update may start. The first run
// takes childrenBatch; a later run fills the room between its history and
// the length an earlier run proved, less what its children still to end
// will add, with at least one child and at most maxChildrenBatch.
func (h *children) batchRoom(ctx workflow.Context) int {
	if h.in.Proven == 0 {
		return childrenBatch
	}
	room := h.in.Proven - workflow.GetInfo(ctx).GetCurrentHistoryLength() - h.openStarts()*eventsPerChild/3
	return min(max(room/eventsPerChild, 1), maxChildrenBatch)
}

// startChild starts one child process's workflow. Its context is
// disconnected: a cancel reaches children through cancelChildren, from
// their documents, since a child may belong to an earlier run.
func (h *children) startChild(ctx workflow.Context, req ChildRequest, docID, wfID string) workflow.ChildWorkflowFuture {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	opts := workflow.ChildWorkflowOptions{
		WorkflowID:            wfID,
		TaskQueue:             workflow.GetInfo(ctx).TaskQueueName,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         req.Name,
	}
	sa := h.in.SearchAttributes
	if sa != nil {
		opts.TypedSearchAttributes = StartSearchAttributes(req.ProcessID, sa.RootProcessID, h.in.ParentProcessID, sa.Metadata)
	}
	return workflow.ExecuteChildWorkflow(workflow.WithChildOptions(dctx, opts), workflows.ProcessName, ProcessInput{
		DocID: docID, ProcessID: req.ProcessID, Name: req.Name,
		HintQueue: req.BodyQueue, Timeouts: h.in.Timeouts, IDPrefix: h.in.IDPrefix,
		Revision: h.in.Revision, SearchAttributes: sa != nil,
	})
}

// helperRun is a process workflow's children workflow.
type helperRun struct {
	id      string
	fut     workflow.ChildWorkflowFuture
	started bool
	err     error
	// adopted is set when the children workflow is not this run's child
	// but the one of the run a reset replaced (adoptHelper).
	adopted bool
}

// OpenChildrenReply answers UpdateOpenChildren.
type OpenChildrenReply struct {
	// WorkflowID is the children workflow's ID; send UpdateRunChildren there.
	WorkflowID string
	// Refused is true when the process no longer accepts children (it was
	// cancelled, or its body has returned).
	Refused bool
}

// openChildren handles UpdateOpenChildren: it starts the children workflow
// on the first call of a launch and answers its ID.
func (p *process) openChildren(ctx workflow.Context) (OpenChildrenReply, error) {
	if !p.acceptChildren || (ctx.Err() != nil && p.cancellable) {
		return OpenChildrenReply{Refused: true}, nil
	}
	if p.helper == nil {
		p.helper = p.startHelper()
	}
	h := p.helper
	_ = workflow.Await(mirrorCtx(ctx), func() bool { return h.started || h.err != nil })
	if h.err != nil {
		return OpenChildrenReply{}, h.err
	}
	return OpenChildrenReply{WorkflowID: h.id}, nil
}

// helperID is the ID of the process's children workflow.
func (p *process) helperID() string {
	return p.in.IDPrefix + p.in.ProcessID + workflows.ChildrenIDSuffix
}

// startHelper starts the children workflow as a child of this run. A cancel of
// the process reaches it through its context (unless the process is not
// cancellable); a close of this run by the server, through the parent close
// policy.
func (p *process) startHelper() *helperRun {
	info := workflow.GetInfo(p.rootCtx)
	wfID := p.in.IDPrefix + p.in.ProcessID // the workflow's own ID, from its input
	h := &helperRun{id: p.helperID()}
	hctx := p.rootCtx
	if !p.cancellable {
		hctx, _ = workflow.NewDisconnectedContext(p.rootCtx)
	}
	cctx := workflow.WithChildOptions(hctx, workflow.ChildWorkflowOptions{
		WorkflowID:            h.id,
		TaskQueue:             info.TaskQueueName,
		WaitForCancellation:   true,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         "children of " + p.in.Name,
	})
	h.fut = workflow.ExecuteChildWorkflow(cctx, workflows.ChildrenName, ChildrenInput{
		ParentDocID:      p.in.DocID,
		ParentProcessID:  p.in.ProcessID,
		ParentWorkflowID: wfID,
		IDPrefix:         p.in.IDPrefix,
		Timeouts:         p.in.Timeouts,
		Revision:         p.in.Revision,
		Cancellable:      p.cancellable,
		SearchAttributes: p.sa.forChildren(p.in),
		Pipelined:        true,
	})
	workflow.Go(p.rootCtx, func(gctx workflow.Context) {
		err := h.fut.GetChildWorkflowExecution().Get(mirrorCtx(gctx), nil)
		if err != nil && !p.adoptHelper(gctx, h, err) {
			h.err = err
			return
		}
		h.started = true
	})
	return h
}

// adoptHelperChange is the workflow.GetVersion change ID from which a run
// that a reset started adopts the children workflow of the run it replaced.
const adoptHelperChange = "optio.adopt-children-after-reset"

// adoptHelper decides whether this run adopts the children workflow that
// could not start as its child (err): in a run a reset started, that is the
// replaced run's, which the server keeps running across the reset with the
// children it started, and which cannot become this run's child. The run
// sends it the body's requests by its ID as before; closing, it tells it so
// (a failed or cancelled run's close cancels the children still active) and
// waits for the children from their documents. A cancel of the process
// reaches it from cancelReplacedHelper.
func (p *process) adoptHelper(ctx workflow.Context, h *helperRun, err error) bool {
	var exists *temporal.ChildWorkflowExecutionAlreadyStartedError
	if !errors.As(err, &exists) || !p.adoptsHelper(ctx) {
		return false
	}
	h.adopted = true
	return true
}

// cancelReplacedHelper makes a cancel of the process reach the children
// workflow of the run a reset replaced, as it reaches a run's own through
// its context: the workflow cancels the children still active and refuses
// any more, from whichever body (the replaced run's may still be running).
// Where there is none, the request fails.
func (p *process) cancelReplacedHelper() {
	workflow.Go(p.mctx, func(gctx workflow.Context) {
		p.rootCtx.Done().Receive(gctx, nil)
		h := p.helper
		if h != nil {
			// Started as this run's child, or adopted: wait to know which.
			_ = workflow.Await(gctx, func() bool { return h.started || h.err != nil })
		}
		if h == nil || h.adopted {
			workflow.RequestCancelExternalWorkflow(gctx, p.helperID(), "")
		}
	})
}

// adoptsHelper reports whether this run is one a reset started, which
// adopts the children workflow of the run it replaced.
func (p *process) adoptsHelper(ctx workflow.Context) bool {
	return isResetRun(ctx) && workflow.GetVersion(ctx, adoptHelperChange, workflow.DefaultVersion, 1) >= 1
}

// closeHelper tells the children workflow that the body has returned and
// waits for it: it completes once every child has ended. Where it was
// terminated from the Temporal side, the run closes the children it left
// itself, from their documents: it cancels them when cancelChildren says
// so, and waits for them.
func (p *process) closeHelper(cancelChildren bool) {
	h := p.helper
	if h == nil && p.adoptsHelper(p.mctx) {
		// The run a reset replaced may have left its children workflow
		// running, with children its body started: close it as this run's
		// own. (Where there is none, the signal fails and no child is
		// active.)
		h = &helperRun{id: p.helperID(), started: true, adopted: true}
	}
	if h == nil {
		return
	}
	_ = workflow.Await(p.mctx, func() bool { return h.started || h.err != nil })
	if h.err != nil {
		return
	}
	workflow.SignalExternalWorkflow(p.mctx, h.id, "", workflows.SignalCloseChildren, closeChildren{Cancel: cancelChildren})
	of := activitydef.ChildrenOf{ParentDocID: p.in.DocID, IDPrefix: p.in.IDPrefix}
	if h.adopted {
		_ = awaitChildren(p.mctx, of).Get(p.mctx, nil)
		return
	}
	err := h.fut.Get(p.mctx, nil)
	var terminated *temporal.TerminatedError
	if errors.As(err, &terminated) && workflow.GetVersion(p.mctx, helperTerminatedChange, workflow.DefaultVersion, 1) >= 1 {
		// Terminated (or deleted) from the Temporal side: the children it
		// started run on with nothing to close them. The run does what
		// the children workflow's close would have done.
		if cancelChildren {
			cancelChildrenOf(p.mctx, of)
		}
		_ = awaitChildren(p.mctx, of).Get(p.mctx, nil)
	}
}

// helperTerminatedChange is the workflow.GetVersion change ID from which a
// run whose children workflow was terminated from the Temporal side closes
// the children that workflow started itself, from their documents.
const helperTerminatedChange = "optio.children-after-helper-terminated"

// replyExisting answers a child request whose document was there before:
// a duplicate processId, or a child of an earlier body run, ended (its end)
// or running (its workflow, told where the new body runs: its own body, if
// it lived with the lost one, runs there too). fresh is true for a child
// created just now, which the caller starts; its reply is then zero.
func replyExisting(mctx workflow.Context, c activitydef.CreatedChild, req ChildRequest, wfID string) (reply ChildReply, fresh bool) {
	switch {
	case c.Duplicate:
		return ChildReply{State: mirror.Failed, Duplicate: true}, false
	case c.Known && c.State.End():
		return ChildReply{State: c.State, Error: c.Error}, false
	case c.Known:
		if req.BodyQueue != "" {
			workflow.SignalExternalWorkflow(mctx, wfID, "", workflows.SignalBodyQueue, req.BodyQueue)
		}
		return ChildReply{WorkflowID: wfID}, false
	}
	return ChildReply{}, true
}
