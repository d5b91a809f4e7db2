package docstore

import (
	"context"
	"runtime/pprof"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/mirror"
)

// BenchmarkRunWrites is the mirror's part of a trivial run: the launch's
// claim, the body's start and its end, on one document again and again.
// The loop runs under the pprof label docstore.bench=client, so that a
// profile (-cpuprofile) tells the store's and the driver's CPU from the
// server's when the server runs in the test's process:
//
//	go test ./internal/docstore -run '^$' -bench RunWrites -cpuprofile /tmp/c.pprof
//	go tool pprof -tagfocus docstore.bench=client -top /tmp/c.pprof
func BenchmarkRunWrites(b *testing.B) {
	m := testenv.NewMongo(b)
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	s := NewStore(c.Database(m.Name), "optio")
	ctx := b.Context()
	if err := s.EnsureIndexes(ctx); err != nil {
		b.Fatal(err)
	}
	if s.lease != nil { // FerretDB: alone on its prefix, as an engine is
		lctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { s.RunLease(lctx); close(done) }()
		b.Cleanup(func() { stop(); <-done })
		for _, solo := s.lease.solo(); !solo; _, solo = s.lease.solo() {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := s.UpsertDefinition(ctx, Definition{ProcessID: "trivial", Name: "Trivial", Cancellable: true}); err != nil {
		b.Fatal(err)
	}
	ok := func(*mirror.Process) error { return nil }
	pprof.Do(ctx, pprof.Labels("docstore.bench", "client"), func(ctx context.Context) {
		for b.Loop() {
			p, err := s.ResolveAndClaim(ctx, "trivial", nil, ok)
			if err != nil {
				b.Fatal(err)
			}
			started, err := s.StartClaimed(ctx, p.ID, ClaimStamp(p))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Complete(ctx, p.ID, *started.Status.RunningSince); err != nil {
				b.Fatal(err)
			}
		}
	})
}
