package tests

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// BenchmarkRPCRoundTrip measures a cheap optio-engine call end to end on
// loopback: cancel of an idle process, answered not-cancellable after one
// Mongo read. "serial" is one call at a time from one client; "16-clients"
// keeps one call in flight from each of 16 clients against one engine,
// which runs calls on distinct processes side by side. Each reports
// p50 and p99 latency and calls per second.
func BenchmarkRPCRoundTrip(b *testing.B) {
	h := newRPCHarness(b, rpcHarnessOptions{})
	params := map[string]any{"processId": "idle"}
	call := func(b *testing.B, c *rpc.Client) time.Duration {
		start := time.Now()
		var out map[string]any
		if err := c.Call(h.ctx, engineapi.Service, "cancel", params, &out); err != nil {
			b.Fatal(err)
		}
		if out["reason"] != string(adapter.ReasonNotCancellable) {
			b.Fatalf("unexpected result %v", out)
		}
		return time.Since(start)
	}

	b.Run("serial", func(b *testing.B) {
		var lat []time.Duration
		start := time.Now()
		for b.Loop() {
			lat = append(lat, call(b, h.client))
		}
		reportLatencies(b, lat, time.Since(start))
	})

	clients := make([]*rpc.Client, 16)
	for i := range clients {
		clients[i] = h.newClient()
	}
	b.Run("16-clients", func(b *testing.B) {
		var (
			mu        sync.Mutex
			lat       = make([]time.Duration, 0, b.N)
			remaining atomic.Int64
			wg        sync.WaitGroup
		)
		remaining.Store(int64(b.N))
		start := time.Now()
		b.ResetTimer()
		for _, c := range clients {
			wg.Go(func() {
				var mine []time.Duration
				for remaining.Add(-1) >= 0 {
					mine = append(mine, call(b, c))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		reportLatencies(b, lat, time.Since(start))
	})
}

func reportLatencies(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "calls/s")
}
