package demo

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
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
		TaskDefinitions: withSmallFanout,
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

// Sizes of the demo-fanout the engine test runs: its 2,000 children take
// about a minute without the race detector, several with it.
const (
	smallFanoutChildren    = 12
	smallFanoutConcurrency = 4
)

// withSmallFanout is Definitions with demo-fanout shrunk to
// smallFanoutChildren children.
func withSmallFanout(ctx context.Context, services, filter map[string]any) ([]adapter.TaskInstance, error) {
	tasks, err := Definitions(ctx, services, filter)
	for i := range tasks {
		if tasks[i].ProcessID == FanoutID {
			tasks[i].Params = map[string]any{ParamItems: smallFanoutChildren, ParamConcurrency: smallFanoutConcurrency}
		}
	}
	return tasks, err
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

	// A cancel reaches the parents mid-run: the children running are
	// cancelled, the spawns after it refused, and the parent ends cancelled
	// with no error, as the dashboard should show it.
	for _, tt := range []struct{ id, running string }{
		{ParallelID, ParallelID + "/item-04"},
		{ChildrenID, ChildrenID + "/phase-1"},
	} {
		t.Run(tt.id+" ends cancelled when cancelled", func(t *testing.T) {
			out, err := eng.Launch(ctx, tt.id)
			require.NoError(t, err)
			require.True(t, out.OK, out.Reason)
			require.Eventually(t, func() bool {
				p, err := eng.GetProcess(ctx, tt.running)
				return err == nil && p.Status.State == adapter.StateRunning
			}, 30*time.Second, 20*time.Millisecond)
			out, err = eng.Cancel(ctx, tt.id)
			require.NoError(t, err)
			require.True(t, out.OK, out.Reason)
			var last *adapter.Process
			require.Eventually(t, func() bool {
				p, err := eng.GetProcess(ctx, tt.id)
				last = p
				return err == nil && p.Status.State.End()
			}, 30*time.Second, 20*time.Millisecond)
			require.Nil(t, last.Status.Error, "status.error")
			require.Equal(t, adapter.StateCancelled, last.Status.State)
			kids, err := eng.ListProcesses(ctx, adapter.ListOptions{RootID: last.ID.Hex()})
			require.NoError(t, err)
			for _, k := range kids {
				require.True(t, k.Status.State.End(), "%s is %s", k.ProcessID, k.Status.State)
			}
		})
	}

	t.Run("marathon ticks and stops when cancelled", func(t *testing.T) {
		out, err := eng.Launch(ctx, MarathonID)
		require.NoError(t, err)
		require.True(t, out.OK, out.Reason)
		tick := regexp.MustCompile(`^Tick ([0-9]+)/900$`)
		require.Eventually(t, func() bool {
			p, err := eng.GetProcess(ctx, MarathonID)
			return err == nil && p.Progress.Message != nil && p.Progress.Percent != nil &&
				*p.Progress.Percent > 0 && tick.MatchString(*p.Progress.Message)
		}, 30*time.Second, 20*time.Millisecond, "no tick reported")
		start := time.Now()
		out, err = eng.Cancel(ctx, MarathonID)
		require.NoError(t, err)
		require.True(t, out.OK, out.Reason)
		var last *adapter.Process
		require.Eventually(t, func() bool {
			p, err := eng.GetProcess(ctx, MarathonID)
			last = p
			return err == nil && p.Status.State == adapter.StateCancelled
		}, 30*time.Second, 20*time.Millisecond)
		// Stopped at a tick, not at the end 90 s away.
		require.Less(t, time.Since(start), 20*time.Second)
		require.Less(t, *last.Progress.Percent, 100.0)
		m := tick.FindStringSubmatch(*last.Progress.Message)
		require.NotNil(t, m, "last message %q", *last.Progress.Message)
		n, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		require.InDelta(t, float64(n)*100/marathonTicks, *last.Progress.Percent, 1e-9, "percent is the ticks' share")
	})

	t.Run("fanout runs every child to done", func(t *testing.T) {
		p, err := eng.LaunchAndWait(ctx, FanoutID)
		require.NoError(t, err)
		require.Equal(t, adapter.StateDone, p.Status.State, "error: %v", p.Status.Error)
		require.Equal(t, 100.0, *p.Progress.Percent)
		require.Equal(t, fmt.Sprintf("All %d children done", smallFanoutChildren), *p.Progress.Message)
		procs, err := eng.ListProcesses(ctx, adapter.ListOptions{RootID: p.ID.Hex()})
		require.NoError(t, err)
		var want, got []string
		for i := range smallFanoutChildren {
			want = append(want, fmt.Sprintf("%s/child-%04d", FanoutID, i))
		}
		for _, k := range procs {
			if k.ProcessID == FanoutID {
				continue
			}
			got = append(got, k.ProcessID)
			require.Equal(t, adapter.StateDone, k.Status.State, k.ProcessID)
		}
		slices.Sort(got)
		require.Equal(t, want, got)
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
