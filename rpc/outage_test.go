package rpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/internal/redisserver"
	"github.com/optio-temporal/optio/rpc"
)

// When Redis crashes and comes back, calls made meanwhile fail at once with
// the Redis error, and the server and client resume on their own: with
// persistence the consumer group survives, without it the server recreates
// the group. No call is answered twice.
func TestRedisRestart(t *testing.T) {
	for _, tt := range []struct {
		name    string
		persist bool
	}{{"without persistence", false}, {"with persistence", true}} {
		t.Run(tt.name, func(t *testing.T) {
			opts := redisserver.Options{Logger: quietLogger()}
			if tt.persist {
				opts.Dir = t.TempDir()
			}
			redisSrv, err := redisserver.Start(context.Background(), opts)
			require.NoError(t, err)
			t.Cleanup(func() { _ = redisSrv.Stop() })

			rdb := newRedis(t, redisSrv)
			prefix := testPrefix(t)
			a := &arith{}
			newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, a.service())
			c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 5 * time.Second})
			ctx := context.Background()
			answered := 0
			call := func() error {
				var res sumResult
				err := c.Call(ctx, "arith", "add", addParams{A: 1, B: 2}, &res)
				if err == nil {
					answered++
					require.Equal(t, 3.0, res.Sum)
				}
				return err
			}
			require.NoError(t, call())
			// The ack follows the reply. A crash between the two would leave
			// the call pending, to be rerun after ClaimIdle (at-least-once
			// delivery); this test is about the outage alone.
			stream := rpc.CommandStream(prefix, "arith")
			require.Eventually(t, func() bool { return pendingCount(t, rdb, stream, "arith") == 0 },
				5*time.Second, 5*time.Millisecond)

			require.NoError(t, redisSrv.Kill())
			start := time.Now()
			err = call()
			require.ErrorIs(t, err, rpc.ErrSendFailed)
			require.ErrorContains(t, err, "connection refused")
			require.NotErrorIs(t, err, rpc.ErrCallTimeout)
			// Fails at once rather than waiting out the call timeout (30 s);
			// the bound is loose because CI machines are loaded.
			require.Less(t, time.Since(start), 15*time.Second)

			time.Sleep(500 * time.Millisecond) // let the loops notice
			require.NoError(t, redisSrv.Restart(ctx))
			require.Eventually(t, func() bool { return call() == nil }, 15*time.Second, 10*time.Millisecond,
				"no call answered after Redis came back")
			for range 5 {
				require.NoError(t, call())
			}

			// Every reply on the stream answers a different call, and the
			// server ran each answered call once.
			require.Equal(t, int64(answered), a.handled.Load())
			msgs, err := rdb.XRange(ctx, c.ReplyStream(), "-", "+").Result()
			require.NoError(t, err)
			seen := map[string]bool{}
			for _, m := range msgs {
				var env struct {
					ID string `json:"id"`
				}
				require.NoError(t, json.Unmarshal([]byte(m.Values["envelope"].(string)), &env))
				require.False(t, seen[env.ID], "call %s answered twice", env.ID)
				seen[env.ID] = true
			}
			require.Eventually(t, func() bool { return pendingCount(t, rdb, stream, "arith") == 0 },
				5*time.Second, 10*time.Millisecond)
		})
	}
}

// A server that starts while Redis is down fails to start with the error.
func TestStartWithoutRedis(t *testing.T) {
	redisSrv, err := redisserver.Start(context.Background(), redisserver.Options{Logger: quietLogger()})
	require.NoError(t, err)
	rdb := newRedis(t, redisSrv)
	require.NoError(t, redisSrv.Stop())

	srv, err := rpc.NewServer(rdb, rpc.ServerOptions{KeyPrefix: testPrefix(t), Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, srv.Register((&arith{}).service()))
	err = srv.Start(context.Background())
	require.ErrorContains(t, err, "start service arith")
	require.ErrorContains(t, err, "connection refused")
}
