package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/demo"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/rpc/engineservice"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	testenv.Main(m)
}

// optioctl against a running engine with the demo tasks: launch, watch to
// done, get, list, and the refusals scripts rely on.
func TestEndToEnd(t *testing.T) {
	env := testenv.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	eng, err := adapter.New(ctx, adapter.Config{
		Temporal: env.Temporal.Client, Namespace: env.Temporal.Namespace, Mongo: env.Mongo.DB,
		RPC: engineservice.Redis(env.RedisURL), TaskDefinitions: demo.Definitions,
		Logger: testenv.Logger(t), ReconcileInterval: -1, CancelGrace: 2 * time.Second,
	})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	getenv := func(k string) string {
		return map[string]string{"REDIS_URL": env.RedisURL, "MONGO_URL": env.Mongo.URI, "OPTIO_DB": env.Mongo.Name}[k]
	}
	ctl := func(args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(ctx, args, getenv, &stdout, &stderr, false)
		return code, stdout.String(), stderr.String()
	}
	// The engine serves once its heartbeat is written.
	require.Eventually(t, func() bool {
		code, _, _ := ctl("--timeout", "1s", "cancel", demo.QuickID)
		return code != exitTransport
	}, 20*time.Second, 50*time.Millisecond)

	code, out, errOut := ctl("launch", demo.QuickID)
	require.Equal(t, exitOK, code, errOut)
	assert.Regexp(t, `^launched demo-quick \([0-9a-f]{24}\): (scheduled|running|done)\n$`, out)

	code, out, errOut = ctl("watch", demo.QuickID, "--interval", "100ms")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "--- demo-quick +")
	assert.Contains(t, out, "[##############################] 100.0%  done")
	assert.Contains(t, out, "demo-quick ended done in ")

	code, out, errOut = ctl("get", demo.QuickID, "--json")
	require.Equal(t, exitOK, code, errOut)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, "done", doc["status"].(map[string]any)["state"])
	assert.Equal(t, 100.0, doc["progress"].(map[string]any)["percent"])
	assert.Equal(t, map[string]any{"group": "demo", "kind": "quick"}, doc["metadata"])

	code, out, _ = ctl("get", demo.QuickID)
	require.Equal(t, exitOK, code)
	assert.Regexp(t, `(?m)^state:\s+done$`, out)
	assert.Contains(t, out, "State changed to done")

	code, out, _ = ctl("list", "--filter", "kind=quick")
	require.Equal(t, exitOK, code)
	assert.Regexp(t, `(?m)^demo-quick\s+done\s+100\.0%\s+0\s+`, out)
	assert.NotContains(t, out, demo.ProgressID)
	code, out, _ = ctl("list", "--state", "idle", "--json")
	require.Equal(t, exitOK, code)
	var idle []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &idle))
	assert.Len(t, idle, len(demo.Tasks())-1, "the other demo tasks")

	// Refusals exit 1 with the reason.
	code, _, errOut = ctl("launch", "no-such-task")
	assert.Equal(t, exitRefused, code)
	assert.Contains(t, errOut, "launch no-such-task: not-found")
	code, _, errOut = ctl("cancel", demo.QuickID)
	assert.Equal(t, exitRefused, code)
	assert.Contains(t, errOut, "not-cancellable")
	code, out, _ = ctl("--json", "cancel", demo.QuickID)
	assert.Equal(t, exitRefused, code)
	assert.JSONEq(t, `{"ok": false, "reason": "not-cancellable"}`, out)
	code, _, errOut = ctl("get", "no-such-task")
	assert.Equal(t, exitRefused, code)
	assert.Contains(t, errOut, "not-found")
	code, _, errOut = ctl("group-cancel", "--filter", "group=demo", "--persist")
	assert.Equal(t, exitRefused, code)
	assert.Contains(t, errOut, "invalid-persist-without-block")

	code, out, _ = ctl("block", "--filter", "kind=failing", "--reason", "flaky")
	require.Equal(t, exitOK, code)
	assert.Equal(t, "launches matching {\"kind\":\"failing\"} are blocked\n", out)
	code, _, errOut = ctl("launch", demo.FailingID)
	assert.Equal(t, exitRefused, code)
	assert.Contains(t, errOut, "launch-blocked")
	code, out, _ = ctl("unblock", "--filter", "kind=failing")
	require.Equal(t, exitOK, code)
	assert.Equal(t, "removed 1 block(s)\n", out)
	code, out, _ = ctl("--json", "block", "--filter", "kind=none")
	require.Equal(t, exitOK, code)
	assert.Equal(t, "{\"ok\":true}\n", out, "the wire result, on one line")
	code, out, _ = ctl("--json", "unblock", "--filter", "kind=none")
	require.Equal(t, exitOK, code)
	assert.Equal(t, "{\"removed\":1}\n", out)

	// A failing process: watch exits 1 with its error.
	code, out, _ = ctl("--json", "launch", demo.FailingID)
	require.Equal(t, exitOK, code)
	var launched struct {
		OK      bool           `json:"ok"`
		Process map[string]any `json:"process"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &launched), out)
	assert.True(t, launched.OK)
	assert.Equal(t, demo.FailingID, launched.Process["processId"])
	assert.Equal(t, 1, strings.Count(out, "\n"), "one line")
	code, _, errOut = ctl("watch", demo.FailingID, "--interval", "100ms")
	assert.Equal(t, exitRefused, code)
	assert.Contains(t, errOut, "watch demo-failing: failed: ")

	// A running process is cancelled by group; dismiss resets it.
	code, _, _ = ctl("launch", demo.ProgressID)
	require.Equal(t, exitOK, code)
	code, out, errOut = ctl("group-cancel", "--filter", "kind=progress", "--wait")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "cancelled 1 process(es); all have ended\n", out)
	code, out, _ = ctl("dismiss", demo.ProgressID)
	require.Equal(t, exitOK, code)
	assert.True(t, strings.HasPrefix(out, "dismissed demo-progress ("), out)
	assert.True(t, strings.HasSuffix(out, "): idle\n"), out)
	code, out, _ = ctl("watch", demo.ProgressID)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "is idle: not running")

	code, out, _ = ctl("resync", "--filter", "group=demo")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "resync requested")
}
