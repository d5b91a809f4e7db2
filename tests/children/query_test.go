package children

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/workflows"
)

// The process workflow answers QueryState with the process's state and the
// progress its body last signalled, for a parent and for a child alike: what
// an operator sees from the Temporal Web UI's query tab.
func TestQueryStateReportsStateAndProgress(t *testing.T) {
	g := newGates()
	parent := adapter.TaskInstance{ProcessID: "q", Name: "Q", Execute: func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(40, "parent at forty")
		_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "q/child", Name: "Child", Execute: func(c *adapter.ProcessContext) error {
			c.ReportProgress(70, "child at seventy")
			g.wait(c, "child")
			return nil
		}})
		return err
	}}
	h := newHarness(t, parent)
	h.launch("q")
	query := func(id string) (workflows.StateView, error) {
		var v workflows.StateView
		res, err := h.env.Temporal.Client.QueryWorkflow(h.ctx, h.eng.WorkflowID(id), "", workflows.QueryState)
		if err != nil {
			return v, err
		}
		return v, res.Get(&v)
	}
	for id, want := range map[string]string{"q": "parent at forty", "q/child": "child at seventy"} {
		require.Eventually(t, func() bool {
			v, err := query(id)
			return err == nil && v.Progress.Message != nil && *v.Progress.Message == want
		}, 30*time.Second, 100*time.Millisecond, "query of %s never showed %q", id, want)
		v, err := query(id)
		require.NoError(t, err)
		assert.Equal(t, adapter.StateRunning, v.State)
		assert.Equal(t, id, v.ProcessID)
		assert.Equal(t, 1, v.BodyRuns)
	}
	g.open("child")
	h.waitState("q", adapter.StateDone)
	v, err := query("q")
	require.NoError(t, err)
	assert.Equal(t, adapter.StateDone, v.State)
}
