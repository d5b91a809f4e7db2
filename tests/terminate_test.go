package tests

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// TestTerminatedWorkflowNeverLeavesTheProcessActive: a workflow terminated
// from the Temporal side (the Web UI's "Terminate") cannot write its
// process's end state; the reconciler finds the document active with its
// workflow closed and fails it, saying why, whether the process was
// scheduled, running or cancelling. The failed process can be launched again.
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
				ReconcileInterval: 200 * time.Millisecond,
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

			p := s.waitState("job", adapter.StateFailed)
			require.Equal(t, "Process workflow was terminated on the Temporal side while "+string(tc.state), *p.Status.Error)
			require.NotNil(t, p.Status.FailedAt)
			require.GreaterOrEqual(t, findLog(p, "event", "State reconciled: "+string(tc.state)+" -> failed (workflow was terminated on the Temporal side)"), 0,
				"log:\n%s", formatLog(p))

			g.open()
			if tc.clientOnly {
				s.startEngine(adapter.Config{TaskDefinitions: tasks})
			}
			s.run("job")
		})
	}
}
