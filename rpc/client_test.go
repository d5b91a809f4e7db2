package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/rpc"
)

func TestCallResults(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, (&arith{}).service())
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix})
	ctx := context.Background()

	var text textParams
	require.NoError(t, c.Call(ctx, "arith", "echoText", textParams{Text: "héllo"}, &text))
	require.Equal(t, "héllo", text.Text)

	require.NoError(t, c.Call(ctx, "arith", "add", addParams{A: 1, B: 2}, nil), "nil result discards")

	var wrongShape []int
	err := c.Call(ctx, "arith", "add", addParams{A: 1, B: 2}, &wrongShape)
	require.ErrorContains(t, err, "decode result")

	err = c.Call(ctx, "arith", "divide", addParams{A: 1}, nil)
	var rpcErr *rpc.Error
	require.ErrorAs(t, err, &rpcErr)
	require.Equal(t, &rpc.Error{Code: -32000, Message: "division by zero"}, rpcErr)

	err = c.Call(ctx, "arith", "nope", nil, nil)
	require.ErrorAs(t, err, &rpcErr)
	require.Equal(t, rpc.CodeMethodNotFound, rpcErr.Code)
}

func TestCallTimeouts(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, Concurrency: 4}, (&arith{}).service())
	ctx := context.Background()

	t.Run("client default", func(t *testing.T) {
		c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 100 * time.Millisecond})
		start := time.Now()
		err := c.Call(ctx, "arith", "slowAdd", slowAddParams{A: 1, B: 2, SleepMs: 800}, nil)
		require.ErrorIs(t, err, rpc.ErrCallTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "call timeout")
		require.Less(t, time.Since(start), 600*time.Millisecond)
	})
	t.Run("context deadline wins over the default", func(t *testing.T) {
		c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 50 * time.Millisecond})
		callCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		require.NoError(t, c.Call(callCtx, "arith", "slowAdd", slowAddParams{A: 1, B: 2, SleepMs: 200}, nil))
	})
	t.Run("context cancelled", func(t *testing.T) {
		c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix})
		callCtx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		err := c.Call(callCtx, "arith", "slowAdd", slowAddParams{SleepMs: 800}, nil)
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, rpc.ErrCallTimeout)
	})
	t.Run("request to a notification method never answers", func(t *testing.T) {
		c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 300 * time.Millisecond})
		require.ErrorIs(t, c.Call(ctx, "arith", "ping", pingParams{}, nil), rpc.ErrCallTimeout)
	})
}

func TestClientClose(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	a := &arith{block: make(chan struct{})}
	t.Cleanup(func() { close(a.block) })
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, ShutdownGrace: 50 * time.Millisecond}, a.service())
	c, err := rpc.NewClient(rdb, rpc.ClientOptions{KeyPrefix: prefix, Logger: quietLogger()})
	require.NoError(t, err)
	ctx := context.Background()

	// A reply creates the reply stream.
	require.NoError(t, c.Call(ctx, "arith", "add", addParams{A: 1, B: 2}, nil))
	n, err := rdb.Exists(ctx, c.ReplyStream()).Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), n)

	pending := make(chan error, 3)
	for range 3 {
		go func() { pending <- c.Call(ctx, "arith", "slowAdd", slowAddParams{}, nil) }()
	}
	// The server runs the three calls side by side; each blocks in its handler.
	require.Eventually(t, func() bool { return a.handled.Load() == 4 }, 5*time.Second, 5*time.Millisecond)

	start := time.Now()
	require.NoError(t, c.Close())
	require.Less(t, time.Since(start), 500*time.Millisecond, "Close interrupts the blocked XREAD")
	for range 3 {
		err := <-pending
		require.ErrorIs(t, err, rpc.ErrTransportStopped)
		require.ErrorContains(t, err, "transport stopped")
	}
	n, err = rdb.Exists(ctx, c.ReplyStream()).Result()
	require.NoError(t, err)
	require.Equal(t, int64(0), n, "reply stream deleted")

	require.ErrorIs(t, c.Call(ctx, "arith", "add", addParams{}, nil), rpc.ErrTransportStopped)
	require.ErrorIs(t, c.Notify(ctx, "arith", "ping", nil), rpc.ErrTransportStopped)
	require.NoError(t, c.Close(), "Close twice does nothing")
}

// Invalid names fail locally and never reach Redis.
func TestClientChecksNames(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix})
	ctx := context.Background()
	for _, tt := range []struct{ service, method string }{
		{"Arith", "add"}, {"arith", "slow-add"}, {"arith", ""}, {"", "add"}, {"a.b", "c"},
	} {
		require.Error(t, c.Call(ctx, tt.service, tt.method, nil, nil), "%s.%s", tt.service, tt.method)
		require.Error(t, c.Notify(ctx, tt.service, tt.method, nil), "%s.%s", tt.service, tt.method)
	}
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	require.Empty(t, keys)
}

// 100 concurrent calls from one client are all answered, each with its own
// result.
func TestHundredConcurrentCalls(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	a := &arith{}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, a.service())
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix})

	const calls = 100
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Go(func() {
			var res sumResult
			if err := c.Call(context.Background(), "arith", "add", addParams{A: float64(i), B: 1000}, &res); err != nil {
				errs <- err
				return
			}
			if res.Sum != float64(i+1000) {
				errs <- fmt.Errorf("call %d got %v", i, res.Sum)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(calls), a.handled.Load())
}

// Two servers in one group share sequential calls between them.
func TestTwoServersShareLoad(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	a, b := &arith{}, &arith{}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, InstanceID: "srv-A"}, a.service())
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, InstanceID: "srv-B"}, b.service())
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix})

	const calls = 50
	for range calls {
		var res sumResult
		require.NoError(t, c.Call(context.Background(), "arith", "add", addParams{A: 1, B: 1}, &res))
		require.Equal(t, 2.0, res.Sum)
	}
	require.Equal(t, int64(calls), a.handled.Load()+b.handled.Load())
	require.GreaterOrEqual(t, a.handled.Load(), int64(calls/10))
	require.GreaterOrEqual(t, b.handled.Load(), int64(calls/10))
}

// Many clients on one server each get their own answers.
func TestManyClients(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix, Concurrency: 4}, (&arith{}).service())
	var wg sync.WaitGroup
	errs := make(chan error, 16*10)
	for i := range 16 {
		c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix})
		wg.Go(func() {
			for j := range 10 {
				var res textParams
				want := fmt.Sprintf("client %d call %d", i, j)
				err := c.Call(context.Background(), "arith", "echoText", textParams{Text: want}, &res)
				if err == nil && res.Text != want {
					err = errors.New("got " + res.Text + ", want " + want)
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
