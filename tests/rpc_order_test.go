package tests

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// The engine runs its calls side by side but keeps their order where optio
// needs it. Calls queued in one go, as busy clients queue them: a launch
// and then a cancel of each of 6 processes (the cancel finds the run its
// launch started, never the idle process before it), then a blockLaunches
// and a launch it must refuse.
func TestRPCOrderKeptUnderConcurrency(t *testing.T) {
	const n = 6
	tasks := &rpcTasks{}
	var extra []adapter.TaskInstance
	for i := range n {
		extra = append(extra, adapter.TaskInstance{
			ProcessID: fmt.Sprintf("order-%d", i), Name: "Order", Metadata: map[string]any{"kind": "order"}, Execute: rpcUntilCancelled,
		})
	}
	tasks.extra.Store(&extra)
	h := newRPCHarness(t, rpcHarnessOptions{tasks: tasks})

	type call struct {
		id, method string
		params     map[string]any
	}
	var calls []call
	for i := range n {
		pid := fmt.Sprintf("order-%d", i)
		calls = append(calls,
			call{"launch-" + pid, "launch", launchArgs(pid)},
			call{"cancel-" + pid, "cancel", map[string]any{"processId": pid}})
	}
	calls = append(calls,
		call{"block", "blockLaunches", map[string]any{"launchFilter": map[string]any{"kind": "blockme"}, "reason": nil}},
		call{"launch-blockme", "launch", launchArgs("blockme")})

	replyTo := rpc.ReplyStream(h.prefix, "order-test")
	pipe := h.rdb.Pipeline()
	for _, c := range calls {
		params, err := json.Marshal(c.params)
		require.NoError(t, err)
		pipe.XAdd(h.ctx, &redis.XAddArgs{Stream: rpc.CommandStream(h.prefix, engineapi.Service), Values: []any{
			"type", "rpc", "reply-to", replyTo,
			"envelope", fmt.Sprintf(`{"jsonrpc": "2.0", "method": "%s.%s", "params": %s, "id": "%s"}`, engineapi.Service, c.method, params, c.id),
		}})
	}
	_, err := pipe.Exec(h.ctx)
	require.NoError(t, err)

	results := map[string]map[string]any{}
	require.Eventually(t, func() bool {
		msgs, err := h.rdb.XRange(h.ctx, replyTo, "-", "+").Result()
		require.NoError(t, err)
		for _, m := range msgs {
			var env struct {
				ID     string         `json:"id"`
				Result map[string]any `json:"result"`
			}
			require.NoError(t, json.Unmarshal([]byte(m.Values["envelope"].(string)), &env))
			require.NotNil(t, env.Result, "error reply: %v", m.Values["envelope"])
			results[env.ID] = env.Result
		}
		return len(results) == len(calls)
	}, 60*time.Second, 20*time.Millisecond, "not every call was answered")

	for i := range n {
		pid := fmt.Sprintf("order-%d", i)
		require.Equal(t, true, results["launch-"+pid]["ok"], "launch %s: %v", pid, results["launch-"+pid])
		require.Equal(t, true, results["cancel-"+pid]["ok"], "cancel %s ran before its launch: %v", pid, results["cancel-"+pid])
	}
	require.Equal(t, map[string]any{"ok": true}, results["block"])
	require.Equal(t, map[string]any{"ok": false, "reason": string(adapter.ReasonLaunchBlocked)}, results["launch-blockme"])
	for i := range n {
		h.waitState(fmt.Sprintf("order-%d", i), adapter.StateCancelled)
	}
}
