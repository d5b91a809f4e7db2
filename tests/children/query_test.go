package children

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/workflows"
)

// The process workflow answers QueryState with the process's state, and
// Engine.RunState adds the progress the body last reported (from its
// heartbeat, never from a history event), for a parent and for a child
// alike.
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
		return h.eng.RunState(h.ctx, id)
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
	// The query itself answers without progress: no signal carried it.
	res, err := h.env.Temporal.Client.QueryWorkflow(h.ctx, h.eng.WorkflowID("q"), "", workflows.QueryState)
	require.NoError(t, err)
	var raw workflows.StateView
	require.NoError(t, res.Get(&raw))
	assert.Nil(t, raw.Progress.Message)
}
