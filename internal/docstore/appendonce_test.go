package docstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/mirror"
)

// TestAppendLogOnce: entries stamped by an earlier call are appended in
// order, and a second call with the same entries (a retry of a write that
// landed) adds nothing; an entry with the same message and another
// timestamp is a new entry, and so is one stamped in the same millisecond
// as an entry written otherwise (a progress message).
func TestAppendLogOnce(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	p, err := s.UpsertDefinition(ctx, Definition{ProcessID: "parent", Name: "Parent"})
	require.NoError(t, err)
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	a := mirror.NewLogEntry(at, mirror.LevelEvent, "Spawned child: A")
	b := mirror.NewLogEntry(at, mirror.LevelEvent, "Spawned child: B")
	aLater := mirror.NewLogEntry(at.Add(time.Millisecond), mirror.LevelEvent, "Spawned child: A")
	progress := mirror.NewLogEntry(at.Add(2*time.Millisecond), mirror.LevelInfo, "halfway")
	c := mirror.NewLogEntry(at.Add(2*time.Millisecond), mirror.LevelEvent, "Spawned child: C")

	messages := func() []string {
		t.Helper()
		doc, err := s.Get(ctx, p.ID)
		require.NoError(t, err)
		var out []string
		for _, e := range doc.Log {
			out = append(out, e.Timestamp+" "+e.Message)
		}
		return out
	}
	before := len(messages())

	require.NoError(t, s.AppendLogOnce(ctx, p.ID, a, b))
	require.NoError(t, s.AppendLogOnce(ctx, p.ID, a, b), "a retry")
	require.NoError(t, s.AppendLogOnce(ctx, p.ID, aLater))
	require.NoError(t, s.AppendLogOnce(ctx, p.ID, aLater), "a retry")
	require.NoError(t, s.AppendLog(ctx, p.ID, progress))
	require.NoError(t, s.AppendLogOnce(ctx, p.ID, c))
	require.NoError(t, s.AppendLogOnce(ctx, p.ID, c), "a retry")
	require.Equal(t, []string{
		a.Timestamp + " Spawned child: A",
		b.Timestamp + " Spawned child: B",
		aLater.Timestamp + " Spawned child: A",
		progress.Timestamp + " halfway",
		c.Timestamp + " Spawned child: C",
	}, messages()[before:])

	require.NoError(t, s.AppendLogOnce(ctx, bson.NewObjectID(), a), "a process deleted meanwhile")
}
