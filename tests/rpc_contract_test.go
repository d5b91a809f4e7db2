package tests

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// launch, cancel and dismiss over Redis, each success and failure reason.
func TestRPCLaunchCancelDismiss(t *testing.T) {
	t.Parallel()
	h := newRPCHarness(t, rpcHarnessOptions{})

	// launch runs the process; the payload is the document after the launch.
	p := rpcProcessOf(t, h.call("launch", launchArgs("quick")))
	assert.Equal(t, "quick", p["processId"])
	assert.Contains(t, []any{"scheduled", "running", "done"}, p["status"].(map[string]any)["state"])
	assert.Equal(t, map[string]any{"kind": "quick"}, p["metadata"])
	done := h.waitState("quick", adapter.StateDone)
	assert.Equal(t, 100.0, *done.Progress.Percent)

	requireRPCReason(t, h.call("launch", launchArgs("no-such-process")), adapter.ReasonNotFound)
	requireRPCReason(t, h.call("launch", map[string]any{"processId": "no-such-process", "resume": true, "sessionId": nil}), adapter.ReasonNotFound)
	requireRPCReason(t, h.call("launch", map[string]any{"processId": "idle", "resume": true, "sessionId": "s1"}), adapter.ReasonNoResumeSupport)
	assert.Equal(t, adapter.StateIdle, h.get("idle").Status.State, "a refused resume launches nothing")

	// The id may be the document's _id in hex.
	idle := h.get("idle")
	requireRPCReason(t, h.call("cancel", map[string]any{"processId": idle.ID.Hex()}), adapter.ReasonNotCancellable)
	requireRPCReason(t, h.call("cancel", map[string]any{"processId": "no-such-process"}), adapter.ReasonNotFound)
	requireRPCReason(t, h.call("dismiss", map[string]any{"processId": "idle"}), adapter.ReasonNotDismissable)
	requireRPCReason(t, h.call("dismiss", map[string]any{"processId": "no-such-process"}), adapter.ReasonNotFound)

	// A running tree: a second launch is refused, a cancel succeeds.
	rpcProcessOf(t, h.call("launch", launchArgs("tree")))
	h.waitState("tree/b", adapter.StateRunning)
	requireRPCReason(t, h.call("launch", launchArgs("tree")), adapter.ReasonNotLaunchable)
	requireRPCReason(t, h.call("launch", map[string]any{"processId": "tree", "resume": true, "sessionId": nil}), adapter.ReasonNotLaunchable)
	p = rpcProcessOf(t, h.call("cancel", map[string]any{"processId": "tree"}))
	assert.Contains(t, []any{"cancel_requested", "cancelling", "cancelled"}, p["status"].(map[string]any)["state"])
	h.waitState("tree", adapter.StateCancelled)
	requireRPCReason(t, h.call("cancel", map[string]any{"processId": "tree"}), adapter.ReasonNotCancellable)

	// dismiss resets an ended process to idle.
	p = rpcProcessOf(t, h.call("dismiss", map[string]any{"processId": "quick"}))
	assert.Equal(t, "idle", p["status"].(map[string]any)["state"])
	assert.Equal(t, []any{}, p["log"])
	assert.Equal(t, adapter.StateIdle, h.get("quick").Status.State)
}

// blockLaunches refuses matching launches until unblockLaunches lifts the
// block; both accept the contract's filter forms.
func TestRPCBlocks(t *testing.T) {
	t.Parallel()
	h := newRPCHarness(t, rpcHarnessOptions{})

	assert.Equal(t, map[string]any{"ok": true}, h.call("blockLaunches", map[string]any{"launchFilter": map[string]any{"kind": "blockme"}, "reason": "maintenance"}))
	requireRPCReason(t, h.call("launch", launchArgs("blockme")), adapter.ReasonLaunchBlocked)
	assert.Equal(t, adapter.StateIdle, h.get("blockme").Status.State)
	rpcProcessOf(t, h.call("launch", launchArgs("quick"))) // other metadata is not blocked

	// An unrelated filter lifts nothing; the exact one lifts the block.
	assert.Equal(t, map[string]any{"removed": 0.0}, h.call("unblockLaunches", map[string]any{"launchFilter": map[string]any{"kind": "other"}}))
	assert.Equal(t, map[string]any{"removed": 1.0}, h.call("unblockLaunches", map[string]any{"launchFilter": map[string]any{"kind": "blockme"}}))
	rpcProcessOf(t, h.call("launch", launchArgs("blockme")))
	h.waitState("blockme", adapter.StateDone)

	// A float in the filter matches an integer in the metadata, as in Python.
	assert.Equal(t, map[string]any{"ok": true}, h.call("blockLaunches", map[string]any{"launchFilter": json.RawMessage(`{"n": 5.0}`), "reason": nil}))
	requireRPCReason(t, h.call("launch", launchArgs("blockme")), adapter.ReasonLaunchBlocked)
	assert.Equal(t, map[string]any{"removed": 1.0}, h.call("unblockLaunches", map[string]any{"launchFilter": json.RawMessage(`{"n": 5.0}`)}))
}

// groupCancel and groupCancelAndWait cancel a running tree by metadata;
// persist without block is refused before anything happens.
func TestRPCGroupCancel(t *testing.T) {
	t.Parallel()
	h := newRPCHarness(t, rpcHarnessOptions{})
	rpcProcessOf(t, h.call("launch", launchArgs("tree")))
	h.waitState("tree/a", adapter.StateRunning)
	h.waitState("tree/b", adapter.StateRunning)

	before := h.snapshot()
	requireRPCReason(t, h.call("groupCancel", map[string]any{"metadataFilter": map[string]any{"group": "tree"}, "persist": true}), adapter.ReasonInvalidPersistWithoutBlock)
	requireRPCReason(t, h.call("groupCancelAndWait", map[string]any{"metadataFilter": map[string]any{}, "persist": true, "blockNewLaunches": false}), adapter.ReasonInvalidPersistWithoutBlock)
	// An empty filter is optio-core's ValueError (-32603 there); it is the
	// caller's input, so -32602 here (see the README's Hardening part).
	rpcErr := h.callError("groupCancel", map[string]any{"metadataFilter": map[string]any{}})
	assert.Equal(t, rpc.CodeInvalidParams, rpcErr.Code)
	assert.Contains(t, string(rpcErr.Data.(json.RawMessage)), `non-empty metadataFilter`)
	assert.Equal(t, before["optio_launch_blocks"], h.snapshot()["optio_launch_blocks"])
	for _, id := range []string{"tree", "tree/a", "tree/b"} {
		assert.Equal(t, adapter.StateRunning, h.get(id).Status.State, id)
	}

	// Children inherit the metadata, so the tree is three cancels.
	res := h.call("groupCancel", map[string]any{"metadataFilter": map[string]any{"group": "tree"}})
	assert.Equal(t, map[string]any{"ok": true, "cancelledCount": 3.0}, res)
	for _, id := range []string{"tree", "tree/a", "tree/b"} {
		h.waitState(id, adapter.StateCancelled)
	}

	// groupCancelAndWait returns once the stubborn body has finished; with a
	// persisted block, a relaunch is refused afterwards.
	rpcProcessOf(t, h.call("launch", launchArgs("stubborn")))
	h.waitState("stubborn", adapter.StateRunning)
	start := time.Now()
	res = h.call("groupCancelAndWait", map[string]any{
		"metadataFilter": map[string]any{"group": "stubborn"}, "blockNewLaunches": true, "persist": true, "reason": "drain", "purgeRecords": nil,
	})
	assert.Equal(t, map[string]any{"ok": true, "cancelledCount": 1.0}, res)
	assert.Greater(t, time.Since(start), rpcStubbornFor/3, "it waited for the body")
	assert.True(t, h.get("stubborn").Status.State.End())
	requireRPCReason(t, h.call("launch", launchArgs("stubborn")), adapter.ReasonLaunchBlocked)
	assert.Equal(t, map[string]any{"removed": 1.0}, h.call("unblockLaunches", map[string]any{"launchFilter": map[string]any{"group": "stubborn"}}))
	assert.Equal(t, map[string]any{"ok": true, "cancelledCount": 0.0}, h.call("groupCancel", map[string]any{"metadataFilter": map[string]any{"group": "nothing"}}))
}

// resync is a notification: no reply, and a task the generator now returns
// gets its document.
func TestRPCResyncNotification(t *testing.T) {
	t.Parallel()
	h := newRPCHarness(t, rpcHarnessOptions{})
	_, err := h.eng.GetProcess(h.ctx, "late-task")
	require.ErrorIs(t, err, adapter.ErrNotFound)
	h.tasks.extra.Store(&[]adapter.TaskInstance{{ProcessID: "late-task", Name: "Late task", Metadata: map[string]any{"kind": "late"}, Execute: rpcQuickBody}})

	require.NoError(t, h.client.Notify(h.ctx, engineapi.Service, "resync", map[string]any{"clean": false, "metadataFilter": map[string]any{"kind": "late"}}))
	require.Eventually(t, func() bool {
		_, err := h.eng.GetProcess(h.ctx, "late-task")
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	rpcProcessOf(t, h.call("launch", launchArgs("late-task")))
	h.waitState("late-task", adapter.StateDone)

	// A clean resync with explicit nulls, as a Python client sends it,
	// resets the tree to idle.
	require.NoError(t, h.client.Notify(h.ctx, engineapi.Service, "resync", json.RawMessage(`{"clean": true, "metadataFilter": null}`)))
	h.waitState("late-task", adapter.StateIdle)

	// A resync called as a request is still a notification: no reply.
	ctx, cancel := context.WithTimeout(h.ctx, 500*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, h.client.Call(ctx, engineapi.Service, "resync", map[string]any{}, nil), rpc.ErrCallTimeout)
}

// Bad input gets -32602 (or -32601 for an unknown method) and changes
// nothing.
func TestRPCBadInput(t *testing.T) {
	t.Parallel()
	h := newRPCHarness(t, rpcHarnessOptions{})
	before := h.snapshot()
	for _, tt := range []struct {
		method string
		params string
		code   int
		errs   []string // "type at loc" of each reported problem
	}{
		{"launch", `{"sessionId": null}`, rpc.CodeInvalidParams, []string{"missing at processId"}},
		{"launch", `{"processId": "quick"}`, rpc.CodeInvalidParams, []string{"missing at sessionId"}},
		{"launch", `{"processId": 7, "sessionId": null}`, rpc.CodeInvalidParams, []string{"string_type at processId"}},
		{"launch", `{"processId": "", "sessionId": null}`, rpc.CodeInvalidParams, []string{"string_too_short at processId"}},
		{"launch", `{"processId": "quick", "sessionId": null, "resume": "maybe"}`, rpc.CodeInvalidParams, []string{"bool_parsing at resume"}},
		{"launch", `{"processId": "quick", "sessionId": 5}`, rpc.CodeInvalidParams, []string{"string_type at sessionId"}},
		{"launch", `{"processId": "quick", "sessionId": null, "force": true}`, rpc.CodeInvalidParams, []string{"extra_forbidden at force"}},
		{"launch", `null`, rpc.CodeInvalidParams, []string{"model_type at "}},
		{"cancel", `{}`, rpc.CodeInvalidParams, []string{"missing at processId"}},
		{"cancel", `{"processId": ["tree"]}`, rpc.CodeInvalidParams, []string{"string_type at processId"}},
		{"dismiss", `{"processId": "quick", "x": 1}`, rpc.CodeInvalidParams, []string{"extra_forbidden at x"}},
		{"groupCancel", `{}`, rpc.CodeInvalidParams, []string{"missing at metadataFilter"}},
		{"groupCancel", `{"metadataFilter": null}`, rpc.CodeInvalidParams, []string{"value_error at metadataFilter"}},
		{"groupCancel", `{"metadataFilter": "tree"}`, rpc.CodeInvalidParams, []string{"value_error at metadataFilter"}},
		{"groupCancel", `{"metadataFilter": {"$where": "1"}}`, rpc.CodeInvalidParams, []string{"value_error at metadataFilter"}},
		{"groupCancel", `{"metadataFilter": {"group": "tree"}, "persist": [true]}`, rpc.CodeInvalidParams, []string{"bool_type at persist"}},
		{"groupCancelAndWait", `{"metadataFilter": {"group": ["tree"]}}`, rpc.CodeInvalidParams, []string{"value_error at metadataFilter"}},
		{"blockLaunches", `{"launchFilter": [], "reason": "x"}`, rpc.CodeInvalidParams, []string{"value_error at launchFilter"}},
		{"blockLaunches", `{"launchFilter": {"kind": "quick"}, "reason": 3}`, rpc.CodeInvalidParams, []string{"string_type at reason"}},
		{"unblockLaunches", `{"launchFilter": {"kind": {"regex": "q"}}}`, rpc.CodeInvalidParams, []string{"value_error at launchFilter"}},
		{"launchAll", `{}`, rpc.CodeMethodNotFound, nil},
		{"materializeUpload", `{"processId": "quick", "blobId": "b"}`, rpc.CodeInvalidParams, []string{"missing at filename"}},
	} {
		t.Run(tt.method+" "+tt.params, func(t *testing.T) {
			err := h.client.Call(h.ctx, engineapi.Service, tt.method, json.RawMessage(tt.params), nil)
			var rpcErr *rpc.Error
			require.ErrorAs(t, err, &rpcErr)
			require.Equal(t, tt.code, rpcErr.Code, "%v", rpcErr)
			if tt.code == rpc.CodeMethodNotFound {
				require.Equal(t, "Method not found", rpcErr.Message)
				require.Nil(t, rpcErr.Data)
				return
			}
			require.Equal(t, "Invalid params", rpcErr.Message)
			var data struct {
				Errors []rpc.FieldError `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(rpcErr.Data.(json.RawMessage), &data))
			var got []string
			for _, fe := range data.Errors {
				loc := make([]string, len(fe.Loc))
				for i, l := range fe.Loc {
					loc[i] = rpcJSONText(l)
				}
				got = append(got, fe.Type+" at "+strings.ReplaceAll(strings.Join(loc, "."), `"`, ""))
			}
			require.Equal(t, tt.errs, got)
		})
	}
	require.Equal(t, before, h.snapshot(), "bad input changed nothing")
	// The server still serves.
	requireRPCReason(t, h.call("cancel", map[string]any{"processId": "idle"}), adapter.ReasonNotCancellable)
}

// Entries written the way the Python client writes them (", " separators,
// every optional key present, null when unset, operators with null leaves)
// are answered as the contract says.
func TestRPCPythonClientEntries(t *testing.T) {
	t.Parallel()
	h := newRPCHarness(t, rpcHarnessOptions{})
	replyTo := rpc.ReplyStream(h.prefix, uuid.NewString())
	stream := rpc.CommandStream(h.prefix, engineapi.Service)
	last := "0"
	// exchange sends a call as a Python client writes it and returns the
	// reply envelope's text and the call's id.
	exchange := func(method, params string) (string, string) {
		t.Helper()
		id := uuid.NewString()
		envelope := `{"jsonrpc": "2.0", "method": "optio-engine.` + method + `", "params": ` + params + `, "id": "` + id + `"}`
		require.NoError(t, h.rdb.XAdd(h.ctx, &redis.XAddArgs{Stream: stream, Values: []any{"type", "rpc", "envelope", envelope, "reply-to", replyTo}}).Err())
		res, err := h.rdb.XRead(h.ctx, &redis.XReadArgs{Streams: []string{replyTo, last}, Count: 1, Block: 15 * time.Second}).Result()
		require.NoError(t, err)
		msg := res[0].Messages[0]
		last = msg.ID
		require.Equal(t, "rpc", msg.Values["type"])
		return msg.Values["envelope"].(string), id
	}
	send := func(method, params string) map[string]any {
		t.Helper()
		text, id := exchange(method, params)
		require.True(t, strings.HasPrefix(text, `{"jsonrpc": "2.0", "id": "`+id+`", "result": {`), text)
		var reply struct {
			Result map[string]any `json:"result"`
		}
		require.NoError(t, json.Unmarshal([]byte(text), &reply))
		return reply.Result
	}
	// exact checks the reply byte for byte against optio-core's layout.
	exact := func(method, params, result string) {
		t.Helper()
		text, id := exchange(method, params)
		require.Equal(t, `{"jsonrpc": "2.0", "id": "`+id+`", "result": `+result+`}`, text)
	}

	res := send("launch", `{"processId": "quick", "resume": null, "sessionId": null}`)
	p := rpcProcessOf(t, res)
	assert.Equal(t, "quick", p["processId"])
	h.waitState("quick", adapter.StateDone)
	exact("cancel", `{"processId": "quick"}`, `{"ok": false, "reason": "not-cancellable"}`)
	exact("launch", `{"processId": "nope", "resume": null, "sessionId": "s-1"}`, `{"ok": false, "reason": "not-found"}`)
	nullOps := `"ne": null, "in": null, "nin": null, "exists": null, "gt": null, "gte": null, "lt": null, "lte": null`
	// Operator objects are accepted and, as in optio-core, compared as
	// literals rather than interpreted.
	exact("blockLaunches", `{"launchFilter": {"kind": {"eq": "quick", `+nullOps+`}}, "reason": null}`, `{"ok": true}`)
	exact("unblockLaunches", `{"launchFilter": {"kind": {"eq": "quick", `+nullOps+`}}}`, `{"removed": 1}`)
	exact("blockLaunches", `{"launchFilter": {"kind": "quick"}, "reason": "maintenance"}`, `{"ok": true}`)
	exact("launch", `{"processId": "quick", "resume": null, "sessionId": null}`, `{"ok": false, "reason": "launch-blocked"}`)
	exact("unblockLaunches", `{"launchFilter": {"kind": "quick"}}`, `{"removed": 1}`)
	exact("groupCancel", `{"metadataFilter": {"kind": {"eq": "quick", `+nullOps+`}}, "blockNewLaunches": null, "persist": true, "reason": null, "purgeRecords": null}`,
		`{"ok": false, "reason": "invalid-persist-without-block"}`)
	exact("groupCancelAndWait", `{"metadataFilter": {"kind": "quick"}, "blockNewLaunches": null, "persist": null, "reason": null, "purgeRecords": null}`,
		`{"ok": true, "cancelledCount": 0}`)
	p = rpcProcessOf(t, send("dismiss", `{"processId": "quick"}`))
	assert.Equal(t, "idle", p["status"].(map[string]any)["state"])

	// Scalars are read as pydantic's lax mode reads them: 0 is false and
	// "true" is true, so this asks to persist without blocking.
	exact("groupCancel", `{"metadataFilter": {"kind": "quick"}, "blockNewLaunches": 0, "persist": "true"}`,
		`{"ok": false, "reason": "invalid-persist-without-block"}`)
	p = rpcProcessOf(t, send("launch", `{"processId": "quick", "resume": "no", "sessionId": null}`))
	assert.Equal(t, "quick", p["processId"])
	h.waitState("quick", adapter.StateDone)

	// A missing key is pydantic's "missing" error.
	text, id := exchange("launch", `{"processId": "quick"}`)
	require.True(t, strings.HasPrefix(text, `{"jsonrpc": "2.0", "id": "`+id+`", "error": {"code": -32602, "message": "Invalid params", "data": {"errors": [{"type": "missing", "loc": ["sessionId"], "msg": "Field required", "input": {"processId": "quick"}`), text)
}
