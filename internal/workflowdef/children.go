package workflowdef

import (
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

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
	Refused bool
	// Duplicate is true when the processId is taken by another process; no
	// document was created.
	Duplicate bool
	// Retry is true when the request was not handled (a children workflow
	// takes a bounded number per update); the caller sends it again.
	Retry      bool `json:",omitempty"`
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

func validateChildRequests(reqs []ChildRequest) error {
	for _, req := range reqs {
		if req.ProcessID == "" || req.Name == "" {
			return errors.New("child process id and name are required")
		}
	}
	return nil
}

// runChildren handles UpdateRunChildren.
func (p *process) runChildren(ctx workflow.Context, reqs []ChildRequest) ([]ChildReply, error) {
	mctx := mirrorCtx(ctx)
	replies := make([]ChildReply, len(reqs))
	answered := make([]bool, len(reqs))
	var fresh []int
	for i, req := range reqs {
		if rec, ok := p.children[req.ProcessID]; ok {
			// A re-run body asking again: redirect a running child's body
			// to the new body's worker, where its function lives now.
			if !rec.done && req.BodyQueue != "" && req.BodyQueue != rec.queue {
				rec.queue = req.BodyQueue
				workflow.SignalExternalWorkflow(mctx, rec.workflowID, "", workflows.SignalBodyQueue, req.BodyQueue)
			}
			continue
		}
		if !p.acceptChildren || ctx.Err() != nil {
			replies[i], answered[i] = ChildReply{State: mirror.Cancelled, Refused: true}, true
			continue
		}
		fresh = append(fresh, i)
	}
	if len(fresh) > 0 {
		if err := p.startChildren(ctx, mctx, reqs, fresh, replies, answered); err != nil {
			return nil, err
		}
	}
	for i, req := range reqs {
		if answered[i] {
			continue
		}
		rec := p.children[req.ProcessID]
		_ = workflow.Await(mctx, func() bool { return rec.started || rec.done })
		if rec.done {
			replies[i] = rec.reply
		} else {
			replies[i] = ChildReply{WorkflowID: rec.workflowID, RunID: rec.runID}
		}
	}
	return replies, nil
}

// startChildren creates the documents of new children and starts their
// workflows.
func (p *process) startChildren(ctx, mctx workflow.Context, reqs []ChildRequest, fresh []int, replies []ChildReply, answered []bool) error {
	specs := make([]activitydef.ChildSpec, len(fresh))
	for k, i := range fresh {
		specs[k] = activitydef.ChildSpec{ProcessID: reqs[i].ProcessID, Name: reqs[i].Name, Description: reqs[i].Description, Params: reqs[i].Params}
		// Claim the id now: a concurrent batch with the same id waits for
		// this one instead of creating a second document.
		p.children[reqs[i].ProcessID] = &childRec{workflowID: p.in.IDPrefix + reqs[i].ProcessID, queue: reqs[i].BodyQueue}
	}
	// Reserve the batch's order numbers before blocking, so a batch handled
	// meanwhile numbers its children after these (a duplicate leaves a gap).
	first := p.nextOrder
	p.nextOrder += len(fresh)
	var created activitydef.CreateChildrenResult
	err := localIn(mctx, activities.CreateChildrenName, activitydef.CreateChildrenInput{
		ParentDocID: p.in.DocID, FirstOrder: first, Children: specs,
	}, &created)
	if err != nil {
		for _, i := range fresh {
			delete(p.children, reqs[i].ProcessID)
		}
		return err
	}
	for k, i := range fresh {
		req, c := reqs[i], created.Children[k]
		if c.Duplicate {
			delete(p.children, req.ProcessID)
			replies[i], answered[i] = ChildReply{State: mirror.Failed, Duplicate: true}, true
			continue
		}
		p.startChild(ctx, p.children[req.ProcessID], req, c.DocID)
	}
	return nil
}

// startChild starts one child workflow and records its end when it comes.
func (p *process) startChild(ctx workflow.Context, rec *childRec, req ChildRequest, docID string) {
	p.inflight++
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
	fut := workflow.ExecuteChildWorkflow(cctx, workflows.ProcessName, ProcessInput{
		DocID: docID, ProcessID: req.ProcessID, Name: req.Name,
		HintQueue: req.BodyQueue, Timeouts: p.in.Timeouts, IDPrefix: p.in.IDPrefix,
		Revision: p.in.Revision,
	})
	workflow.Go(p.rootCtx, func(gctx workflow.Context) {
		var exec workflow.Execution
		if err := fut.GetChildWorkflowExecution().Get(gctx, &exec); err == nil {
			rec.runID, rec.started = exec.RunID, true
		}
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
	if errors.As(err, &app) && app.Type() == workflows.ProcessFailedType {
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
	ch := workflow.GetSignalChannel(ctx, workflows.SignalBodyQueue)
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
