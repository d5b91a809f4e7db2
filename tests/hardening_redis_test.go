package tests

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/devstack"
	"github.com/optio-temporal/optio/internal/redisserver"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// Hardening, point 4: the dev stack's redis-server, killed from outside
// (kill -9), is restarted on the same port with the same data, and an
// engine's RPC answers again within seconds.
func TestHardeningRedisSupervised(t *testing.T) {
	if !redisserver.Available() {
		t.Skip("needs redis-server on PATH")
	}
	t.Parallel()
	r, err := devstack.StartRedis(t.Context(), devstack.RedisConfig{Dir: t.TempDir(), NoEmbedded: true, Logger: testenv.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Stop() })
	h := newRPCHarness(t, rpcHarnessOptions{redisURL: r.URL()})
	requireRPCReason(t, h.call("cancel", map[string]any{"processId": "idle"}), adapter.ReasonNotCancellable)

	pid := r.Server().PID()
	require.NotZero(t, pid)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	killed := time.Now()

	var back time.Duration
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(h.ctx, time.Second)
		defer cancel()
		var out map[string]any
		if h.client.Call(ctx, engineapi.Service, "cancel", map[string]any{"processId": "idle"}, &out) != nil {
			return false
		}
		back = time.Since(killed)
		return out["reason"] == string(adapter.ReasonNotCancellable)
	}, 15*time.Second, 100*time.Millisecond, "RPC never came back after redis-server was killed")
	t.Logf("RPC answered again %s after kill -9 of redis-server", back.Round(time.Millisecond))
	require.Less(t, back, 10*time.Second)
	require.NotEqual(t, pid, r.Server().PID(), "a new redis-server")
	require.Equal(t, 1, r.Server().Restarts())
}
