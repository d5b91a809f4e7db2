package adapter

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"
)

// A reset (the Web UI's Reset, `temporal workflow reset`) ends a process's
// run as terminated and starts a new run in its place, replayed from a point
// of the old one's history: the same launch goes on under a new run ID, and
// writes the document's end when it ends. A wait for a run therefore takes a
// termination for the run's end only when no reset followed it.

// resetSuccessor returns the run a reset of run runID of workflow wfID
// started in its place (the latest, after several resets), or "" when the
// run was not reset or its description failed (the termination then stands).
func (e *Engine) resetSuccessor(ctx context.Context, wfID, runID string) string {
	if runID == "" {
		return ""
	}
	desc, err := e.cfg.Temporal.DescribeWorkflowExecution(ctx, wfID, runID)
	if err != nil {
		e.log.Debug("describe a terminated run", "workflow", wfID, "run", runID, "error", err)
		return ""
	}
	if next := desc.GetWorkflowExtendedInfo().GetResetRunId(); next != runID {
		return next
	}
	return ""
}

// isTerminated reports whether err is a run's termination.
func isTerminated(err error) bool {
	var terminated *temporal.TerminatedError
	return errors.As(err, &terminated)
}
