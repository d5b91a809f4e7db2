package docstore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/mirror"
)

// entryBytes is what an entry adds to a document's BSON, within a few bytes
// for its array index, and rawEntryBytes agrees with it on the entry read
// back.
func TestEntryBytesIsAnEntrysSizeInTheLog(t *testing.T) {
	entries := []mirror.LogEntry{
		{Timestamp: "2026-12-06T03:40:00.123456+00:00", Level: mirror.LevelEvent, Message: "State changed to running"},
		{Timestamp: "2026-12-06T03:40:00.123456+00:00", Level: mirror.LevelInfo, Message: strings.Repeat("é", 5000)},
		{Timestamp: "2026-12-06T03:40:00.123456+00:00", Level: mirror.LevelInfo, Message: "m", Data: map[string]any{"rows": int32(3)}},
	}
	for _, e := range entries {
		without, err := bson.Marshal(bson.D{{Key: "log", Value: []mirror.LogEntry{}}})
		require.NoError(t, err)
		with, err := bson.Marshal(bson.D{{Key: "log", Value: []mirror.LogEntry{e}}})
		require.NoError(t, err)
		got := entryBytes(e)
		require.InDelta(t, len(with)-len(without), got, 6, "entry %q", e.Message[:1])

		var back struct {
			Log []bson.Raw `bson:"log"`
		}
		require.NoError(t, bson.Unmarshal(with, &back))
		require.InDelta(t, got, rawEntryBytes(back.Log[0]), 6)
	}
}

// keep keeps the newest entries within nine tenths of each bound, and at
// least the newest one.
func TestKeepCutsToNineTenthsOfEachBound(t *testing.T) {
	sizes := func(b ...int) func(int) int { return func(i int) int { return b[i] } }
	for _, c := range []struct {
		name            string
		limit, maxBytes int
		sizes           []int
		want            logSize
	}{
		{"count", 10, 0, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, logSize{9, 9}},
		{"bytes", 0, 100, []int{50, 40, 30, 20, 10}, logSize{3, 60}},
		{"both, bytes first", 10, 100, []int{30, 30, 30, 30, 30}, logSize{3, 90}},
		{"both, count first", 4, 1000, []int{1, 1, 1, 1, 1}, logSize{3, 3}},
		{"one entry past the bound", 0, 100, []int{10, 500}, logSize{1, 500}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &Store{logLimit: c.limit, logBytes: c.maxBytes}
			require.Equal(t, c.want, s.keep(len(c.sizes), sizes(c.sizes...)))
		})
	}
}

// The tally tallies appends per document, and set replaces what a read
// found; it forgets everything past logTallySize documents.
func TestLogTally(t *testing.T) {
	var c logTally
	a, b := bson.NewObjectID(), bson.NewObjectID()
	require.Equal(t, logSize{2, 20}, c.add(a, logSize{2, 20}))
	require.Equal(t, logSize{3, 50}, c.add(a, logSize{1, 30}))
	require.Equal(t, logSize{1, 5}, c.add(b, logSize{1, 5}))
	c.set(a, logSize{1, 1})
	require.Equal(t, logSize{2, 2}, c.add(a, logSize{1, 1}))
	for i := range logTallySize {
		c.add(bson.NewObjectID(), logSize{1, i})
	}
	require.Equal(t, logSize{1, 1}, c.add(a, logSize{1, 1}), "forgotten")
}

// Zero sets the default bound, a negative n none.
func TestSetLogBounds(t *testing.T) {
	for _, c := range []struct{ n, limit, size int }{
		{0, DefaultLogLimit, DefaultLogBytes},
		{-1, 0, 0},
		{7, 7, 7},
	} {
		var s Store
		s.SetLogLimit(c.n)
		s.SetLogBytes(c.n)
		require.Equal(t, c.limit, s.LogLimit(), "SetLogLimit(%d)", c.n)
		require.Equal(t, c.size, s.LogBytes(), "SetLogBytes(%d)", c.n)
	}
	// With no bounds, a log of any size is not over.
	s := &Store{locks: &docLocks{}}
	require.False(t, s.over(logSize{n: 1 << 20, bytes: 1 << 30}))
}
