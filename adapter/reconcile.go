package adapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/optio-temporal/optio/mirror"
)

// reconcileLoop periodically fails documents stuck in an active state whose
// workflow is closed: terminated or reset from the Temporal Web UI, timed
// out, or never started. A document must look stuck on two passes in a row
// (same state) before it is touched, which leaves room for a launch between
// its claim and its workflow start.
func (e *Engine) reconcileLoop(ctx context.Context) {
	defer e.bg.Done()
	suspects := map[bson.ObjectID]suspect{}
	t := time.NewTicker(e.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next, err := e.reconcileOnce(ctx, suspects)
		if err != nil && ctx.Err() == nil {
			e.log.Warn("reconcile pass failed", "error", err)
			continue
		}
		suspects = next
	}
}

// newChildGrace is how long a new child's document may wait for its
// workflow run before the reconciler counts it as stuck.
const newChildGrace = 2 * time.Minute

// suspect is what a pass saw of a document whose workflow was not running:
// its state, in the run that began at the first log entry's time. A later
// pass fails the document only if it sees the same, so a process launched
// again between two passes (a new claim restarts its log) is not taken for
// stuck.
type suspect struct {
	state mirror.State
	run   string
}

func suspectOf(p *mirror.Process) suspect {
	s := suspect{state: p.Status.State}
	if len(p.Log) > 0 {
		s.run = p.Log[0].Timestamp
	}
	return s
}

func (e *Engine) reconcileOnce(ctx context.Context, suspects map[bson.ObjectID]suspect) (map[bson.ObjectID]suspect, error) {
	docs, err := e.store.List(ctx, mirror.Query{States: []mirror.State{mirror.Scheduled, mirror.Running, mirror.CancelRequested, mirror.Cancelling}})
	if err != nil {
		return suspects, err
	}
	next := map[bson.ObjectID]suspect{}
	for _, p := range docs {
		status, err := e.workflowStatus(ctx, p.ProcessID)
		if err != nil {
			return suspects, err
		}
		if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			continue
		}
		if status == enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED && p.ParentID != nil && e.store.Now().Sub(p.CreatedAt) < newChildGrace {
			// A child's document is written just before its workflow starts;
			// on a busy server the start can lag by seconds.
			continue
		}
		if seen := suspectOf(&p); suspects[p.ID] != seen {
			next[p.ID] = seen
			continue
		}
		e.failStuck(ctx, &p, status)
	}
	return next, nil
}

// workflowStatus returns the status of a process's latest workflow run, or
// UNSPECIFIED when it has none.
func (e *Engine) workflowStatus(ctx context.Context, processID string) (enumspb.WorkflowExecutionStatus, error) {
	desc, err := e.cfg.Temporal.DescribeWorkflowExecution(ctx, e.WorkflowID(processID), "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED, nil
	}
	if err != nil {
		return 0, fmt.Errorf("describe workflow of %q: %w", processID, err)
	}
	return desc.GetWorkflowExecutionInfo().GetStatus(), nil
}

func (e *Engine) failStuck(ctx context.Context, p *mirror.Process, status enumspb.WorkflowExecutionStatus) {
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
		return
	}
	e.log.Warn("reconciled stuck process", "process", p.ProcessID, "state", p.Status.State, "why", how)
}
