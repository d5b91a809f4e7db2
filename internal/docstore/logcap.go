package docstore

import (
	"context"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/mirror"
)

// DefaultLogLimit is the number of entries a process's log keeps unless
// SetLogLimit says otherwise. optio-core lets a run's log grow without
// bound; a long run that reports progress messages, or a parent of many
// children (one "Spawned child" entry each), would then reach MongoDB's 16
// MB document limit and fail every later write. Ten thousand entries of a
// hundred bytes or so are a megabyte.
const DefaultLogLimit = 10000

// DefaultLogBytes is the size, in bytes, a process's log keeps unless
// SetLogBytes says otherwise: a quarter of MongoDB's 16 MB document limit.
// The count alone does not keep a document below that limit: entries hold
// up to MaxMessageBytes of text each, and ten thousand of those are 320 MB.
const DefaultLogBytes = 4 << 20

// SetLogLimit sets how many entries a process's log keeps: when an append
// passes n, the oldest entries are dropped (on MongoDB at each append, with
// $slice; on FerretDB, which ignores $slice, down to nine tenths of n once
// n is passed). Zero means DefaultLogLimit; a negative n keeps every entry,
// as optio-core does. Call it before the store is used.
func (s *Store) SetLogLimit(n int) { s.logLimit = bound(n, DefaultLogLimit) }

// LogLimit returns the number of entries a log keeps; zero is no limit.
func (s *Store) LogLimit() int { return s.logLimit }

// SetLogBytes sets the size, in bytes, a process's log keeps: once this
// store sees a log pass n, it drops the oldest entries down to nine tenths
// of n. The size is tallied from the entries this store appends, and looked
// at (one read of the log) when the tally passes n, so a log an engine
// restarted on may grow to twice n before it is cut. Zero means
// DefaultLogBytes; a negative n sets no bound on the size, as optio-core
// has none. Call it before the store is used.
func (s *Store) SetLogBytes(n int) { s.logBytes = bound(n, DefaultLogBytes) }

// LogBytes returns the size a log keeps; zero is no limit.
func (s *Store) LogBytes() int { return s.logBytes }

// bound is a setter's n as the store keeps it: zero is def, negative is 0
// (no limit).
func bound(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// pushLog is the $push of entries onto a log, with the limit where the
// server applies it.
func (s *Store) pushLog(entries []mirror.LogEntry) bson.E {
	each := bson.D{{Key: "$each", Value: entries}}
	if s.logLimit > 0 && s.locks == nil {
		each = append(each, bson.E{Key: "$slice", Value: -s.logLimit})
	}
	return bson.E{Key: "$push", Value: bson.D{{Key: "log", Value: each}}}
}

// entryBytes is the size of e in a log array, near enough: its BSON
// document with the array index's key. Data is never set by the engine.
func entryBytes(e mirror.LogEntry) int {
	n := len(e.Timestamp) + len(e.Level) + len(e.Message) + entryOverhead
	if len(e.Data) > 0 {
		if raw, err := bson.Marshal(e.Data); err == nil {
			n += len(raw) + len("data") + 2
		}
	}
	return n
}

// entryOverhead is an entry's bytes besides its strings: the array
// element's type byte, index key and document length, the three fields'
// type bytes, names, lengths and terminators, and the document's end.
const entryOverhead = 1 + 6 + 4 + 3*(1+4+1) + len("timestamp") + len("level") + len("message") + 3 + 1

// logSize is what a log holds, or is thought to hold.
type logSize struct{ n, bytes int }

// logTally keeps, per document, the size of its log as far as this store
// knows: what it last read there plus what it appended since. A tally past a
// bound makes the store read the log and drop its oldest entries. It forgets
// everything when it holds logTallySize documents: a log then grows by at
// most another bound before it is looked at.
type logTally struct {
	mu sync.Mutex
	m  map[bson.ObjectID]logSize
}

const logTallySize = 10000

// add tallies added on id and returns the log's size as now known.
func (c *logTally) add(id bson.ObjectID, added logSize) logSize {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= logTallySize {
		c.m = make(map[bson.ObjectID]logSize)
	}
	t := c.m[id]
	t.n += added.n
	t.bytes += added.bytes
	c.m[id] = t
	return t
}

func (c *logTally) set(id bson.ObjectID, t logSize) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m != nil {
		c.m[id] = t
	}
}

// over reports whether a log of size t is past a bound this store must
// keep itself: the count on FerretDB (MongoDB keeps it with $slice), the
// size on both.
func (s *Store) over(t logSize) bool {
	return (s.logLimit > 0 && s.locks != nil && t.n > s.logLimit) ||
		(s.logBytes > 0 && t.bytes > s.logBytes)
}

// keepsBounds reports whether the store has a bound of a log to keep
// itself (see over).
func (s *Store) keepsBounds() bool {
	return s.logBytes > 0 || (s.logLimit > 0 && s.locks != nil)
}

// afterPush keeps a log within its bounds after entries were pushed onto it;
// on FerretDB the caller holds the document's lock. Trimming is best effort:
// the entries are written whatever becomes of it, and a trim that fails is
// tried again at the next append (the tally stays over).
func (s *Store) afterPush(ctx context.Context, id bson.ObjectID, entries []mirror.LogEntry) {
	if !s.keepsBounds() {
		return
	}
	added := logSize{n: len(entries)}
	for _, e := range entries {
		added.bytes += entryBytes(e)
	}
	if !s.over(s.logTally.add(id, added)) {
		return
	}
	var doc struct {
		Log []bson.Raw `bson:"log"`
	}
	err := s.procs.FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "log", Value: 1}})).Decode(&doc)
	if err != nil {
		return
	}
	if _, size, within := fitLog(ctx, s, id, doc.Log, rawEntryBytes); within {
		s.logTally.set(id, size)
	}
}

// rawEntryBytes is entryBytes of an entry read as BSON.
func rawEntryBytes(raw bson.Raw) int { return len(raw) + 1 + 6 }

// keep returns how many of a log's n newest entries, and of how many bytes,
// stay when the log is cut: nine tenths of each bound, and at least the
// newest entry. size(i) is the size of entry i.
func (s *Store) keep(n int, size func(i int) int) logSize {
	maxN, maxBytes := n, -1
	if s.logLimit > 0 {
		maxN = min(n, s.logLimit*9/10)
	}
	if s.logBytes > 0 {
		maxBytes = s.logBytes * 9 / 10
	}
	var k logSize
	for i := n - 1; i >= 0 && k.n < maxN; i-- {
		b := size(i)
		if maxBytes >= 0 && k.bytes+b > maxBytes && k.n > 0 {
			break
		}
		k.n++
		k.bytes += b
	}
	return k
}

// trimRead keeps the log of p, a document just written and read back (on
// FerretDB under its lock), within its bounds: a state change's entry may
// be the one that passes one. Best effort, like afterPush: the next state
// change tries again.
func (s *Store) trimRead(ctx context.Context, p *mirror.Process) {
	if !s.keepsBounds() {
		return
	}
	p.Log, _, _ = fitLog(ctx, s, p.ID, p.Log, entryBytes)
}

// fitLog keeps log, id's log as just read, within the store's bounds; size
// is an entry's size. It returns the log as it now stands (log itself when
// within the bounds or when the cut failed, else its newest entries), and
// when within, its size.
func fitLog[E any](ctx context.Context, s *Store, id bson.ObjectID, log []E, size func(E) int) (_ []E, _ logSize, within bool) {
	t := logSize{n: len(log)}
	if s.logBytes > 0 {
		for _, e := range log {
			t.bytes += size(e)
		}
	}
	if !s.over(t) {
		return log, t, true
	}
	keep := s.keep(len(log), func(i int) int { return size(log[i]) })
	kept := log[len(log)-keep.n:]
	if s.cutLog(ctx, id, kept, keep) != nil {
		return log, t, false
	}
	return kept, t, false
}

// cutLog drops the oldest entries of id's log, keeping keep.n newest ones,
// which are entries. On FerretDB, under the document's lock, it writes
// entries as the log; on MongoDB, where entries may be appended meanwhile,
// it keeps the newest keep.n with $slice.
func (s *Store) cutLog(ctx context.Context, id bson.ObjectID, entries any, keep logSize) error {
	var upd bson.D
	if s.locks != nil {
		upd = bson.D{{Key: "$set", Value: bson.D{{Key: "log", Value: entries}}}}
	} else {
		upd = bson.D{{Key: "$push", Value: bson.D{{Key: "log", Value: bson.D{
			{Key: "$each", Value: bson.A{}}, {Key: "$slice", Value: -keep.n}}}}}}
	}
	release, err := s.gateWrite(ctx)
	if err != nil {
		return err
	}
	_, err = s.procs.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, upd)
	release()
	if err != nil {
		return fmt.Errorf("drop the oldest log entries of %s: %w", id.Hex(), err)
	}
	s.logTally.set(id, keep)
	return nil
}
