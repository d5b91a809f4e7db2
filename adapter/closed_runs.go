package adapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/optio-temporal/optio/internal/tick"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// closedRunWindow is how far back each visibility query looks: long enough
// for the visibility store's lag and a few missed passes.
const closedRunWindow = 30 * time.Second

// supersededReason is the reason of a stale run that a new launch
// terminates; its document already belongs to the new launch.
const supersededReason = "superseded by a new launch"

// watchClosedRuns fails the documents of processes whose workflow run the
// server ended without the workflow writing its end: terminated (from the Web
// UI, or for passing a history limit) or timed out. It costs one visibility
// query per pass, and a describe per run that ended that way.
func (e *Engine) watchClosedRuns(ctx context.Context) {
	defer e.bg.Done()
	seen := map[string]time.Time{} // run ID -> when first seen
	tick.Every(ctx, e.cfg.ClosedRunWatchInterval, func() {
		if err := e.closedRunsPass(ctx, seen); err != nil && ctx.Err() == nil {
			e.log.Debug("closed-run pass failed", "error", err)
		}
		for id, at := range seen {
			if time.Since(at) > 2*closedRunWindow {
				delete(seen, id)
			}
		}
	})
}

func (e *Engine) closedRunsPass(ctx context.Context, seen map[string]time.Time) error {
	since := time.Now().Add(-closedRunWindow).UTC().Format(time.RFC3339Nano)
	query := fmt.Sprintf("WorkflowType = '%s' AND (ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut') AND CloseTime >= '%s'",
		workflows.ProcessName, since)
	prefix := e.WorkflowID("")
	var token []byte
	for {
		resp, err := e.cfg.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: e.cfg.Namespace, Query: query, NextPageToken: token,
		})
		if err != nil {
			return err
		}
		for _, ex := range resp.GetExecutions() {
			wfID, runID := ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId()
			if _, ok := seen[runID]; ok {
				continue
			}
			if !strings.HasPrefix(wfID, prefix) {
				seen[runID] = time.Now()
				continue
			}
			if err := e.failClosedRun(ctx, wfID, runID); err != nil {
				e.log.Debug("fail closed run", "workflowId", wfID, "error", err)
				continue
			}
			seen[runID] = time.Now()
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return nil
		}
	}
}

// failClosedRun fails the document of the process whose run runID of
// workflow wfID the server ended, unless the document has moved on (a
// terminal write landed, or a newer launch owns it).
func (e *Engine) failClosedRun(ctx context.Context, wfID, runID string) error {
	processID := strings.TrimPrefix(wfID, e.WorkflowID(""))
	doc, err := e.store.ByProcessID(ctx, processID)
	if isNotFound(err) {
		return nil
	}
	if err != nil || !doc.Status.State.Active() {
		return err
	}
	desc, err := e.cfg.Temporal.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		return err
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetExecution().GetRunId() != runID {
		return nil // a newer launch's run owns the document
	}
	how, err := e.closeReason(ctx, wfID, runID, info.GetStatus())
	if err != nil || how == "" {
		return err
	}
	msg := fmt.Sprintf("Process workflow %s while %s", how, doc.Status.State)
	event := mirror.NewLogEntry(e.store.Now(), mirror.LevelEvent,
		fmt.Sprintf("State reconciled: %s -> failed (workflow %s)", doc.Status.State, how))
	failed, err := e.store.Fail(ctx, doc.ID, msg, event)
	if err != nil {
		if errors.Is(err, mirror.ErrConflict) {
			return nil
		}
		return err
	}
	// A LaunchAndWait of the run takes its end from here; a parent waiting
	// for it as a child takes the workflow's reply from Temporal.
	e.ends.publish(wfID, runEnd{runID: runID, final: failed, noReply: true})
	e.log.Warn("process workflow ended by the server", "process", processID, "state", doc.Status.State, "why", how)
	return nil
}

// closeReason describes how the server ended a run, from its close event;
// it is empty for a run this engine superseded itself.
func (e *Engine) closeReason(ctx context.Context, wfID, runID string, status enumspb.WorkflowExecutionStatus) (string, error) {
	it := e.cfg.Temporal.GetWorkflowHistory(ctx, wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				break
			}
			return "", err
		}
		if a := ev.GetWorkflowExecutionTerminatedEventAttributes(); a != nil {
			if strings.HasPrefix(a.GetReason(), supersededReason) {
				return "", nil
			}
			how := "was terminated on the Temporal side"
			if r := a.GetReason(); r != "" {
				how += " (reason: " + r + ")"
			}
			return how, nil
		}
		if ev.GetWorkflowExecutionTimedOutEventAttributes() != nil {
			return "timed out on the Temporal side", nil
		}
	}
	return "was " + strings.ToLower(strings.TrimPrefix(status.String(), "WORKFLOW_EXECUTION_STATUS_")) + " on the Temporal side", nil
}
