package docstore

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/mirror"
)

// A sync of many definitions looks their processIds up with one read, then
// writes each by _id: on FerretDB a lookup by processId reads the whole
// collection, so one per definition made a sync cost O(tasks x documents).
func TestUpsertDefinitionsLooksUpOnce(t *testing.T) {
	open := leaseStores(t)
	log := &commandLog{}
	s := open(log)
	ctx := t.Context()
	defs := make([]Definition, 40)
	for i := range defs {
		defs[i] = Definition{ProcessID: fmt.Sprintf("task-%02d", i), Name: fmt.Sprintf("Task %d", i), Metadata: map[string]any{"n": i}}
	}
	log.take()
	written, err := s.UpsertDefinitions(ctx, defs, nil)
	require.NoError(t, err)
	require.Len(t, written, len(defs))
	cmds := log.take()
	require.Equal(t, 1, count(cmds, "find optio_processes"), "one lookup: %v", cmds)
	require.Equal(t, len(defs), count(cmds, "insert optio_processes"))

	// Again, renamed: every document is updated in place, by _id.
	for i := range defs {
		defs[i].Name += " (renamed)"
	}
	again, err := s.UpsertDefinitions(ctx, defs, nil)
	require.NoError(t, err)
	cmds = log.take()
	require.Equal(t, 1, count(cmds, "find optio_processes"), "one lookup: %v", cmds)
	require.Equal(t, len(defs), count(cmds, "findAndModify optio_processes"))
	for i, p := range again {
		require.Equal(t, written[i].ID, p.ID, "the same document")
		require.Equal(t, defs[i].Name, p.Name)
		require.Equal(t, mirror.Idle, p.Status.State)
	}
}

// A processId held by a child is refused as UpsertDefinition refuses it,
// and the definitions before it are written.
func TestUpsertDefinitionsRefusesAChildsProcessID(t *testing.T) {
	open := leaseStores(t)
	s := open(nil)
	ctx := t.Context()
	parent, err := s.UpsertDefinition(ctx, Definition{ProcessID: "parent", Name: "Parent"})
	require.NoError(t, err)
	_, err = s.InsertChild(ctx, parent, Child{ProcessID: "taken", Name: "Child", State: mirror.Idle})
	require.NoError(t, err)
	written, err := s.UpsertDefinitions(ctx, []Definition{{ProcessID: "fine", Name: "Fine"}, {ProcessID: "taken", Name: "Taken"}, {ProcessID: "after", Name: "After"}}, nil)
	require.ErrorIs(t, err, mirror.ErrDuplicateProcessID)
	require.Len(t, written, 1)
	require.Equal(t, "fine", written[0].ProcessID)
}

func count(cmds []string, want string) int {
	return len(slices.DeleteFunc(slices.Clone(cmds), func(c string) bool { return c != want }))
}

// A sync reads, before it writes, which of its processIds are roots and
// which children hold, and every task root in its scope: one find without
// a metadata filter (on FerretDB each find reads the whole collection), two
// with one, whose matching stays the server's.
func TestReadForSyncReadsOnce(t *testing.T) {
	open := leaseStores(t)
	log := &commandLog{}
	s := open(log)
	ctx := t.Context()
	kept, err := s.UpsertDefinition(ctx, Definition{ProcessID: "kept", Name: "Kept", Metadata: map[string]any{"team": "a"}})
	require.NoError(t, err)
	removed, err := s.UpsertDefinition(ctx, Definition{ProcessID: "removed", Name: "Removed", Metadata: map[string]any{"team": "b"}})
	require.NoError(t, err)
	_, err = s.InsertChild(ctx, kept, Child{ProcessID: "held", Name: "Child", State: mirror.Idle})
	require.NoError(t, err)
	adhoc, err := s.UpsertDefinition(ctx, Definition{ProcessID: "adhoc", Name: "Ad hoc"})
	require.NoError(t, err)
	_, err = s.SetAdhoc(ctx, adhoc.ID, false)
	require.NoError(t, err)

	log.take()
	read, err := s.ReadForSync(ctx, []string{"kept", "held", "new"}, nil)
	require.NoError(t, err)
	require.Equal(t, 1, count(log.take(), "find optio_processes"))
	require.Equal(t, []string{"kept"}, slices.Sorted(maps.Keys(read.Roots)))
	require.Equal(t, kept.ID, read.Roots["kept"].ID)
	require.Equal(t, []string{"held"}, read.Held)
	require.ElementsMatch(t, []string{"kept", "removed"}, processIDs(read.TaskRoots), "roots, neither children nor ad hoc")
	for _, p := range read.TaskRoots {
		require.Equal(t, mirror.Idle, p.Status.State)
	}

	read, err = s.ReadForSync(ctx, []string{"removed"}, map[string]any{"team": "a"})
	require.NoError(t, err)
	require.Equal(t, 2, count(log.take(), "find optio_processes"))
	require.Equal(t, removed.ID, read.Roots["removed"].ID, "asked for, in scope or not")
	require.Empty(t, read.Held)
	require.Equal(t, []string{"kept"}, processIDs(read.TaskRoots), "only the filter's")

	read, err = s.ReadForSync(ctx, nil, nil)
	require.NoError(t, err)
	require.Empty(t, read.Roots)
	require.ElementsMatch(t, []string{"kept", "removed"}, processIDs(read.TaskRoots))
}

func processIDs(ps []mirror.Process) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ProcessID
	}
	return out
}
