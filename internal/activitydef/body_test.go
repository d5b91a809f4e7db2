package activitydef_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/mirror"
)

// runnerFunc is a BodyRunner: the engine's side of a body, here the test's.
type runnerFunc func(ctx context.Context, run *activitydef.BodyRun) (activitydef.BodyResult, error)

func (f runnerFunc) RunBody(ctx context.Context, run *activitydef.BodyRun) (activitydef.BodyResult, error) {
	return f(ctx, run)
}

// A body activity's ends: the result, or the typed failure, and whether it
// wrote the run's end itself.
func TestBodyActivityEnds(t *testing.T) {
	errCause := errors.New("connection to the server lost")
	cases := []struct {
		name string
		// run is the body; bodies lets it cancel itself as the engine would.
		run      func(ctx context.Context, bodies *activitydef.Bodies, in activitydef.BodyInput) (activitydef.BodyResult, error)
		finish   bool // the workflow asks the body to finish itself
		want     activitydef.BodyResult
		wantType string // the ApplicationError type of a failure
		// wantFinish is whether the activity wrote the end.
		wantFinish bool
	}{
		{
			name: "a body that returns nil finishes the run itself when asked",
			run: func(context.Context, *activitydef.Bodies, activitydef.BodyInput) (activitydef.BodyResult, error) {
				return activitydef.BodyResult{}, nil
			},
			finish:     true,
			want:       activitydef.BodyResult{Finished: &activitydef.FinishResult{State: mirror.Done}},
			wantFinish: true,
		},
		{
			name: "not asked, it leaves the end to the workflow",
			run: func(context.Context, *activitydef.Bodies, activitydef.BodyInput) (activitydef.BodyResult, error) {
				return activitydef.BodyResult{}, nil
			},
		},
		{
			name: "a body with children leaves the end to the workflow, which waits for them",
			run: func(context.Context, *activitydef.Bodies, activitydef.BodyInput) (activitydef.BodyResult, error) {
				return activitydef.BodyResult{SpawnedChildren: true}, nil
			},
			finish: true,
			want:   activitydef.BodyResult{SpawnedChildren: true},
		},
		{
			name: "a failing body fails the activity with BodyFailedType",
			run: func(context.Context, *activitydef.Bodies, activitydef.BodyInput) (activitydef.BodyResult, error) {
				return activitydef.BodyResult{}, errors.New("boom")
			},
			finish:   true,
			wantType: activities.BodyFailedType,
		},
		{
			name: "a worker without the function fails it with NoExecuteType",
			run: func(context.Context, *activitydef.Bodies, activitydef.BodyInput) (activitydef.BodyResult, error) {
				return activitydef.BodyResult{}, activities.ErrNoExecute
			},
			finish:   true,
			wantType: activities.NoExecuteType,
		},
		{
			name: "a body cancelled by the process's cancel reports it and does not finish",
			run: func(ctx context.Context, b *activitydef.Bodies, in activitydef.BodyInput) (activitydef.BodyResult, error) {
				require.True(t, b.Cancel(in.WorkflowID, in.RunID, activities.ErrCancelRequested))
				<-ctx.Done()
				require.ErrorIs(t, context.Cause(ctx), activities.ErrCancelRequested)
				return activitydef.BodyResult{Cancelled: true}, nil
			},
			finish: true,
			want:   activitydef.BodyResult{Cancelled: true},
		},
		{
			name: "a body cut short from outside is interrupted, whatever it returns",
			run: func(ctx context.Context, b *activitydef.Bodies, in activitydef.BodyInput) (activitydef.BodyResult, error) {
				require.True(t, b.CancelWorkflow(in.WorkflowID, errCause))
				<-ctx.Done()
				return activitydef.BodyResult{}, errors.New("context canceled")
			},
			finish: true,
			want:   activitydef.BodyResult{Interrupted: true},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var finished atomic.Int32
			bodies := &activitydef.Bodies{
				Finish: func(_ context.Context, in activitydef.FinishInput) (activitydef.FinishResult, error) {
					finished.Add(1)
					require.Equal(t, activitydef.OutcomeDone, in.Outcome)
					require.Equal(t, "doc-p1", in.DocID)
					return activitydef.FinishResult{State: mirror.Done}, nil
				},
				HeartbeatInterval: time.Hour,
			}
			in := activitydef.BodyInput{WorkflowID: "db/p1", RunID: "run-1", DocID: "doc-p1", ProcessID: "p1", Attempt: 1}
			if tc.finish {
				in.Finish = &activitydef.FinishInput{DocID: "doc-p1", ProcessID: "p1"}
			}
			bodies.Runner = runnerFunc(func(ctx context.Context, run *activitydef.BodyRun) (activitydef.BodyResult, error) {
				require.Equal(t, in.DocID, run.Input.DocID)
				require.Equal(t, 1, bodies.Running())
				require.Equal(t, []string{"doc-p1"}, bodies.RunningDocs())
				return tc.run(ctx, bodies, in)
			})
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivityWithOptions(bodies.Body, activity.RegisterOptions{Name: activities.BodyName})
			val, err := env.ExecuteActivity(activities.BodyName, in)
			require.Equal(t, 0, bodies.Running(), "a body that ended is forgotten")
			if tc.wantFinish {
				require.Equal(t, int32(1), finished.Load())
			} else {
				require.Zero(t, finished.Load())
			}
			if tc.wantType != "" {
				var app *temporal.ApplicationError
				require.ErrorAs(t, err, &app)
				require.Equal(t, tc.wantType, app.Type())
				require.True(t, app.NonRetryable())
				return
			}
			require.NoError(t, err)
			var got activitydef.BodyResult
			require.NoError(t, val.Get(&got))
			require.Equal(t, tc.want, got)
		})
	}
}

// The body heartbeats with its latest progress and checkpoint, which a
// re-run after a lost worker reads back.
func TestBodyActivityHeartbeatsProgressAndCheckpoint(t *testing.T) {
	beats := make(chan struct{}, 1)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	var gotProgress mirror.Progress
	var gotCheckpoint mirror.Checkpoint
	pct, msg := 42.0, "half"
	bodies := &activitydef.Bodies{HeartbeatInterval: 10 * time.Millisecond}
	bodies.Runner = runnerFunc(func(ctx context.Context, run *activitydef.BodyRun) (activitydef.BodyResult, error) {
		run.SetProgressSource(func() mirror.Progress { return mirror.Progress{Percent: &pct, Message: &msg} })
		run.SetCheckpointSource(func() *mirror.Checkpoint { return &mirror.Checkpoint{Seq: 3, Data: []byte(`{"step":3}`)} })
		select {
		case <-beats:
		case <-time.After(10 * time.Second):
			return activitydef.BodyResult{}, errors.New("no heartbeat")
		}
		return activitydef.BodyResult{}, nil
	})
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		require.NoError(t, details.Get(&gotProgress, &gotCheckpoint))
		select {
		case beats <- struct{}{}:
		default:
		}
	})
	env.RegisterActivityWithOptions(bodies.Body, activity.RegisterOptions{Name: activities.BodyName})
	_, err := env.ExecuteActivity(activities.BodyName, activitydef.BodyInput{WorkflowID: "w", RunID: "r", DocID: "d"})
	require.NoError(t, err)
	require.Equal(t, "half", *gotProgress.Message)
	require.Equal(t, 42.0, *gotProgress.Percent)
	require.Equal(t, int64(3), gotCheckpoint.Seq)
	require.JSONEq(t, `{"step":3}`, string(gotCheckpoint.Data))
}
