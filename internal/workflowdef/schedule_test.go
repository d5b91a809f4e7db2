package workflowdef

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/workflows"
)

// The schedule launcher launches its process through the engine's launch
// activity, retrying a failing launch a bounded number of times.
func TestScheduledLaunch(t *testing.T) {
	cases := []struct {
		name      string
		failures  int // launches that fail before one succeeds
		want      string
		wantErr   bool
		wantCalls int
	}{
		{name: "a fire launches the process", want: "launched", wantCalls: 1},
		{name: "a failing launch is retried", failures: 2, want: "launched", wantCalls: 3},
		{name: "a launch that keeps failing fails the fire after five attempts", failures: 10, wantErr: true, wantCalls: 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			calls := 0
			h.env.OnActivity(activities.ScheduledLaunchName, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activitydef.ScheduledLaunchInput) (string, error) {
					require.Equal(t, "p1", in.ProcessID)
					calls++
					if calls <= tc.failures {
						return "", errors.New("mongo unreachable")
					}
					return "launched", nil
				})
			h.env.ExecuteWorkflow(workflows.ScheduledLaunchName, activitydef.ScheduledLaunchInput{ProcessID: "p1"})
			require.True(t, h.env.IsWorkflowCompleted())
			require.Equal(t, tc.wantCalls, calls)
			if tc.wantErr {
				var app *temporal.ApplicationError
				require.ErrorAs(t, h.env.GetWorkflowError(), &app)
				require.Contains(t, app.Error(), "mongo unreachable")
				return
			}
			require.NoError(t, h.env.GetWorkflowError())
			var got string
			require.NoError(t, h.env.GetWorkflowResult(&got))
			require.Equal(t, tc.want, got)
		})
	}
}
