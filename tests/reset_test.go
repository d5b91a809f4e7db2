package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/optio-temporal/optio/adapter"
)

// resetWarning is the document's warning when a reset run re-runs the body.
const resetWarning = "Process workflow was reset; re-running the body on a live worker"

// TestLaunchAndWaitFollowsAReset: an operator resets a running process's
// workflow to its first workflow task (the Web UI's Reset). The old run ends
// terminated and a new run re-runs the body; the launch goes on in it.
// LaunchAndWait waits for the new run's end instead of returning the
// document while it is still running, and neither the reconciler, nor the
// closed-run watch, nor the replaced run's body (told to stop by its next
// heartbeat) takes the old run's end for the process's.
func TestLaunchAndWaitFollowsAReset(t *testing.T) {
	g := newGate(t)
	s := newSystem(t, adapter.Config{
		TaskDefinitions:   staticTasks(adapter.TaskInstance{ProcessID: "job", Name: "Job", Execute: g.cooperative}),
		ReconcileInterval: 200 * time.Millisecond,
		// The wait falls back on Temporal after 10 x 50 ms.
		ChildPollDelay: 50 * time.Millisecond,
		// The replaced run's body heartbeats at least every 0.5 s.
		BodyHeartbeatTimeout: 1500 * time.Millisecond,
	})
	defer g.open()
	type result struct {
		p   *adapter.Process
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := s.eng.LaunchAndWait(s.ctx(), "job")
		done <- result{p, err}
	}()
	resetWhileRunning(t, s, g, "job", firstTask)
	requireNothingFor(t, done, 2*time.Second, "LaunchAndWait returned while the reset run still ran")
	// The replaced run's body learnt from its heartbeat that its run was
	// gone, and returned; that ended nothing.
	require.EqualValues(t, 1, g.returned.Load(), "bodies returned before the gate opened")
	require.Equal(t, adapter.StateRunning, s.get("job").Status.State, "the old run's end, or its body's, ended the document")
	g.open()
	r := receiveWithin(t, done, "LaunchAndWait did not return after the reset run ended")
	require.NoError(t, r.err)
	require.Equal(t, adapter.StateDone, r.p.Status.State, "%v", logLines(r.p))
	require.EqualValues(t, 2, g.runs.Load(), "body runs")
	require.Equal(t, adapter.StateDone, s.get("job").Status.State)
}

// TestResetWhileAChildRuns: a workflow of a parent and its running child is
// reset, to its first or its last workflow task; either way its body runs
// again.
//
//   - The child's: the parent's RunChild goes on waiting, for the run the
//     reset started (which runs the child's body again), and returns the
//     child's end: done, not the old run's termination.
//   - The parent's: the server keeps the child, and the children workflow
//     that started it, across the reset. The parent's re-run body asks for
//     the child again and waits for the one that runs (it is not started a
//     second time), and the parent ends done after it, instead of failing on
//     its children workflow's ID being taken.
func TestResetWhileAChildRuns(t *testing.T) {
	for _, tc := range []struct {
		reset     string
		to        resetPoint
		childRuns int32
	}{
		{reset: "parent/c", to: firstTask, childRuns: 2},
		{reset: "parent/c", to: lastTask, childRuns: 2},
		{reset: "parent", to: firstTask, childRuns: 1},
		{reset: "parent", to: lastTask, childRuns: 1},
	} {
		t.Run(tc.reset+" to "+string(tc.to), func(t *testing.T) {
			g := newGate(t)
			defer g.open()
			s, errs := parentOfOneChild(t, g.cooperative)
			resetWhileRunning(t, s, g, tc.reset, tc.to)
			requireNothingFor(t, errs, time.Second, "RunChild returned while the child still ran")
			require.Equal(t, adapter.StateRunning, s.get("parent").Status.State, "%v", logLines(s.get("parent")))
			g.open()
			require.NoError(t, receiveWithin(t, errs, "RunChild did not return after the child ended"))
			s.requireEnd("parent/c", adapter.StateDone)
			s.requireEnd("parent", adapter.StateDone)
			require.Equal(t, tc.childRuns, g.runs.Load(), "child body runs")
			replayRun(t, s, tc.reset, "reset "+tc.reset+" to "+string(tc.to))
		})
	}
}

// TestCancelAResetParent: a parent reset while its child runs is then
// cancelled. The cancel reaches the child through the children workflow the
// reset run adopted, and both end cancelled.
func TestCancelAResetParent(t *testing.T) {
	g := newGate(t)
	defer g.open()
	s, _ := parentOfOneChild(t, g.cooperative)
	resetWhileRunning(t, s, g, "parent", firstTask)
	out, err := s.eng.Cancel(s.ctx(), "parent")
	require.NoError(t, err)
	require.True(t, out.OK, "%v", out.Reason)
	s.requireEnd("parent/c", adapter.StateCancelled)
	s.requireEnd("parent", adapter.StateCancelled)
}

// TestAResetParentRefusesChildrenOnceCancelled: a parent reset while its
// child runs, then cancelled from the Web UI, whose body goes on to ask for
// a second child: it is refused, as for a parent that was not reset (the
// body's engine knows of the cancel; the children workflow the reset run
// adopted is cancelled with the process too, as its own one would be).
func TestAResetParentRefusesChildrenOnceCancelled(t *testing.T) {
	g := newGate(t)
	defer g.open()
	second := make(chan error, 4)
	parent := func(pc *adapter.ProcessContext) error {
		// C ends cancelled with the parent; the body goes on regardless.
		_, _ = pc.RunChild(adapter.ChildSpec{ProcessID: "parent/c", Name: "C", Execute: g.cooperative})
		_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "parent/d", Name: "D", Execute: quick})
		second <- err
		return nil
	}
	s := launchParent(t, parent)
	resetWhileRunning(t, s, g, "parent", firstTask)
	// As the Web UI cancels: through the workflow, not the engine.
	require.NoError(t, s.temporal().CancelWorkflow(s.ctx(), s.eng.WorkflowID("parent"), ""))
	require.Error(t, receiveWithin(t, second, "the second RunChild did not return"), "the second RunChild, after the cancel")
	s.requireEnd("parent/c", adapter.StateCancelled)
	p := s.requireEnd("parent", adapter.StateCancelled)
	require.NotEqual(t, -1, findLog(p, "event", "Refused to spawn child 'D'"), "%v", logLines(p))
	require.True(t, s.gone("parent/d"), "the second child was created after the cancel")
	replayRun(t, s, "parent", "reset parent then cancelled")
}

// resetWhileRunning resets process processID's workflow to the workflow
// task to once a body of g has run a second (past the 10 x 50 ms after
// which a wait falls back on Temporal), and returns once the new run has
// logged that it re-runs the body.
func resetWhileRunning(t *testing.T, s *system, g *gate, processID string, to resetPoint) {
	t.Helper()
	g.waitStarted(t)
	time.Sleep(time.Second)
	require.NoError(t, resetWorkflow(s, processID, to))
	s.waitLog(processID, "warning", resetWarning)
}

// replayRun replays the history of the current run of process processID's
// workflow, a run a reset started and that has ended, under this code, and
// records it (see recordEnv) under name.
func replayRun(t *testing.T, s *system, processID, name string) {
	t.Helper()
	runID, h := replayEndedRun(t, s, processID, name)
	original := h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetOriginalExecutionRunId()
	require.NotEqual(t, runID, original, "not a run that a reset started")
}

// replayEndedRun waits for the current run of process processID's workflow
// to end, replays its history under this code, records it (see recordEnv)
// under name, and returns its run ID and history.
func replayEndedRun(t *testing.T, s *system, processID, name string) (string, *historypb.History) {
	t.Helper()
	wfID := s.eng.WorkflowID(processID)
	var run *workflowpb.WorkflowExecutionInfo
	eventually(t, "the run ends", func() bool {
		desc, err := s.temporal().DescribeWorkflowExecution(s.ctx(), wfID, "")
		require.NoError(t, err)
		run = desc.GetWorkflowExecutionInfo()
		return run.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
	h := s.runHistory(processID, run.GetExecution().GetRunId())
	require.NoError(t, replayHistory(newReplayer(), h), "replay %s", name)
	recordHistories(t, map[string]*historypb.History{name: h})
	return run.GetExecution().GetRunId(), h
}

// resetPoint is the workflow task a reset goes back to, as the Web UI
// offers them.
type resetPoint string

const (
	firstTask resetPoint = "first workflow task"
	lastTask  resetPoint = "last workflow task"
)

// resetWorkflow resets the current run of process processID's workflow to
// the end of its first or last completed workflow task, as the Web UI's
// Reset does.
func resetWorkflow(s *system, processID string, to resetPoint) error {
	wfID := s.eng.WorkflowID(processID)
	it := s.temporal().GetWorkflowHistory(s.ctx(), wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var point int64
	for (point == 0 || to == lastTask) && it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return err
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			point = ev.GetEventId()
		}
	}
	if point == 0 {
		return fmt.Errorf("workflow %s has no completed workflow task", wfID)
	}
	_, err := s.temporal().WorkflowService().ResetWorkflowExecution(s.ctx(), &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:                 s.env.Temporal.Namespace,
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: wfID},
		Reason:                    "test reset",
		WorkflowTaskFinishEventId: point,
		RequestId:                 fmt.Sprintf("reset-%s-%d", processID, time.Now().UnixNano()),
	})
	return err
}

// requireNothingFor fails the test with msg and the value if ch yields one
// within d.
func requireNothingFor[T any](t *testing.T, ch <-chan T, d time.Duration, msg string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s: %+v", msg, v)
	case <-time.After(d):
	}
}

// receiveWithin returns what ch yields within patience, or fails the test
// with msg.
func receiveWithin[T any](t *testing.T, ch <-chan T, msg string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(patience):
		t.Fatal(msg)
	}
	panic("unreachable")
}

// requireEnd waits for process id to end, and requires that it ended in
// state want.
func (s *system) requireEnd(id string, want adapter.State) *adapter.Process {
	s.t.Helper()
	p := s.waitState(id, adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
	require.Equal(s.t, want, p.Status.State, "process %s: %v", id, logLines(p))
	return p
}

// TestResetOfAChildrenWorkflow: an operator resets a running parent's
// children workflow ("{ID}#children", beside the parent's in the Web UI) to
// its first or its last workflow task. The server puts the body's request
// for the running child into the new run, which finds the child it had
// started: the child runs on, once, the parent ends done after it, and the
// parent's log says "Spawned child: C" once, not again for the new run.
func TestResetOfAChildrenWorkflow(t *testing.T) {
	for _, to := range []resetPoint{firstTask, lastTask} {
		t.Run(string(to), func(t *testing.T) {
			g := newGate(t)
			defer g.open()
			s, errs := parentOfOneChild(t, g.cooperative)
			g.waitStarted(t)
			require.NoError(t, resetWorkflow(s, parentHelper, to))
			// Give the new run the time to take the request up again.
			time.Sleep(2 * time.Second)
			g.open()
			require.NoError(t, receiveWithin(t, errs, "RunChild did not return after the child ended"))
			s.requireEnd("parent/c", adapter.StateDone)
			p := s.requireEnd("parent", adapter.StateDone)
			require.EqualValues(t, 1, g.runs.Load(), "child body runs")
			spawned := 0
			for _, e := range p.Log {
				if e.Message == "Spawned child: C" {
					spawned++
				}
			}
			require.Equal(t, 1, spawned, "the parent's log:\n%s", formatLog(p))
		})
	}
}
