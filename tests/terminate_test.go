package tests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
)

// TestTerminatedWorkflowNeverLeavesTheProcessActive: a workflow terminated
// from the Temporal side (the Web UI's "Terminate") cannot write its
// process's end state; the engine's closed-run watcher finds the run in
// Temporal's visibility store and fails the document, with the server's
// reason, whether the process was scheduled, running or cancelling. The
// failed process can be launched again.
func TestTerminatedWorkflowNeverLeavesTheProcessActive(t *testing.T) {
	for _, tc := range []struct {
		state adapter.State
		// clientOnly launches without any worker, so the process stays
		// scheduled.
		clientOnly bool
	}{
		{state: adapter.StateScheduled, clientOnly: true},
		{state: adapter.StateRunning},
		{state: adapter.StateCancelling},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			g := newGate(t)
			tasks := staticTasks(adapter.TaskInstance{ProcessID: "job", Name: "Job", Execute: g.stubborn})
			s := newSystem(t, adapter.Config{
				TaskDefinitions:   tasks,
				DisableWorker:     tc.clientOnly,
				ReconcileInterval: -1, // the watcher alone
			})
			s.launch("job")
			if !tc.clientOnly {
				g.waitStarted(t)
				s.waitState("job", adapter.StateRunning)
			}
			if tc.state == adapter.StateCancelling {
				_, err := s.eng.Cancel(s.ctx(), "job")
				require.NoError(t, err)
			}
			s.waitState("job", tc.state)

			require.NoError(t, s.temporal().TerminateWorkflow(s.ctx(), s.eng.WorkflowID("job"), "", "operator pressed Terminate"))
			terminated := time.Now()

			p := s.waitState("job", adapter.StateFailed)
			t.Logf("document failed %v after the terminate", time.Since(terminated).Round(time.Millisecond))
			how := "was terminated on the Temporal side (reason: operator pressed Terminate)"
			require.Equal(t, "Process workflow "+how+" while "+string(tc.state), *p.Status.Error)
			require.NotNil(t, p.Status.FailedAt)
			require.GreaterOrEqual(t, findLog(p, "event", "State reconciled: "+string(tc.state)+" -> failed (workflow "+how+")"), 0,
				"log:\n%s", formatLog(p))

			g.open()
			if tc.clientOnly {
				s.startEngine(adapter.Config{TaskDefinitions: tasks})
			}
			s.run("job")
		})
	}
}

// TestLaunchAndWaitReturnsTheEndOfATerminatedRun: LaunchAndWait never returns
// an active state as final. When the server ends the run, it writes the
// failure itself (the watcher is off here) and returns the failed document.
// It learns of the end from its poll of the run, which starts 10 times
// ChildPollDelay after the run began on its engine.
func TestLaunchAndWaitReturnsTheEndOfATerminatedRun(t *testing.T) {
	g := newGate(t)
	s := newSystem(t, adapter.Config{
		TaskDefinitions:        staticTasks(adapter.TaskInstance{ProcessID: "job", Name: "Job", Execute: g.stubborn}),
		ReconcileInterval:      -1,
		ClosedRunWatchInterval: -1,
		ChildPollDelay:         100 * time.Millisecond,
	})
	defer g.open()
	go func() {
		g.waitStarted(t)
		_ = s.temporal().TerminateWorkflow(s.ctx(), s.eng.WorkflowID("job"), "", "stop it")
	}()
	p, err := s.eng.LaunchAndWait(s.ctx(), "job")
	require.NoError(t, err)
	require.Equal(t, adapter.StateFailed, p.Status.State)
	require.Equal(t, "Process workflow was terminated on the Temporal side (reason: stop it) while running", *p.Status.Error)
}

// TestLaunchAndWaitLearnsOfATerminatedRunFromTheClosedRunWatch: with the
// closed-run watch on, a LaunchAndWait whose run began on its engine and
// was terminated takes the failure the watch writes, with no poll of the
// run on Temporal (every such poll is swallowed here, unanswered).
func TestLaunchAndWaitLearnsOfATerminatedRunFromTheClosedRunWatch(t *testing.T) {
	env := testenv.New(t)
	lost := &lostClosePoll{}
	tc := env.Temporal.DialIntercepted(t, lost.intercept)
	g := newGate(t)
	s := newSystemOn(t, env, adapter.Config{
		Temporal:          tc,
		TaskDefinitions:   staticTasks(adapter.TaskInstance{ProcessID: "job", Name: "Job", Execute: g.stubborn}),
		ReconcileInterval: -1,
	})
	defer g.open()
	launchAndWaitTerminated(t, s, g, 0)
	require.Zero(t, lost.lost.Load()+lost.sent.Load(), "LaunchAndWait polled the run")
}

// launchAndWaitTerminated launches "job" (a body that holds g) with
// LaunchAndWait, terminates its run from Temporal after the body has run
// for after, and checks that LaunchAndWait returns the document failed
// with the termination's reason.
func launchAndWaitTerminated(t *testing.T, s *system, g *gate, after time.Duration) {
	t.Helper()
	go func() {
		g.waitStarted(t)
		time.Sleep(after)
		_ = s.temporal().TerminateWorkflow(s.ctx(), s.eng.WorkflowID("job"), "", "stop it")
	}()
	ctx, cancel := context.WithTimeout(s.ctx(), time.Minute)
	defer cancel()
	p, err := s.eng.LaunchAndWait(ctx, "job")
	require.NoError(t, err)
	require.Equal(t, adapter.StateFailed, p.Status.State)
	require.Equal(t, "Process workflow was terminated on the Temporal side (reason: stop it) while running", *p.Status.Error)
}

// TestTerminatedParentEndsItsChildren: terminating a parent's workflow fails
// the parent and cancels its running children (through its children
// workflow, which the server cancels by the parent close policy).
func TestTerminatedParentEndsItsChildren(t *testing.T) {
	g := newGate(t)
	parent := func(pc *adapter.ProcessContext) error {
		grp := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 3})
		for i := range 3 {
			if err := grp.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("parent/c%d", i), Name: "C", Execute: g.cooperative}); err != nil {
				return err
			}
		}
		_, err := grp.Wait()
		return err
	}
	s := newSystem(t, adapter.Config{
		TaskDefinitions:   staticTasks(adapter.TaskInstance{ProcessID: "parent", Name: "Parent", Execute: parent}),
		ReconcileInterval: -1,
	})
	defer g.open()
	s.launch("parent")
	for i := range 3 {
		s.waitState(fmt.Sprintf("parent/c%d", i), adapter.StateRunning)
	}
	require.NoError(t, s.temporal().TerminateWorkflow(s.ctx(), s.eng.WorkflowID("parent"), "", "operator pressed Terminate"))
	p := s.waitState("parent", adapter.StateFailed)
	require.Contains(t, *p.Status.Error, "operator pressed Terminate")
	for i := range 3 {
		s.waitState(fmt.Sprintf("parent/c%d", i), adapter.StateCancelled)
	}
}

// TestLaunchAndWaitPollsATerminatedRunOnceItHasClosed: with the closed-run
// watch off, a LaunchAndWait learns of a run the server ended from
// Temporal; it asks for the run's end only once the engine's visibility
// watch has seen the run closed, so it never holds a poll open on the run
// (one that a dropped close notice could leave unanswered).
func TestLaunchAndWaitPollsATerminatedRunOnceItHasClosed(t *testing.T) {
	env := testenv.New(t)
	polls := &closePolls{}
	tc := env.Temporal.DialIntercepted(t, polls.intercept)
	g := newGate(t)
	s := newSystemOn(t, env, adapter.Config{
		Temporal:               tc,
		TaskDefinitions:        staticTasks(adapter.TaskInstance{ProcessID: "job", Name: "Job", Execute: g.stubborn}),
		ReconcileInterval:      -1,
		ClosedRunWatchInterval: -1,
		ChildPollDelay:         100 * time.Millisecond,
	})
	defer g.open()
	// Terminated past the 10 x ChildPollDelay after which the wait falls
	// back on Temporal.
	launchAndWaitTerminated(t, s, g, 2*time.Second)
	require.Zero(t, polls.open.Load(), "LaunchAndWait held a poll open on the running run")
	require.NotZero(t, polls.closed.Load(), "LaunchAndWait never asked for the closed run's end")
	require.NotZero(t, polls.queries.Load(), "the engine never asked whether the run had closed")
}
