package adapter

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/internal/workflowdef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// LaunchOption configures one launch (Launch, LaunchAndWait). A nil
// LaunchOption is refused with an error wrapping ErrInvalidInput.
type LaunchOption func(*launchOptions)

type launchOptions struct {
	// session is the run's originatingSessionId; nil is null.
	session *string
	// resume asks to resume the process (WithResume).
	resume bool
	// autoResume marks the engine's own resume after a restart, which the
	// log records.
	autoResume bool
}

// WithResume resumes the process rather than starting it over, as optio's
// launch(resume=True): its body continues from the saved checkpoint
// (ProcessContext.RunKind is ResumedRun, LoadCheckpoint returns what the
// previous run saved). A process whose task does not declare
// SupportsResume is refused with ReasonNoResumeSupport and nothing is
// written; one with nothing saved (hasSavedState false) is launched afresh,
// as optio-core does.
func WithResume() LaunchOption {
	return func(o *launchOptions) { o.resume = true }
}

// WithSessionID records the session that launches the process, as optio-api
// passes the dashboard's: the run's document, and those of its children,
// get it as originatingSessionId, by which optio-api routes a session's
// events. Without it the field is null, as for a cron or unattended launch.
func WithSessionID(sessionID string) LaunchOption {
	return func(o *launchOptions) { o.session = &sessionID }
}

// Launch starts a process without waiting for it: the document moves to
// scheduled and a run of its workflow starts. The process must be launchable
// (idle, done, failed or cancelled); of concurrent launches exactly one wins
// and the others get ReasonNotLaunchable. id is a processId or a document _id
// in hex. The Outcome carries the document as re-read after the launch. An
// empty id or a nil option is refused with an error wrapping
// ErrInvalidInput, and nothing is written.
func (e *Engine) Launch(ctx context.Context, id string, opts ...LaunchOption) (Outcome, error) {
	return e.launch(ctx, id, false, opts)
}

// launch is Launch; wait says the caller waits for the run's end and wants
// the final document in the workflow's result. Every launch, whichever way
// it came (API, RPC, cron, auto-resume), passes here, so refusals are
// counted here.
func (e *Engine) launch(ctx context.Context, id string, wait bool, opts []LaunchOption) (Outcome, error) {
	out, err := e.tryLaunch(ctx, id, wait, opts)
	if err == nil && !out.OK && e.cfg.Metrics != nil {
		e.cfg.Metrics.LaunchRefused(out.Reason)
	}
	return out, err
}

// tryLaunch claims the document and starts the run, or says why not.
func (e *Engine) tryLaunch(ctx context.Context, id string, wait bool, opts []LaunchOption) (Outcome, error) {
	var o launchOptions
	for i, opt := range opts {
		if opt == nil {
			return Outcome{}, fmt.Errorf("%w: launch %q: LaunchOption %d is nil", ErrInvalidInput, id, i)
		}
		opt(&o)
	}
	if err := validID(id); err != nil {
		return Outcome{}, err
	}
	if err := e.checkOpen(); err != nil {
		return failOutcome(ReasonShuttingDown), nil
	}
	// The document's metadata is the task's (sync writes it), and every
	// engine has it, whether or not it declares the task.
	var before mirror.Process
	leave := e.claims.enter()
	doc, err := e.store.ResolveAndClaim(ctx, id, o.session, func(doc *mirror.Process) error {
		if err := e.CheckProcessID(doc.ProcessID); err != nil {
			return err
		}
		if !doc.Status.State.Launchable() {
			return ReasonNotLaunchable
		}
		if o.resume && !mirror.Flag(doc.SupportsResume) {
			return ReasonNoResumeSupport
		}
		before = *doc
		blocked, err := e.checkBlocks(ctx, doc.Metadata)
		if err != nil {
			return err
		}
		if blocked != nil {
			return ReasonLaunchBlocked
		}
		return nil
	})
	leave()
	var reason Reason
	switch {
	case err == nil:
	case isNotFound(err):
		return failOutcome(ReasonNotFound), nil
	case errors.As(err, &reason):
		return failOutcome(reason), nil
	case errors.Is(err, mirror.ErrConflict):
		return failOutcome(ReasonNotLaunchable), nil
	case doc != nil:
		// Claimed, but the previous run's children could not be deleted.
		return Outcome{}, e.failUnstarted(ctx, doc, "could not delete the previous run's child processes", err)
	default:
		return Outcome{}, err
	}
	if err := e.prepareResume(ctx, &before, o); err != nil {
		return Outcome{}, e.failUnstarted(ctx, doc, "could not prepare the run's saved state", err)
	}
	out := Outcome{OK: true, Process: doc}
	here := e.runsHere(doc.ProcessID)
	if wait && here {
		// Watched before the start: a trivial run can end before the
		// start's answer is read. Only an engine whose worker holds the
		// function writes the end (awaitRun).
		out.watch = e.ends.watch(e.WorkflowID(doc.ProcessID))
	}
	// The run's result carries the final document only for a waiter that
	// will not have it from a terminal write on this engine: copied into
	// the run's history twice (the write's marker and the result), it is
	// most of a short run's history.
	if out.run, err = e.startRun(ctx, doc, here, wait && !here); err != nil {
		out.watch.close()
		return Outcome{}, e.failUnstarted(ctx, doc, "could not start the process workflow", err)
	}
	// The document as the launch left it (scheduled); the run may already
	// have moved it on, as in optio-core, whose re-read races the same way.
	return out, nil
}

// failUnstarted fails a claimed document that nothing will run, rather than
// leave it scheduled forever, and returns the launch's error.
func (e *Engine) failUnstarted(ctx context.Context, doc *mirror.Process, what string, err error) error {
	if _, ferr := e.store.Fail(context.WithoutCancel(ctx), doc.ID, what+": "+err.Error()); ferr != nil {
		e.log.Error("fail unstarted process", "process", doc.ProcessID, "error", ferr)
	}
	return fmt.Errorf("launch %q: %s: %w", doc.ProcessID, what, err)
}

// resolveForAction finds the document an action names. When it returns no
// document, the action ends with the returned outcome and error: an invalid
// id, ReasonNotFound, or a read error.
func (e *Engine) resolveForAction(ctx context.Context, id string) (*mirror.Process, Outcome, error) {
	if err := validID(id); err != nil {
		return nil, Outcome{}, err
	}
	doc, err := e.store.Resolve(ctx, id)
	if isNotFound(err) {
		return nil, failOutcome(ReasonNotFound), nil
	}
	if err != nil {
		return nil, Outcome{}, err
	}
	return doc, Outcome{}, nil
}

// startRun starts the workflow run of a claimed process: here says the run
// is expected on this engine's worker (runsHere), returnDoc that the run's
// result is to carry the final document. A previous run that is still
// closing is waited for; one that the mirror no longer shows as running is
// stale and is terminated.
func (e *Engine) startRun(ctx context.Context, doc *mirror.Process, here, returnDoc bool) (client.WorkflowRun, error) {
	wfID := e.WorkflowID(doc.ProcessID)
	in := workflowdef.ProcessInput{
		DocID:      doc.ID.Hex(),
		ProcessID:  doc.ProcessID,
		Name:       doc.Name,
		IDPrefix:   e.WorkflowID(""),
		Revision:   workflowdef.CurrentRevision,
		ClaimStamp: docstore.ClaimStamp(doc),
		Timeouts: workflowdef.Timeouts{
			Heartbeat:       e.cfg.BodyHeartbeatTimeout,
			ScheduleToStart: max(e.cfg.BodyHeartbeatTimeout, 5*time.Second),
			InlineBody:      max(e.cfg.InlineBody, 0),
		},
	}
	if here {
		in.HintQueue = e.localQueue
	}
	in.ReturnDoc = returnDoc
	opts := client.StartWorkflowOptions{
		ID:                       wfID,
		TaskQueue:                e.cfg.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the SDK answers an open run with that run's handle and
		// no error: the launch would attach to a closing or stale run and
		// nothing would run the claimed document.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		// The first workflow task comes back with the start response to this
		// engine's own worker (when it has one), saving a dispatch round trip.
		EnableEagerStart: !e.cfg.DisableWorker,
		StaticSummary:    doc.Name,
		StaticDetails:    fmt.Sprintf("optio process `%s` (document %s)", doc.ProcessID, doc.ID.Hex()),
	}
	if e.searchAttrs {
		// Set at start, so the run makes no first upsert; a process
		// launched here is the root of its tree.
		opts.TypedSearchAttributes = workflowdef.StartSearchAttributes(doc.ProcessID, doc.ProcessID, "", workflows.MetadataKeywords(doc.Metadata))
		in.SearchAttributes = true
	}
	for attempt := 0; ; attempt++ {
		run, err := e.cfg.Temporal.ExecuteWorkflow(ctx, opts, workflows.ProcessName, in)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err == nil || !errors.As(err, &started) || attempt >= 2 {
			return run, err
		}
		waitCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		werr := e.cfg.Temporal.GetWorkflow(waitCtx, wfID, "").GetWithOptions(waitCtx, nil, client.WorkflowRunGetOptions{DisableFollowingRuns: true})
		cancel()
		if werr != nil && waitCtx.Err() != nil && ctx.Err() == nil {
			e.log.Warn("terminating stale workflow run of a relaunched process", "workflowId", wfID)
			if terr := e.cfg.Temporal.TerminateWorkflow(ctx, wfID, "", supersededReason+": the mirror showed the process as not running"); terr != nil {
				var nf *serviceerror.NotFound
				if !errors.As(terr, &nf) {
					return nil, terr
				}
			}
		}
	}
}

// runsHere reports whether a run of the process is expected to run on this
// engine's worker: the worker holds its function, and the run's first
// workflow task comes back with the start (eager start).
func (e *Engine) runsHere(processID string) bool {
	return !e.cfg.DisableWorker && e.reg.holds(processID)
}

// LaunchAndWait launches a process and blocks until its run has ended (and,
// for an ephemeral process, its document is deleted). It returns the final
// document, nil if it was deleted. A launch refused for a contract reason
// returns that Reason as the error (errors.Is(err, ReasonNotLaunchable)).
//
// The run has ended when its terminal state is written. When this engine's
// worker writes it (it holds the task's function), LaunchAndWait returns
// at once with the document that write left, without asking Temporal; the
// run's workflow closes in the workflow task that made the write, normally
// milliseconds later. Otherwise it waits for the workflow to close.
func (e *Engine) LaunchAndWait(ctx context.Context, id string, opts ...LaunchOption) (*Process, error) {
	out, err := e.launch(ctx, id, true, opts)
	if err != nil {
		return nil, err
	}
	if !out.OK {
		return nil, fmt.Errorf("launch %q: %w", id, out.Reason)
	}
	defer out.watch.close()
	// The run's own outcome is in the document. An end written here hands
	// it over; otherwise the workflow's result (or its failure's details)
	// carries it as the terminal write left it, unless it was too large,
	// deleted, or not asked for (startRun).
	ended, run := e.awaitLaunch(ctx, out)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if ended.local {
		return ended.final, nil
	}
	res, err := ended.res, ended.err
	if err != nil {
		res = workflowdef.ProcessResult{}
		var app *temporal.ApplicationError
		var canceled *temporal.CanceledError
		var timedOut *temporal.TimeoutError
		var gone *serviceerror.NotFound
		switch {
		case errors.As(err, &app) && app.HasDetails():
			_ = app.Details(&res)
		case errors.As(err, &canceled) && canceled.HasDetails():
			_ = canceled.Details(&res)
		case isTerminated(err), errors.As(err, &timedOut):
			// The server ended the run: nothing wrote its end, so write it
			// now rather than return an active state as final.
			if ferr := e.failClosedRun(ctx, run.GetID(), run.GetRunID()); ferr != nil {
				return nil, fmt.Errorf("launch %q: run ended by the server: %w", id, ferr)
			}
		case errors.As(err, &gone):
			// The run was deleted while it ran: nothing will write its end.
			e.failGoneRun(ctx, out.Process)
		}
	}
	if len(res.Doc) > 0 {
		if p, err := mirror.DecodeProcess(res.Doc); err == nil {
			return p, nil
		}
	}
	p, err := e.store.Get(ctx, out.Process.ID)
	if isNotFound(err) {
		return nil, nil
	}
	return p, err
}

// awaitLaunch waits for the end of a launch's run as awaitRun does, and
// past a reset of it for the run the reset started in its place; it returns
// the run whose end it gives.
func (e *Engine) awaitLaunch(ctx context.Context, out Outcome) (launchedRun, client.WorkflowRun) {
	run := out.run
	for {
		ended := e.awaitRun(ctx, run, out.watch.notices())
		if !isTerminated(ended.err) || ctx.Err() != nil {
			return ended, run
		}
		next := e.resetSuccessor(ctx, run.GetID(), run.GetRunID())
		if next == "" {
			return ended, run
		}
		e.log.Info("process workflow reset: waiting for the new run", "process", out.Process.ProcessID, "run", next)
		run = e.cfg.Temporal.GetWorkflow(ctx, run.GetID(), next)
	}
}

// failGoneRun fails the document of a launch whose run is gone from
// Temporal, as the reconciler does a document with no workflow run, unless
// the document has moved on: ended, or claimed again by a later launch.
func (e *Engine) failGoneRun(ctx context.Context, claimed *mirror.Process) {
	doc, err := e.store.Get(ctx, claimed.ID)
	if err != nil || !doc.Status.State.Active() || docstore.ClaimStamp(doc) != docstore.ClaimStamp(claimed) {
		return
	}
	e.failStuck(ctx, doc, enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED)
}

// Cancel cancels a scheduled or running process. A scheduled process moves
// straight to cancelled; a running one moves to cancel_requested, its workflow
// is cancelled (exactly as a cancel from the Temporal Web UI), the workflow
// moves it to cancelling and delivers the cancel to the body, whose
// ShouldContinue turns false, and it ends cancelled when the body returns.
// Active children are cancelled with it. Of concurrent cancels exactly one
// gets an OK outcome. A running process with no open workflow run (one
// deleted or ended on the Temporal side) has nothing to end it, so Cancel
// writes cancelled itself. An ephemeral process that Cancel ends this way,
// or while scheduled, is deleted with its descendants, and the Outcome has
// no document.
func (e *Engine) Cancel(ctx context.Context, id string) (Outcome, error) {
	doc, refused, err := e.resolveForAction(ctx, id)
	if doc == nil {
		return refused, err
	}
	if !doc.Cancellable {
		return failOutcome(ReasonNotCancellable), nil
	}
	wfID := e.WorkflowID(doc.ProcessID)
	for range 2 {
		switch doc.Status.State {
		case mirror.Scheduled:
			var p *mirror.Process
			if p, err = e.store.CancelScheduled(ctx, doc.ID); err == nil {
				err = e.deleteEphemeral(ctx, p)
			}
		case mirror.Running:
			_, err = e.store.RequestCancel(ctx, doc.ID)
		default:
			return failOutcome(ReasonNotCancellable), nil
		}
		var conflict *mirror.ConflictError
		if errors.As(err, &conflict) && conflict.Current == mirror.Running && doc.Status.State == mirror.Scheduled {
			// The body started between the read and the write: cancel the run.
			doc.Status.State = mirror.Running
			continue
		}
		if errors.As(err, &conflict) {
			return failOutcome(ReasonNotCancellable), nil
		}
		if err != nil {
			return Outcome{}, err
		}
		break
	}
	e.bodies.CancelWorkflow(wfID, activities.ErrCancelRequested)
	if err := e.cfg.Temporal.CancelWorkflow(ctx, wfID, ""); err != nil {
		var nf *serviceerror.NotFound
		if !errors.As(err, &nf) {
			return Outcome{}, fmt.Errorf("cancel %q: %w", doc.ProcessID, err)
		}
		// No open run: nothing will write the end state, so write it now,
		// and delete an ephemeral process as its run's end would have.
		p, err := e.store.Cancelled(ctx, doc.ID)
		if err != nil && !errors.Is(err, mirror.ErrConflict) {
			return Outcome{}, err
		}
		if err == nil {
			if err := e.deleteEphemeral(ctx, p); err != nil {
				return Outcome{}, err
			}
		}
	}
	post, err := e.store.Get(ctx, doc.ID)
	if err != nil && !isNotFound(err) {
		return Outcome{}, err
	}
	return okOutcome(post), nil
}

// deleteEphemeral deletes p with its descendants, and drops its function
// from the registry, when it is ephemeral and has ended: what the end of a
// run does (activitydef.Mirror.Finish), for the ends Cancel writes itself.
func (e *Engine) deleteEphemeral(ctx context.Context, p *mirror.Process) error {
	if p == nil || !p.Ephemeral || !p.Status.State.End() {
		return nil
	}
	if _, err := e.store.DeleteTree(ctx, p.ID); err != nil {
		return err
	}
	e.reg.forget(p.ProcessID)
	return nil
}

// Dismiss resets an ended process (done, failed or cancelled) to idle,
// clearing the previous run's status timestamps, progress and log, and
// deleting its child processes.
func (e *Engine) Dismiss(ctx context.Context, id string) (Outcome, error) {
	doc, refused, err := e.resolveForAction(ctx, id)
	if doc == nil {
		return refused, err
	}
	if !doc.Status.State.Dismissable() {
		return failOutcome(ReasonNotDismissable), nil
	}
	post, err := e.store.Dismiss(ctx, doc.ID)
	if errors.Is(err, mirror.ErrConflict) {
		return failOutcome(ReasonNotDismissable), nil
	}
	if err != nil {
		return Outcome{}, err
	}
	return okOutcome(post), nil
}
