package engineservice

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// An engine with a Redis face, driven through the contract's typed client:
// every method reaches the engine, refusals come back as Reasons, and the
// heartbeat says the engine serves. Shutdown stops the face.
func TestFaceWithTypedClient(t *testing.T) {
	env := testenv.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	release := make(chan struct{})
	face := Redis(env.RedisURL)
	eng, err := adapter.New(ctx, adapter.Config{
		Temporal: env.Temporal.Client, Namespace: env.Temporal.Namespace, Mongo: env.Mongo.DB,
		RPC: face, Logger: testenv.Logger(t), ReconcileInterval: -1, CancelGrace: 2 * time.Second,
		TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
			return []adapter.TaskInstance{{
				ProcessID: "job", Name: "Job", Metadata: map[string]any{"group": "g"},
				Execute: func(pc *adapter.ProcessContext) error {
					select {
					case <-release:
					case <-pc.Context().Done():
					}
					return nil
				},
			}}, nil
		},
	})
	require.NoError(t, err)
	require.NotNil(t, face.Server())
	require.ErrorIs(t, face.Attach(ctx, eng), adapter.ErrInvalidConfig, "a face serves one engine")
	runDone := make(chan error, 1)
	go func() { runDone <- eng.Run(ctx) }()
	select {
	case <-face.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("the face never served")
	}

	opts, err := redis.ParseURL(env.RedisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := engineapi.KeyPrefix(env.Mongo.Name, "optio")
	require.Equal(t, eng.RPCKeyPrefix(), prefix)
	ttl, err := rdb.TTL(ctx, engineapi.HeartbeatKey(prefix)).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 10*time.Second, "heartbeat written with its 15 s expiry")
	live, err := engineapi.Live(ctx, rdb, prefix)
	require.NoError(t, err)
	require.True(t, live, "the engine's heartbeat says it serves")
	live, err = engineapi.Live(ctx, rdb, engineapi.KeyPrefix(env.Mongo.Name, "other"))
	require.NoError(t, err)
	require.False(t, live, "no engine serves another prefix")
	closed := redis.NewClient(opts)
	require.NoError(t, closed.Close())
	_, err = engineapi.Live(ctx, closed, prefix)
	require.ErrorIs(t, err, redis.ErrClosed, "a Redis error is returned, not read as no engine")

	rc, err := rpc.NewClient(rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 20 * time.Second, Logger: testenv.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close() })
	c := engineapi.NewClient(rc)

	_, err = c.Launch(ctx, engineapi.LaunchParams{ProcessID: "nope"})
	require.ErrorIs(t, err, adapter.ReasonNotFound)
	doc, err := c.Launch(ctx, engineapi.LaunchParams{ProcessID: "job"})
	require.NoError(t, err)
	var launched map[string]any
	require.NoError(t, json.Unmarshal(doc, &launched))
	require.Equal(t, "job", launched["processId"])
	_, err = c.Dismiss(ctx, "job")
	require.ErrorIs(t, err, adapter.ReasonNotDismissable, "an active process is not dismissable")

	_, err = c.GroupCancel(ctx, engineapi.GroupCancelParams{MetadataFilter: engineapi.Filter{"group": "g"}, Persist: ptr(true)})
	require.ErrorIs(t, err, adapter.ReasonInvalidPersistWithoutBlock)
	_, err = c.GroupCancel(ctx, engineapi.GroupCancelParams{MetadataFilter: engineapi.Filter{}})
	var rpcErr *rpc.Error
	require.ErrorAs(t, err, &rpcErr)
	require.Equal(t, rpc.CodeInvalidParams, rpcErr.Code)
	n, err := c.GroupCancelAndWait(ctx, engineapi.GroupCancelParams{MetadataFilter: engineapi.Filter{"group": "g"}})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	p, err := eng.GetProcess(ctx, "job")
	require.NoError(t, err)
	require.True(t, p.Status.State.End(), "waited for the end: %s", p.Status.State)

	require.NoError(t, c.BlockLaunches(ctx, engineapi.BlockLaunchesParams{LaunchFilter: engineapi.LaunchFilter{"group": "g"}}))
	_, err = c.Launch(ctx, engineapi.LaunchParams{ProcessID: "job"})
	require.ErrorIs(t, err, adapter.ReasonLaunchBlocked)
	removed, err := c.UnblockLaunches(ctx, engineapi.UnblockLaunchesParams{LaunchFilter: engineapi.LaunchFilter{"group": "g"}})
	require.NoError(t, err)
	require.Equal(t, 1, removed)

	up, err := c.MaterializeUpload(ctx, engineapi.MaterializeUploadParams{ProcessID: "job", BlobID: "x", Filename: "f"})
	require.NoError(t, err)
	require.False(t, up.OK)
	require.Contains(t, up.Reason, "InvalidId(")
	require.NoError(t, c.Resync(ctx, engineapi.ResyncParams{}))

	close(release)
	require.NoError(t, eng.Shutdown(ctx))
	require.NoError(t, <-runDone)
	// Stopped: a call now goes unanswered.
	shortCtx, shortCancel := context.WithTimeout(ctx, time.Second)
	defer shortCancel()
	_, err = c.Cancel(shortCtx, "job")
	require.Error(t, err)
}
