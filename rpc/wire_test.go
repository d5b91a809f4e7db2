package rpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/rpc"
)

// field is one field of a raw stream entry, in stream order.
type field struct{ name, value string }

// rawEntries reads a stream with XRANGE through Do, keeping the field order
// that go-redis's XMessage map loses.
func rawEntries(t *testing.T, rdb *redis.Client, stream string) [][]field {
	t.Helper()
	return rawRange(t, rdb, stream, "-", "+")
}

func rawRange(t *testing.T, rdb *redis.Client, stream, from, to string) [][]field {
	t.Helper()
	res, err := rdb.Do(context.Background(), "XRANGE", stream, from, to).Slice()
	require.NoError(t, err)
	var out [][]field
	for _, e := range res {
		kv := e.([]any)[1].([]any)
		var fs []field
		for i := 0; i < len(kv); i += 2 {
			fs = append(fs, field{kv[i].(string), kv[i+1].(string)})
		}
		out = append(out, fs)
	}
	return out
}

// awaitReply waits for the next entry on a reply stream after lastID and
// returns its fields, or nil if none arrives within wait.
func awaitReply(t *testing.T, rdb *redis.Client, stream, lastID string, wait time.Duration) (string, []field) {
	t.Helper()
	res, err := rdb.XRead(context.Background(), &redis.XReadArgs{
		Streams: []string{stream, lastID}, Count: 1, Block: wait,
	}).Result()
	if err == redis.Nil {
		return lastID, nil
	}
	require.NoError(t, err)
	id := res[0].Messages[0].ID
	return id, rawRange(t, rdb, stream, id, id)[0]
}

// pendingCount is the number of entries read but not acknowledged, or -1
// if Redis cannot tell. It is safe inside require.Eventually.
func pendingCount(t *testing.T, rdb *redis.Client, stream, group string) int64 {
	t.Helper()
	p, err := rdb.XPending(context.Background(), stream, group).Result()
	if err != nil {
		t.Logf("XPENDING %s: %v", stream, err)
		return -1
	}
	return p.Count
}

// wireFixture is a running arith server plus the keys a raw client uses.
type wireFixture struct {
	rdb     *redis.Client
	arith   *arith
	stream  string
	replyTo string
	lastID  string
}

func newWireFixture(t *testing.T) *wireFixture {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	a := &arith{}
	newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, a.service())
	return &wireFixture{
		rdb:     rdb,
		arith:   a,
		stream:  rpc.CommandStream(prefix, "arith"),
		replyTo: rpc.ReplyStream(prefix, "raw-"+uuid.NewString()),
		lastID:  "0-0",
	}
}

// send writes an entry the way the Python client does (type, envelope,
// reply-to) and returns its reply envelope, or "" if none came within wait.
func (f *wireFixture) send(t *testing.T, envelope string, wait time.Duration) string {
	t.Helper()
	require.NoError(t, f.rdb.XAdd(context.Background(), &redis.XAddArgs{
		Stream: f.stream,
		Values: []any{"type", "rpc", "envelope", envelope, "reply-to", f.replyTo},
	}).Err())
	id, fs := awaitReply(t, f.rdb, f.replyTo, f.lastID, wait)
	if fs == nil {
		return ""
	}
	f.lastID = id
	require.Len(t, fs, 2, "reply fields")
	require.Equal(t, field{"type", "rpc"}, fs[0])
	require.Equal(t, "envelope", fs[1].name)
	return fs[1].value
}

// waitAcked waits until the server has acknowledged everything it read.
func (f *wireFixture) waitAcked(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return pendingCount(t, f.rdb, f.stream, "arith") == 0 },
		5*time.Second, 10*time.Millisecond, "entries left pending")
}

// Replies are byte-for-byte what optio-core's Python server writes: Python's
// json.dumps layout, the reference key order, "data" always present.
func TestWireReplies(t *testing.T) {
	f := newWireFixture(t)
	tests := []struct {
		name, request, reply string
	}{
		{
			"success in Python layout",
			`{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 2, "b": 3}, "id": "c1"}`,
			`{"jsonrpc": "2.0", "id": "c1", "result": {"sum": 5.0}}`,
		},
		{
			"compact TypeScript request, non-ASCII escaped in the reply",
			`{"jsonrpc":"2.0","method":"arith.echoText","params":{"text":"h\u00e9llo 😀 <&>"},"id":"c2"}`,
			`{"jsonrpc": "2.0", "id": "c2", "result": {"text": "h\u00e9llo \ud83d\ude00 <&>"}}`,
		},
		{
			"numeric id echoed as a number",
			`{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 1}, "id": 42}`,
			`{"jsonrpc": "2.0", "id": 42, "result": {"sum": 2.0}}`,
		},
		{
			"Python client nulls for unset optionals",
			`{"jsonrpc": "2.0", "method": "arith.launch", "params": {"processId": "p1", "resume": null, "sessionId": null}, "id": "c3"}`,
			`{"jsonrpc": "2.0", "id": "c3", "result": {"processId": "p1", "resume": null, "sessionId": null}}`,
		},
		{
			"absent params are {}",
			`{"jsonrpc": "2.0", "method": "arith.rawParams", "id": "c4"}`,
			`{"jsonrpc": "2.0", "id": "c4", "result": {}}`,
		},
		{
			"-32601 for a call of another service on this stream",
			`{"jsonrpc": "2.0", "method": "other.add", "params": {"a": 1, "b": 2}, "id": "c5"}`,
			`{"jsonrpc": "2.0", "id": "c5", "error": {"code": -32601, "message": "Method not found", "data": null}}`,
		},
		{
			"-32601 unknown method",
			`{"jsonrpc": "2.0", "method": "arith.nope", "params": {}, "id": "e1"}`,
			`{"jsonrpc": "2.0", "id": "e1", "error": {"code": -32601, "message": "Method not found", "data": null}}`,
		},
		{
			"-32602 wrong type",
			`{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": "two", "b": 3}, "id": "e2"}`,
			`{"jsonrpc": "2.0", "id": "e2", "error": {"code": -32602, "message": "Invalid params", "data": {"errors": [{"type": "float_parsing", "loc": ["a"], "msg": "Input should be a valid number, unable to parse string as a number", "input": "two", "url": "https://errors.pydantic.dev/2.13/v/float_parsing"}]}}}`,
		},
		{
			"-32602 extra key",
			`{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2, "c": 3}, "id": "e3"}`,
			`{"jsonrpc": "2.0", "id": "e3", "error": {"code": -32602, "message": "Invalid params", "data": {"errors": [{"type": "extra_forbidden", "loc": ["c"], "msg": "Extra inputs are not permitted", "input": 3, "url": "https://errors.pydantic.dev/2.13/v/extra_forbidden"}]}}}`,
		},
		{
			"-32602 missing required key",
			`{"jsonrpc": "2.0", "method": "arith.launch", "params": {"processId": "p1"}, "id": "e4"}`,
			`{"jsonrpc": "2.0", "id": "e4", "error": {"code": -32602, "message": "Invalid params", "data": {"errors": [{"type": "missing", "loc": ["sessionId"], "msg": "Field required", "input": {"processId": "p1"}, "url": "https://errors.pydantic.dev/2.13/v/missing"}]}}}`,
		},
		{
			"-32602 null params",
			`{"jsonrpc": "2.0", "method": "arith.add", "params": null, "id": "e5"}`,
			`{"jsonrpc": "2.0", "id": "e5", "error": {"code": -32602, "message": "Invalid params", "data": {"errors": [{"type": "model_type", "loc": [], "msg": "Input should be a valid dictionary or instance of addParams", "input": null, "ctx": {"class_name": "addParams"}, "url": "https://errors.pydantic.dev/2.13/v/model_type"}]}}}`,
		},
		{
			"-32603 handler error",
			`{"jsonrpc": "2.0", "method": "arith.boom", "params": {}, "id": "e6"}`,
			`{"jsonrpc": "2.0", "id": "e6", "error": {"code": -32603, "message": "Internal error", "data": {"name": "errorString", "message": "boom"}}}`,
		},
		{
			"-32603 wrapped error with attributes",
			`{"jsonrpc": "2.0", "method": "arith.coded", "params": {}, "id": "e7"}`,
			`{"jsonrpc": "2.0", "id": "e7", "error": {"code": -32603, "message": "Internal error", "data": {"name": "codedError", "message": "wrapped: coded failure: r", "reason": "r", "count": 2}}}`,
		},
		{
			"-32603 handler panic",
			`{"jsonrpc": "2.0", "method": "arith.panics", "params": {}, "id": "e8"}`,
			`{"jsonrpc": "2.0", "id": "e8", "error": {"code": -32603, "message": "Internal error", "data": {"name": "panic", "message": "kaboom"}}}`,
		},
		{
			"-32603 result validation",
			`{"jsonrpc": "2.0", "method": "arith.badResult", "params": {}, "id": "e9"}`,
			`{"jsonrpc": "2.0", "id": "e9", "error": {"code": -32603, "message": "Result validation failed", "data": {"errors": [{"type": "value_error", "loc": [], "msg": "Value error, pyjson: unsupported float value NaN", "input": null, "url": "https://errors.pydantic.dev/2.13/v/value_error"}]}}}`,
		},
		{
			"-32603 typed nil *rpc.Error",
			`{"jsonrpc": "2.0", "method": "arith.nilError", "params": {}, "id": "e12"}`,
			`{"jsonrpc": "2.0", "id": "e12", "error": {"code": -32603, "message": "Internal error", "data": {"name": "Error", "message": "rpc error <nil>"}}}`,
		},
		{
			"application error passed through",
			`{"jsonrpc": "2.0", "method": "arith.divide", "params": {"a": 1, "b": 0}, "id": "e10"}`,
			`{"jsonrpc": "2.0", "id": "e10", "error": {"code": -32000, "message": "division by zero", "data": null}}`,
		},
		{
			"wrapped application error with data passed through",
			`{"jsonrpc": "2.0", "method": "arith.appError", "params": {}, "id": "e11"}`,
			`{"jsonrpc": "2.0", "id": "e11", "error": {"code": -32001, "message": "not-found", "data": {"processId": "p1"}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.reply, f.send(t, tt.request, 5*time.Second))
			f.waitAcked(t)
		})
	}
}

// Entries that must get no reply are still handled or dropped, and always
// acknowledged; the server keeps serving after each.
func TestWireNoReply(t *testing.T) {
	f := newWireFixture(t)
	tests := []struct {
		name     string
		values   []any
		handled  int64 // handler runs expected (add/launch)
		pinged   int64
		noFields bool
	}{
		{name: "notification", values: []any{"envelope", `{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}}`}, handled: 1},
		{name: "id null is a notification", values: []any{"envelope", `{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": null}`}, handled: 1},
		{name: "request to a notification method", values: []any{"envelope", `{"jsonrpc": "2.0", "method": "arith.ping", "params": {"tag": "x"}, "id": "n1"}`}, pinged: 1},
		{name: "notification method with Python nulls", values: []any{"envelope", `{"jsonrpc": "2.0", "method": "arith.ping", "params": {"tag": null}}`}, pinged: 1},
		{name: "notification with bad params is dropped", values: []any{"envelope", `{"jsonrpc": "2.0", "method": "arith.ping", "params": {"tag": 5}}`}},
		{name: "notification to unknown method", values: []any{"envelope", `{"jsonrpc": "2.0", "method": "arith.nope", "params": {}}`}},
		{name: "request without reply-to", values: []any{"envelope", `{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": "n2"}`}, handled: 1, noFields: true},
		{name: "unparsable JSON", values: []any{"envelope", `not json`}},
		{name: "batch", values: []any{"envelope", `[{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": "b1"}]`}},
		{name: "JSON-RPC 1.0", values: []any{"envelope", `{"jsonrpc": "1.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": "v1"}`}},
		{name: "not an object", values: []any{"envelope", `"arith.add"`}},
		{name: "method without service", values: []any{"envelope", `{"jsonrpc": "2.0", "method": "add", "id": "m1"}`}},
		{name: "hyphenated method", values: []any{"envelope", `{"jsonrpc": "2.0", "method": "arith.slow-add", "id": "m2"}`}},
		{name: "bool id", values: []any{"envelope", `{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": true}`}},
		{name: "float id", values: []any{"envelope", `{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": 1.5}`}},
		{name: "response envelope", values: []any{"envelope", `{"jsonrpc": "2.0", "id": "r1", "result": {"sum": 3}}`}},
		{name: "empty envelope", values: []any{"envelope", ``}},
		{name: "no envelope field", values: []any{"payload", `{}`}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handled, pinged := f.arith.handled.Load(), f.arith.pinged.Load()
			values := append([]any{"type", "rpc"}, tt.values...)
			if !tt.noFields {
				values = append(values, "reply-to", f.replyTo)
			}
			require.NoError(t, f.rdb.XAdd(ctx, &redis.XAddArgs{Stream: f.stream, Values: values}).Err())

			// Entries are handled in order, so the answer to this call is
			// the next reply only if the entry above got none, and once it
			// is there the entry above has been handled.
			alive := strconv.Quote("alive " + tt.name)
			reply := f.send(t, `{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 20, "b": 22}, "id": `+alive+`}`, 5*time.Second)
			f.waitAcked(t)
			require.Equal(t, handled+tt.handled+1, f.arith.handled.Load(), "handler runs")
			require.Equal(t, pinged+tt.pinged, f.arith.pinged.Load(), "ping runs")
			require.Equal(t, `{"jsonrpc": "2.0", "id": `+alive+`, "result": {"sum": 42.0}}`, reply)
		})
	}
}

// A type value other than "rpc" is ignored by readers.
func TestWireTypeFieldIgnored(t *testing.T) {
	f := newWireFixture(t)
	require.NoError(t, f.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: f.stream, Values: []any{
		"type", "future", "envelope", `{"jsonrpc": "2.0", "method": "arith.add", "params": {"a": 1, "b": 2}, "id": 7}`,
		"reply-to", f.replyTo, "extra", "x",
	}}).Err())
	_, fs := awaitReply(t, f.rdb, f.replyTo, "0-0", 5*time.Second)
	require.Equal(t, []field{{"type", "rpc"}, {"envelope", `{"jsonrpc": "2.0", "id": 7, "result": {"sum": 3.0}}`}}, fs)
}

// The Go client writes requests and notifications exactly as the reference
// clients do, and reads replies written by any server.
func TestWireClientEntries(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, InstanceID: "client-1"})
	stream := rpc.CommandStream(prefix, "arith")
	ctx := context.Background()

	// No server: the call times out, leaving the request in the stream.
	callCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := c.Call(callCtx, "arith", "launch", launchParams{ProcessID: "p1"}, nil)
	require.ErrorIs(t, err, rpc.ErrCallTimeout)
	require.NoError(t, c.Notify(ctx, "arith", "ping", map[string]any{"tag": "é"}))
	require.NoError(t, c.Notify(ctx, "arith", "ping", nil))

	entries := rawEntries(t, rdb, stream)
	require.Len(t, entries, 3)

	req := entries[0]
	require.Len(t, req, 3)
	require.Equal(t, field{"type", "rpc"}, req[0])
	require.Equal(t, "envelope", req[1].name)
	require.Equal(t, field{"reply-to", prefix + ":replies:client-1"}, req[2])
	var env struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(req[1].value), &env))
	id, err := uuid.Parse(env.ID)
	require.NoError(t, err)
	require.Equal(t, uuid.Version(4), id.Version())
	require.Equal(t, fmt.Sprintf(`{"jsonrpc": "2.0", "method": "arith.launch", "params": {"processId": "p1", "resume": null, "sessionId": null}, "id": %q}`, env.ID), req[1].value)

	require.Equal(t, []field{{"type", "rpc"}, {"envelope", `{"jsonrpc": "2.0", "method": "arith.ping", "params": {"tag": "\u00e9"}}`}}, entries[1])
	require.Equal(t, []field{{"type", "rpc"}, {"envelope", `{"jsonrpc": "2.0", "method": "arith.ping", "params": {}}`}}, entries[2])
}

// The Go client reads replies in either JSON layout, correlates numeric and
// string ids by their string form, and turns error replies into *rpc.Error.
func TestClientReadsForeignReplies(t *testing.T) {
	rdb := newRedis(t, sharedRedis)
	prefix := testPrefix(t)
	c := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 5 * time.Second})
	stream := rpc.CommandStream(prefix, "echo")
	ctx := context.Background()

	// A hand-written server that answers in the TypeScript layout.
	go func() {
		_ = rdb.XGroupCreateMkStream(ctx, stream, "echo", "0").Err()
		for i := 0; i < 2; i++ {
			res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: "echo", Consumer: "echo:ts", Streams: []string{stream, ">"}, Count: 1, Block: 5 * time.Second,
			}).Result()
			if err != nil {
				return
			}
			m := res[0].Messages[0]
			var req struct {
				ID     string          `json:"id"`
				Method string          `json:"method"`
				Params json.RawMessage `json:"params"`
			}
			_ = json.Unmarshal([]byte(m.Values["envelope"].(string)), &req)
			reply := fmt.Sprintf(`{"jsonrpc":"2.0","id":%q,"result":%s}`, req.ID, req.Params)
			if strings.HasSuffix(req.Method, ".fail") {
				reply = fmt.Sprintf(`{"jsonrpc":"2.0","id":%q,"error":{"code":-32001,"message":"nope","data":{"why":"é"}}}`, req.ID)
			}
			rdb.XAdd(ctx, &redis.XAddArgs{Stream: m.Values["reply-to"].(string), Values: []any{"type", "rpc", "envelope", reply}})
			rdb.XAck(ctx, stream, "echo", m.ID)
		}
	}()

	var got map[string]any
	require.NoError(t, c.Call(ctx, "echo", "back", map[string]any{"x": []int{1, 2}}, &got))
	require.Equal(t, map[string]any{"x": []any{1.0, 2.0}}, got)

	err := c.Call(ctx, "echo", "fail", nil, nil)
	var rpcErr *rpc.Error
	require.ErrorAs(t, err, &rpcErr)
	require.Equal(t, -32001, rpcErr.Code)
	require.Equal(t, "nope", rpcErr.Message)
	require.JSONEq(t, `{"why":"é"}`, string(rpcErr.Data.(json.RawMessage)))
}
