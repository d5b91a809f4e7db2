package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/rpc"
)

// Stop lets running handlers finish and answer within the grace period.
func TestStopDrains(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	a := &arith{}
	srv := newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, a.service())
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix})

	done := make(chan error, 1)
	var res sumResult
	go func() {
		done <- c.Call(context.Background(), "arith", "slowAdd", slowAddParams{A: 1, B: 2, SleepMs: 300}, &res)
	}()
	require.Eventually(t, func() bool { return a.handled.Load() == 1 }, 5*time.Second, time.Millisecond)

	start := time.Now()
	require.NoError(t, srv.Stop(context.Background()))
	require.Less(t, time.Since(start), time.Second)
	require.NoError(t, <-done)
	require.Equal(t, 3.0, res.Sum)
	require.Equal(t, int64(0), pendingCount(t, rdb, rpc.CommandStream(prefix, "arith"), "arith"))
}

// A handler still running when the grace period ends is abandoned: its
// entry is neither answered nor acknowledged, and another server reclaims
// it after ClaimIdle and answers the waiting caller.
func TestAbandonedEntryIsReclaimed(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	stream := rpc.CommandStream(prefix, "arith")
	dying := &arith{block: make(chan struct{})} // never released: the handler hangs
	srv := newServer(t, rdb, rpc.ServerOptions{
		KeyPrefix: prefix, InstanceID: "srv-die", ClaimIdle: 200 * time.Millisecond, ShutdownGrace: 50 * time.Millisecond,
	}, dying.service())
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 10 * time.Second})

	done := make(chan error, 1)
	var res sumResult
	go func() {
		done <- c.Call(context.Background(), "arith", "slowAdd", slowAddParams{A: 1, B: 2, SleepMs: 10}, &res)
	}()
	require.Eventually(t, func() bool { return dying.handled.Load() == 1 }, 5*time.Second, time.Millisecond)

	require.ErrorContains(t, srv.Stop(context.Background()), "1 handler(s) still running")
	require.Equal(t, int64(1), pendingCount(t, rdb, stream, "arith"))
	replies, err := rdb.XLen(context.Background(), c.ReplyStream()).Result()
	require.NoError(t, err)
	require.Equal(t, int64(0), replies, "the abandoned handler answered")

	recovering := &arith{}
	start := time.Now()
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, InstanceID: "srv-recover", ClaimIdle: 200 * time.Millisecond}, recovering.service())
	require.NoError(t, <-done)
	require.Equal(t, 3.0, res.Sum)
	// The first reclaim runs one interval, max(1s, ClaimIdle/4), after start.
	require.Less(t, time.Since(start), 3*time.Second)
	require.Equal(t, int64(1), recovering.handled.Load())
	require.Eventually(t, func() bool { return pendingCount(t, rdb, stream, "arith") == 0 }, time.Second, 10*time.Millisecond)
}

// An entry read by a consumer that crashed (it never acknowledges) is
// reclaimed by a live server.
func TestCrashedConsumerEntryIsReclaimed(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	stream := rpc.CommandStream(prefix, "arith")
	ctx := context.Background()
	require.NoError(t, rdb.XGroupCreateMkStream(ctx, stream, "arith", "$").Err())
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 10 * time.Second})

	done := make(chan error, 1)
	var res sumResult
	go func() { done <- c.Call(ctx, "arith", "add", addParams{A: 1, B: 2}, &res) }()

	// The dead server reads the call and then is gone.
	read, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: "arith", Consumer: "arith:srv-dead", Streams: []string{stream, ">"}, Count: 16, Block: 5 * time.Second,
	}).Result()
	require.NoError(t, err)
	require.Len(t, read[0].Messages, 1)

	live := &arith{}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, InstanceID: "srv-live", ClaimIdle: 200 * time.Millisecond}, live.service())
	require.NoError(t, <-done)
	require.Equal(t, 3.0, res.Sum)
	require.Equal(t, int64(1), live.handled.Load())
	require.Eventually(t, func() bool { return pendingCount(t, rdb, stream, "arith") == 0 }, time.Second, 10*time.Millisecond)
}

// A server does not rerun an entry it is still handling when that entry
// outlives ClaimIdle; the reference servers would.
func TestLongHandlerNotRerunByItsOwnServer(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	a := &arith{}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, ClaimIdle: 100 * time.Millisecond}, a.service())
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix})
	require.NoError(t, c.Call(context.Background(), "arith", "slowAdd", slowAddParams{SleepMs: 2500}, nil))
	require.Equal(t, int64(1), a.handled.Load())
}
