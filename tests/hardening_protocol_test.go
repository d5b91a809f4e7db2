package tests

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// Hardening, point 7: a call whose method names another service, written on
// the optio-engine stream, is not run as the engine's method of that name
// (-32601, nothing launched); a -32602 reply does not echo a 10 MB field
// back whole.
func TestHardeningProtocolEdges(t *testing.T) {
	t.Parallel()
	h := newRPCHarness(t, rpcHarnessOptions{})
	before := h.snapshot()
	replyTo := rpc.ReplyStream(h.prefix, uuid.NewString())
	stream := rpc.CommandStream(h.prefix, engineapi.Service)
	last := "0"
	exchange := func(envelope string) (string, int) {
		t.Helper()
		require.NoError(t, h.rdb.XAdd(h.ctx, &redis.XAddArgs{Stream: stream, Values: []any{"type", "rpc", "envelope", envelope, "reply-to", replyTo}}).Err())
		res, err := h.rdb.XRead(h.ctx, &redis.XReadArgs{Streams: []string{replyTo, last}, Count: 1, Block: 15 * time.Second}).Result()
		require.NoError(t, err)
		msg := res[0].Messages[0]
		last = msg.ID
		text := msg.Values["envelope"].(string)
		return text, len(text)
	}

	t.Run("another service's method is not found", func(t *testing.T) {
		text, _ := exchange(`{"jsonrpc": "2.0", "method": "other-svc.launch", "params": {"processId": "quick", "sessionId": null}, "id": "x1"}`)
		require.Equal(t, `{"jsonrpc": "2.0", "id": "x1", "error": {"code": -32601, "message": "Method not found", "data": null}}`, text)
		require.Equal(t, adapter.StateIdle, h.get("quick").Status.State, "nothing was launched")
	})

	t.Run("a 10 MB field is not echoed back whole", func(t *testing.T) {
		huge := strings.Repeat("x", 10<<20)
		params, err := json.Marshal(map[string]any{"processId": "quick", "sessionId": 5, "resume": huge})
		require.NoError(t, err)
		text, size := exchange(`{"jsonrpc": "2.0", "method": "optio-engine.launch", "params": ` + string(params) + `, "id": "x2"}`)
		t.Logf("request %d bytes, reply %d bytes", len(params), size)
		require.Less(t, size, 8<<10, "the reply stays small")
		var reply struct {
			Error struct {
				Code int `json:"code"`
				Data struct {
					Errors []rpc.FieldError `json:"errors"`
				} `json:"data"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal([]byte(text), &reply))
		require.Equal(t, rpc.CodeInvalidParams, reply.Error.Code)
		var types []string
		for _, fe := range reply.Error.Data.Errors {
			types = append(types, fe.Type+" at "+rpcJSONText(fe.Loc))
		}
		require.ElementsMatch(t, []string{`bool_parsing at ["resume"]`, `string_type at ["sessionId"]`}, types)
		for _, fe := range reply.Error.Data.Errors {
			if fe.Type == "bool_parsing" {
				in, _ := fe.Input.(string)
				require.True(t, strings.HasPrefix(in, strings.Repeat("x", 100)), "the start of the input is kept")
				require.Contains(t, in, "10485760 bytes in all")
			}
		}
	})
	require.Equal(t, before, h.snapshot(), "nothing was written")
}
