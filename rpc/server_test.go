package rpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/rpc"
)

func noop(context.Context, json.RawMessage) (any, error) { return nil, nil }

func TestRegister(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	tests := []struct {
		name string
		svc  rpc.Service
		ok   bool
	}{
		{"valid", rpc.Service{Name: "optio-engine", Methods: []rpc.Method{{Name: "groupCancelAndWait", Handler: noop}, {Name: "resync", Kind: rpc.Notification, Handler: noop}}}, true},
		{"no methods", rpc.Service{Name: "empty"}, true},
		{"service upper-case", rpc.Service{Name: "Arith"}, false},
		{"service starts with digit", rpc.Service{Name: "1arith"}, false},
		{"service with dot", rpc.Service{Name: "a.b"}, false},
		{"method hyphenated", rpc.Service{Name: "a", Methods: []rpc.Method{{Name: "slow-add", Handler: noop}}}, false},
		{"method upper-case first", rpc.Service{Name: "a", Methods: []rpc.Method{{Name: "Add", Handler: noop}}}, false},
		{"method twice", rpc.Service{Name: "a", Methods: []rpc.Method{{Name: "add", Handler: noop}, {Name: "add", Handler: noop}}}, false},
		{"nil handler", rpc.Service{Name: "a", Methods: []rpc.Method{{Name: "add"}}}, false},
		{"unknown kind", rpc.Service{Name: "a", Methods: []rpc.Method{{Name: "add", Kind: 7, Handler: noop}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := rpc.NewServer(rdb, rpc.ServerOptions{KeyPrefix: testPrefix(t)})
			require.NoError(t, err)
			err = srv.Register(tt.svc)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestServerLifecycle(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	ctx := context.Background()

	_, err := rpc.NewServer(rdb, rpc.ServerOptions{})
	require.Error(t, err, "KeyPrefix is required")

	srv, err := rpc.NewServer(rdb, rpc.ServerOptions{KeyPrefix: testPrefix(t), Logger: quietLogger()})
	require.NoError(t, err)
	require.NotEmpty(t, srv.InstanceID())
	require.NoError(t, srv.Register(rpc.Service{Name: "a"}))
	require.Error(t, srv.Register(rpc.Service{Name: "a"}), "same service twice")
	require.NoError(t, srv.Start(ctx))
	require.NoError(t, srv.Start(ctx), "Start twice does nothing")
	require.ErrorIs(t, srv.Register(rpc.Service{Name: "b"}), rpc.ErrServerStarted)
	require.NoError(t, srv.Stop(ctx))
	require.NoError(t, srv.Stop(ctx), "Stop twice does nothing")
	require.ErrorIs(t, srv.Start(ctx), rpc.ErrServerStopped)
}

// The group is named after the service and each server's consumer after
// the service and its instance id; two servers attach to one group.
func TestGroupAndConsumerNames(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	a := &arith{}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, InstanceID: "srv-A"}, a.service())
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, InstanceID: "srv-B"}, a.service())
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix})
	ctx := context.Background()
	for range 10 {
		require.NoError(t, c.Call(ctx, "arith", "add", addParams{A: 1, B: 1}, nil))
	}

	stream := prefix + ":cmds:arith"
	groups, err := rdb.XInfoGroups(ctx, stream).Result()
	require.NoError(t, err)
	require.Len(t, groups, 1)
	require.Equal(t, "arith", groups[0].Name)
	// The ack follows the reply, so the last one may still be on its way.
	require.Eventually(t, func() bool { return pendingCount(t, rdb, stream, "arith") == 0 }, time.Second, 5*time.Millisecond)

	consumers, err := rdb.XInfoConsumers(ctx, stream, "arith").Result()
	require.NoError(t, err)
	var names []string
	for _, c := range consumers {
		names = append(names, c.Name)
	}
	require.ElementsMatch(t, []string{"arith:srv-A", "arith:srv-B"}, names)

	// Requests are acknowledged, never deleted.
	n, err := rdb.XLen(ctx, stream).Result()
	require.NoError(t, err)
	require.Equal(t, int64(10), n)
}

// A new group starts at "$": calls queued before any server ever started
// are never answered, calls queued while the group exists are.
func TestQueuedCalls(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	ctx := context.Background()
	stream := rpc.CommandStream(prefix, "arith")
	replyTo := rpc.ReplyStream(prefix, "raw")
	send := func(id string) {
		require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{
			"type", "rpc", "envelope", fmt.Sprintf(`{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": %q}`, id),
			"reply-to", replyTo,
		}}).Err())
	}

	send("before-group")
	first := newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, (&arith{}).service())
	require.NoError(t, first.Stop(ctx))
	send("while-no-server")
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, (&arith{}).service())

	res, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{replyTo, "0-0"}, Block: 5 * time.Second}).Result()
	require.NoError(t, err)
	require.Len(t, res[0].Messages, 1)
	require.Contains(t, res[0].Messages[0].Values["envelope"], `"id": "while-no-server"`)

	time.Sleep(300 * time.Millisecond)
	n, err := rdb.XLen(ctx, replyTo).Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the call queued before the group existed was answered")
}

// Reply streams are trimmed to about ReplyStreamMaxLen entries.
func TestReplyStreamBound(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	ctx := context.Background()
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, Concurrency: 8}, (&arith{}).service())
	stream := rpc.CommandStream(prefix, "arith")
	replyTo := rpc.ReplyStream(prefix, "raw")

	const calls = 1300
	pipe := rdb.Pipeline()
	for i := range calls {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{
			"type", "rpc", "envelope", fmt.Sprintf(`{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": %d, "b": 0}, "id": %d}`, i, i),
			"reply-to", replyTo,
		}})
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := rdb.XInfoStream(ctx, replyTo).Result()
		return err == nil && info.EntriesAdded == calls
	}, 20*time.Second, 20*time.Millisecond)

	n, err := rdb.XLen(ctx, replyTo).Result()
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(1024))
	require.Less(t, n, int64(1024+200), "MAXLEN ~ 1024 trims in whole nodes of 100 entries")
}

// With a Concurrency of 1, entries of a service run one at a time in
// stream order; a higher Concurrency runs those of a service without an
// OrderKey side by side.
func TestConcurrency(t *testing.T) {
	for _, tt := range []struct {
		concurrency int
		wantMax     int32
	}{{1, 1}, {4, 4}} {
		t.Run(fmt.Sprintf("concurrency=%d", tt.concurrency), func(t *testing.T) {
			rdb := newRedis(t, sharedRedis)
			prefix := testPrefix(t)
			var (
				mu            sync.Mutex
				order         []int
				running, peak atomic.Int32
				release       = make(chan struct{})
				started       = make(chan struct{}, 16)
			)
			svc := rpc.Service{Name: "work", Methods: []rpc.Method{{Name: "step", Handler: rpc.Typed(
				func(_ context.Context, p struct {
					N int `json:"n"`
				}) (int, error) {
					n := running.Add(1)
					defer running.Add(-1)
					for {
						old := peak.Load()
						if n <= old || peak.CompareAndSwap(old, n) {
							break
						}
					}
					mu.Lock()
					order = append(order, p.N)
					mu.Unlock()
					started <- struct{}{}
					<-release
					return p.N, nil
				})}}}
			newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, Concurrency: tt.concurrency}, svc)
			c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix})

			const calls = 8
			errs := make(chan error, calls)
			for i := range calls {
				go func() {
					var got int
					err := c.Call(context.Background(), "work", "step", map[string]int{"n": i}, &got)
					if err == nil && got != i {
						err = fmt.Errorf("call %d answered %d", i, got)
					}
					errs <- err
				}()
				if tt.concurrency == 1 {
					// Space the calls so that stream order is call order.
					time.Sleep(5 * time.Millisecond)
				}
			}
			// Wait until as many handlers run as the option allows, then
			// give a second more a chance to start.
			for range tt.wantMax {
				<-started
			}
			time.Sleep(100 * time.Millisecond)
			require.Equal(t, tt.wantMax, running.Load())
			close(release)
			for range calls {
				require.NoError(t, <-errs)
			}
			require.Equal(t, tt.wantMax, peak.Load())
			if tt.concurrency == 1 {
				require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7}, order)
			}
		})
	}
}
