package engineservice

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/processfixture"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/rpc"
)

func ptr[T any](v T) *T { return &v }

// The reply optio-core sends for the example document, byte for byte, as
// clamator-wire.md §8.4 gives it (with the call's id).
const exampleReply = `{"jsonrpc": "2.0", "id": "%ID%", "result": {"ok": true, "process": {"_id": "6650f1c2a1b2c3d4e5f60718", "processId": "opencode-demo", "name": "OpenCode demo", "params": {}, "metadata": {"tag": "demo"}, "parentId": null, "rootId": "6650f1c2a1b2c3d4e5f60718", "depth": 0, "order": 0, "cancellable": true, "special": false, "warning": null, "description": null, "status": {"state": "scheduled", "error": null, "runningSince": null, "doneAt": null, "duration": null, "failedAt": null, "stoppedAt": null}, "progress": {"percent": 0.0, "message": null}, "log": [{"timestamp": "2026-05-08T10:00:00.123000Z", "level": "event", "message": "State changed to scheduled", "data": null}], "uiWidget": null, "widgetData": null, "supportsResume": false, "hasSavedState": false, "autoResumeScheduled": false, "browserOpenRequests": null, "sessionEvents": null, "originatingSessionId": null, "createdAt": "2026-05-08T09:59:59Z"}}}`

// The launch result of the example document goes out through a real clamator
// server exactly as optio-core writes it.
func TestProcessPayloadGoldenReply(t *testing.T) {
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := "golden-" + uuid.NewString()[:8] + "/optio"
	doc := processfixture.Example()
	srv, err := rpc.NewServer(rdb, rpc.ServerOptions{KeyPrefix: prefix, Logger: testenv.Logger(t)})
	require.NoError(t, err)
	require.NoError(t, srv.Register(rpc.Service{Name: "golden", Methods: []rpc.Method{{
		Name: "launch",
		Handler: func(context.Context, json.RawMessage) (any, error) {
			return outcomeResult("launch", doc.ProcessID, adapter.Outcome{OK: true, Process: doc})
		},
	}}}))
	ctx := context.Background()
	require.NoError(t, srv.Start(ctx))
	t.Cleanup(func() { _ = srv.Stop(ctx) })

	id := uuid.NewString()
	replyTo := prefix + ":replies:golden-test"
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: rpc.CommandStream(prefix, "golden"),
		Values: []any{"type", "rpc", "envelope",
			`{"jsonrpc": "2.0", "method": "golden.launch", "params": {"processId": "opencode-demo", "resume": null, "sessionId": null}, "id": "` + id + `"}`,
			"reply-to", replyTo},
	}).Err())
	res, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{replyTo, "0"}, Count: 1, Block: 5 * time.Second}).Result()
	require.NoError(t, err)
	msg := res[0].Messages[0]
	require.Equal(t, "rpc", msg.Values["type"])
	require.Equal(t, strings.ReplaceAll(exampleReply, "%ID%", id), msg.Values["envelope"])
}

// Documents optio-core's model would reject are ValidationErrors, not
// payloads.
func TestOutcomeResultRejects(t *testing.T) {
	for _, tt := range processfixture.Rejected() {
		t.Run(tt.Name, func(t *testing.T) {
			p := processfixture.Example()
			tt.Mutate(p)
			_, err := outcomeResult("launch", p.ProcessID, adapter.Outcome{OK: true, Process: p})
			require.ErrorContains(t, err, tt.Want)
			var pe *pyError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, "ValidationError", pe.ErrorName())
		})
	}
}
