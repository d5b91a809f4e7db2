package docstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/internal/testenv"
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

// TestAppendLogOnceBesideASameMillisecondEntry: a batch of inserts stamps
// its children's entries in one millisecond, and the next write of them
// starts with an entry of the same timestamp as the last one written. It
// costs one update, with no read of the log to tell it from a retry; a
// retry of it costs the update and the read, and adds nothing.
func TestAppendLogOnceBesideASameMillisecondEntry(t *testing.T) {
	m := testenv.NewMongo(t)
	log := &commandLog{}
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI).SetMonitor(&event.CommandMonitor{Started: log.started}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	s := NewStore(c.Database(m.Name), "optio")
	ctx := t.Context()
	require.NoError(t, s.EnsureIndexes(ctx))
	p, err := s.UpsertDefinition(ctx, Definition{ProcessID: "parent", Name: "Parent"})
	require.NoError(t, err)
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	first := []mirror.LogEntry{
		mirror.NewLogEntry(at, mirror.LevelEvent, "Spawned child: 1"),
		mirror.NewLogEntry(at, mirror.LevelEvent, "Spawned child: 2"),
	}
	next := []mirror.LogEntry{
		mirror.NewLogEntry(at, mirror.LevelEvent, "Spawned child: 3"),
		mirror.NewLogEntry(at, mirror.LevelEvent, "Spawned child: 4"),
	}
	require.NoError(t, s.AppendLogOnce(ctx, p.ID, first...))
	log.take()

	require.NoError(t, s.AppendLogOnce(ctx, p.ID, next...))
	require.Equal(t, []string{"update optio_processes"}, log.take(), "the next entries of the same millisecond")
	require.NoError(t, s.AppendLogOnce(ctx, p.ID, next...))
	require.Equal(t, []string{"update optio_processes", "find optio_processes"}, log.take(), "a retry")

	doc, err := s.Get(ctx, p.ID)
	require.NoError(t, err)
	var spawned []string
	for _, e := range doc.Log {
		if strings.HasPrefix(e.Message, "Spawned child: ") {
			spawned = append(spawned, e.Message)
		}
	}
	require.Equal(t, []string{"Spawned child: 1", "Spawned child: 2", "Spawned child: 3", "Spawned child: 4"}, spawned)
}
