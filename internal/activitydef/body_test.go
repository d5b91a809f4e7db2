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

// inlineBodies is a Bodies whose Finish counts its calls, for the inline
// tests, with the environments that run its local and body activities.
func inlineBodies(t *testing.T, run func(ctx context.Context, r *activitydef.BodyRun) (activitydef.BodyResult, error)) (*activitydef.Bodies, *atomic.Int32) {
	t.Helper()
	finished := &atomic.Int32{}
	bodies := &activitydef.Bodies{
		Finish: func(context.Context, activitydef.FinishInput) (activitydef.FinishResult, error) {
			finished.Add(1)
			return activitydef.FinishResult{State: mirror.Done}, nil
		},
		HeartbeatInterval: time.Hour,
		Runner:            runnerFunc(run),
	}
	return bodies, finished
}

func inlineInput(window, adoptWithin time.Duration) activitydef.BodyInput {
	return activitydef.BodyInput{
		WorkflowID: "db/p1", RunID: "run-1", DocID: "doc-p1", ProcessID: "p1", Attempt: 1,
		Finish:    &activitydef.FinishInput{DocID: "doc-p1", ProcessID: "p1"},
		InlineFor: window, AdoptWithin: adoptWithin,
	}
}

func runInline(t *testing.T, bodies *activitydef.Bodies, in activitydef.BodyInput) (activitydef.BodyResult, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	val, err := env.ExecuteLocalActivity(bodies.BodyInline, in)
	var got activitydef.BodyResult
	if err == nil {
		require.NoError(t, val.Get(&got))
	}
	return got, err
}

func runAdopt(t *testing.T, bodies *activitydef.Bodies, in activitydef.BodyInput) (activitydef.BodyResult, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(bodies.Body, activity.RegisterOptions{Name: activities.BodyName})
	in.Adopt, in.InlineFor, in.AdoptWithin = true, 0, 0
	val, err := env.ExecuteActivity(activities.BodyName, in)
	var got activitydef.BodyResult
	if err == nil {
		require.NoError(t, val.Get(&got))
	}
	return got, err
}

// A body that returns within the inline window ends there: the local
// activity reports its end, terminal write included, and forgets it.
func TestBodyInlineEndsWithinItsWindow(t *testing.T) {
	bodies, finished := inlineBodies(t, func(context.Context, *activitydef.BodyRun) (activitydef.BodyResult, error) {
		return activitydef.BodyResult{}, nil
	})
	got, err := runInline(t, bodies, inlineInput(time.Hour, time.Hour))
	require.NoError(t, err)
	require.Equal(t, activitydef.BodyResult{Finished: &activitydef.FinishResult{State: mirror.Done}}, got)
	require.Equal(t, int32(1), finished.Load())
	require.Zero(t, bodies.Running())

	// A failure is reported as the body activity would.
	bodies, finished = inlineBodies(t, func(context.Context, *activitydef.BodyRun) (activitydef.BodyResult, error) {
		return activitydef.BodyResult{}, errors.New("boom")
	})
	_, err = runInline(t, bodies, inlineInput(time.Hour, time.Hour))
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, activities.BodyFailedType, app.Type())
	require.Zero(t, finished.Load())
}

// A body that outlasts the window is left running, detached, and the body
// activity with Adopt takes it over and reports its end; the function ran
// once.
func TestBodyInlineDetachesAndIsAdopted(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	bodies, finished := inlineBodies(t, func(ctx context.Context, _ *activitydef.BodyRun) (activitydef.BodyResult, error) {
		calls.Add(1)
		<-release
		return activitydef.BodyResult{}, nil
	})
	in := inlineInput(20*time.Millisecond, time.Hour)
	got, err := runInline(t, bodies, in)
	require.NoError(t, err)
	require.Equal(t, activitydef.BodyResult{Detached: true}, got)
	require.Equal(t, 1, bodies.Running(), "the detached body still runs")
	require.Equal(t, []string{"doc-p1"}, bodies.RunningDocs())

	time.AfterFunc(50*time.Millisecond, func() { close(release) })
	got, err = runAdopt(t, bodies, in)
	require.NoError(t, err)
	require.Equal(t, activitydef.BodyResult{Finished: &activitydef.FinishResult{State: mirror.Done}}, got)
	require.Equal(t, int32(1), calls.Load())
	require.Equal(t, int32(1), finished.Load())
	require.Zero(t, bodies.Running())

	// Taken over once: a second adopter finds nothing.
	_, err = runAdopt(t, bodies, in)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, activities.BodyGoneType, app.Type())
}

// A body that asks for its workflow (children) is let go at once, whatever
// the window; a cancel reaches a detached body, which its adopter reports.
func TestBodyInlineLetsGoABodyThatNeedsItsWorkflow(t *testing.T) {
	bodies, finished := inlineBodies(t, func(ctx context.Context, r *activitydef.BodyRun) (activitydef.BodyResult, error) {
		r.NeedWorkflow()
		<-ctx.Done()
		require.ErrorIs(t, context.Cause(ctx), activities.ErrCancelRequested)
		return activitydef.BodyResult{Cancelled: true}, nil
	})
	in := inlineInput(time.Hour, time.Hour)
	start := time.Now()
	got, err := runInline(t, bodies, in)
	require.NoError(t, err)
	require.True(t, got.Detached)
	require.Less(t, time.Since(start), time.Minute)
	require.True(t, bodies.Cancel(in.WorkflowID, in.RunID, activities.ErrCancelRequested))
	got, err = runAdopt(t, bodies, in)
	require.NoError(t, err)
	require.Equal(t, activitydef.BodyResult{Cancelled: true}, got)
	require.Zero(t, finished.Load(), "a cancelled body does not finish the run")
}

// A detached body that nothing takes over within AdoptWithin is cut short
// (its workflow counts the worker lost) and forgotten.
func TestBodyInlineNotAdoptedIsCancelled(t *testing.T) {
	stopped := make(chan error, 1)
	bodies, finished := inlineBodies(t, func(ctx context.Context, _ *activitydef.BodyRun) (activitydef.BodyResult, error) {
		<-ctx.Done()
		stopped <- context.Cause(ctx)
		return activitydef.BodyResult{}, nil
	})
	in := inlineInput(10*time.Millisecond, 50*time.Millisecond)
	got, err := runInline(t, bodies, in)
	require.NoError(t, err)
	require.True(t, got.Detached)
	select {
	case cause := <-stopped:
		require.Error(t, cause)
		require.NotErrorIs(t, cause, activities.ErrCancelRequested)
	case <-time.After(10 * time.Second):
		t.Fatal("the body that nothing took over was not cancelled")
	}
	require.Eventually(t, func() bool { return bodies.Running() == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Zero(t, finished.Load())
	_, err = runAdopt(t, bodies, in)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, activities.BodyGoneType, app.Type())
}
