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
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/rpc"
)

func ptr[T any](v T) *T { return &v }

// exampleProcess is the document of the example reply in clamator-wire.md
// §8.4, as the Go mirror holds it.
func exampleProcess(t *testing.T) *mirror.Process {
	id, err := bson.ObjectIDFromHex("6650f1c2a1b2c3d4e5f60718")
	require.NoError(t, err)
	return &mirror.Process{
		ID: id, ProcessID: "opencode-demo", Name: "OpenCode demo",
		Params: map[string]any{}, Metadata: map[string]any{"tag": "demo"},
		RootID: id, Cancellable: true,
		Status:   mirror.Status{State: mirror.Scheduled},
		Progress: mirror.Progress{Percent: ptr(0.0)},
		Log: []mirror.LogEntry{{
			Timestamp: "2026-05-08T10:00:00.123000+00:00", Level: mirror.LevelEvent, Message: "State changed to scheduled",
		}},
		CreatedAt: time.Date(2026, 5, 8, 9, 59, 59, 0, time.UTC),
	}
}

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
	doc := exampleProcess(t)
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
	for _, tt := range []struct {
		name   string
		mutate func(p *mirror.Process)
		want   string
	}{
		{"percent above 100", func(p *mirror.Process) { p.Progress.Percent = ptr(100.5) }, "outside 0..100"},
		{"negative percent", func(p *mirror.Process) { p.Progress.Percent = ptr(-1.0) }, "outside 0..100"},
		{"negative order", func(p *mirror.Process) { p.Order = -1 }, "must be >= 0"},
		{"unknown state", func(p *mirror.Process) { p.Status.State = "paused" }, "unknown state"},
		{"unknown log level", func(p *mirror.Process) { p.Log[0].Level = "trace" }, "unknown level"},
		{"bad log timestamp", func(p *mirror.Process) { p.Log[0].Timestamp = "yesterday" }, "not an ISO-8601"},
		{"channel in params", func(p *mirror.Process) { p.Params["c"] = make(chan int) }, "cannot encode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := exampleProcess(t)
			tt.mutate(p)
			_, err := outcomeResult("launch", p.ProcessID, adapter.Outcome{OK: true, Process: p})
			require.ErrorContains(t, err, tt.want)
			var pe *pyError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, "ValidationError", pe.ErrorName())
		})
	}
}
