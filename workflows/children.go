package workflows

import (
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/mirror"
)

// UpdateRunChild is the workflow Update a body sends to its own process
// workflow to run a child process as a child workflow; the update completes
// when the child has ended, with a ChildReply.
const UpdateRunChild = "optio.runChild"

// SignalBodyQueue tells a child workflow whose body worker was lost where its
// execute function lives now (the worker of its parent's re-run body).
const SignalBodyQueue = "optio.bodyQueue"

// ChildRequest asks a process workflow to run a child.
type ChildRequest struct {
	ProcessID   string
	Name        string
	Description string
	Params      map[string]any
	// BodyQueue is the worker-specific queue of the parent body's engine,
	// which holds the child's execute function.
	BodyQueue string
}

// ChildReply answers UpdateRunChild. Either the child has already ended
// (State is set: a child recorded in this launch, or one that could not
// start), or it is running as WorkflowID/RunID and the caller waits for that
// run's result (ReplyFromResult turns it into a ChildReply). The update does
// not wait for the child itself: a workflow admits only a few in-flight
// updates at once, so they must be short.
type ChildReply struct {
	State mirror.State
	Error string
	// Refused is true when the parent no longer accepts children (it was
	// cancelled, or its body has returned); no document was created.
	Refused    bool
	WorkflowID string
	RunID      string
}

type childRec struct {
	workflowID string
	runID      string
	queue      string
	started    bool
	done       bool
	reply      ChildReply
	cancel     workflow.CancelFunc
}

// cancelInflight requests cancellation of every child still running, in
// spawn order (map order would make the commands non-deterministic).
func (p *process) cancelInflight() {
	for _, id := range p.childOrder {
		if rec := p.children[id]; !rec.done && rec.cancel != nil {
			rec.cancel()
		}
	}
}

func validateChildRequest(req ChildRequest) error {
	if req.ProcessID == "" || req.Name == "" {
		return errors.New("child process id and name are required")
	}
	return nil
}

// runChild handles UpdateRunChild.
func (p *process) runChild(ctx workflow.Context, req ChildRequest) (ChildReply, error) {
	mctx := mirrorCtx(ctx)
	if rec, ok := p.children[req.ProcessID]; ok {
		if !rec.done && req.BodyQueue != "" && req.BodyQueue != rec.queue {
			rec.queue = req.BodyQueue
			workflow.SignalExternalWorkflow(mctx, rec.workflowID, "", SignalBodyQueue, req.BodyQueue)
		}
		_ = workflow.Await(mctx, func() bool { return rec.started || rec.done })
		if rec.done {
			return rec.reply, nil
		}
		return ChildReply{WorkflowID: rec.workflowID, RunID: rec.runID}, nil
	}
	if !p.acceptChildren || ctx.Err() != nil {
		return ChildReply{State: mirror.Cancelled, Refused: true}, nil
	}
	rec := &childRec{workflowID: p.in.IDPrefix + req.ProcessID, queue: req.BodyQueue}
	p.children[req.ProcessID] = rec
	p.inflight++

	order := p.nextOrder
	p.nextOrder++
	var created activities.CreateChildResult
	if err := localIn(mctx, activities.CreateChildName, activities.CreateChildInput{
		ParentDocID: p.in.DocID, ProcessID: req.ProcessID, Name: req.Name,
		Description: req.Description, Params: req.Params, Order: order,
	}, &created); err != nil {
		delete(p.children, req.ProcessID)
		p.nextOrder--
		p.inflight--
		return ChildReply{}, err
	}
	p.childOrder = append(p.childOrder, req.ProcessID)
	hctx, cancel := workflow.WithCancel(p.rootCtx)
	rec.cancel = cancel
	cctx := workflow.WithChildOptions(hctx, workflow.ChildWorkflowOptions{
		WorkflowID:            rec.workflowID,
		TaskQueue:             workflow.GetInfo(ctx).TaskQueueName,
		WaitForCancellation:   true,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         req.Name,
	})
	fut := workflow.ExecuteChildWorkflow(cctx, ProcessName, ProcessInput{
		DocID: created.DocID, ProcessID: req.ProcessID, Name: req.Name,
		HintQueue: req.BodyQueue, Timeouts: p.in.Timeouts, IDPrefix: p.in.IDPrefix,
	})
	// Record the child's end for a re-run body, and keep the parent open
	// until every child has ended.
	workflow.Go(p.rootCtx, func(gctx workflow.Context) {
		defer func() { p.inflight-- }()
		var res ProcessResult
		err := fut.Get(mirrorCtx(gctx), &res)
		rec.reply = ReplyFromResult(res, err)
		rec.done = true
	})
	var exec workflow.Execution
	if err := fut.GetChildWorkflowExecution().Get(mctx, &exec); err != nil {
		_ = workflow.Await(mctx, func() bool { return rec.done })
		return rec.reply, nil
	}
	rec.runID, rec.started = exec.RunID, true
	return ChildReply{WorkflowID: rec.workflowID, RunID: rec.runID}, nil
}

// ReplyFromResult turns a child workflow run's result into the child's end
// state.
func ReplyFromResult(res ProcessResult, err error) ChildReply {
	if err == nil {
		return ChildReply{State: res.State, Error: res.Error}
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return ChildReply{State: mirror.Cancelled}
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == ProcessFailedType {
		return ChildReply{State: mirror.Failed, Error: app.Message()}
	}
	var terminated *temporal.TerminatedError
	if errors.As(err, &terminated) {
		return ChildReply{State: mirror.Failed, Error: "child workflow was terminated"}
	}
	return ChildReply{State: mirror.Failed, Error: fmt.Sprintf("child workflow: %v", err)}
}

// awaitBodyQueue waits for a parent to say where a lost child's function
// lives now. It reports whether a new queue arrived in time.
func (p *process) awaitBodyQueue(ctx workflow.Context) bool {
	if p.in.IDPrefix == "" || workflow.GetInfo(ctx).ParentWorkflowExecution == nil {
		return false
	}
	ch := workflow.GetSignalChannel(ctx, SignalBodyQueue)
	timer := workflow.NewTimer(p.mctx, 3*p.in.Timeouts.Heartbeat+p.in.Timeouts.ScheduleToStart)
	got := false
	sel := workflow.NewSelector(p.mctx)
	sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) {
		var q string
		c.Receive(p.mctx, &q)
		if q != "" {
			p.in.HintQueue, got = q, true
		}
	})
	sel.AddFuture(timer, func(workflow.Future) {})
	sel.Select(p.mctx)
	return got
}
