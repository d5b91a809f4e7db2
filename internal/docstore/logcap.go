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

// SetLogLimit sets how many entries a process's log keeps: when an append
// passes n, the oldest entries are dropped (on MongoDB at each append, with
// $slice; on FerretDB, which ignores $slice, down to nine tenths of n once
// n is passed). Zero means DefaultLogLimit; a negative n keeps every entry,
// as optio-core does. Call it before the store is used.
func (s *Store) SetLogLimit(n int) {
	switch {
	case n == 0:
		s.logLimit = DefaultLogLimit
	case n < 0:
		s.logLimit = 0
	default:
		s.logLimit = n
	}
}

// LogLimit returns the number of entries a log keeps; zero is no limit.
func (s *Store) LogLimit() int { return s.logLimit }

// pushLog is the $push of entries onto a log, with the limit where the
// server applies it.
func (s *Store) pushLog(entries []mirror.LogEntry) bson.E {
	each := bson.D{{Key: "$each", Value: entries}}
	if s.logLimit > 0 && s.locks == nil {
		each = append(each, bson.E{Key: "$slice", Value: -s.logLimit})
	}
	return bson.E{Key: "$push", Value: bson.D{{Key: "log", Value: each}}}
}

// logCounts counts, per document, the entries this store appended to its
// log since it last looked at the log's length (FerretDB only). A count
// past the limit makes the store read the log and drop its oldest entries.
// It forgets everything when it holds logCountsSize documents: a log then
// grows by at most another limit before it is looked at.
type logCounts struct {
	mu sync.Mutex
	n  map[bson.ObjectID]int
}

const logCountsSize = 10000

// add counts added entries on id and reports whether the log may now be
// over limit.
func (c *logCounts) add(id bson.ObjectID, added, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil || len(c.n) >= logCountsSize {
		c.n = make(map[bson.ObjectID]int)
	}
	c.n[id] += added
	return c.n[id] > limit
}

func (c *logCounts) set(id bson.ObjectID, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n != nil {
		c.n[id] = n
	}
}

// afterPush keeps a log within the limit on FerretDB, after added entries
// were pushed onto it; the caller holds the document's lock. Trimming is
// best effort: the entries are written whatever becomes of it, and a trim
// that fails is tried again at the next append (the count stays over).
func (s *Store) afterPush(ctx context.Context, id bson.ObjectID, added int) {
	if s.logLimit <= 0 || s.locks == nil || !s.logCounts.add(id, added, s.logLimit) {
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
	if len(doc.Log) <= s.logLimit {
		s.logCounts.set(id, len(doc.Log))
		return
	}
	keep := doc.Log[len(doc.Log)-s.logLimit*9/10:]
	_ = s.setLog(ctx, id, keep, len(keep))
}

// trimRead keeps the log of p, a document just written and read back under
// its lock, within the limit on FerretDB: a state change's entry may be the
// one that passes it. Best effort, like afterPush: the next state change
// tries again.
func (s *Store) trimRead(ctx context.Context, p *mirror.Process) {
	if s.logLimit <= 0 || s.locks == nil || len(p.Log) <= s.logLimit {
		return
	}
	keep := p.Log[len(p.Log)-s.logLimit*9/10:]
	if s.setLog(ctx, p.ID, keep, len(keep)) == nil {
		p.Log = keep
	}
}

// setLog replaces id's log with keep, its newest n entries.
func (s *Store) setLog(ctx context.Context, id bson.ObjectID, keep any, n int) error {
	release, err := s.gateWrite(ctx)
	if err != nil {
		return err
	}
	_, err = s.procs.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "log", Value: keep}}}})
	release()
	if err != nil {
		return fmt.Errorf("drop the oldest log entries of %s: %w", id.Hex(), err)
	}
	s.logCounts.set(id, n)
	return nil
}
