package workflowdef

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
)

// ScheduledLaunch is the action of a process's Temporal Schedule: it launches
// the process through the engine's ordinary launch path, so a fire while the
// process is active is skipped and logged rather than queued.
func ScheduledLaunch(ctx workflow.Context, in activitydef.ScheduledLaunchInput) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
		Summary:             "launch " + in.ProcessID,
	})
	// The launch decides whether the fire is too late to run (no worker
	// took it up for a long while); the workflow only says when it fired.
	in.FiredAt = workflow.GetInfo(ctx).WorkflowStartTime
	var outcome string
	err := workflow.ExecuteActivity(ctx, activities.ScheduledLaunchName, in).Get(ctx, &outcome)
	return outcome, err
}
