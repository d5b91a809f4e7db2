package docstore

import (
	"context"
	"hash/maphash"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// docLocks serialises writes to the same document within this process. It is
// only used against servers whose updates are not atomic read-modify-writes
// (FerretDB v1 reads a document and writes it back whole, so two concurrent
// updates of one document can lose one, and a compare-and-set can pass
// twice). MongoDB needs none of this and gets none.
type docLocks struct {
	seed    maphash.Seed
	stripes [64]sync.Mutex
}

func (l *docLocks) lock(key string) func() {
	if l == nil {
		return func() {}
	}
	m := &l.stripes[maphash.String(l.seed, key)%uint64(len(l.stripes))]
	m.Lock()
	return m.Unlock
}

func (s *Store) lockDoc(id bson.ObjectID) func() { return s.locks.lock(id.Hex()) }

// gateWrite waits for this store's turn to write, on FerretDB, whose SQLite
// backend takes one writer at a time: writers that find the lock taken sleep
// in SQLite's busy handler (1 ms, then 2, 5, 10 ... up to 100 ms) and the
// lock sits idle meanwhile; queued here, each write starts as the previous
// one ends. It returns the release func, or ctx's error.
func (s *Store) gateWrite(ctx context.Context) (func(), error) {
	if s.writes == nil {
		return func() {}, nil
	}
	if err := s.lease.awaitWritable(ctx); err != nil {
		return nil, err
	}
	select {
	case s.writes <- struct{}{}:
		return func() { <-s.writes }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// detectNonAtomicUpdates turns on per-document write locks, cross-process
// claim locks and the parents side collection when the server is FerretDB (its buildInfo carries
// "ferretdbVersion").
func (s *Store) detectNonAtomicUpdates(ctx context.Context) error {
	var info bson.M
	if err := s.procs.Database().RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return err
	}
	if _, ok := info["ferretdbVersion"]; ok {
		s.locks = &docLocks{seed: maphash.MakeSeed()}
		s.writes = make(chan struct{}, 1)
		s.parents = s.procs.Database().Collection(s.prefix + parentsSuffix)
		s.claims = s.procs.Database().Collection(s.prefix + claimsSuffix)
		s.lease = newLease(s.procs.Database(), s.prefix, s.known.reset)
	}
	return nil
}
