package workflowdef

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// Timeouts tune how the workflow runs a body.
type Timeouts struct {
	// Heartbeat is the body activity's heartbeat timeout: how long a lost
	// worker goes unnoticed.
	Heartbeat time.Duration
	// ScheduleToStart bounds how long a body waits for its worker to pick it
	// up before that worker counts as lost.
	ScheduleToStart time.Duration
	// MaxBodyRuns bounds how often a body is re-run after lost workers.
	MaxBodyRuns int
	// InlineBody, from revision 4, is how long the first body run of a
	// launch may run inside the workflow task that started the run, when
	// the worker running that task holds the function: a body that ends
	// within it ends the run in that one workflow task, without a body
	// activity. Zero runs every body as an activity.
	InlineBody time.Duration `json:",omitempty"`
}

func (t Timeouts) withDefaults() Timeouts {
	if t.Heartbeat <= 0 {
		t.Heartbeat = 10 * time.Second
	}
	if t.ScheduleToStart <= 0 {
		t.ScheduleToStart = 10 * time.Second
	}
	if t.MaxBodyRuns <= 0 {
		t.MaxBodyRuns = 5
	}
	return t
}

// ProcessInput starts one run of a process.
type ProcessInput struct {
	DocID     string
	ProcessID string
	Name      string
	// HintQueue is the worker-specific queue of an engine that holds the
	// execute function, for processes whose function not every engine has.
	HintQueue string
	Timeouts  Timeouts
	// IDPrefix is prepended to a child's processId to make its workflow ID
	// ("{db}/{prefix}:").
	IDPrefix string
	// ReturnDoc puts the final document into the result (ProcessResult.Doc),
	// for a launcher that waits for the run; children leave it off, so that
	// a parent's history does not hold every child's document.
	ReturnDoc bool `json:",omitempty"`
	// Revision is the workflow code path the run follows, CurrentRevision
	// when the engine started it. A run keeps its revision for life, so
	// workers of a newer engine replay the histories of older runs
	// unchanged.
	Revision int
	// ClaimStamp is the launch's claim (docstore.ClaimStamp of the claimed
	// document), which StartRun checks from revision 4: empty for children,
	// whose documents their parent's run inserted.
	ClaimStamp string `json:",omitempty"`
	// SearchAttributes says, from revision 3, that the run keeps the custom
	// search attributes of workflows.SearchAttributeTypes and that its
	// launcher set them at start (StartSearchAttributes). Earlier revisions
	// decide in the run (ProcessOptions.SearchAttributes).
	SearchAttributes bool `json:",omitempty"`
}

// CurrentRevision is the revision of the process workflow that new runs get.
//
//   - 0: every body run is preceded by a ClaimBody local activity and runs
//     on the worker-specific queue of the engine that holds its function.
//   - 1: the first claim rides on the StartRun local activity, and a body
//     whose function the claiming worker holds is scheduled on the
//     workflow's own task queue, so that Temporal hands it straight back to
//     that worker in the workflow-task response (eager activity dispatch)
//     instead of through matching. A body that lands elsewhere and finds no
//     function there is re-run on the worker-specific queue. A body that
//     returns nil, uncancelled and without children, writes the run's end
//     itself (activitydef.BodyInput.Finish), saving the Finish local
//     activity.
//   - 2: children are started and tracked by a children workflow of their
//     own (Children, ID {workflowID}#children), which continues as new
//     before its history grows large; the process workflow only starts it
//     (UpdateOpenChildren) and waits for it, so its own history no longer
//     grows with its children.
//   - 3: the launcher sets the search attributes (identity, state scheduled,
//     metadata) when it starts the workflow, and says so in the input
//     (SearchAttributes); the run records no decision about them and makes
//     no first upsert, and its children workflow starts the children the
//     same way (ChildrenInput.SearchAttributes).
//   - 4: the first body run of a launch whose function the worker running
//     the first workflow task holds starts inline, in a local activity of
//     that task (activities.BodyInlineName), for up to Timeouts.InlineBody.
//     A body that ends within it ends the run in that workflow task: one
//     workflow task and no activity for a short process. One that runs on,
//     or asks for children, is left running and taken over by a body
//     activity (activitydef.BodyInput.Adopt) that heartbeats for it, as
//     any body activity does.
const CurrentRevision = 4

// ProcessResult is the end of a run, as the workflow returns it when the
// process did not fail.
type ProcessResult struct {
	State   mirror.State
	Error   string
	Deleted bool
	// Doc is the final document, BSON-encoded, when ProcessInput.ReturnDoc
	// asked for it and it was small enough (activitydef.MaxReturnedDoc).
	Doc []byte `json:",omitempty"`
}

type process struct {
	in   ProcessInput
	view workflows.StateView
	// mctx runs the main coroutine's mirror writes: disconnected, so they
	// happen after a cancel too. Update handlers make their own (mirrorCtx):
	// a blocking call must use a context of the coroutine it runs in.
	mctx workflow.Context

	// Children of this launch, by processId. A body re-run after a lost
	// worker finds the ones that ended here and gets their recorded result.
	children       map[string]*childRec
	childOrder     []string
	rootCtx        workflow.Context
	nextOrder      int
	inflight       int
	acceptChildren bool
	// finished is the terminal write a body activity made itself.
	finished *activitydef.FinishResult
	// cancellable is the document's flag, from StartRun.
	cancellable bool
	// helper is the children workflow (revision 2), once started.
	helper *helperRun
	// sa keeps the run's search attributes current (searchattrs.go).
	sa *searchAttrs
	// startedSA is what StartRun found, not yet in the search attributes
	// (revision 4 and later): a body that ends inline ends the run in the
	// same workflow task, and the run then records only its end state.
	startedSA *activitydef.StartRunResult
	// opts are the worker's settings (NewProcess).
	opts ProcessOptions
}

// ProcessOptions are a worker's settings of the process workflow.
type ProcessOptions struct {
	// SearchAttributes makes runs of revisions before 3 keep the custom
	// search attributes of workflows.SearchAttributeTypes current; set it
	// only when the namespace has them registered, as the server fails a
	// workflow task that sets an unknown attribute. A run records the
	// setting it started with, so workers that differ replay each other's
	// runs. From revision 3 the run's input decides
	// (ProcessInput.SearchAttributes).
	SearchAttributes bool
}

// NewProcess returns the process workflow with a worker's settings, to be
// registered under ProcessName instead of Process.
func NewProcess(opts ProcessOptions) func(workflow.Context, ProcessInput) (ProcessResult, error) {
	return func(ctx workflow.Context, in ProcessInput) (ProcessResult, error) {
		return processWith(ctx, in, opts)
	}
}

// Process is the workflow of one launch of a process: it moves the document
// to running, runs the body on a worker that holds the task's function
// (re-running it on a live worker if that worker is lost), turns a workflow
// cancellation (API, RPC or the Temporal Web UI) into optio's cooperative
// cancel, and writes the terminal state. It keeps no search attributes; see
// NewProcess.
func Process(ctx workflow.Context, in ProcessInput) (ProcessResult, error) {
	return processWith(ctx, in, ProcessOptions{})
}

func processWith(ctx workflow.Context, in ProcessInput, opts ProcessOptions) (ProcessResult, error) {
	in.Timeouts = in.Timeouts.withDefaults()
	p := &process{
		in:       in,
		view:     workflows.StateView{ProcessID: in.ProcessID, State: mirror.Scheduled},
		mctx:     mirrorCtx(ctx),
		children: map[string]*childRec{},
		rootCtx:  ctx,
		opts:     opts,
	}
	if err := workflow.SetQueryHandler(ctx, workflows.QueryState, func() (workflows.StateView, error) { return p.view, nil }); err != nil {
		return ProcessResult{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, workflows.UpdateRunChildren, p.runChildren, workflow.UpdateHandlerOptions{
		Validator: validateChildRequests,
	}); err != nil {
		return ProcessResult{}, err
	}
	if in.Revision >= 2 {
		if err := workflow.SetUpdateHandler(ctx, workflows.UpdateOpenChildren, p.openChildren); err != nil {
			return ProcessResult{}, err
		}
	}
	res, err := p.run(ctx)
	// A parent's body run again (after a lost worker, or a reset) tells its
	// children still running where it runs now; a child whose body was not
	// lost with it has no use for that. It is read, so that the run does not
	// end with it unhandled, which the SDK logs as a warning.
	queues := workflow.GetSignalChannel(ctx, workflows.SignalBodyQueue)
	for queues.ReceiveAsync(nil) {
	}
	return res, err
}

// mirrorCtx derives the context of mirror writes from a coroutine's context.
func mirrorCtx(ctx workflow.Context) workflow.Context {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	return workflow.WithLocalActivityOptions(dctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 10 * time.Minute,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    100 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Second,
		},
	})
}

// local runs a mirror write as a local activity in the main coroutine.
func (p *process) local(name string, in, out any) error {
	return localIn(p.mctx, name, in, out)
}

func localIn(mctx workflow.Context, name string, in, out any) error {
	return workflow.ExecuteLocalActivity(mctx, name, in).Get(mctx, out)
}

func (p *process) run(ctx workflow.Context) (ProcessResult, error) {
	p.sa = startSearchAttrs(p.mctx, p.in, p.opts.SearchAttributes)
	doc := activitydef.DocInput{DocID: p.in.DocID}
	if p.in.Revision >= inlineBodyRevision {
		doc.ClaimStamp = p.in.ClaimStamp
	}
	if ctx.Err() != nil {
		var st mirror.State
		if err := p.local(activities.CancelScheduledName, doc, &st); err != nil {
			return ProcessResult{}, err
		}
		p.view.State = st
		p.sa.setState(p.mctx, st)
		return ProcessResult{State: st}, temporal.NewCanceledError()
	}
	var start activitydef.StartRunResult
	startIn := activitydef.StartRunInput{DocID: p.in.DocID}
	if p.in.Revision >= 1 {
		startIn.Claim = &activitydef.ClaimBodyInput{ProcessID: p.in.ProcessID, HintQueue: p.in.HintQueue}
	}
	if p.in.Revision >= inlineBodyRevision {
		// The run's end may be written in its first workflow task (an
		// inline body); if that task fails and runs again, the document
		// may belong to a later launch by then.
		startIn.ClaimStamp = p.in.ClaimStamp
		// And if the worker running that task dies with the body, the
		// task's retry elsewhere must know the body ran.
		startIn.ReportLost = true
	}
	if err := p.local(activities.StartRunName, startIn, &start); err != nil {
		return ProcessResult{}, err
	}
	p.view.State = start.State
	p.startedSA = &start
	if p.in.Revision < inlineBodyRevision || !start.Started {
		p.flushStartedSA()
	}
	p.cancellable = start.Cancellable
	if !start.Started {
		// Cancelled (or deleted) before the body started: nothing to run.
		if ctx.Err() != nil {
			return ProcessResult{State: start.State}, temporal.NewCanceledError()
		}
		return ProcessResult{State: start.State}, nil
	}

	if p.cancellable && p.adoptsHelper(ctx) {
		p.cancelReplacedHelper()
	}
	p.acceptChildren = true
	fin := p.runBody(ctx, start)
	p.acceptChildren = false
	if fin.Outcome == activitydef.OutcomeFailed {
		// Nothing will wait for the children any more.
		p.cancelInflight()
	}
	// A failed or cancelled run cancels its children still active. The
	// close says so itself: a cancelled run's children workflow is cancelled
	// as well, but that cancel can reach it after the close.
	p.closeHelper(fin.Outcome == activitydef.OutcomeFailed || fin.Outcome == activitydef.OutcomeCancelled)
	// Children end before their parent: its end state is written last.
	_ = workflow.Await(p.mctx, func() bool { return p.inflight == 0 && workflow.AllHandlersFinished(p.mctx) })
	var res activitydef.FinishResult
	fin.ReturnDoc = p.in.ReturnDoc
	if p.finished != nil {
		res = *p.finished
	} else if err := p.local(activities.FinishName, fin, &res); err != nil {
		return ProcessResult{}, err
	}
	p.view.State = res.State
	if s := p.startedSA; s != nil {
		// Ended in the workflow task that started it: one upsert, of the
		// end state (and of the metadata, should StartRun have found other).
		p.startedSA = nil
		p.sa.started(p.mctx, res.State, s.Metadata)
	}
	p.sa.setState(p.mctx, res.State)
	out := ProcessResult{State: res.State, Error: fin.Error, Deleted: res.Deleted, Doc: res.Doc}
	switch {
	case res.State == mirror.Failed:
		p.view.Error = fin.Error
		return out, temporal.NewNonRetryableApplicationError(fin.Error, workflows.ProcessFailedType, nil, out)
	case res.State == mirror.Cancelled && ctx.Err() != nil:
		return out, temporal.NewCanceledError(out)
	}
	return out, nil
}

// flushStartedSA records in the search attributes what StartRun found, if
// it is not there yet: before the run's first workflow task completes with
// the body still running.
func (p *process) flushStartedSA() {
	if s := p.startedSA; s != nil {
		p.startedSA = nil
		p.sa.started(p.mctx, s.State, s.Metadata)
	}
}

// runBody runs the body until it ends and returns the terminal write to make.
// Each pass of its loop is one body run: claim a queue, run the body there,
// wait for it while handling a cancel, and read how it ended.
func (p *process) runBody(ctx workflow.Context, start activitydef.StartRunResult) activitydef.FinishInput {
	b := p.newBodyRuns(ctx, start)
	first := 1
	if b.rerun {
		first = 2
	}
	for run := first; ; run++ {
		if b.cancelled {
			b.fin.Outcome = activitydef.OutcomeCancelled
			return b.fin
		}
		if run > p.in.Timeouts.MaxBodyRuns {
			return p.failed(b.fin, fmt.Sprintf("body of %q lost its worker %d times; giving up", p.in.ProcessID, p.in.Timeouts.MaxBodyRuns))
		}
		claim, step := b.claim(ctx)
		if step == stepEnd {
			return b.fin
		}
		if step == stepAgain {
			run--
			continue
		}
		b.warnLost()
		p.view.BodyQueue, p.view.BodyRuns = claim.Queue, run
		if step, ran := b.runInline(ctx, claim, run); ran {
			switch step {
			case stepEnd:
				return b.fin
			case stepAgain:
				run--
			}
			continue
		}
		p.flushStartedSA()
		fut, viaOwnQueue := b.startBody(ctx, claim, run)
		b.await(ctx, fut, claim.Queue)
		var res activitydef.BodyResult
		err := fut.Get(p.mctx, &res)
		switch b.ended(res, err, claim, viaOwnQueue) {
		case stepEnd:
			return b.fin
		case stepAgain:
			run--
		}
	}
}

// bodyRuns is what runBody carries from one body run to the next.
type bodyRuns struct {
	p     *process
	start activitydef.StartRunResult
	// fin is the terminal write, complete once a step returns stepEnd.
	fin activitydef.FinishInput
	// lost are the queues whose worker was lost during this launch.
	lost []string
	// lostReason is set when the previous run's worker was lost; the
	// warning is logged once a live worker is found, or folded into the
	// failure.
	lostReason string
	// lostSeen is set once a loss was recorded (lose).
	lostSeen bool
	// cancelled is set once a cancel of a cancellable process came.
	cancelled bool
	// bodyCtx is the context of the body activity. A process that is not
	// cancellable ignores a cancel from the Temporal side, as Cancel refuses
	// it: its body runs on a context the workflow's cancellation does not
	// reach.
	bodyCtx workflow.Context
	// claimed is a claim made already (by StartRun, or kept for a re-run
	// off the workflow's queue); nil asks ClaimBody.
	claimed *activitydef.ClaimBodyResult
	// ownQueue sends a body whose function the claiming worker holds to the
	// workflow's own task queue (revision 1 and later).
	ownQueue bool
	// bodyFinish is the terminal write a body makes itself when it returns
	// nil (revision 1 and later).
	bodyFinish *activitydef.FinishInput
	// inline lets the first body run start inline (revision 4 and later,
	// Timeouts.InlineBody set); adopt makes the body activity take over the
	// body that started inline and runs on. rerun is set when the body
	// already ran once in a workflow task that was lost with its worker.
	inline, adopt, rerun bool
}

// cancelledBodyChange is the workflow.GetVersion change ID under which a body
// activity cancelled before it started ends the run cancelled; runs
// recorded before it wrote such a run failed ("canceled").
const cancelledBodyChange = "optio.cancelled-body"

// bodyStep is how runBody goes on after a step of a body run.
type bodyStep int

const (
	// stepOn goes on with the current body run.
	stepOn bodyStep = iota
	// stepNext starts the next body run.
	stepNext
	// stepAgain repeats the current body run, under the same number.
	stepAgain
	// stepEnd ends runBody with the terminal write in bodyRuns.fin.
	stepEnd
)

// newBodyRuns sets up the body runs of a launch that StartRun started.
func (p *process) newBodyRuns(ctx workflow.Context, start activitydef.StartRunResult) *bodyRuns {
	b := &bodyRuns{
		p:       p,
		start:   start,
		fin:     activitydef.FinishInput{DocID: p.in.DocID, ProcessID: p.in.ProcessID, RunningSince: start.RunningSince},
		bodyCtx: ctx,
	}
	if !start.Cancellable {
		b.bodyCtx, _ = workflow.NewDisconnectedContext(ctx)
	}
	if p.in.Revision >= 1 {
		b.claimed, b.ownQueue = &start.Claim, true
		b.bodyFinish = &activitydef.FinishInput{DocID: p.in.DocID, ProcessID: p.in.ProcessID, RunningSince: start.RunningSince, ReturnDoc: p.in.ReturnDoc}
	}
	b.inline = p.in.Revision >= inlineBodyRevision && p.in.Timeouts.InlineBody > 0
	if start.Lost {
		// The worker that ran the first workflow task died in it, with the
		// body it had started, or a reset replays that task in a new run:
		// this run of the body is a re-run.
		b.inline, b.rerun = false, true
		b.lose("workflow task timeout")
	}
	return b
}

// lose records why the body run before this one was lost. The first loss
// a run that a reset started sees is the reset's doing: the body of the run
// it replaced, or the one it was taking over, is cut off from this run.
func (b *bodyRuns) lose(reason string) {
	if !b.lostSeen && isResetRun(b.bodyCtx) {
		reason = resetReason
	}
	b.lostSeen = true
	b.lostReason = reason
}

// claim picks the queue of a body run: the claim made already, else
// ClaimBody's, which leaves out the queues of lost workers. When no live
// worker holds the function after a loss, a child process waits for its
// parent to name one (stepAgain); otherwise the run fails (stepEnd).
func (b *bodyRuns) claim(ctx workflow.Context) (activitydef.ClaimBodyResult, bodyStep) {
	p := b.p
	var claim activitydef.ClaimBodyResult
	if b.claimed != nil {
		claim, b.claimed = *b.claimed, nil
	} else if err := p.local(activities.ClaimBodyName, activitydef.ClaimBodyInput{
		ProcessID: p.in.ProcessID, HintQueue: p.in.HintQueue, LostQueues: b.lost,
	}, &claim); err != nil {
		b.fin = p.failed(b.fin, err.Error())
		return claim, stepEnd
	}
	if claim.Queue != "" {
		return claim, stepOn
	}
	lost := len(b.lost) > 0 || b.rerun
	if lost && p.awaitBodyQueue(ctx) {
		return claim, stepAgain
	}
	if lost {
		msg := fmt.Sprintf("Worker running the body was lost (%s) and no live worker holds the execute function of %q (it lived only in the lost worker)", b.lostReason, p.in.ProcessID)
		b.fin = p.failed(b.fin, msg)
		return claim, stepEnd
	}
	b.fin = p.failed(b.fin, activities.ErrNoExecute.Error())
	b.fin.Unlogged = true
	return claim, stepEnd
}

// resetReason is bodyRuns.lostReason in a run that a reset of the
// workflow started: the body of the run it replaces is not lost, but cut
// off from its workflow.
const resetReason = "workflow reset"

// isResetRun reports whether this run is one that a reset of the workflow
// started, in place of the run it replaced. (The SDK's test environment
// leaves OriginalRunID empty.)
func isResetRun(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.OriginalRunID != "" && info.OriginalRunID != info.WorkflowExecution.RunID
}

// warnLost logs on the document that the previous run's worker was lost, or
// its workflow reset, now that a live worker was found.
func (b *bodyRuns) warnLost() {
	switch b.lostReason {
	case "":
		return
	case resetReason:
		b.p.warn("Process workflow was reset; re-running the body on a live worker")
	default:
		b.p.warn("Worker running the body was lost (" + b.lostReason + "); re-running the body on a live worker")
	}
	b.lostReason = ""
}

// startBody schedules the body activity of run on the claimed queue, or on
// the workflow's own queue when the claiming worker holds the function
// (revision 1 and later: Temporal hands it straight back to that worker);
// viaOwnQueue says which.
func (b *bodyRuns) startBody(ctx workflow.Context, claim activitydef.ClaimBodyResult, run int) (fut workflow.Future, viaOwnQueue bool) {
	p := b.p
	queue := claim.Queue
	viaOwnQueue = b.ownQueue && claim.Local
	if viaOwnQueue {
		queue = workflow.GetInfo(ctx).TaskQueueName
	}
	base := b.bodyCtx
	if b.adopt && ctx.Err() != nil {
		// Cancelled while the body ran inline: an activity on a cancelled
		// context would never be scheduled, and the body runs. The cancel
		// reaches it through await's CancelBody.
		base, _ = workflow.NewDisconnectedContext(ctx)
	}
	actx := workflow.WithActivityOptions(base, workflow.ActivityOptions{
		TaskQueue:              queue,
		ScheduleToStartTimeout: p.in.Timeouts.ScheduleToStart,
		StartToCloseTimeout:    100 * 365 * 24 * time.Hour,
		HeartbeatTimeout:       p.in.Timeouts.Heartbeat,
		WaitForCancellation:    true,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
		Summary:                p.in.Name,
	})
	in := b.bodyInput(ctx, run)
	in.Adopt = b.adopt
	return workflow.ExecuteActivity(actx, activities.BodyName, in), viaOwnQueue
}

// bodyInput is what the body of run needs.
func (b *bodyRuns) bodyInput(ctx workflow.Context, run int) activitydef.BodyInput {
	p := b.p
	info := workflow.GetInfo(ctx)
	return activitydef.BodyInput{
		WorkflowID:   info.WorkflowExecution.ID,
		RunID:        info.WorkflowExecution.RunID,
		DocID:        p.in.DocID,
		ProcessID:    p.in.ProcessID,
		Name:         p.in.Name,
		RunningSince: b.start.RunningSince,
		Metadata:     b.start.Metadata,
		Attempt:      run,
		Finish:       b.bodyFinish,
		Revision:     p.in.Revision,
	}
}

// inlineBodyRevision is the first revision of the process workflow that
// starts a body inline (CurrentRevision).
const inlineBodyRevision = 4

// runInline starts the first body run of the launch inline, in a local
// activity of the current workflow task, when this worker holds the
// function (claim.Local) and the run allows it (bodyRuns.inline). ran is
// false when it did not, or when the body runs on (the body activity then
// takes it over: bodyRuns.adopt); step is how runBody goes on otherwise.
func (b *bodyRuns) runInline(ctx workflow.Context, claim activitydef.ClaimBodyResult, run int) (step bodyStep, ran bool) {
	p := b.p
	if !b.inline || !claim.Local || b.cancelled {
		b.inline = false
		return stepOn, false
	}
	b.inline = false
	in := b.bodyInput(ctx, run)
	in.InlineFor = p.in.Timeouts.InlineBody
	// The body activity that takes the body over may be sent twice (to the
	// workflow's queue, then to this worker's own); the body waits for both.
	in.AdoptWithin = 2*p.in.Timeouts.ScheduleToStart + inlineAdoptSlack
	lctx := workflow.WithLocalActivityOptions(p.mctx, workflow.LocalActivityOptions{
		// The wait, then the body's own terminal write (30 s at most).
		StartToCloseTimeout:    in.InlineFor + time.Minute,
		ScheduleToCloseTimeout: in.InlineFor + time.Minute,
		// Never again: a retry would find the body running, or start it twice.
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var res activitydef.BodyResult
	err := workflow.ExecuteLocalActivity(lctx, activities.BodyInlineName, in).Get(lctx, &res)
	var app *temporal.ApplicationError
	if err == nil && !res.Detached || errors.As(err, &app) {
		return b.ended(res, err, claim, false), true
	}
	// Left running (or the local activity timed out waiting for its end):
	// a body activity takes it over and reports its end.
	b.adopt = true
	return stepOn, false
}

// inlineAdoptSlack is added to the time a detached body waits to be taken
// over, beyond the body activity's schedule-to-start timeouts.
const inlineAdoptSlack = 5 * time.Second

// await waits for the body activity to end. The first cancel of a
// cancellable process is recorded and delivered to the body's worker
// (queue); a cancel of one that is not cancellable is refused, with a
// warning on the document.
func (b *bodyRuns) await(ctx workflow.Context, fut workflow.Future, queue string) {
	p := b.p
	finished := false
	ignoring := !b.start.Cancellable && ctx.Err() != nil
	for !finished {
		sel := workflow.NewSelector(p.mctx)
		sel.AddFuture(fut, func(workflow.Future) { finished = true })
		if !b.cancelled && !ignoring {
			sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {
				if b.start.Cancellable {
					b.cancelled = true
					return
				}
				ignoring = true
				p.warn("Cancel requested from the Temporal side refused: the process is not cancellable")
			})
		}
		sel.Select(p.mctx)
		if b.cancelled && !finished && !p.view.CancelRequested {
			p.deliverCancel(queue)
		}
	}
}

// ended reads how a body run ended, from the body activity's (or the
// inline local activity's) result res and error err: with the body's
// result, cancelled or failed (stepEnd, the terminal write in fin);
// interrupted or with its worker lost (stepNext); or matched to a worker
// without the function, or without the body it was to take over
// (stepAgain, on the claimed queue).
func (b *bodyRuns) ended(res activitydef.BodyResult, err error, claim activitydef.ClaimBodyResult, viaOwnQueue bool) bodyStep {
	p := b.p
	if err == nil && res.Interrupted && !b.cancelled {
		p.warn("Body was interrupted (its worker lost contact with the Temporal server); re-running the body")
		b.adopt = false
		return stepNext
	}
	if err == nil {
		b.fin.Outcome = activitydef.OutcomeDone
		if res.Cancelled || res.Interrupted || b.cancelled {
			b.fin.Outcome = activitydef.OutcomeCancelled
		}
		if res.Finished != nil {
			p.finished = res.Finished
			b.fin.Outcome = activitydef.Outcome(res.Finished.State)
		}
		return stepEnd
	}
	var app *temporal.ApplicationError
	if viaOwnQueue && errors.As(err, &app) && (app.Type() == activities.NoExecuteType || app.Type() == activities.BodyGoneType) && !b.cancelled {
		// Matched to an engine without the function (or without the body
		// it was to take over): run it where it is.
		b.claimed, b.ownQueue = &claim, false
		return stepAgain
	}
	if errors.As(err, &app) && app.Type() == activities.BodyGoneType {
		// The body that started inline no longer runs on its worker (it
		// restarted, or the body waited too long to be taken over).
		if b.cancelled {
			b.fin.Outcome = activitydef.OutcomeCancelled
			return stepEnd
		}
		b.adopt = false
		b.lost = append(b.lost, claim.Queue)
		b.lose("the body started inline was no longer running on its worker")
		return stepNext
	}
	if b.cancelled && temporal.IsCanceledError(err) &&
		workflow.GetVersion(p.mctx, cancelledBodyChange, workflow.DefaultVersion, 1) >= 1 {
		// The cancel reached the body activity before a worker started it
		// (or before it was scheduled: the cancel came during StartRun):
		// no body ran, and the run ends cancelled, not failed.
		b.fin.Outcome = activitydef.OutcomeCancelled
		return stepEnd
	}
	if workerLost(err) {
		if b.cancelled {
			b.fin.Outcome = activitydef.OutcomeCancelled
			return stepEnd
		}
		b.adopt = false
		b.lost = append(b.lost, claim.Queue)
		b.lose(lostWhy(err))
		return stepNext
	}
	if errors.As(err, &app) {
		b.fin = p.failed(b.fin, app.Message())
		b.fin.Unlogged = app.Type() == activities.NoExecuteType
		return stepEnd
	}
	b.fin = p.failed(b.fin, err.Error())
	return stepEnd
}

// warn appends a warning to the document's log.
func (p *process) warn(msg string) {
	_ = p.local(activities.AppendLogName, activitydef.AppendLogInput{DocID: p.in.DocID, Log: []activitydef.LogLine{{Level: mirror.LevelWarning, Message: msg}}}, nil)
}

// deliverCancel records the cancel on the document and sends it straight to
// the body's worker; the SDK's own cancellation still follows through the next
// heartbeat, as a fallback.
func (p *process) deliverCancel(queue string) {
	p.view.CancelRequested = true
	var st mirror.State
	if err := p.local(activities.RequestCancelName, activitydef.DocInput{DocID: p.in.DocID}, &st); err == nil {
		p.view.State = st
		p.sa.setState(p.mctx, st)
	}
	info := workflow.GetInfo(p.mctx)
	cctx := workflow.WithActivityOptions(p.mctx, workflow.ActivityOptions{
		TaskQueue:              queue,
		ScheduleToStartTimeout: 10 * time.Second,
		StartToCloseTimeout:    10 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
		Summary:                "deliver cancel",
	})
	workflow.ExecuteActivity(cctx, activities.CancelBodyName, activitydef.CancelBodyInput{
		WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
	})
}

func (p *process) failed(fin activitydef.FinishInput, msg string) activitydef.FinishInput {
	fin.Outcome, fin.Error, fin.Unlogged = activitydef.OutcomeFailed, msg, false
	return fin
}

// workerLost reports whether a body activity error means its worker went away
// (no heartbeat, never picked up) rather than the body failing.
func workerLost(err error) bool {
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		switch te.TimeoutType() {
		case enumspb.TIMEOUT_TYPE_HEARTBEAT, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
			return true
		}
	}
	return false
}

func lostWhy(err error) string {
	var te *temporal.TimeoutError
	if errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		return "no worker picked the body up"
	}
	return "heartbeat timeout"
}
