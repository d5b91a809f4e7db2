package tests

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/workflowdef"
	"github.com/optio-temporal/optio/workflows"
)

// waitEnded polls a process closely until it shows an end state, so that
// the test acts while its workflow run may still be closing.
func (s *system) waitEnded(id string) *adapter.Process {
	s.t.Helper()
	deadline := time.Now().Add(patience)
	for {
		p := s.get(id)
		if p.Status.State.End() {
			return p
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("process %q still %s after %s", id, p.Status.State, patience)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRelaunchRightAfterTheEnd: a process can be launched again the moment
// its document shows an end state, although its previous workflow run may
// still be closing: each launch runs the body once more. (A launch that
// attached to the closing run instead of starting a new one would leave the
// process scheduled until the reconciler failed it.)
func TestRelaunchRightAfterTheEnd(t *testing.T) {
	var runs atomic.Int32
	body := func(ctx *adapter.ProcessContext) error {
		runs.Add(1)
		if ctx.Params()["wait"] == true {
			<-ctx.Context().Done()
		}
		return nil
	}
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "done", Name: "Done", Execute: body},
		adapter.TaskInstance{ProcessID: "cancelled", Name: "Cancelled", Execute: body, Params: map[string]any{"wait": true}},
	)})
	const n = 10
	for i := range n {
		s.launch("done")
		p := s.waitEnded("done")
		require.Equal(t, adapter.StateDone, p.Status.State, "launch %d; log:\n%s", i+1, formatLog(p))
	}
	for i := range n {
		s.launch("cancelled")
		s.waitState("cancelled", adapter.StateRunning, adapter.StateFailed)
		out, err := s.eng.Cancel(s.ctx(), "cancelled")
		require.NoError(t, err)
		require.True(t, out.OK, "cancel %d: %s", i+1, out.Reason)
		p := s.waitEnded("cancelled")
		require.Equal(t, adapter.StateCancelled, p.Status.State, "launch %d; log:\n%s", i+1, formatLog(p))
	}
	require.EqualValues(t, 2*n, runs.Load())
}

// TestLaunchReplacesAStaleWorkflowRun: when a process's workflow ID still
// has an open run that the mirror does not show as running (a run stuck
// closing, or left over), a launch does not attach to it: it waits briefly,
// terminates it and starts a run of its own, which runs the body.
func TestLaunchReplacesAStaleWorkflowRun(t *testing.T) {
	var runs atomic.Int32
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(adapter.TaskInstance{ProcessID: "p", Name: "P", Execute: func(*adapter.ProcessContext) error {
		runs.Add(1)
		return nil
	}})})
	stale, err := s.temporal().ExecuteWorkflow(s.ctx(), client.StartWorkflowOptions{
		ID: s.eng.WorkflowID("p"), TaskQueue: "nobody-polls-this-queue",
	}, workflows.ProcessName, workflowdef.ProcessInput{ProcessID: "p"})
	require.NoError(t, err)

	s.launch("p")
	p := s.waitState("p", adapter.StateDone, adapter.StateFailed)
	require.Equal(t, adapter.StateDone, p.Status.State, "log:\n%s", formatLog(p))
	require.EqualValues(t, 1, runs.Load())
	desc, err := s.temporal().DescribeWorkflowExecution(s.ctx(), stale.GetID(), stale.GetRunID())
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, desc.GetWorkflowExecutionInfo().GetStatus())
}
