package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// myTask is the seed's Quick Start task, with 10 ms steps instead of 1 s.
func myTask(ctx *adapter.ProcessContext) error {
	for i := range 10 {
		if !ctx.ShouldContinue() {
			return nil
		}
		ctx.ReportProgress(float64(i*10), fmt.Sprintf("Step %d/10", i+1))
		time.Sleep(10 * time.Millisecond)
	}
	ctx.ReportProgress(100, "Done")
	return nil
}

// TestQuickStartLaunchAndWaitEndsDone is the seed's Quick Start: init with a
// task generator, launch_and_wait("my-task"), get_process shows "done", with
// the engine's and the body's log entries in order.
func TestQuickStartLaunchAndWaitEndsDone(t *testing.T) {
	s := newSystem(t, adapter.Config{
		TaskDefinitions: staticTasks(adapter.TaskInstance{Execute: myTask, ProcessID: "my-task", Name: "My Task"}),
	})

	got, err := s.eng.LaunchAndWait(s.ctx(), "my-task")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, got.Status.State)

	p := s.get("my-task")
	require.Equal(t, adapter.StateDone, p.Status.State)
	require.Equal(t, 100.0, *p.Progress.Percent)
	require.Equal(t, "Done", *p.Progress.Message)
	require.NotNil(t, p.Status.RunningSince)
	require.NotNil(t, p.Status.DoneAt)
	require.NotNil(t, p.Status.Duration)
	require.Nil(t, p.Status.Error)

	want := []string{"event: State changed to scheduled", "event: State changed to running"}
	for i := range 10 {
		want = append(want, fmt.Sprintf("info: Step %d/10", i+1))
	}
	want = append(want, "info: Done", "event: State changed to done")
	require.Equal(t, want, logLines(p))
}

// TestLaunchIsFireAndForget: Launch returns while the body still runs, with
// the document already claimed; a second launch of the active process is
// refused; the process ends done once its body returns, and can be launched
// again (done is launchable), which starts a fresh log.
func TestLaunchIsFireAndForget(t *testing.T) {
	g := newGate(t)
	s := newSystem(t, adapter.Config{
		TaskDefinitions: staticTasks(adapter.TaskInstance{Execute: g.stubborn, ProcessID: "fire", Name: "Fire and forget"}),
	})

	out := s.launch("fire")
	require.NotNil(t, out.Process)
	require.Contains(t, []adapter.State{adapter.StateScheduled, adapter.StateRunning}, out.Process.Status.State)
	g.waitStarted(t)
	s.waitState("fire", adapter.StateRunning)

	again, err := s.eng.Launch(s.ctx(), "fire")
	require.NoError(t, err)
	require.False(t, again.OK)
	require.Equal(t, adapter.ReasonNotLaunchable, again.Reason)

	g.open()
	first := s.waitState("fire", adapter.StateDone)

	second := s.run("fire")
	require.Equal(t, first.ID, second.ID, "a relaunch reuses the document")
	require.True(t, second.Status.RunningSince.After(*first.Status.RunningSince) || second.Status.RunningSince.Equal(*first.Status.RunningSince))
	require.Equal(t, []string{"event: State changed to scheduled", "event: State changed to running", "event: State changed to done"}, logLines(second))
	require.EqualValues(t, 2, g.runs.Load())
}

// TestFailingBodyEndsFailed: a body that returns an error ends failed, with
// the error's text in status.error and an "error" log entry (and no "State
// changed to failed" entry, as optio-core writes none); a panicking body
// fails its process rather than the worker; failed is launchable.
func TestFailingBodyEndsFailed(t *testing.T) {
	s := newSystem(t, adapter.Config{
		TaskDefinitions: staticTasks(
			adapter.TaskInstance{ProcessID: "boom", Name: "Boom", Execute: func(ctx *adapter.ProcessContext) error {
				ctx.ReportProgress(40, "about to fail")
				return fmt.Errorf("disk full")
			}},
			adapter.TaskInstance{ProcessID: "panic", Name: "Panic", Execute: func(*adapter.ProcessContext) error {
				panic("nil map")
			}},
		),
	})

	p, err := s.eng.LaunchAndWait(s.ctx(), "boom")
	require.NoError(t, err)
	require.Equal(t, adapter.StateFailed, p.Status.State)
	require.Equal(t, "disk full", *p.Status.Error)
	require.NotNil(t, p.Status.FailedAt)
	require.Equal(t, 40.0, *p.Progress.Percent, "progress keeps the last value at a terminal state")
	require.Equal(t, []string{
		"event: State changed to scheduled", "event: State changed to running",
		"info: about to fail", "error: disk full",
	}, logLines(p))

	p, err = s.eng.LaunchAndWait(s.ctx(), "panic")
	require.NoError(t, err)
	require.Equal(t, adapter.StateFailed, p.Status.State)
	require.Contains(t, *p.Status.Error, "panic: nil map")
	require.GreaterOrEqual(t, findLog(p, "error", "panic: nil map"), 0)

	again, err := s.eng.LaunchAndWait(s.ctx(), "boom")
	require.NoError(t, err, "failed is launchable")
	require.Equal(t, adapter.StateFailed, again.Status.State)
}

// TestDismissResetsAnEndedProcess: dismiss works only on done, failed and
// cancelled; it moves the process to idle, clears the status timestamps,
// error, progress and log, and deletes every descendant.
func TestDismissResetsAnEndedProcess(t *testing.T) {
	g := newGate(t)
	s := newSystem(t, adapter.Config{
		TaskDefinitions: staticTasks(
			adapter.TaskInstance{ProcessID: "done", Name: "Done", Execute: func(ctx *adapter.ProcessContext) error {
				ctx.ReportProgress(70, "most of it")
				return nil
			}},
			adapter.TaskInstance{ProcessID: "failed", Name: "Failed", Execute: func(*adapter.ProcessContext) error { return fmt.Errorf("nope") }},
			adapter.TaskInstance{ProcessID: "cancelled", Name: "Cancelled", Execute: g.cooperative},
			adapter.TaskInstance{ProcessID: "running", Name: "Running", Execute: g.stubborn},
		),
	})
	ctx := s.ctx()

	s.run("done")
	_, err := s.eng.LaunchAndWait(ctx, "failed")
	require.NoError(t, err)
	s.launch("cancelled")
	s.waitState("cancelled", adapter.StateRunning)
	_, err = s.eng.Cancel(ctx, "cancelled")
	require.NoError(t, err)
	s.waitState("cancelled", adapter.StateCancelled)

	// Descendants two levels deep under "done".
	child, err := s.eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: "done/child", Name: "Child", Execute: quick}, adapter.AdhocOptions{Parent: "done"})
	require.NoError(t, err)
	_, err = s.eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: "done/child/grandchild", Name: "Grandchild", Execute: quick}, adapter.AdhocOptions{Parent: child.ID.Hex()})
	require.NoError(t, err)

	for _, id := range []string{"done", "failed", "cancelled"} {
		t.Run(id, func(t *testing.T) {
			out, err := s.eng.Dismiss(ctx, id)
			require.NoError(t, err)
			require.True(t, out.OK, "dismiss %s: %s", id, out.Reason)
			p := s.get(id)
			require.Equal(t, adapter.StateIdle, p.Status.State)
			require.Equal(t, adapter.Process{}.Status.Error, p.Status.Error)
			require.Nil(t, p.Status.RunningSince)
			require.Nil(t, p.Status.DoneAt)
			require.Nil(t, p.Status.Duration)
			require.Nil(t, p.Status.FailedAt)
			require.Nil(t, p.Status.StoppedAt)
			require.Equal(t, 0.0, *p.Progress.Percent)
			require.Nil(t, p.Progress.Message)
			require.Empty(t, p.Log)
			require.Equal(t, *out.Process, *p, "the outcome carries the document after the dismiss")
		})
	}
	require.True(t, s.gone("done/child"), "dismiss deletes children")
	require.True(t, s.gone("done/child/grandchild"), "dismiss deletes all descendants")

	for _, tc := range []struct {
		id   string
		want adapter.Reason
	}{
		{"done", adapter.ReasonNotDismissable}, // idle now
		{"running", adapter.ReasonNotDismissable},
		{"no-such-process", adapter.ReasonNotFound},
	} {
		if tc.id == "running" {
			s.launch("running")
			s.waitState("running", adapter.StateRunning)
		}
		out, err := s.eng.Dismiss(ctx, tc.id)
		require.NoError(t, err)
		require.False(t, out.OK, tc.id)
		require.Equal(t, tc.want, out.Reason, tc.id)
	}
	require.Equal(t, adapter.StateRunning, s.get("running").Status.State)
	g.open()
	s.waitState("running", adapter.StateDone)
}

// TestResyncPicksUpNewTasks is the seed's resync example: the generator
// returns a new task, resync creates its process (idle, launchable), and the
// tasks already there keep their documents.
func TestResyncPicksUpNewTasks(t *testing.T) {
	gen := newGenerator(adapter.TaskInstance{ProcessID: "first", Name: "First", Execute: quick})
	s := newSystem(t, adapter.Config{TaskDefinitions: gen.generate})
	first := s.get("first")
	require.True(t, s.gone("second"))

	gen.set(
		adapter.TaskInstance{ProcessID: "first", Name: "First", Execute: quick},
		adapter.TaskInstance{ProcessID: "second", Name: "Second", Execute: quick},
	)
	synced, err := s.eng.Resync(s.ctx(), false, nil)
	require.NoError(t, err)
	require.Len(t, synced, 2)
	require.Equal(t, first.ID.Hex(), synced["first"])
	second := s.get("second")
	require.Equal(t, second.ID.Hex(), synced["second"])
	require.Equal(t, adapter.StateIdle, second.Status.State)
	require.Equal(t, first.ID, s.get("first").ID)
	s.run("second")
}
