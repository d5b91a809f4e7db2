package children

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// A relaunch and a dismissal delete the previous run's descendants, nested
// ones and ad-hoc children included, so the new run can reuse the child
// process IDs and readers see only the new tree.
func TestRelaunchAndDismissDeleteThePreviousRunsChildren(t *testing.T) {
	grandchild := func(pc *adapter.ProcessContext) error { return nil }
	child := func(pc *adapter.ProcessContext) error {
		_, err := pc.RunChild(adapter.ChildSpec{Execute: grandchild, ProcessID: "tree/child/grandchild", Name: "Grandchild"})
		return err
	}
	h := newHarness(t, adapter.TaskInstance{ProcessID: "tree", Name: "Tree",
		Execute: func(pc *adapter.ProcessContext) error {
			_, err := pc.RunChild(adapter.ChildSpec{Execute: child, ProcessID: "tree/child", Name: "Child"})
			return err
		}},
		adapter.TaskInstance{ProcessID: "lonely", Name: "No children", Execute: func(*adapter.ProcessContext) error { return nil }})
	ids := func() []string {
		all, err := h.eng.ListProcesses(h.ctx, adapter.ListOptions{})
		require.NoError(t, err)
		var out []string
		for _, p := range all {
			out = append(out, p.ProcessID)
		}
		return out
	}

	first, err := h.eng.LaunchAndWait(h.ctx, "tree")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, first.Status.State, "error: %v", first.Status.Error)
	require.ElementsMatch(t, []string{"tree", "lonely", "tree/child", "tree/child/grandchild"}, ids())
	oldChild := h.get("tree/child")

	// An ad-hoc child defined under the finished parent goes with the rest.
	_, err = h.eng.AdhocDefine(h.ctx, adapter.TaskInstance{ProcessID: "tree/adhoc", Name: "Ad hoc",
		Execute: func(*adapter.ProcessContext) error { return nil }}, adapter.AdhocOptions{Parent: "tree"})
	require.NoError(t, err)
	// So does one under a process that never ran children of its own.
	_, err = h.eng.AdhocDefine(h.ctx, adapter.TaskInstance{ProcessID: "lonely/adhoc", Name: "Ad hoc",
		Execute: func(*adapter.ProcessContext) error { return nil }}, adapter.AdhocOptions{Parent: "lonely"})
	require.NoError(t, err)

	second, err := h.eng.LaunchAndWait(h.ctx, "tree")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, second.Status.State, "error: %v", second.Status.Error)
	require.ElementsMatch(t, []string{"tree", "lonely", "lonely/adhoc", "tree/child", "tree/child/grandchild"}, ids())
	require.NotEqual(t, oldChild.ID, h.get("tree/child").ID, "the child is the new run's")

	p, err := h.eng.LaunchAndWait(h.ctx, "lonely")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, p.Status.State)
	require.ElementsMatch(t, []string{"tree", "lonely", "tree/child", "tree/child/grandchild"}, ids())

	out, err := h.eng.Dismiss(h.ctx, "tree")
	require.NoError(t, err)
	require.True(t, out.OK, "dismiss: %s", out.Reason)
	require.ElementsMatch(t, []string{"tree", "lonely"}, ids())
}
