package docstore

import (
	"fmt"
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
	written, err := s.UpsertDefinitions(ctx, defs)
	require.NoError(t, err)
	require.Len(t, written, len(defs))
	cmds := log.take()
	require.Equal(t, 1, count(cmds, "find optio_processes"), "one lookup: %v", cmds)
	require.Equal(t, len(defs), count(cmds, "insert optio_processes"))

	// Again, renamed: every document is updated in place, by _id.
	for i := range defs {
		defs[i].Name += " (renamed)"
	}
	again, err := s.UpsertDefinitions(ctx, defs)
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
	written, err := s.UpsertDefinitions(ctx, []Definition{{ProcessID: "fine", Name: "Fine"}, {ProcessID: "taken", Name: "Taken"}, {ProcessID: "after", Name: "After"}})
	require.ErrorIs(t, err, mirror.ErrDuplicateProcessID)
	require.Len(t, written, 1)
	require.Equal(t, "fine", written[0].ProcessID)
}

func count(cmds []string, want string) int {
	return len(slices.DeleteFunc(slices.Clone(cmds), func(c string) bool { return c != want }))
}
