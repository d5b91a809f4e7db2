package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/client"
)

// TestServersApart: -servers-apart's child process serves a Temporal
// frontend and a Mongo server that answer at the addresses it names, and
// stops when told, or when the bench that started it is gone (its stdin
// closes); the child is this test binary running the bench's main with
// -serve.
func TestServersApart(t *testing.T) {
	t.Setenv(envRunMain, "1")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := startServersApart(ctx)
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = s.Stop()
		}
	})

	tc, err := client.Dial(client.Options{HostPort: s.temporal})
	require.NoError(t, err, "Temporal at %s", s.temporal)
	_, err = tc.CheckHealth(ctx, &client.CheckHealthRequest{})
	tc.Close()
	require.NoError(t, err)
	mc, err := mongo.Connect(options.Client().ApplyURI(s.mongo))
	require.NoError(t, err)
	require.NoError(t, mc.Ping(ctx, nil), "Mongo at %s", s.mongo)
	require.NoError(t, mc.Disconnect(ctx))

	require.NoError(t, s.Stop(), "the servers' process ends cleanly on an interrupt")
	stopped = true
	require.Error(t, s.cmd.Process.Signal(syscall.Signal(0)), "the process is gone")

	// A bench that ends without Stop closes the child's stdin with it.
	orphan, err := startServersApart(ctx)
	require.NoError(t, err)
	require.NoError(t, orphan.stdin.Close())
	select {
	case err := <-orphan.done:
		require.NoError(t, err, "the servers' process ends cleanly when its stdin closes")
	case <-time.After(time.Minute):
		_ = orphan.cmd.Process.Kill()
		t.Fatal("the servers' process outlived its parent's stdin")
	}
}
