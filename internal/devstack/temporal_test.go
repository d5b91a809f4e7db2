package devstack

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

const testQueue = "devstack-test"

func greet(_ context.Context, name string) (string, error) { return "hello " + name, nil }

// greetWorkflow runs one activity; it also answers an Update so the test can
// see that Updates are enabled.
func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	release := false
	if err := workflow.SetUpdateHandler(ctx, "release", func(ctx workflow.Context) (string, error) {
		release = true
		return "released", nil
	}); err != nil {
		return "", err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	if err := workflow.ExecuteActivity(ctx, greet, name).Get(ctx, &out); err != nil {
		return "", err
	}
	if name == "wait" {
		if err := workflow.Await(ctx, func() bool { return release }); err != nil {
			return "", err
		}
	}
	return out, nil
}

func sleepWorkflow(ctx workflow.Context, d time.Duration) error { return workflow.Sleep(ctx, d) }

func startTemporal(t testing.TB, cfg TemporalConfig) *Temporal {
	t.Helper()
	srv, err := StartTemporal(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	return srv
}

// dialWorker connects a client to srv and runs a worker for the test
// workflows; both are closed on cleanup, before the server stops.
func dialWorker(t testing.TB, srv *Temporal) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: srv.HostPort(), Namespace: srv.Namespace(), Logger: quietSDKLogger()})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	w := worker.New(c, testQueue, worker.Options{})
	w.RegisterWorkflow(greetWorkflow)
	w.RegisterWorkflow(sleepWorkflow)
	w.RegisterActivity(greet)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return c
}

// eachEvent calls f with each event of the run's history, in order.
func eachEvent(t testing.TB, c client.Client, run client.WorkflowRun, f func(*historypb.HistoryEvent)) {
	t.Helper()
	it := c.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		f(ev)
	}
}

func TestTemporalRunsWorkflowWithActivity(t *testing.T) {
	srv := startTemporal(t, TemporalConfig{})
	require.Equal(t, DefaultNamespace, srv.Namespace())
	c := dialWorker(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "greet", TaskQueue: testQueue}, greetWorkflow, "optio")
	require.NoError(t, err)
	var out string
	require.NoError(t, run.Get(ctx, &out))
	require.Equal(t, "hello optio", out)
}

func TestTemporalUpdatesAndSchedulesAreEnabled(t *testing.T) {
	srv := startTemporal(t, TemporalConfig{})
	c := dialWorker(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wait", TaskQueue: testQueue}, greetWorkflow, "wait")
	require.NoError(t, err)
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: run.GetID(), UpdateName: "release", WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	require.NoError(t, err)
	var got string
	require.NoError(t, h.Get(ctx, &got))
	require.Equal(t, "released", got)
	require.NoError(t, run.Get(ctx, nil))

	// A schedule that fires every second proves that the scheduler worker runs.
	sched, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   "every-second",
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Second}}},
		Action: &client.ScheduleWorkflowAction{
			ID: "scheduled-greet", Workflow: greetWorkflow, Args: []any{"schedule"}, TaskQueue: testQueue,
		},
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, sched.Delete(context.Background())) }()
	require.Eventually(t, func() bool {
		d, err := sched.Describe(ctx)
		return err == nil && d.Info.NumActions > 0
	}, 20*time.Second, 100*time.Millisecond, "the schedule never fired")
}

func TestTemporalTimersFireOnTime(t *testing.T) {
	srv := startTemporal(t, TemporalConfig{})
	c := dialWorker(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Under the server's default dynamic config a 10 ms timer fires about a
	// second after it starts; the dev config brings that close to 10 ms.
	// The server's own TimerStarted and TimerFired times are compared, so
	// that a loaded machine (CI runs packages side by side under -race)
	// slowing down workers and clients does not fail the test, and the
	// fastest of a few timers counts.
	fastest := time.Hour
	for range 3 {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: testQueue}, sleepWorkflow, 10*time.Millisecond)
		require.NoError(t, err)
		require.NoError(t, run.Get(ctx, nil))
		var started, fired time.Time
		eachEvent(t, c, run, func(ev *historypb.HistoryEvent) {
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_TIMER_STARTED:
				started = ev.GetEventTime().AsTime()
			case enumspb.EVENT_TYPE_TIMER_FIRED:
				fired = ev.GetEventTime().AsTime()
			}
		})
		require.False(t, started.IsZero() || fired.IsZero(), "no timer events in the history")
		fastest = min(fastest, fired.Sub(started))
	}
	t.Logf("fastest 10 ms timer fired after %v", fastest)
	require.Less(t, fastest, 300*time.Millisecond)
}

func TestTemporalExtraNamespaces(t *testing.T) {
	srv := startTemporal(t, TemporalConfig{Namespaces: []string{"other"}})
	c, err := client.Dial(client.Options{HostPort: srv.HostPort(), Namespace: "other", Logger: quietSDKLogger()})
	require.NoError(t, err)
	defer c.Close()
	ns, err := c.WorkflowService().DescribeNamespace(context.Background(), describeNamespace("other"))
	require.NoError(t, err)
	require.Equal(t, "other", ns.GetNamespaceInfo().GetName())
}

func TestTemporalFileBackedKeepsHistoryAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	first, err := StartTemporal(ctx, TemporalConfig{DataDir: dir})
	require.NoError(t, err)
	c, err := client.Dial(client.Options{HostPort: first.HostPort(), Namespace: first.Namespace(), Logger: quietSDKLogger()})
	require.NoError(t, err)
	w := worker.New(c, testQueue, worker.Options{})
	w.RegisterWorkflow(greetWorkflow)
	w.RegisterActivity(greet)
	require.NoError(t, w.Start())
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "survivor", TaskQueue: testQueue}, greetWorkflow, "again")
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, nil))
	w.Stop()
	c.Close()
	require.NoError(t, first.Stop())

	second := startTemporal(t, TemporalConfig{DataDir: dir})
	c2, err := client.Dial(client.Options{HostPort: second.HostPort(), Namespace: second.Namespace(), Logger: quietSDKLogger()})
	require.NoError(t, err)
	defer c2.Close()
	desc, err := c2.DescribeWorkflowExecution(ctx, "survivor", run.GetRunID())
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, desc.GetWorkflowExecutionInfo().GetStatus())

	var events int
	var completed bool
	it := c2.GetWorkflowHistory(ctx, "survivor", run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		events++
		if ev.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED {
			completed = true
		}
	}
	require.True(t, completed, "history after restart lacks the activity's completion (%d events)", events)

	// Visibility (what the Web UI lists) survives too.
	list, err := c2.ListWorkflow(ctx, listRequest(second.Namespace(), "WorkflowId = 'survivor'"))
	require.NoError(t, err)
	require.Len(t, list.GetExecutions(), 1)
}

func TestTemporalPortInUse(t *testing.T) {
	ln, err := listen("test", DefaultHost, 0)
	require.NoError(t, err)
	defer ln.Close()
	port := portOf(ln.Addr().String())

	_, err = StartTemporal(context.Background(), TemporalConfig{Port: port})
	var pe *PortInUseError
	require.True(t, errors.As(err, &pe), "got %v", err)
	require.Equal(t, PartTemporal, pe.Part)
	require.Equal(t, port, pe.Port)
}

// A port taken after the pre-check (a race with another process) reaches
// the server itself, which logs Fatal; that must be an error, not a crash or
// a half-started server.
func TestTemporalBindFailureInsideServerIsAnError(t *testing.T) {
	ln, err := listen("test", DefaultHost, 0)
	require.NoError(t, err)
	defer ln.Close()
	cfg := TemporalConfig{Host: DefaultHost, Port: portOf(ln.Addr().String()), Retention: time.Hour}
	sqlCfg, scratch, err := prepareSQLite(cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, scratch.remove()) }()
	level := &slog.LevelVar{}
	level.Set(quiet)
	_, err = startTemporalOnce(cfg, sqlCfg, slog.Default(), level)
	require.Error(t, err)
	require.Contains(t, err.Error(), "address already in use")
}

// An internal service's port taken between its pick and the server's bind
// (by another process's connection, say) costs a new pick, not the host
// process: the worker service binds in a goroutine of the server's own, so
// the clash must stop the start before that goroutine runs.
func TestTemporalInternalPortTakenIsRetried(t *testing.T) {
	for _, part := range []string{"history", "matching", "worker"} {
		t.Run(part, func(t *testing.T) {
			ln, err := listen("test", DefaultHost, 0)
			require.NoError(t, err)
			defer ln.Close()
			taken := portOf(ln.Addr().String())
			var handed atomic.Int32
			cfg := TemporalConfig{Logger: slog.New(slog.DiscardHandler), pickPort: func(host, p string) (int, error) {
				if p == part && handed.CompareAndSwap(0, 1) {
					return taken, nil
				}
				return freePort(host)
			}}
			srv := startTemporal(t, cfg)
			require.EqualValues(t, 1, handed.Load(), "the taken port was never handed out")
			c := dialWorker(t, srv)
			run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: testQueue}, greetWorkflow, "again")
			require.NoError(t, err)
			var out string
			require.NoError(t, run.Get(context.Background(), &out))
			require.Equal(t, "hello again", out)
		})
	}
}

// freePort picks below the kernel's range for outgoing connections, so that
// no connection can take a picked port before the server binds it.
func TestFreePortAvoidsTheEphemeralRange(t *testing.T) {
	for range 20 {
		port, err := freePort(DefaultHost)
		require.NoError(t, err)
		require.GreaterOrEqual(t, port, lowPortMin)
		require.Less(t, port, lowPortMax)
	}
}
