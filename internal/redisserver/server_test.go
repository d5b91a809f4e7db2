package redisserver

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if !Available() {
		t.Skip("redis-server not on PATH")
	}
	srv, err := Start(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func client(t *testing.T, srv *Server) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(srv.URL())
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestStartPingStop(t *testing.T) {
	srv := startServer(t, Options{})
	require.True(t, strings.HasPrefix(srv.Addr(), "127.0.0.1:"))
	require.Equal(t, "redis://"+srv.Addr()+"/0", srv.URL())

	ctx := context.Background()
	rdb := client(t, srv)
	require.Equal(t, "PONG", rdb.Ping(ctx).Val())

	// No persistence without a Dir.
	cfg, err := rdb.ConfigGet(ctx, "appendonly").Result()
	require.NoError(t, err)
	require.Equal(t, "no", cfg["appendonly"])

	pid := srv.pid()
	require.NotZero(t, pid)
	require.NoError(t, srv.Stop())
	require.True(t, processGone(pid), "redis-server pid %d still exists", pid)
	require.NoError(t, srv.Stop(), "Stop is idempotent")
	require.NoError(t, srv.Kill(), "Kill after Stop does nothing")

	_, err = net.DialTimeout("tcp", srv.Addr(), 200*time.Millisecond)
	require.Error(t, err, "port still accepts connections after Stop")
}

func TestPortInUse(t *testing.T) {
	first := startServer(t, Options{})
	_, port, err := net.SplitHostPort(first.Addr())
	require.NoError(t, err)
	p, err := net.LookupPort("tcp", port)
	require.NoError(t, err)

	_, err = Start(context.Background(), Options{Port: p})
	require.Error(t, err)
	require.Contains(t, err.Error(), "already in use")
}

func TestKillRestart(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, Options{})
	rdb := client(t, srv)
	require.NoError(t, rdb.Set(ctx, "k", "v", 0).Err())
	addr := srv.Addr()

	pid := srv.pid()
	require.NoError(t, srv.Kill())
	require.True(t, processGone(pid))
	require.Error(t, rdb.Ping(ctx).Err(), "ping after Kill")

	require.NoError(t, srv.Restart(ctx))
	require.Equal(t, addr, srv.Addr())
	require.Eventually(t, func() bool { return rdb.Ping(ctx).Err() == nil }, 5*time.Second, 20*time.Millisecond)
	require.ErrorIs(t, rdb.Get(ctx, "k").Err(), redis.Nil, "data kept without a Dir")
}

func TestPersistenceInDir(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, Options{Dir: t.TempDir()})
	rdb := client(t, srv)
	require.NoError(t, rdb.Set(ctx, "k", "v", 0).Err())

	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Restart(ctx))
	require.Eventually(t, func() bool { return rdb.Ping(ctx).Err() == nil }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, "v", rdb.Get(ctx, "k").Val())
}

func TestRestartWhileRunning(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, Options{})
	old := srv.pid()
	require.NoError(t, srv.Restart(ctx))
	require.NotEqual(t, old, srv.pid())
	require.True(t, processGone(old))
	require.Equal(t, "PONG", client(t, srv).Ping(ctx).Val())
}
