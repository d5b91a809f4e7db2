package docstore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/mirror"
)

// newTestStore is a store, its indexes made, on a fresh database of the
// test's server, with a client of its own that is closed on cleanup.
func newTestStore(tb testing.TB) *Store {
	tb.Helper()
	m := testenv.NewMongo(tb)
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	s := NewStore(c.Database(m.Name), "optio")
	require.NoError(tb, s.EnsureIndexes(tb.Context()))
	return s
}

// TestLogBounds: a log stays within LogLimit entries and LogBytes bytes,
// cut to about nine tenths of the bound that it passed and keeping the
// newest entries, and a state change returns the log as stored. On
// FerretDB (here) the store counts and cuts with $set under the document's
// lock, since FerretDB ignores $push's $slice (seen: it appended past it
// without an error); on MongoDB (OPTIO_TEST_MONGO_URL) the server applies
// the count as it appends and the store cuts with an empty $push and
// $slice.
func TestLogBounds(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	for _, c := range []struct {
		name          string
		limit, bytes  int
		text          func(i int) string
		minN, minSize int
	}{
		{"count", 40, -1, func(i int) string { return fmt.Sprintf("message %03d", i) }, 36, 0},
		{"bytes", 1000, 4 << 10, func(i int) string { return fmt.Sprintf("message %03d %s", i, strings.Repeat("x", 200)) }, 0, 4 << 10 / 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.SetLogLimit(c.limit)
			s.SetLogBytes(c.bytes)
			id := "chatty-" + c.name
			_, err := s.UpsertDefinition(ctx, Definition{ProcessID: id, Name: "Chatty", Cancellable: true})
			require.NoError(t, err)
			p, err := s.ResolveAndClaim(ctx, id, nil, func(*mirror.Process) error { return nil })
			require.NoError(t, err)
			started, err := s.StartClaimed(ctx, p.ID, ClaimStamp(p))
			require.NoError(t, err)

			const n = 100
			for i := range n {
				require.NoError(t, s.AppendLog(ctx, p.ID, mirror.NewLogEntry(s.Now(), mirror.LevelInfo, c.text(i))))
			}
			got, err := s.Get(ctx, p.ID)
			require.NoError(t, err)
			size := 0
			for _, e := range got.Log {
				size += entryBytes(e)
			}
			require.LessOrEqual(t, len(got.Log), c.limit)
			require.GreaterOrEqual(t, len(got.Log), c.minN, "cut to about nine tenths, not emptied")
			if c.bytes > 0 {
				require.LessOrEqual(t, size, c.bytes, "within the byte bound")
				require.Greater(t, size, c.minSize, "cut to about nine tenths, not emptied")
			}
			require.Equal(t, c.text(n-1), got.Log[len(got.Log)-1].Message, "the newest entry is kept")
			require.NotEqual(t, MsgScheduled, got.Log[0].Message, "the oldest are dropped")

			done, err := s.Complete(ctx, p.ID, *started.Status.RunningSince)
			require.NoError(t, err)
			require.Equal(t, mirror.Done, done.Status.State)
			require.Equal(t, MsgDone, done.Log[len(done.Log)-1].Message)
			require.LessOrEqual(t, len(done.Log), c.limit)
			stored, err := s.Get(ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, done.Log, stored.Log, "what the state change returned is what is stored")
		})
	}
}
