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

// stepParams is a call of the keyed test service: Key orders it (OrderAll
// runs it alone), N names it.
type stepParams struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

// keyed is a service whose calls are ordered by their params' key. Each
// run logs its start and end; gate, when set, is called inside the handler
// and holds it until it returns.
type keyed struct {
	mu      sync.Mutex
	log     []string // "start n" and "end n", in the order they happened
	running map[string]int
	overlap []string // keys seen running twice at once
	inside  atomic.Int32
	peak    atomic.Int32
	gate    func(p stepParams)
}

func (k *keyed) service() rpc.Service {
	return rpc.Service{
		Name: "work",
		Methods: []rpc.Method{{Name: "step", Handler: rpc.Typed(func(_ context.Context, p stepParams) (int, error) {
			k.enter(p)
			defer k.exit(p)
			if k.gate != nil {
				k.gate(p)
			}
			return p.N, nil
		})}},
		OrderKey: func(_ string, params json.RawMessage) string {
			var p stepParams
			_ = json.Unmarshal(params, &p)
			return p.Key
		},
	}
}

func (k *keyed) enter(p stepParams) {
	n := k.inside.Add(1)
	for old := k.peak.Load(); n > old && !k.peak.CompareAndSwap(old, n); old = k.peak.Load() {
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.running == nil {
		k.running = map[string]int{}
	}
	if p.Key != "" {
		k.running[p.Key]++
		if k.running[p.Key] > 1 {
			k.overlap = append(k.overlap, p.Key)
		}
	}
	k.log = append(k.log, fmt.Sprintf("start %d", p.N))
}

func (k *keyed) exit(p stepParams) {
	k.inside.Add(-1)
	k.mu.Lock()
	defer k.mu.Unlock()
	if p.Key != "" {
		k.running[p.Key]--
	}
	k.log = append(k.log, fmt.Sprintf("end %d", p.N))
}

func (k *keyed) events() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.log...)
}

// sendSteps adds the calls to the service's stream in one pipeline, so that
// stream order is slice order, and returns the reply stream.
func sendSteps(t *testing.T, rdb *redis.Client, prefix string, steps []stepParams) string {
	t.Helper()
	ctx := context.Background()
	replyTo := rpc.ReplyStream(prefix, "raw-"+fmt.Sprint(time.Now().UnixNano()))
	pipe := rdb.Pipeline()
	for _, p := range steps {
		params, err := json.Marshal(p)
		require.NoError(t, err)
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: rpc.CommandStream(prefix, "work"), Values: []any{
			"type", "rpc", "reply-to", replyTo,
			"envelope", fmt.Sprintf(`{"jsonrpc": "2.0", "method": "work.step", "params": %s, "id": %d}`, params, p.N),
		}})
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	return replyTo
}

// awaitReplies waits for n replies on replyTo and returns the ids answered.
func awaitReplies(t *testing.T, rdb *redis.Client, replyTo string, n int) []int {
	t.Helper()
	var msgs []redis.XMessage
	require.Eventually(t, func() bool {
		var err error
		msgs, err = rdb.XRange(context.Background(), replyTo, "-", "+").Result()
		return err == nil && len(msgs) >= n
	}, 20*time.Second, 5*time.Millisecond, "replies did not come")
	var ids []int
	for _, m := range msgs {
		var env struct {
			ID     int `json:"id"`
			Result int `json:"result"`
		}
		require.NoError(t, json.Unmarshal([]byte(m.Values["envelope"].(string)), &env))
		require.Equal(t, env.ID, env.Result)
		ids = append(ids, env.ID)
	}
	return ids
}

// allInside returns a gate that holds every handler until n are inside at
// once, and a channel closed when they are. The test fails, rather than
// hangs, if they never are.
func allInside(t *testing.T, n int) (func(stepParams), <-chan struct{}) {
	var arrived atomic.Int32
	all := make(chan struct{})
	return func(stepParams) {
		if arrived.Add(1) == int32(n) {
			close(all)
		}
		select {
		case <-all:
		case <-time.After(20 * time.Second):
			t.Errorf("only %d of %d handlers were ever inside at once", arrived.Load(), n)
		}
	}, all
}

// Calls with distinct keys run side by side: all N handlers are inside at
// once (each waits for the others before it answers), which a server that
// ran them one at a time could never reach.
func TestOrderDistinctKeysRunTogether(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	const n = 12
	k := &keyed{}
	gate, all := allInside(t, n)
	k.gate = gate
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, k.service()) // default Concurrency
	var steps []stepParams
	for i := range n {
		steps = append(steps, stepParams{Key: fmt.Sprintf("p%d", i), N: i})
	}
	replyTo := sendSteps(t, rdb, prefix, steps)
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		t.Fatalf("the %d handlers were never inside at once", n)
	}
	require.ElementsMatch(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, awaitReplies(t, rdb, replyTo, n))
	require.EqualValues(t, n, k.peak.Load())
}

// Concurrency bounds how many calls run at once, whatever their keys: with
// a limit of 3, exactly 3 of 8 distinct-key calls get inside, and the rest
// follow as those end.
func TestOrderConcurrencyLimit(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	const limit, calls = 3, 8
	k := &keyed{}
	release := make(chan struct{})
	inside := make(chan int, calls)
	k.gate = func(p stepParams) {
		inside <- p.N
		<-release
	}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, Concurrency: limit}, k.service())
	var steps []stepParams
	for i := range calls {
		steps = append(steps, stepParams{Key: fmt.Sprintf("p%d", i), N: i})
	}
	replyTo := sendSteps(t, rdb, prefix, steps)
	for range limit {
		<-inside
	}
	// A fourth would get in now if the limit leaked; give it the chance.
	time.Sleep(200 * time.Millisecond)
	require.EqualValues(t, limit, k.inside.Load())
	close(release)
	require.Len(t, awaitReplies(t, rdb, replyTo, calls), calls)
	require.EqualValues(t, limit, k.peak.Load())
}

// Calls with the same key never overtake one another: 40 calls over 4 keys,
// sent in one go, run one at a time per key and in stream order, while the
// keys run side by side.
func TestOrderSameKeyNeverOvertakes(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	const keys, calls = 4, 40
	k := &keyed{gate: func(p stepParams) {
		// Long enough for a later call of the key to overtake, if it could.
		time.Sleep(time.Duration(5+p.N%3*5) * time.Millisecond)
	}}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, k.service())
	var steps []stepParams
	for i := range calls {
		steps = append(steps, stepParams{Key: fmt.Sprintf("p%d", i%keys), N: i})
	}
	replyTo := sendSteps(t, rdb, prefix, steps)
	require.Len(t, awaitReplies(t, rdb, replyTo, calls), calls)

	k.mu.Lock()
	require.Empty(t, k.overlap, "two calls of one key ran at once")
	k.mu.Unlock()
	last := map[int]int{} // key -> n of its latest start
	for key := range keys {
		last[key] = -1
	}
	for _, e := range k.events() {
		var n int
		if _, err := fmt.Sscanf(e, "start %d", &n); err != nil {
			continue
		}
		require.Greater(t, n, last[n%keys], "call %d started after call %d of its key", last[n%keys], n)
		last[n%keys] = n
	}
	require.Greater(t, k.peak.Load(), int32(1), "the keys never ran side by side")
}

// A call keyed OrderAll runs alone: after every call taken before it has
// ended, and before any call taken after it starts.
func TestOrderAllRunsAlone(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	k := &keyed{}
	started := make(chan int, 8)
	release := make(chan struct{})
	k.gate = func(p stepParams) {
		started <- p.N
		if p.N < 2 {
			<-release
		} else {
			time.Sleep(50 * time.Millisecond) // time for a later call to overtake, if it could
		}
	}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, k.service())
	replyTo := sendSteps(t, rdb, prefix, []stepParams{
		{Key: "a", N: 0}, {Key: "b", N: 1}, {Key: rpc.OrderAll, N: 2}, {Key: "c", N: 3}, {Key: "", N: 4},
	})
	// Both calls before the OrderAll one run together and hold it back.
	require.ElementsMatch(t, []int{0, 1}, []int{<-started, <-started})
	time.Sleep(200 * time.Millisecond) // time for it to overtake, if it could
	require.Empty(t, started, "a call ran before the calls taken before OrderAll ended")
	close(release)
	require.Len(t, awaitReplies(t, rdb, replyTo, 5), 5)

	ev := k.events()
	at := func(e string) int {
		for i, x := range ev {
			if x == e {
				return i
			}
		}
		t.Fatalf("no %q in %v", e, ev)
		return -1
	}
	require.Greater(t, at("start 2"), at("end 0"), "%v", ev)
	require.Greater(t, at("start 2"), at("end 1"), "%v", ev)
	require.Greater(t, at("start 3"), at("end 2"), "%v", ev)
	require.Greater(t, at("start 4"), at("end 2"), "%v", ev)
}

// StreamOrder gives the reference servers' order: one call at a time, in
// stream order, even with a Concurrency above 1.
func TestStreamOrder(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	k := &keyed{gate: func(stepParams) { time.Sleep(5 * time.Millisecond) }}
	svc := k.service()
	svc.OrderKey = rpc.StreamOrder
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, Concurrency: 8}, svc)
	var steps []stepParams
	for i := range 10 {
		steps = append(steps, stepParams{Key: fmt.Sprintf("p%d", i), N: i})
	}
	replyTo := sendSteps(t, rdb, prefix, steps)
	require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, awaitReplies(t, rdb, replyTo, 10))
	require.EqualValues(t, 1, k.peak.Load())
}

// A panicking OrderKey runs the call alone rather than losing it.
func TestOrderKeyPanicRunsAlone(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	k := &keyed{}
	svc := k.service()
	svc.OrderKey = func(string, json.RawMessage) string { panic("no key") }
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, svc)
	replyTo := sendSteps(t, rdb, prefix, []stepParams{{Key: "a", N: 0}, {Key: "b", N: 1}})
	require.Equal(t, []int{0, 1}, awaitReplies(t, rdb, replyTo, 2))
}

// Stop drains the calls taken: the running one and those waiting for their
// turn behind it all run and are answered within the grace period.
func TestOrderStopDrainsWaitingCalls(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	k := &keyed{}
	first := make(chan struct{})
	release := make(chan struct{})
	k.gate = func(p stepParams) {
		if p.N == 0 {
			close(first)
			<-release
		}
	}
	srv := newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, ShutdownGrace: 10 * time.Second}, k.service())
	replyTo := sendSteps(t, rdb, prefix, []stepParams{{Key: "p", N: 0}, {Key: "p", N: 1}, {Key: "p", N: 2}})
	<-first
	// Both later calls are taken (read and waiting) before Stop begins.
	stream := rpc.CommandStream(prefix, "work")
	require.Eventually(t, func() bool { return pendingCount(t, rdb, stream, "work") == 3 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // from read to taken is a few instructions

	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop(context.Background()) }()
	time.Sleep(100 * time.Millisecond)
	close(release)
	require.NoError(t, <-stopped)
	require.Equal(t, []int{0, 1, 2}, awaitReplies(t, rdb, replyTo, 3))
	require.Equal(t, int64(0), pendingCount(t, rdb, stream, "work"))
}

// When the grace period ends, a call still waiting for its turn is
// abandoned with the one it waits for: neither is answered, both stay
// pending, and another server reclaims and answers them, in order.
func TestOrderWaitingCallAbandonedAndReclaimed(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	stream := rpc.CommandStream(prefix, "work")
	dying := &keyed{}
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	dying.gate = func(stepParams) { <-hang }
	srv := newServer(t, rdb, rpc.ServerOptions{
		KeyPrefix: prefix, InstanceID: "srv-die", ClaimIdle: 200 * time.Millisecond, ShutdownGrace: 50 * time.Millisecond,
	}, dying.service())
	replyTo := sendSteps(t, rdb, prefix, []stepParams{{Key: "p", N: 0}, {Key: "p", N: 1}})
	require.Eventually(t, func() bool { return pendingCount(t, rdb, stream, "work") == 2 && dying.inside.Load() == 1 },
		5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // from read to taken is a few instructions
	require.ErrorContains(t, srv.Stop(context.Background()), "2 handler(s) still running")
	require.Equal(t, []string{"start 0"}, dying.events(), "the waiting call ran")
	require.Equal(t, int64(2), pendingCount(t, rdb, stream, "work"))

	recovering := &keyed{}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, InstanceID: "srv-recover", ClaimIdle: 200 * time.Millisecond}, recovering.service())
	require.Equal(t, []int{0, 1}, awaitReplies(t, rdb, replyTo, 2))
	require.Equal(t, []string{"start 0", "end 0", "start 1", "end 1"}, recovering.events())
	require.Eventually(t, func() bool { return pendingCount(t, rdb, stream, "work") == 0 }, 5*time.Second, 10*time.Millisecond)
}

// An entry read by a consumer that crashed is reclaimed and answered by a
// keyed server, while calls on other keys, and later ones on its own key,
// are served meanwhile.
func TestOrderCrashedConsumerEntryIsReclaimed(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	stream := rpc.CommandStream(prefix, "work")
	ctx := context.Background()
	require.NoError(t, rdb.XGroupCreateMkStream(ctx, stream, "work", "$").Err())
	replyTo := sendSteps(t, rdb, prefix, []stepParams{{Key: "p", N: 0}})
	read, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: "work", Consumer: "work:srv-dead", Streams: []string{stream, ">"}, Count: 16, Block: 5 * time.Second,
	}).Result()
	require.NoError(t, err)
	require.Len(t, read[0].Messages, 1)

	live := &keyed{}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, InstanceID: "srv-live", ClaimIdle: 500 * time.Millisecond}, live.service())
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 10 * time.Second})
	for i, key := range []string{"p", "q", "p"} {
		var got int
		require.NoError(t, c.Call(ctx, "work", "step", stepParams{Key: key, N: 10 + i}, &got))
		require.Equal(t, 10+i, got)
	}
	require.Equal(t, []int{0}, awaitReplies(t, rdb, replyTo, 1))
	require.Eventually(t, func() bool { return pendingCount(t, rdb, stream, "work") == 0 }, 5*time.Second, 10*time.Millisecond)
	require.Len(t, live.events(), 8)
}

// While a server runs a call alone, it reads no more calls: another server
// of the group answers them at once instead of their waiting behind it.
func TestOrderAllLeavesOtherCallsToOtherServers(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	release := make(chan struct{})
	inside := make(chan struct{})
	busy := &keyed{gate: func(p stepParams) {
		if p.Key == rpc.OrderAll {
			close(inside)
			<-release
		}
	}}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, InstanceID: "busy"}, busy.service())
	replyTo := sendSteps(t, rdb, prefix, []stepParams{{Key: rpc.OrderAll, N: 0}})
	<-inside

	other := &keyed{}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, InstanceID: "other"}, other.service())
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 10 * time.Second})
	for i := range 5 {
		var got int
		require.NoError(t, c.Call(context.Background(), "work", "step", stepParams{Key: fmt.Sprintf("p%d", i), N: 10 + i}, &got))
	}
	require.Len(t, other.events(), 10, "the other server answered every call")
	require.Equal(t, []string{"start 0"}, busy.events())
	close(release)
	require.Equal(t, []int{0}, awaitReplies(t, rdb, replyTo, 1))
}
