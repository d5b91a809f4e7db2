package tests

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// TestGetProcessByProcessIDOrObjectID: get_process returns the full document
// by processId or by its _id in hex, and not-found for anything else.
func TestGetProcessByProcessIDOrObjectID(t *testing.T) {
	s := newSystem(t, adapter.Config{
		TaskDefinitions: staticTasks(adapter.TaskInstance{ProcessID: "report", Name: "Report", Execute: quick, Params: map[string]any{"source": "s3"}}),
	})
	byPID := s.get("report")
	byOID := s.get(byPID.ID.Hex())
	require.Equal(t, *byPID, *byOID)
	require.Equal(t, "Report", byPID.Name)
	require.Equal(t, map[string]any{"source": "s3"}, byPID.Params)

	_, err := s.eng.GetProcess(s.ctx(), "missing")
	require.ErrorIs(t, err, adapter.ReasonNotFound)
	_, err = s.eng.GetProcess(s.ctx(), "0123456789abcdef01234567")
	require.ErrorIs(t, err, adapter.ReasonNotFound, "an unknown _id is not found either")
}

// TestListProcessesFiltersAndOrder is the seed's Querying section:
// list_processes with no filter, by state, by root_id, by metadata (every
// entry must match: AND) and combined, always sorted by depth, order, _id.
func TestListProcessesFiltersAndOrder(t *testing.T) {
	task := func(id string, md map[string]any) adapter.TaskInstance {
		return adapter.TaskInstance{ProcessID: id, Name: id, Execute: quick, Metadata: md}
	}
	s := newSystem(t, adapter.Config{
		TaskDefinitions: staticTasks(
			task("c1-import", map[string]any{"customer": "1", "kind": "import"}),
			task("c2-import", map[string]any{"customer": "2", "kind": "import"}),
			task("c2-export", map[string]any{"customer": "2", "kind": "export"}),
		),
	})
	ctx := s.ctx()
	s.run("c2-import")

	// A tree under c2-export: two children, one grandchild.
	root := s.get("c2-export")
	kid := func(id, parent string, md map[string]any) *adapter.Process {
		p, err := s.eng.AdhocDefine(ctx, task(id, md), adapter.AdhocOptions{Parent: parent})
		require.NoError(t, err)
		return p
	}
	k2 := kid("c2-export/b", "c2-export", map[string]any{"customer": "2", "kind": "part"})
	k1 := kid("c2-export/a", "c2-export", map[string]any{"customer": "2", "kind": "part"})
	gk := kid("c2-export/a/x", "c2-export/a", map[string]any{"customer": "2", "kind": "part"})
	require.Equal(t, root.ID, k1.RootID)
	require.Equal(t, root.ID, gk.RootID)
	require.Equal(t, 2, gk.Depth)

	ids := func(ps []adapter.Process) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.ProcessID
		}
		return out
	}
	// Roots (depth 0, order 0) by _id, i.e. creation order; then the
	// children (depth 1, order 0) by _id; then the grandchild.
	all := []string{"c1-import", "c2-import", "c2-export", "c2-export/b", "c2-export/a", "c2-export/a/x"}

	for _, tc := range []struct {
		name string
		opts adapter.ListOptions
		want []string
	}{
		{"everything", adapter.ListOptions{}, all},
		{"state done", adapter.ListOptions{State: adapter.StateDone}, []string{"c2-import"}},
		{"state idle", adapter.ListOptions{State: adapter.StateIdle}, []string{"c1-import", "c2-export", "c2-export/b", "c2-export/a", "c2-export/a/x"}},
		{"state running", adapter.ListOptions{State: adapter.StateRunning}, []string{}},
		{"root id", adapter.ListOptions{RootID: root.ID.Hex()}, []string{"c2-export", "c2-export/b", "c2-export/a", "c2-export/a/x"}},
		{"root id of a leaf root", adapter.ListOptions{RootID: s.get("c1-import").ID.Hex()}, []string{"c1-import"}},
		{"one metadata key", adapter.ListOptions{Metadata: map[string]any{"customer": "2"}}, []string{"c2-import", "c2-export", "c2-export/b", "c2-export/a", "c2-export/a/x"}},
		{"metadata AND", adapter.ListOptions{Metadata: map[string]any{"customer": "2", "kind": "import"}}, []string{"c2-import"}},
		{"metadata AND matching nothing", adapter.ListOptions{Metadata: map[string]any{"customer": "1", "kind": "export"}}, []string{}},
		{"root id and metadata", adapter.ListOptions{RootID: root.ID.Hex(), Metadata: map[string]any{"kind": "part"}}, []string{"c2-export/b", "c2-export/a", "c2-export/a/x"}},
		{"state and metadata", adapter.ListOptions{State: adapter.StateIdle, Metadata: map[string]any{"customer": "2", "kind": "import"}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.eng.ListProcesses(ctx, tc.opts)
			require.NoError(t, err)
			require.Equal(t, tc.want, ids(got))
		})
	}

	got, err := s.eng.ListProcesses(ctx, adapter.ListOptions{})
	require.NoError(t, err)
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		sorted := a.Depth < b.Depth || (a.Depth == b.Depth && (a.Order < b.Order || (a.Order == b.Order && a.ID.Hex() < b.ID.Hex())))
		require.True(t, sorted, "%s before %s is not sorted by depth, order, _id", a.ProcessID, b.ProcessID)
	}
	require.Less(t, k2.ID.Hex(), k1.ID.Hex(), "siblings sort by _id, not by processId")
}

// TestListProcessesRejectsBadFilters: a root_id that is not an ObjectId and
// an unknown state are caller errors, not empty results.
func TestListProcessesRejectsBadFilters(t *testing.T) {
	s := newSystem(t, adapter.Config{})
	for _, opts := range []adapter.ListOptions{
		{RootID: "not-an-object-id"},
		{RootID: "0123"},
		{State: "finished"},
		{State: "DONE"},
	} {
		_, err := s.eng.ListProcesses(s.ctx(), opts)
		require.Error(t, err, "%+v", opts)
		require.True(t, errors.Is(err, adapter.ErrInvalidInput), "%+v: %v", opts, err)
	}
}
