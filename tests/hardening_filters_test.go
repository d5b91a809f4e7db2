package tests

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// Hardening, point 6: filters the backend cannot take (a NUL byte in a key,
// a dotted key in a launch filter, a NOT nested 1,000 deep, an empty group
// cancel filter) are answered -32602 with a message that says what is wrong,
// and nothing is written.
func TestHardeningBadFilters(t *testing.T) {
	t.Parallel()
	h := newRPCHarness(t, rpcHarnessOptions{})
	deepNot := strings.Repeat(`{"NOT": `, 1000) + `{"kind": "quick"}` + strings.Repeat(`}`, 1000)
	before := h.snapshot()
	replyTo := rpc.ReplyStream(h.prefix, uuid.NewString())
	stream := rpc.CommandStream(h.prefix, engineapi.Service)
	last := "0"
	exchange := func(envelope string) string {
		t.Helper()
		require.NoError(t, h.rdb.XAdd(h.ctx, &redis.XAddArgs{Stream: stream, Values: []any{"type", "rpc", "envelope", envelope, "reply-to", replyTo}}).Err())
		res, err := h.rdb.XRead(h.ctx, &redis.XReadArgs{Streams: []string{replyTo, last}, Count: 1, Block: 15 * time.Second}).Result()
		require.NoError(t, err)
		last = res[0].Messages[0].ID
		return res[0].Messages[0].Values["envelope"].(string)
	}
	for _, tt := range []struct {
		name   string
		method string
		params string
		msg    string
	}{
		{"NUL in a group cancel key", "groupCancel", `{"metadataFilter": {"ki\u0000nd": "quick"}}`, "NUL byte"},
		{"NUL in a block key", "blockLaunches", `{"launchFilter": {"ki\u0000nd": "quick"}, "reason": "x"}`, "NUL byte"},
		{"NUL in an operator", "groupCancelAndWait", `{"metadataFilter": {"kind": {"e\u0000q": "quick"}}}`, "NUL byte"},
		{"dotted block key", "blockLaunches", `{"launchFilter": {"a.b": "quick"}, "reason": "x"}`, "cannot contain '.'"},
		{"dotted unblock key", "unblockLaunches", `{"launchFilter": {"OR": [{"a.b": 1}]}}`, "cannot contain '.'"},
		{"NOT 1,000 deep", "groupCancel", `{"metadataFilter": ` + deepNot + `}`, "more than 32 levels deep"},
		{"NOT 1,000 deep in a block", "blockLaunches", `{"launchFilter": ` + deepNot + `, "reason": "x"}`, "more than 32 levels deep"},
		{"empty group cancel filter", "groupCancel", `{"metadataFilter": {}}`, "non-empty metadataFilter"},
		{"empty group cancel and wait filter", "groupCancelAndWait", `{"metadataFilter": {}, "blockNewLaunches": true}`, "non-empty metadataFilter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Written as any client could: the Go client refuses to encode
			// JSON nested 1,000 deep.
			text := exchange(`{"jsonrpc": "2.0", "method": "optio-engine.` + tt.method + `", "params": ` + tt.params + `, "id": "` + uuid.NewString() + `"}`)
			var reply struct {
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
					Data    struct {
						Errors []rpc.FieldError `json:"errors"`
					} `json:"data"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(text), &reply))
			require.Equal(t, rpc.CodeInvalidParams, reply.Error.Code, text)
			require.Equal(t, "Invalid params", reply.Error.Message)
			data := reply.Error.Data
			require.Len(t, data.Errors, 1)
			require.Equal(t, "value_error", data.Errors[0].Type)
			require.Contains(t, data.Errors[0].Msg, tt.msg)
			require.NotContains(t, data.Errors[0].Msg, ".go:", "no source position of the backend")
		})
	}
	require.Equal(t, before, h.snapshot(), "bad filters changed nothing")
	// Filters that nest within the bound, and dotted paths where they are
	// metadata paths, still work.
	ok := strings.Repeat(`{"NOT": `, 10) + `{"kind": "none"}` + strings.Repeat(`}`, 10)
	var res map[string]any
	require.NoError(t, h.client.Call(h.ctx, engineapi.Service, "blockLaunches", json.RawMessage(`{"launchFilter": `+ok+`, "reason": "x"}`), &res))
	require.Equal(t, true, res["ok"])
	require.NoError(t, h.client.Call(h.ctx, engineapi.Service, "groupCancel", json.RawMessage(`{"metadataFilter": {"a.b": "none"}}`), &res))
	require.Equal(t, true, res["ok"])
}
