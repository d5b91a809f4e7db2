package docstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
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

// commandLog counts the commands a client sends, by "name collection",
// and keeps the filter keys of the finds on process documents.
type commandLog struct {
	mu    sync.Mutex
	seen  []string
	finds []string
}

func (c *commandLog) started(_ context.Context, e *event.CommandStartedEvent) {
	coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, e.CommandName+" "+coll)
	if e.CommandName == "find" && coll == "optio_processes" {
		keys := []string{}
		if filter, ok := e.Command.Lookup("filter").DocumentOK(); ok {
			elems, _ := filter.Elements()
			for _, el := range elems {
				keys = append(keys, el.Key())
			}
		}
		c.finds = append(c.finds, "{"+strings.Join(keys, ",")+"}")
	}
}

// takeFinds returns the filter keys of the finds on process documents
// since the last takeFinds.
func (c *commandLog) takeFinds() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.finds
	c.finds = nil
	return out
}

// take returns the commands on process documents and their side
// collections since the last take (the lease's own are left out).
func (c *commandLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.seen {
		if !strings.HasSuffix(s, enginesSuffix) {
			out = append(out, s)
		}
	}
	c.seen = nil
	return out
}

// leaseStores returns a database of the embedded FerretDB and a function
// making stores over it, each on a client whose commands go to log.
func leaseStores(t *testing.T) (open func(log *commandLog) *Store) {
	t.Helper()
	m := testenv.NewMongo(t)
	if !strings.HasPrefix(m.URI, "mongodb://127.0.0.1") && !strings.HasPrefix(m.URI, "mongodb://localhost") {
		t.Skip("the solo lease is FerretDB's; OPTIO_TEST_MONGO_URL names another server")
	}
	return func(log *commandLog) *Store {
		opts := options.Client().ApplyURI(m.URI)
		if log != nil {
			opts.SetMonitor(&event.CommandMonitor{Started: log.started})
		}
		c, err := mongo.Connect(opts)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
		s := NewStore(c.Database(m.Name), "optio")
		require.NoError(t, s.EnsureIndexes(t.Context()))
		if s.lease == nil {
			t.Skip("the server has atomic updates (not FerretDB): no lease")
		}
		return s
	}
}

// beSolo runs the lease's checks a store needs to become solo when alone:
// a first that finds it alone, a second whose beat says so.
func beSolo(t *testing.T, s *Store) {
	t.Helper()
	s.lease.soloFor = time.Minute // the test's steps must not outlast it
	for range 2 {
		require.NoError(t, s.lease.check(t.Context()))
	}
	_, solo := s.lease.solo()
	require.True(t, solo, "a store alone on its prefix is solo after two checks")
}

// A store alone on its prefix writes a launch, its start and its end with
// one command each: no reads, no claim lock, no parents lookup.
func TestSoloStoreWritesEachTransitionOnce(t *testing.T) {
	open := leaseStores(t)
	log := &commandLog{}
	s := open(log)
	beSolo(t, s)
	ctx := t.Context()
	def, err := s.UpsertDefinition(ctx, Definition{ProcessID: "solo", Name: "Solo"})
	require.NoError(t, err)
	log.take()

	p, err := s.ResolveAndClaim(ctx, "solo", nil, func(*mirror.Process) error { return nil })
	require.NoError(t, err)
	require.Equal(t, mirror.Scheduled, p.Status.State)
	require.Equal(t, []string{"findAndModify optio_processes"}, log.take(), "claim")
	p, err = s.Start(ctx, def.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"findAndModify optio_processes"}, log.take(), "start")
	p, err = s.Complete(ctx, def.ID, *p.Status.RunningSince)
	require.NoError(t, err)
	require.Equal(t, mirror.Done, p.Status.State)
	require.Equal(t, []string{"findAndModify optio_processes"}, log.take(), "complete")

	// What was written is what a fresh read finds.
	got, err := s.Get(ctx, def.ID)
	require.NoError(t, err)
	require.Equal(t, mirror.Done, got.Status.State)
	require.Equal(t, []string{"State changed to scheduled", "State changed to running", "State changed to done"}, messages(got))
}

// The document a write returns shares nothing with the solo store's cache:
// a caller that changes it (a Launch's outcome, a LaunchAndWait's result)
// does not change what the store's next launch checks and writes.
func TestWrittenDocumentSharesNothingWithTheCache(t *testing.T) {
	open := leaseStores(t)
	s := open(nil)
	beSolo(t, s)
	ctx := t.Context()
	def, err := s.UpsertDefinition(ctx, Definition{ProcessID: "shared", Name: "Shared", Warning: "careful",
		Params: map[string]any{"list": bson.A{"a", bson.D{{Key: "k", Value: "v"}}}}, Metadata: map[string]any{"team": "data"}})
	require.NoError(t, err)
	p, err := s.ResolveAndClaim(ctx, "shared", nil, func(*mirror.Process) error { return nil })
	require.NoError(t, err)

	nested := func(d *mirror.Process) any {
		list, ok := d.Params["list"].(bson.A)
		require.True(t, ok, "params.list is a %T", d.Params["list"])
		return list[1]
	}
	switch n := nested(p).(type) {
	case bson.D:
		n[0].Value = "changed"
	case map[string]any:
		n["k"] = "changed"
	default:
		t.Fatalf("params.list[1] is a %T", n)
	}
	p.Params["new"] = 1
	p.Metadata["team"] = "changed"
	p.Log[0].Message = "changed"
	*p.Warning = "changed"
	p.Status.State = mirror.Failed

	head := s.knownHead(def.ID)
	require.Contains(t, fmt.Sprint(nested(head)), "v", "params' nested document")
	require.NotContains(t, fmt.Sprint(nested(head)), "changed", "params' nested document")
	require.NotContains(t, head.Params, "new")
	require.Equal(t, "data", head.Metadata["team"])
	require.Equal(t, "State changed to scheduled", head.Log[0].Message)
	require.Equal(t, "careful", *head.Warning)
	require.Equal(t, mirror.Scheduled, head.Status.State)
}

// Two stores on one prefix are never solo: each takes the claim lock and
// reads before it writes.
func TestStoresSharingAPrefixAreNotSolo(t *testing.T) {
	open := leaseStores(t)
	log := &commandLog{}
	a, b := open(log), open(nil)
	for range 2 {
		require.NoError(t, a.lease.check(t.Context()))
		require.NoError(t, b.lease.check(t.Context()))
	}
	for _, s := range []*Store{a, b} {
		_, solo := s.lease.solo()
		require.False(t, solo)
	}
	def, err := a.UpsertDefinition(t.Context(), Definition{ProcessID: "shared", Name: "Shared"})
	require.NoError(t, err)
	log.take()
	_, err = a.Claim(t.Context(), def.ID)
	require.NoError(t, err)
	got := log.take()
	require.Contains(t, got, "insert optio_claims", "the claim takes the cross-process lock")
	require.Contains(t, got, "find optio_processes", "the claim reads before it writes")
}

// A store that registers while another is solo waits before its first
// write, and the solo store stops being solo at its next check.
func TestNewcomerWaitsUntilTheSoloStoreHasSeenIt(t *testing.T) {
	open := leaseStores(t)
	a := open(nil)
	beSolo(t, a)
	b := open(nil)
	b.lease.settle = 400 * time.Millisecond
	start := time.Now()
	_, err := b.UpsertDefinition(t.Context(), Definition{ProcessID: "late", Name: "Late"})
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), b.lease.settle, "the newcomer's first write waited")
	_, solo := b.lease.solo()
	require.False(t, solo)

	require.NoError(t, a.lease.check(t.Context()))
	_, solo = a.lease.solo()
	require.False(t, solo, "the solo store saw the newcomer")
	require.Nil(t, a.knownHead(bson.NewObjectID()))
}

// A refusal is never taken from the cache: a write the solo store did not
// see (a store outside the lease) is found by a fresh read.
func TestCachedRefusalIsCheckedAgainstTheDocument(t *testing.T) {
	open := leaseStores(t)
	s := open(nil)
	beSolo(t, s)
	def, err := s.UpsertDefinition(t.Context(), Definition{ProcessID: "behind", Name: "Behind"})
	require.NoError(t, err)
	require.Equal(t, mirror.Idle, s.knownHead(def.ID).Status.State)

	// A store without EnsureIndexes has no lease and no cache.
	outside := NewStore(s.procs.Database(), "optio")
	_, err = outside.Claim(t.Context(), def.ID)
	require.NoError(t, err)

	p, err := s.Start(t.Context(), def.ID)
	require.NoError(t, err, "the cache said idle; the document said scheduled")
	require.Equal(t, mirror.Running, p.Status.State)
}

// A solo store skips the search for a previous run's children only while it
// knows there are none: once a child is inserted, the next claim deletes it.
func TestSoloClaimDeletesChildrenOnceThereAreAny(t *testing.T) {
	open := leaseStores(t)
	log := &commandLog{}
	s := open(log)
	beSolo(t, s)
	ctx := t.Context()
	parent, err := s.UpsertDefinition(ctx, Definition{ProcessID: "parent", Name: "Parent"})
	require.NoError(t, err)
	run := func() *mirror.Process {
		t.Helper()
		_, err := s.Claim(ctx, parent.ID)
		require.NoError(t, err)
		p, err := s.Start(ctx, parent.ID)
		require.NoError(t, err)
		return p
	}
	p := run()
	child, err := s.InsertChild(ctx, p, Child{ProcessID: "parent/child", Name: "Child", State: mirror.Idle})
	require.NoError(t, err)
	_, err = s.Complete(ctx, parent.ID, *p.Status.RunningSince)
	require.NoError(t, err)
	log.take()

	_, err = s.Claim(ctx, parent.ID)
	require.NoError(t, err)
	require.Contains(t, log.take(), "find optio_parents", "a parent is looked up")
	_, err = s.Get(ctx, child.ID)
	require.ErrorIs(t, err, mirror.ErrNotFound, "the previous run's child is gone")
}

// RunLease deregisters the store when its context ends.
func TestRunLeaseDeregisters(t *testing.T) {
	open := leaseStores(t)
	s := open(nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.RunLease(ctx)
	}()
	require.NoError(t, s.lease.check(t.Context()))
	n, err := s.lease.coll.CountDocuments(t.Context(), bson.D{{Key: "_id", Value: s.lease.self}})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	cancel()
	<-done
	n, err = s.lease.coll.CountDocuments(t.Context(), bson.D{{Key: "_id", Value: s.lease.self}})
	require.NoError(t, err)
	require.EqualValues(t, 0, n)
	_, solo := s.lease.solo()
	require.False(t, solo)
}

func messages(p *mirror.Process) []string {
	out := make([]string, len(p.Log))
	for i, e := range p.Log {
		out[i] = e.Message
	}
	return out
}
