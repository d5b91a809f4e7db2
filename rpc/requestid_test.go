package rpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/rpc"
)

// A new entry that reuses the request id of a call already answered is a
// new call: it runs and is answered, as clamator runs it (a launch sent
// twice answers the second time not-launchable), whether it repeats the
// first call or not.
func TestRequestIDReusedAfterAnswer(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	a := &arith{}
	prefix := testPrefix(t)
	ctx := context.Background()
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, a.service())
	stream := rpc.CommandStream(prefix, "arith")
	replyTo := rpc.ReplyStream(prefix, "raw")
	last := "0-0"
	for i, call := range []struct{ params, reply string }{
		{`{"a": 1, "b": 2}`, `{"jsonrpc": "2.0", "id": 42, "result": {"sum": 3.0}}`},
		{`{"a": 1, "b": 2}`, `{"jsonrpc": "2.0", "id": 42, "result": {"sum": 3.0}}`},
		{`{"a": 5, "b": 5}`, `{"jsonrpc": "2.0", "id": 42, "result": {"sum": 10.0}}`},
	} {
		envelope := `{"jsonrpc": "2.0", "method": "arith.add", "params": ` + call.params + `, "id": 42}`
		require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"type", "rpc", "envelope", envelope, "reply-to", replyTo}}).Err())
		var fields []field
		last, fields = awaitReply(t, rdb, replyTo, last, 5*time.Second)
		require.Equal(t, []field{{"type", "rpc"}, {"envelope", call.reply}}, fields, "call %d", i+1)
		require.EqualValues(t, i+1, a.handled.Load())
	}
}

// A request whose reply could not be written keeps it for the same request
// sent again; another request that reuses its id is run and answered.
func TestRecordedReplyIsForTheSameRequestOnly(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	a := &arith{}
	prefix := testPrefix(t)
	ctx := context.Background()
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, ClaimIdle: time.Minute}, a.service())
	stream := rpc.CommandStream(prefix, "arith")
	badReplyTo := prefix + ":not-a-stream"
	require.NoError(t, rdb.HSet(ctx, badReplyTo, "k", "v").Err())
	add := func(envelope, replyTo string) {
		t.Helper()
		require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"type", "rpc", "envelope", envelope, "reply-to", replyTo}}).Err())
	}
	first := `{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": "7"}`
	add(first, badReplyTo)
	require.Eventually(t, func() bool { return a.handled.Load() == 1 }, 5*time.Second, 10*time.Millisecond)

	replyTo := rpc.ReplyStream(prefix, "raw")
	add(`{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 2, "b": 2}, "id": "7"}`, replyTo)
	last, fields := awaitReply(t, rdb, replyTo, "0-0", 5*time.Second)
	require.Equal(t, []field{{"type", "rpc"}, {"envelope", `{"jsonrpc": "2.0", "id": "7", "result": {"sum": 4.0}}`}}, fields)
	require.EqualValues(t, 2, a.handled.Load())

	// The id's record is now the second call's; the first, sent again,
	// runs again.
	add(first, replyTo)
	_, fields = awaitReply(t, rdb, replyTo, last, 5*time.Second)
	require.Equal(t, []field{{"type", "rpc"}, {"envelope", `{"jsonrpc": "2.0", "id": "7", "result": {"sum": 3.0}}`}}, fields)
	require.EqualValues(t, 3, a.handled.Load())
}

// An entry reclaimed while its request id is still marked running (a
// server took it, waited for its turn, began it and died) is left pending,
// not dropped: once the mark expires, a later claim runs and answers it.
func TestReclaimedEntryMarkedRunningIsNotLost(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	stream := rpc.CommandStream(prefix, "arith")
	ctx := context.Background()
	require.NoError(t, rdb.XGroupCreateMkStream(ctx, stream, "arith", "$").Err())
	replyTo := rpc.ReplyStream(prefix, "raw")
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{
		"type", "rpc", "envelope", `{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": "late"}`, "reply-to", replyTo,
	}}).Err())
	// The dead server read the entry and marked its id running; the mark
	// outlives the claim idle time by far.
	_, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "arith", Consumer: "arith:srv-dead", Streams: []string{stream, ">"}, Count: 1}).Result()
	require.NoError(t, err)
	const mark = 2 * time.Second
	require.NoError(t, rdb.Set(ctx, rpc.RequestKey(prefix, "arith", "late"), "running", mark).Err())
	began := time.Now()

	live := &arith{}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, ClaimIdle: 200 * time.Millisecond}, live.service())
	_, fields := awaitReply(t, rdb, replyTo, "0-0", 10*time.Second)
	require.Equal(t, []field{{"type", "rpc"}, {"envelope", `{"jsonrpc": "2.0", "id": "late", "result": {"sum": 3.0}}`}}, fields)
	require.GreaterOrEqual(t, time.Since(began), mark, "answered before the mark expired")
	require.EqualValues(t, 1, live.handled.Load())
	require.Eventually(t, func() bool { return pendingCount(t, rdb, stream, "arith") == 0 }, time.Second, 10*time.Millisecond)
}
