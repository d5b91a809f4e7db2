package docstore

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// On FerretDB every compare-and-set is a read and a write (see lockedCAS),
// and a claim also takes the cross-process claim lock: a trivial launch cost
// nine commands where MongoDB needs three. Most deployments on FerretDB have
// one engine on a prefix (the dev stack's own embedded server), and an
// engine that knows it is the only writer can trust what it last wrote and
// read: the document's state, its definition fields, whether it has
// children (see known.go). The solo lease tells it when it is.
//
// Every engine's store registers in {prefix}_engines with a document
// {_id, beat, solo, host, pid} whose beat it increments every leaseEvery, and
// reads the collection back. It is solo while the read shows no other engine
// whose beat moved within leaseDead, and only for leaseSoloFor after the read
// was sent, so a store whose loop stalls stops trusting its cache on its own.
// It becomes solo only on a read that follows a beat written with solo: true,
// which it writes only when its previous read found it alone. A store that
// starts, or whose registration lapsed (no beat for leaseFresh), and that
// finds another engine registered with solo: true, writes nothing for
// leaseSettle after its beat: longer than any solo engine keeps trusting its
// last read, so every engine that was solo has seen it, or stopped being
// solo, before its first write. An engine registered with solo: false
// cannot be solo without a beat and a read after it, and that read sees the
// newcomer. The margins assume that a command reaches
// the server within a fraction of a second of being sent, which holds for a
// server on the same host or network; a store with a stalled process wakes
// with its registration lapsed and waits again.
const (
	leaseEvery   = time.Second
	leaseSoloFor = 1500 * time.Millisecond
	leaseSettle  = 2500 * time.Millisecond
	leaseFresh   = 2 * time.Second
	leaseDead    = 5 * time.Second
	// leaseReap is when a registration that stopped beating is deleted.
	leaseReap = time.Minute
)

// enginesSuffix names the collection of engine registrations:
// {prefix}_engines.
const enginesSuffix = "_engines"

// lease is one store's registration and its view of the other engines.
type lease struct {
	coll *mongo.Collection
	self string
	host string
	pid  int
	// onLeave is called (under mu) when the store stops being solo.
	onLeave func()
	// soloFor and settle are leaseSoloFor and leaseSettle (tests shorten
	// or lengthen them).
	soloFor, settle time.Duration

	// checking serialises check.
	checking sync.Mutex

	mu    sync.Mutex
	beats int64
	// fresh is when the last successful beat was sent.
	fresh time.Time
	// writable is the earliest time this store may write.
	writable time.Time
	// soloUntil is when the current solo view expires (zero: not solo).
	soloUntil time.Time
	// epoch counts solo periods; what the store learnt in one is not
	// trusted in the next.
	epoch  uint64
	others map[string]otherEngine
	// alone is whether the last read found no other live engine; the next
	// beat writes it as solo.
	alone bool
}

// otherEngine is what a store knows of another registration.
type otherEngine struct {
	beat    int64
	changed time.Time
}

// registration is an engine's document in {prefix}_engines.
type registration struct {
	ID   string `bson:"_id"`
	Beat int64  `bson:"beat"`
	Solo bool   `bson:"solo"`
	Host string `bson:"host"`
	PID  int    `bson:"pid"`
}

func newLease(db *mongo.Database, prefix string, onLeave func()) *lease {
	host, _ := os.Hostname()
	return &lease{
		coll:    db.Collection(prefix + enginesSuffix),
		self:    bson.NewObjectID().Hex(),
		host:    host,
		pid:     os.Getpid(),
		onLeave: onLeave,
		others:  map[string]otherEngine{},
		soloFor: leaseSoloFor,
		settle:  leaseSettle,
	}
}

// solo reports whether the store is the only engine writing, and the solo
// period's epoch.
func (l *lease) solo() (uint64, bool) {
	if l == nil {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.soloUntil.IsZero() || !time.Now().Before(l.soloUntil) {
		return 0, false
	}
	return l.epoch, true
}

// awaitWritable returns once the store may write: its registration is fresh
// and any settling wait is over. A lapsed registration is renewed first.
func (l *lease) awaitWritable(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	lapsed := l.fresh.IsZero() || time.Since(l.fresh) > leaseFresh
	l.mu.Unlock()
	if lapsed {
		if err := l.check(ctx); err != nil {
			return err
		}
	}
	l.mu.Lock()
	wait := time.Until(l.writable)
	l.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// check beats and reads the registrations, updating the solo view.
func (l *lease) check(ctx context.Context) error {
	l.checking.Lock()
	defer l.checking.Unlock()
	start := time.Now()
	l.mu.Lock()
	lapsed := l.fresh.IsZero() || start.Sub(l.fresh) > leaseFresh
	beat := l.beats + 1
	intent := l.alone && !lapsed
	l.mu.Unlock()
	_, err := l.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: l.self}},
		bson.D{{Key: "$set", Value: registration{ID: l.self, Beat: beat, Solo: intent, Host: l.host, PID: l.pid}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		l.leave()
		return fmt.Errorf("register engine: %w", err)
	}
	var regs []registration
	cur, err := l.coll.Find(ctx, bson.D{})
	if err == nil {
		err = cur.All(ctx, &regs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.beats, l.fresh = beat, start
	if err != nil {
		l.leaveLocked()
		return fmt.Errorf("read engine registrations: %w", err)
	}
	now := time.Now()
	live, seen, soloer := false, map[string]bool{}, false
	for _, r := range regs {
		if r.ID == l.self {
			continue
		}
		seen[r.ID] = true
		soloer = soloer || r.Solo
		o, ok := l.others[r.ID]
		if !ok || o.beat != r.Beat {
			o = otherEngine{beat: r.Beat, changed: now}
			l.others[r.ID] = o
		}
		if now.Sub(o.changed) < leaseDead {
			live = true
		}
	}
	for id := range l.others {
		if !seen[id] {
			delete(l.others, id)
		}
	}
	if lapsed && soloer {
		l.writable = start.Add(l.settle)
	}
	l.alone = !live
	if live || !intent {
		l.leaveLocked()
		return nil
	}
	if l.soloUntil.IsZero() || !start.Before(l.soloUntil) {
		l.epoch++
	}
	l.soloUntil = start.Add(l.soloFor)
	return nil
}

func (l *lease) leave() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leaveLocked()
}

func (l *lease) leaveLocked() {
	if l.soloUntil.IsZero() {
		return
	}
	l.soloUntil = time.Time{}
	if l.onLeave != nil {
		l.onLeave()
	}
}

// reap deletes registrations that stopped beating long ago (engines that
// died without deregistering).
func (l *lease) reap(ctx context.Context) {
	l.mu.Lock()
	var dead []string
	for id, o := range l.others {
		if time.Since(o.changed) > leaseReap {
			dead = append(dead, id)
		}
	}
	l.mu.Unlock()
	for _, id := range dead {
		_, _ = l.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	}
}

// RunLease keeps the store's registration among the engines writing to its
// prefix on FerretDB, which lets a store that finds itself alone skip reads
// and cross-process claim locks (see lease.go), until ctx ends; then it
// deregisters. Without it a store still registers at its first write, and
// again every time that registration has lapsed. On MongoDB it returns at
// once.
func (s *Store) RunLease(ctx context.Context) {
	if s.lease == nil {
		return
	}
	s.lease.run(ctx)
}

// stop deregisters: the store is no longer solo, and a later write
// registers it again (and settles, if another engine is there).
func (l *lease) stop(ctx context.Context) {
	l.checking.Lock()
	defer l.checking.Unlock()
	l.mu.Lock()
	l.leaveLocked()
	l.fresh, l.alone = time.Time{}, false
	l.mu.Unlock()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = l.coll.DeleteOne(dctx, bson.D{{Key: "_id", Value: l.self}})
}

// run beats every leaseEvery until ctx ends, then deregisters.
func (l *lease) run(ctx context.Context) {
	t := time.NewTicker(leaseEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.stop(ctx)
			return
		case <-t.C:
			// A failed check leaves the store not solo; the next tick tries again.
			_ = l.check(ctx)
			l.reap(ctx)
		}
	}
}
