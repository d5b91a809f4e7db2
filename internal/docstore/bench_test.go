package docstore

import (
	"context"
	"fmt"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"github.com/optio-temporal/optio/mirror"
)

// BenchmarkRunWrites is the mirror's part of a trivial run: the launch's
// claim, the body's start and its end. "serial" runs them on one document
// again and again; "fresh-goroutines" the same, with the start and the end
// each in a goroutine of its own, as the local activities that make them
// run; "concurrent-50" on 50 documents at once, 50 goroutines each on its
// own, as 50 processes of one engine would. The writers run
// under the pprof label docstore.bench=client, so that a profile
// (-cpuprofile) tells the store's and the driver's CPU from the server's
// when the server runs in the test's process:
//
//	go test ./internal/docstore -run '^$' -bench RunWrites -cpuprofile /tmp/c.pprof
//	go tool pprof -tagfocus docstore.bench=client -top /tmp/c.pprof
func BenchmarkRunWrites(b *testing.B) {
	s := newTestStore(b)
	ctx := b.Context()
	if s.lease != nil { // FerretDB: alone on its prefix, as an engine is
		lctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { s.RunLease(lctx); close(done) }()
		b.Cleanup(func() { stop(); <-done })
		for _, solo := s.lease.solo(); !solo; _, solo = s.lease.solo() {
			time.Sleep(50 * time.Millisecond)
		}
	}
	const docs = 50
	for i := range docs {
		if _, err := s.UpsertDefinition(ctx, Definition{ProcessID: fmt.Sprintf("trivial-%02d", i), Name: "Trivial", Cancellable: true}); err != nil {
			b.Fatal(err)
		}
	}
	// run makes the three writes on ref, each of the last two through
	// async when it is set.
	run := func(ctx context.Context, ref string, async bool) error {
		p, err := s.ResolveAndClaim(ctx, ref, nil, func(*mirror.Process) error { return nil })
		if err != nil {
			return err
		}
		var started *mirror.Process
		start := func() { started, err = s.StartClaimed(ctx, p.ID, ClaimStamp(p)) }
		complete := func() { _, err = s.Complete(ctx, p.ID, *started.Status.RunningSince) }
		for _, write := range []func(){start, complete} {
			if async {
				done := make(chan struct{})
				go func() { write(); close(done) }()
				<-done
			} else {
				write()
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	labels := pprof.Labels("docstore.bench", "client")

	for _, async := range []bool{false, true} {
		name := "serial"
		if async {
			name = "fresh-goroutines"
		}
		b.Run(name, func(b *testing.B) {
			pprof.Do(ctx, labels, func(ctx context.Context) {
				for b.Loop() {
					if err := run(ctx, "trivial-00", async); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	b.Run("concurrent-50", func(b *testing.B) {
		var next atomic.Int32
		b.SetParallelism(docs / 2)
		b.RunParallel(func(pb *testing.PB) {
			ref := fmt.Sprintf("trivial-%02d", next.Add(1)-1)
			pprof.Do(ctx, labels, func(ctx context.Context) {
				for pb.Next() {
					if err := run(ctx, ref, false); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	})
}
