package rpc_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/rpc"
)

// Hardening, point 3: a request whose reply-to names a key of another type
// (so its reply can never be written) is run once, delivered at most
// MaxDeliveries times, then acknowledged and moved to the dead-letter
// stream; a second entry with the same request id is answered with the
// recorded reply instead of being run again.
func TestHardeningBoundedRedelivery(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	a := &arith{}
	prefix := testPrefix(t)
	ctx := context.Background()
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, ClaimIdle: time.Second, MaxDeliveries: 3}, a.service())
	stream := rpc.CommandStream(prefix, "arith")
	badReplyTo := prefix + ":not-a-stream"
	require.NoError(t, rdb.HSet(ctx, badReplyTo, "k", "v").Err())
	envelope := `{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": "once"}`
	id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"type", "rpc", "envelope", envelope, "reply-to", badReplyTo}}).Result()
	require.NoError(t, err)

	dead := rpc.DeadLetterStream(prefix, "arith")
	began := time.Now()
	var entries []redis.XMessage
	require.Eventually(t, func() bool {
		entries, err = rdb.XRange(ctx, dead, "-", "+").Result()
		return err == nil && len(entries) == 1
	}, 30*time.Second, 50*time.Millisecond, "the entry never reached the dead-letter stream")
	t.Logf("dead-lettered after %s", time.Since(began).Round(time.Millisecond))
	require.Equal(t, id, entries[0].Values["entry"])
	require.Equal(t, "3", entries[0].Values["deliveries"])
	require.Equal(t, envelope, entries[0].Values["envelope"])
	require.Equal(t, badReplyTo, entries[0].Values["reply-to"])
	pending, err := rdb.XPending(ctx, stream, "arith").Result()
	require.NoError(t, err)
	require.Zero(t, pending.Count, "acknowledged")
	require.EqualValues(t, 1, a.handled.Load(), "run once, however often delivered")

	// The same id again, with a reply stream that works: the recorded reply,
	// no second run.
	goodReplyTo := rpc.ReplyStream(prefix, "client")
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"type", "rpc", "envelope", envelope, "reply-to", goodReplyTo}}).Err())
	_, fields := awaitReply(t, rdb, goodReplyTo, "0-0", 5*time.Second)
	require.Equal(t, []field{{"type", "rpc"}, {"envelope", `{"jsonrpc": "2.0", "id": "once", "result": {"sum": 3.0}}`}}, fields)

	// Nothing runs it again later either.
	time.Sleep(3 * time.Second)
	require.EqualValues(t, 1, a.handled.Load())
	entries, err = rdb.XRange(ctx, dead, "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, entries, 1, "%v", entries)
}

// Hardening, point 8: housekeeping trims a command stream of the entries
// every group has acknowledged, never past an entry still pending (here in
// a dead consumer, until the server reclaims it), and removes dead
// consumers once they hold nothing pending.
func TestHardeningHousekeeping(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	a := &arith{}
	prefix := testPrefix(t)
	ctx := context.Background()
	stream := rpc.CommandStream(prefix, "arith")

	// Two consumers of a server that died: one holds an entry it never
	// acknowledged, the other took one and acknowledged it.
	require.NoError(t, rdb.XGroupCreateMkStream(ctx, stream, "arith", "$").Err())
	add := func(id string) {
		t.Helper()
		require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{
			"type", "rpc", "envelope", `{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": "` + id + `"}`,
		}}).Err())
	}
	add("held")
	held, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "arith", Consumer: "arith:dead-holding", Streams: []string{stream, ">"}, Count: 1}).Result()
	require.NoError(t, err)
	heldID := held[0].Messages[0].ID
	add("acked")
	done, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "arith", Consumer: "arith:dead-empty", Streams: []string{stream, ">"}, Count: 1}).Result()
	require.NoError(t, err)
	require.NoError(t, rdb.XAck(ctx, stream, "arith", done[0].Messages[0].ID).Err())
	time.Sleep(1200 * time.Millisecond) // both idle past DeadConsumerIdle

	srv := newServer(t, rdb, rpc.ServerOptions{
		KeyPrefix: prefix, ClaimIdle: 5 * time.Second,
		HousekeepingInterval: 200 * time.Millisecond, DeadConsumerIdle: time.Second,
	}, a.service())
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 10 * time.Second})
	for i := range 300 {
		var out map[string]any
		require.NoError(t, c.Call(ctx, "arith", "add", map[string]any{"a": i, "b": 1}, &out))
	}
	lenBefore, err := rdb.XLen(ctx, stream).Result()
	require.NoError(t, err)
	t.Logf("stream length right after 300 calls: %d", lenBefore)

	consumers := func() []string {
		cs, err := rdb.XInfoConsumers(ctx, stream, "arith").Result()
		require.NoError(t, err)
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		return names
	}
	require.Eventually(t, func() bool {
		return len(consumers()) == 2
	}, 5*time.Second, 50*time.Millisecond, "the dead consumer holding nothing was not removed")
	require.ElementsMatch(t, []string{"arith:dead-holding", "arith:" + srv.InstanceID()}, consumers())
	if a.handled.Load() == 300 { // the held entry is not reclaimed yet
		kept, err := rdb.XRange(ctx, stream, heldID, heldID).Result()
		require.NoError(t, err)
		require.Len(t, kept, 1, "the entry still pending is kept")
	}

	// Once the server has reclaimed and answered the held entry, everything
	// is acknowledged: the stream is trimmed and the last dead consumer goes.
	require.Eventually(t, func() bool {
		n, err := rdb.XLen(ctx, stream).Result()
		return err == nil && n <= 1 && len(consumers()) == 1
	}, 20*time.Second, 50*time.Millisecond, "the stream was not trimmed")
	n, err := rdb.XLen(ctx, stream).Result()
	require.NoError(t, err)
	t.Logf("stream length after housekeeping: %d", n)
	require.Equal(t, []string{"arith:" + srv.InstanceID()}, consumers())
	require.EqualValues(t, 301, a.handled.Load(), "calls: "+strconv.Itoa(int(a.handled.Load())))
}
