package tests

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/optio-temporal/optio/adapter"
)

// TestLaunchAndWaitEndsWhenTheRunIsDeleted: an operator deletes a process's
// running workflow (`temporal workflow delete`). The run leaves no closed
// record in the visibility store, so the engine's close watch never sees it
// close; it describes a run waited for that long, finds it gone, and
// LaunchAndWait returns the document failed as the reconciler (off here)
// would fail it, instead of waiting out its context.
func TestLaunchAndWaitEndsWhenTheRunIsDeleted(t *testing.T) {
	g := newGate(t)
	s := newSystem(t, adapter.Config{
		TaskDefinitions:   staticTasks(adapter.TaskInstance{ProcessID: "job", Name: "Job", Execute: g.stubborn}),
		ReconcileInterval: -1,
		// The wait falls back on Temporal after 10 x 50 ms, and the watch
		// describes a run waited for 30 x 50 ms.
		ChildPollDelay: 50 * time.Millisecond,
	})
	defer g.open()
	go func() {
		g.waitStarted(t)
		// Past the 10 x ChildPollDelay after which the wait falls back on
		// Temporal.
		time.Sleep(time.Second)
		if err := deleteWorkflow(s, "job"); err != nil {
			t.Errorf("delete the workflow: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(s.ctx(), time.Minute)
	defer cancel()
	start := time.Now()
	p, err := s.eng.LaunchAndWait(ctx, "job")
	t.Logf("LaunchAndWait returned after %s: err %v", time.Since(start).Round(time.Millisecond), err)
	require.NoError(t, ctx.Err(), "LaunchAndWait waited out its context")
	require.NoError(t, err)
	require.Equal(t, adapter.StateFailed, p.Status.State)
	require.Equal(t, "Process has no workflow run while running", *p.Status.Error)
	require.Equal(t, adapter.StateFailed, s.get("job").Status.State)
}

// TestParentLearnsOfADeletedChild: a child's running workflow is deleted.
// The parent's body, waiting in RunChild, learns of it (the close watch
// describes the run it has waited for long enough and finds it gone), and
// the child counts as failed instead of being waited for forever. The
// parent fails with it, once the reconciler has failed the child's
// document (a parent's run ends after its children's documents do).
func TestParentLearnsOfADeletedChild(t *testing.T) {
	g := newGate(t)
	defer g.open()
	s, errs := parentOfOneChild(t, g.stubborn)
	time.Sleep(time.Second)
	require.NoError(t, deleteWorkflow(s, "parent/c"))
	err := receiveWithin(t, errs, "the parent still waits for its deleted child")
	require.Error(t, err, "RunChild of a deleted child succeeded")
	t.Logf("RunChild: %v", err)
	s.waitState("parent/c", adapter.StateFailed)
	s.waitState("parent", adapter.StateFailed)
}

// deleteWorkflow deletes the workflow of process processID, running or
// not, as `temporal workflow delete` does.
func deleteWorkflow(s *system, processID string) error {
	_, err := s.temporal().WorkflowService().DeleteWorkflowExecution(s.ctx(), &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace:         s.env.Temporal.Namespace,
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: s.eng.WorkflowID(processID)},
	})
	return err
}

// parentOfOneChild launches process "parent", whose body runs one child,
// "parent/c", with the body child, and returns once the child runs; the
// channel gets RunChild's error, from each run of the parent's body. See
// launchParent for the engine's settings.
func parentOfOneChild(t *testing.T, child adapter.TaskFunc) (*system, <-chan error) {
	errs := make(chan error, 4)
	parent := func(pc *adapter.ProcessContext) error {
		_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "parent/c", Name: "C", Execute: child})
		errs <- err
		return err
	}
	s := launchParent(t, parent)
	s.waitState("parent/c", adapter.StateRunning)
	return s, errs
}

// launchParent launches process "parent" with the body parent, the
// reconciler running every 200 ms, and a wait falling back on Temporal
// after 10 x 50 ms.
func launchParent(t *testing.T, parent adapter.TaskFunc) *system {
	s := newSystem(t, adapter.Config{
		TaskDefinitions:   staticTasks(adapter.TaskInstance{ProcessID: "parent", Name: "Parent", Execute: parent}),
		ReconcileInterval: 200 * time.Millisecond,
		ChildPollDelay:    50 * time.Millisecond,
	})
	s.launch("parent")
	return s
}
