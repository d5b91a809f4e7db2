package tests

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
	"github.com/optio-temporal/optio/rpc/engineservice"
)

// While Run runs, {db}/{prefix}:heartbeat exists with optio-core's 15 s
// expiry; after shutdown it is left to expire (other engines of the pool may
// still refresh it).
func TestRPCHeartbeat(t *testing.T) {
	t.Parallel()
	h := newRPCHarness(t, rpcHarnessOptions{})
	key := engineapi.HeartbeatKey(h.prefix)
	assert.Equal(t, h.env.Mongo.Name+"/optio:heartbeat", key)
	val, err := h.rdb.Get(h.ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "1", val)
	ttl, err := h.rdb.TTL(h.ctx, key).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 10*time.Second)
	assert.LessOrEqual(t, ttl, 15*time.Second)

	sctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, h.eng.Shutdown(sctx))
	ttl, err = h.rdb.TTL(h.ctx, key).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, time.Duration(0), "the key expires on its own")
}

type appReportParams struct {
	Name string `json:"name"`
}

type appReportResult struct {
	Report string `json:"report"`
	Rows   int    `json:"rows"`
}

// An application registers its own service on RPCServer before Run; the
// engine serves it beside optio-engine. Without Redis there is no server.
func TestRPCAppService(t *testing.T) {
	t.Parallel()
	pinged := make(chan string, 1)
	h := newRPCHarness(t, rpcHarnessOptions{beforeRun: func(face *engineservice.Face) {
		require.NoError(t, face.Server().Register(rpc.Service{Name: "reports", Methods: []rpc.Method{
			{Name: "build", Handler: rpc.Typed(func(_ context.Context, p appReportParams) (appReportResult, error) {
				return appReportResult{Report: "report " + p.Name, Rows: 3}, nil
			})},
			{Name: "ping", Kind: rpc.Notification, Handler: rpc.TypedNotification(func(_ context.Context, p appReportParams) error {
				pinged <- p.Name
				return nil
			})},
		}}))
	}})
	var res appReportResult
	require.NoError(t, h.client.Call(h.ctx, "reports", "build", appReportParams{Name: "weekly"}, &res))
	assert.Equal(t, appReportResult{Report: "report weekly", Rows: 3}, res)
	require.NoError(t, h.client.Notify(h.ctx, "reports", "ping", appReportParams{Name: "hello"}))
	select {
	case name := <-pinged:
		assert.Equal(t, "hello", name)
	case <-time.After(10 * time.Second):
		t.Fatal("notification never handled")
	}
	// optio-engine is served beside it.
	requireRPCReason(t, h.call("cancel", map[string]any{"processId": "idle"}), adapter.ReasonNotCancellable)
	// Registering after Run has started is refused.
	require.ErrorIs(t, h.face.Server().Register(rpc.Service{Name: "late", Methods: []rpc.Method{
		{Name: "x", Handler: func(context.Context, json.RawMessage) (any, error) { return nil, nil }},
	}}), rpc.ErrServerStarted)

	noRedis, err := adapter.New(h.ctx, adapter.Config{
		Temporal: h.env.Temporal.Client, Mongo: h.env.Mongo.DB, Prefix: "noredis",
		DisableWorker: true, ReconcileInterval: -1, Logger: testenv.Logger(t),
	})
	require.NoError(t, err)
	n, err := h.rdb.Exists(h.ctx, engineapi.HeartbeatKey(noRedis.RPCKeyPrefix())).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "an engine without an RPC face writes no heartbeat")
	require.NoError(t, noRedis.Shutdown(h.ctx))

	_, err = adapter.New(h.ctx, adapter.Config{
		Temporal: h.env.Temporal.Client, Mongo: h.env.Mongo.DB, Prefix: "badurl",
		RPC: engineservice.Redis("http://nowhere"), DisableWorker: true, ReconcileInterval: -1, Logger: testenv.Logger(t),
	})
	require.ErrorIs(t, err, adapter.ErrInvalidConfig)
}

// Two engines on one Redis and database form a worker pool: one consumer
// group, so while one engine is busy with a long groupCancelAndWait (which
// an engine runs alone, as optio-core does), the other answers.
func TestRPCWorkerPool(t *testing.T) {
	t.Parallel()
	a := newRPCHarness(t, rpcHarnessOptions{})
	b := newRPCHarness(t, rpcHarnessOptions{env: a.env, tasks: a.tasks})
	require.Equal(t, a.prefix, b.prefix)

	rpcProcessOf(t, a.call("launch", launchArgs("stubborn")))
	a.waitState("stubborn", adapter.StateRunning)
	waited := make(chan map[string]any, 1)
	go func() {
		var out map[string]any
		err := a.client.Call(a.ctx, engineapi.Service, "groupCancelAndWait", map[string]any{"metadataFilter": map[string]any{"group": "stubborn"}}, &out)
		if err != nil {
			out = map[string]any{"error": err.Error()}
		}
		waited <- out
	}()
	// The cancel reached the body: one engine is inside the handler now.
	a.waitState("stubborn", adapter.StateCancelRequested, adapter.StateCancelling)
	for range 3 {
		start := time.Now()
		requireRPCReason(t, b.call("cancel", map[string]any{"processId": "idle"}), adapter.ReasonNotCancellable)
		assert.Less(t, time.Since(start), rpcStubbornFor/2, "answered by the idle engine")
	}
	select {
	case res := <-waited:
		t.Fatalf("groupCancelAndWait returned before the body ended: %v", res)
	default:
	}
	assert.Equal(t, map[string]any{"ok": true, "cancelledCount": 1.0}, <-waited)

	// Both engines took entries from the one group.
	cs, err := a.rdb.XInfoConsumers(a.ctx, rpc.CommandStream(a.prefix, engineapi.Service), engineapi.Service).Result()
	require.NoError(t, err)
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	for _, face := range []*engineservice.Face{a.face, b.face} {
		assert.True(t, slices.Contains(names, engineapi.Service+":"+face.Server().InstanceID()), "consumers: %v", names)
	}
}

// A Redis restart while the engine runs: calls during the outage fail at
// once with a clear error and have no effect; afterwards the engine serves
// again and refreshes its heartbeat without being restarted.
func TestRPCRedisRestart(t *testing.T) {
	t.Parallel()
	redisSrv := testenv.NewRedis(t)
	if redisSrv.Server() == nil {
		t.Skip("needs a real redis-server to kill")
	}
	h := newRPCHarness(t, rpcHarnessOptions{redisURL: redisSrv.URL()})
	requireRPCReason(t, h.call("cancel", map[string]any{"processId": "idle"}), adapter.ReasonNotCancellable)

	require.NoError(t, redisSrv.Server().Kill())
	start := time.Now()
	err := h.client.Call(h.ctx, engineapi.Service, "launch", launchArgs("quick"), nil)
	require.ErrorIs(t, err, rpc.ErrSendFailed)
	assert.Less(t, time.Since(start), 5*time.Second, "fails at once, not at the call timeout")

	require.NoError(t, redisSrv.Server().Restart(h.ctx))
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
		defer cancel()
		var out map[string]any
		err := h.client.Call(ctx, engineapi.Service, "cancel", map[string]any{"processId": "idle"}, &out)
		return err == nil && out["reason"] == string(adapter.ReasonNotCancellable)
	}, 20*time.Second, 100*time.Millisecond, "the engine never served again")
	assert.Equal(t, adapter.StateIdle, h.get("quick").Status.State, "the launch sent during the outage never ran")
	rpcProcessOf(t, h.call("launch", launchArgs("quick")))
	h.waitState("quick", adapter.StateDone)
	require.Eventually(t, func() bool {
		n, err := h.rdb.Exists(h.ctx, engineapi.HeartbeatKey(h.prefix)).Result()
		return err == nil && n == 1
	}, 10*time.Second, 100*time.Millisecond, "the heartbeat never came back")
}
