// Package tests holds optio's end-to-end tests. The rpc_*_test.go files
// drive a running engine from the outside, through the optio-engine service
// over a real redis-server, against the in-process Temporal server and the
// embedded Mongo-wire server; this file has their TestMain and harness.
package tests

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
	"github.com/optio-temporal/optio/rpc/engineservice"
)

func TestMain(m *testing.M) {
	// go-redis logs every failed dial while a test has Redis down.
	redis.SetLogger(rpcDiscardRedisLog{})
	testenv.Main(m)
}

type rpcDiscardRedisLog struct{}

func (rpcDiscardRedisLog) Printf(context.Context, string, ...any) {}

// rpcTasks is the task set of the RPC tests: something that finishes, a
// tree that runs until cancelled, a body that ignores cancellation for a
// while, and tasks that are only ever refused. extra is added by resyncs.
type rpcTasks struct {
	extra atomic.Pointer[[]adapter.TaskInstance]
}

func (rt *rpcTasks) generate(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
	tasks := []adapter.TaskInstance{
		{ProcessID: "quick", Name: "Quick", Metadata: map[string]any{"kind": "quick"}, Execute: rpcQuickBody},
		{ProcessID: "idle", Name: "Idle", Metadata: map[string]any{"kind": "idle"}, Execute: rpcQuickBody},
		{ProcessID: "blockme", Name: "Block me", Metadata: map[string]any{"kind": "blockme", "n": 5}, Execute: rpcQuickBody},
		{ProcessID: "tree", Name: "Tree", Metadata: map[string]any{"group": "tree"}, Execute: rpcTreeBody},
		{ProcessID: "stubborn", Name: "Stubborn", Metadata: map[string]any{"group": "stubborn"}, Execute: rpcStubbornBody},
	}
	if extra := rt.extra.Load(); extra != nil {
		tasks = append(tasks, *extra...)
	}
	return tasks, nil
}

func rpcQuickBody(pc *adapter.ProcessContext) error {
	pc.ReportProgress(50, "half way")
	time.Sleep(20 * time.Millisecond)
	pc.ReportProgress(100, "finished")
	return nil
}

// rpcUntilCancelled runs until the process is cancelled.
func rpcUntilCancelled(pc *adapter.ProcessContext) error {
	for i := 0; pc.ShouldContinue(); i++ {
		pc.ReportProgress(float64(i%100), "")
		select {
		case <-pc.Context().Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func rpcTreeBody(pc *adapter.ProcessContext) error {
	g := pc.ParallelGroup(adapter.GroupOptions{SurviveCancel: true})
	for _, id := range []string{"tree/a", "tree/b"} {
		if err := g.Spawn(adapter.ChildSpec{ProcessID: id, Name: "Leaf " + id, Execute: rpcUntilCancelled}); err != nil {
			return err
		}
	}
	_, err := g.Wait()
	return err
}

// rpcStubbornBody ignores cancellation for rpcStubbornFor.
func rpcStubbornBody(*adapter.ProcessContext) error {
	time.Sleep(rpcStubbornFor)
	return nil
}

const rpcStubbornFor = 1500 * time.Millisecond

// rpcHarness is one engine served over Redis, with a client of its
// optio-engine service.
type rpcHarness struct {
	t      testing.TB
	env    *testenv.Env
	tasks  *rpcTasks
	eng    *adapter.Engine
	face   *engineservice.Face
	rdb    *redis.Client
	client *rpc.Client
	prefix string
	ctx    context.Context
}

type rpcHarnessOptions struct {
	// redisURL replaces the shared Redis.
	redisURL string
	// env shares another harness's servers and database (a worker pool).
	env   *testenv.Env
	tasks *rpcTasks
	// beforeRun runs between New and Run.
	beforeRun func(*engineservice.Face)
}

func newRPCHarness(t testing.TB, opts rpcHarnessOptions) *rpcHarness {
	t.Helper()
	env := opts.env
	if env == nil {
		env = testenv.New(t)
	}
	if opts.redisURL == "" {
		opts.redisURL = env.RedisURL
	}
	if opts.tasks == nil {
		opts.tasks = &rpcTasks{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	face := engineservice.Redis(opts.redisURL)
	eng, err := adapter.New(ctx, adapter.Config{
		Temporal:          env.Temporal.Client,
		Namespace:         env.Temporal.Namespace,
		Mongo:             env.Mongo.DB,
		RPC:               face,
		Logger:            testenv.Logger(t),
		ReconcileInterval: -1,
		CancelGrace:       2 * time.Second,
		TaskDefinitions:   opts.tasks.generate,
	})
	require.NoError(t, err)
	if opts.beforeRun != nil {
		opts.beforeRun(face)
	}
	h := &rpcHarness{t: t, env: env, tasks: opts.tasks, eng: eng, face: face, prefix: eng.RPCKeyPrefix(), ctx: ctx}
	h.rdb = newRPCRedisClient(t, opts.redisURL)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Logf("engine Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("engine did not shut down")
		}
	})
	select {
	case <-face.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("engine never started serving")
	}
	h.waitServing()
	h.client = h.newClient()
	return h
}

func newRPCRedisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func (h *rpcHarness) newClient() *rpc.Client {
	h.t.Helper()
	c, err := rpc.NewClient(h.rdb, rpc.ClientOptions{KeyPrefix: h.prefix, Timeout: 15 * time.Second, Logger: testenv.Logger(h.t)})
	require.NoError(h.t, err)
	h.t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitServing waits until Run has started the engine's RPC server: its
// consumer group exists (a call sent before would never be seen by a group
// created after it) and the heartbeat is written.
func (h *rpcHarness) waitServing() {
	h.t.Helper()
	stream := rpc.CommandStream(h.prefix, engineapi.Service)
	require.Eventually(h.t, func() bool {
		groups, err := h.rdb.XInfoGroups(h.ctx, stream).Result()
		if err != nil || !slices.ContainsFunc(groups, func(g redis.XInfoGroup) bool { return g.Name == engineapi.Service }) {
			return false
		}
		n, err := h.rdb.Exists(h.ctx, engineapi.HeartbeatKey(h.prefix)).Result()
		return err == nil && n == 1
	}, 20*time.Second, 10*time.Millisecond, "engine never started serving")
}

// call calls an optio-engine method and returns the result as generic JSON.
func (h *rpcHarness) call(method string, params any) map[string]any {
	h.t.Helper()
	var out map[string]any
	require.NoError(h.t, h.client.Call(h.ctx, engineapi.Service, method, params, &out), method)
	return out
}

// callError calls a method that must fail and returns its RPC error.
func (h *rpcHarness) callError(method string, params any) *rpc.Error {
	h.t.Helper()
	err := h.client.Call(h.ctx, engineapi.Service, method, params, nil)
	var rpcErr *rpc.Error
	require.ErrorAs(h.t, err, &rpcErr, method)
	return rpcErr
}

func requireRPCReason(t testing.TB, res map[string]any, reason adapter.Reason) {
	t.Helper()
	require.Equal(t, map[string]any{"ok": false, "reason": string(reason)}, res)
}

// launchArgs are the launch params optio-api sends.
func launchArgs(id string) map[string]any {
	return map[string]any{"processId": id, "resume": false, "sessionId": nil}
}

func (h *rpcHarness) get(id string) *adapter.Process {
	h.t.Helper()
	p, err := h.eng.GetProcess(h.ctx, id)
	require.NoError(h.t, err)
	return p
}

func (h *rpcHarness) waitState(id string, states ...adapter.State) *adapter.Process {
	h.t.Helper()
	var last *adapter.Process
	require.Eventually(h.t, func() bool {
		p, err := h.eng.GetProcess(h.ctx, id)
		if err != nil {
			return false
		}
		last = p
		return slices.Contains(states, p.Status.State)
	}, 30*time.Second, 20*time.Millisecond, "process %s never reached %v (last: %+v)", id, states, last)
	return last
}

// snapshot is every document of the engine's collections, for checking that
// bad input changed nothing.
func (h *rpcHarness) snapshot() map[string][]string {
	h.t.Helper()
	out := map[string][]string{}
	for _, coll := range []string{"optio_processes", "optio_launch_blocks"} {
		out[coll] = readCollection(h.t, h.env.Mongo.DB.Collection(coll))
	}
	return out
}

func readCollection(t testing.TB, coll *mongo.Collection) []string {
	t.Helper()
	cur, err := coll.Find(context.Background(), bson.D{})
	require.NoError(t, err)
	var docs []bson.Raw
	require.NoError(t, cur.All(context.Background(), &docs))
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.String()
	}
	slices.Sort(out)
	return out
}

// rpcProcessOf returns the process of an ok result, checking the payload's
// shape on the way.
func rpcProcessOf(t testing.TB, res map[string]any) map[string]any {
	t.Helper()
	require.Equal(t, true, res["ok"], "result: %v", res)
	p, ok := res["process"].(map[string]any)
	require.True(t, ok, "result: %v", res)
	require.Len(t, p, 25, "every key of the contract's Process model")
	require.Regexp(t, `^[0-9a-f]{24}$`, p["_id"])
	return p
}

func rpcJSONText(v any) string {
	b, _ := json.Marshal(v)
	return strings.TrimSpace(string(b))
}
