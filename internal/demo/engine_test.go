package demo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newEngine runs the demo tasks on an engine over a fresh database.
func newEngine(t *testing.T) (*adapter.Engine, testenv.Temporal, context.Context) {
	t.Helper()
	env := testenv.New(t)
	// Generous: under -race on a loaded CI machine demo-parallel alone (20
	// child workflows) can take a minute.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	t.Cleanup(cancel)
	eng, err := adapter.New(ctx, adapter.Config{
		Temporal:        env.Temporal.Client,
		Namespace:       env.Temporal.Namespace,
		Mongo:           env.Mongo.DB,
		TaskQueue:       testenv.TaskQueue(t),
		TaskDefinitions: Definitions,
		Logger:          testenv.Logger(t),
		// Generous: a race-instrumented server on a loaded CI machine can
		// take seconds to answer a heartbeat.
		BodyHeartbeatTimeout: 30 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, eng.Shutdown(sctx))
	})
	return eng, env.Temporal, ctx
}

func TestDemoTasksOnTheEngine(t *testing.T) {
	eng, tmp, ctx := newEngine(t)

	t.Run("quick reaches 100% within a second and is done", func(t *testing.T) {
		start := time.Now()
		p, err := eng.LaunchAndWait(ctx, QuickID)
		require.NoError(t, err)
		require.Equal(t, adapter.StateDone, p.Status.State)
		require.NotNil(t, p.Progress.Percent)
		require.Equal(t, 100.0, *p.Progress.Percent)
		require.Less(t, time.Since(start), 10*time.Second)
	})

	t.Run("failing fails with its error", func(t *testing.T) {
		p, err := eng.LaunchAndWait(ctx, FailingID)
		require.NoError(t, err)
		require.Equal(t, adapter.StateFailed, p.Status.State)
		require.NotNil(t, p.Status.Error)
		require.Contains(t, *p.Status.Error, ErrDemoFailure.Error())
	})

	t.Run("progress stops early when cancelled", func(t *testing.T) {
		out, err := eng.Launch(ctx, ProgressID)
		require.NoError(t, err)
		require.True(t, out.OK, out.Reason)
		// Wait for the first step, so the cancel reaches a running body.
		require.Eventually(t, func() bool {
			p, err := eng.GetProcess(ctx, ProgressID)
			return err == nil && p.Progress.Percent != nil && *p.Progress.Percent >= 10
		}, 30*time.Second, 20*time.Millisecond)
		start := time.Now()
		out, err = eng.Cancel(ctx, ProgressID)
		require.NoError(t, err)
		require.True(t, out.OK, out.Reason)
		var last *adapter.Process
		require.Eventually(t, func() bool {
			p, err := eng.GetProcess(ctx, ProgressID)
			last = p
			return err == nil && p.Status.State == adapter.StateCancelled
		}, 30*time.Second, 20*time.Millisecond)
		// The body stopped between steps, not after the tenth: the remaining
		// nine one-second steps would take nine seconds.
		require.Less(t, time.Since(start), 8*time.Second)
		require.NotNil(t, last.Progress.Percent)
		require.Less(t, *last.Progress.Percent, 100.0)
	})

	t.Run("children runs three phases with sequential progress", func(t *testing.T) {
		p, err := eng.LaunchAndWait(ctx, ChildrenID)
		require.NoError(t, err)
		require.Equal(t, adapter.StateDone, p.Status.State, "error: %v", p.Status.Error)
		require.Equal(t, 100.0, *p.Progress.Percent)
		kids, err := eng.ListProcesses(ctx, adapter.ListOptions{RootID: p.ID.Hex()})
		require.NoError(t, err)
		require.Len(t, kids, 4)
		for i, k := range kids[1:] {
			require.Equal(t, fmt.Sprintf("%s/phase-%d", ChildrenID, i+1), k.ProcessID)
			require.Equal(t, adapter.StateDone, k.Status.State)
		}
	})

	t.Run("parallel survives its failing item", func(t *testing.T) {
		p, err := eng.LaunchAndWait(ctx, ParallelID)
		require.NoError(t, err)
		require.Equal(t, adapter.StateDone, p.Status.State, "error: %v", p.Status.Error)
		require.Equal(t, "Done, 1 of 20 items failed", *p.Progress.Message)
		failed, err := eng.ListProcesses(ctx, adapter.ListOptions{RootID: p.ID.Hex(), State: adapter.StateFailed})
		require.NoError(t, err)
		require.Len(t, failed, 1)
		require.Equal(t, ParallelID+"/item-13", failed[0].ProcessID)
		require.Contains(t, *failed[0].Status.Error, ErrDemoItem.Error())
	})

	t.Run("nightly is a Temporal Schedule", func(t *testing.T) {
		d, err := tmp.Client.ScheduleClient().GetHandle(ctx, eng.WorkflowID(NightlyID)).Describe(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, d.Info.NextActionTimes)
		for _, next := range d.Info.NextActionTimes {
			next = next.UTC()
			require.Equal(t, [3]int{2, 0, 0}, [3]int{next.Hour(), next.Minute(), next.Second()}, "next run %v", next)
		}
	})
}
