package rpc_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/optio-temporal/optio/rpc"
)

var echo = rpc.Service{Name: "bench", Methods: []rpc.Method{{
	Name:    "echo",
	Handler: func(_ context.Context, p json.RawMessage) (any, error) { return p, nil },
}}}

// BenchmarkRoundTrip measures one call at a time: request XADD, server
// read, reply XADD and ack, client read.
func BenchmarkRoundTrip(b *testing.B) {
	rdb := newRedis(b, sharedRedis)
	prefix := testPrefix(b)
	newServer(b, rdb, rpc.ServerOptions{KeyPrefix: prefix}, echo)
	c := newClient(b, rdb, rpc.ClientOptions{KeyPrefix: prefix})
	ctx := context.Background()
	params := map[string]int{"n": 1}
	var out map[string]int
	for b.Loop() {
		if err := c.Call(ctx, "bench", "echo", params, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTripParallel keeps one call in flight from each of 16
// clients, against one server with a Concurrency of 1 (the reference's one
// call at a time) and with 16 (the default).
func BenchmarkRoundTripParallel(b *testing.B) {
	for _, bc := range []struct {
		name        string
		concurrency int
	}{{"serial-server", 1}, {"concurrency-16", 16}} {
		b.Run(bc.name, func(b *testing.B) {
			rdb := newRedis(b, sharedRedis)
			prefix := testPrefix(b)
			newServer(b, rdb, rpc.ServerOptions{KeyPrefix: prefix, Concurrency: bc.concurrency}, echo)
			clients := make([]*rpc.Client, 16)
			for i := range clients {
				clients[i] = newClient(b, rdb, rpc.ClientOptions{KeyPrefix: prefix})
			}
			ctx := context.Background()
			params := map[string]int{"n": 1}
			var remaining atomic.Int64
			remaining.Store(int64(b.N))
			var wg sync.WaitGroup
			b.ResetTimer()
			for _, c := range clients {
				wg.Go(func() {
					var out map[string]int
					for remaining.Add(-1) >= 0 {
						if err := c.Call(ctx, "bench", "echo", params, &out); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
