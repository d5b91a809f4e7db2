package engineapi

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/internal/processfixture"
	"github.com/optio-temporal/optio/mirror"
)

func ptr[T any](v T) *T { return &v }

func mustOID(t *testing.T, hex string) bson.ObjectID {
	t.Helper()
	oid, err := bson.ObjectIDFromHex(hex)
	require.NoError(t, err)
	return oid
}

// A child in an end state, with every kind of value the document can hold.
func TestProcessJSONGolden(t *testing.T) {
	id := mustOID(t, "6650f1c2a1b2c3d4e5f60719")
	parent := mustOID(t, "6650f1c2a1b2c3d4e5f60718")
	ran := time.Date(2026, 5, 18, 12, 46, 35, 250_000_000, time.UTC)
	done := time.Date(2026, 5, 18, 12, 46, 36, 0, time.UTC)
	p := &mirror.Process{
		ID: id, ProcessID: "nightly-2", Name: "Nightly – part 2",
		Description: ptr("second half"), Warning: ptr("takes an hour"),
		Params: map[string]any{
			"steps":  int64(10),
			"ratio":  0.5,
			"whole":  3.0,
			"when":   time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
			"nested": bson.D{{Key: "z", Value: int32(1)}, {Key: "a", Value: bson.A{"x", true, nil}}},
			"ref":    parent,
			"nan":    math.NaN(),
			"html":   "<a&b>",
		},
		Metadata:    map[string]any{"tag": "demo", "tenant": bson.M{"b": 2, "a": 1}},
		ParentID:    &parent,
		RootID:      parent,
		Depth:       1,
		Order:       2,
		Cancellable: true,
		Special:     true,
		Status: mirror.Status{
			State: mirror.Done, RunningSince: &ran, DoneAt: &done, Duration: ptr(0.75),
		},
		Progress: mirror.Progress{Percent: ptr(100.0), Message: ptr("finished")},
		Log: []mirror.LogEntry{
			{Timestamp: "2026-05-18T12:46:35.123456+00:00", Level: mirror.LevelEvent, Message: "State changed to running"},
			{Timestamp: "2026-05-18T12:46:36+00:00", Level: mirror.LevelInfo, Message: "step", Data: map[string]any{"n": 1, "at": done}},
		},
		CreatedAt: time.Date(2026, 5, 18, 12, 0, 0, 1_000_000, time.UTC),
	}
	got, err := ProcessJSON(p)
	require.NoError(t, err)
	want := `{"_id":"6650f1c2a1b2c3d4e5f60719","processId":"nightly-2","name":"Nightly – part 2",` +
		`"params":{"html":"<a&b>","nan":null,"nested":{"z":1,"a":["x",true,null]},"ratio":0.5,"ref":"6650f1c2a1b2c3d4e5f60718","steps":10,"when":"2026-01-02T03:04:05.006000Z","whole":3.0},` +
		`"metadata":{"tag":"demo","tenant":{"a":1,"b":2}},` +
		`"parentId":"6650f1c2a1b2c3d4e5f60718","rootId":"6650f1c2a1b2c3d4e5f60718","depth":1,"order":2,` +
		`"cancellable":true,"special":true,"warning":"takes an hour","description":"second half",` +
		`"status":{"state":"done","error":null,"runningSince":"2026-05-18T12:46:35.250000Z","doneAt":"2026-05-18T12:46:36Z","duration":0.75,"failedAt":null,"stoppedAt":null},` +
		`"progress":{"percent":100.0,"message":"finished"},` +
		`"log":[{"timestamp":"2026-05-18T12:46:35.123456Z","level":"event","message":"State changed to running","data":null},` +
		`{"timestamp":"2026-05-18T12:46:36Z","level":"info","message":"step","data":{"at":"2026-05-18T12:46:36Z","n":1}}],` +
		`"uiWidget":null,"widgetData":null,"supportsResume":false,"hasSavedState":false,"autoResumeScheduled":false,` +
		`"browserOpenRequests":null,"sessionEvents":null,"originatingSessionId":null,"createdAt":"2026-05-18T12:00:00.001000Z"}`
	require.Equal(t, want, string(got))
	require.True(t, json.Valid(got))
}

// Documents optio-core's model would reject are errors, not payloads.
func TestProcessJSONRejects(t *testing.T) {
	for _, tt := range processfixture.Rejected() {
		t.Run(tt.Name, func(t *testing.T) {
			p := processfixture.Example()
			tt.Mutate(p)
			_, err := ProcessJSON(p)
			require.ErrorContains(t, err, tt.Want)
		})
	}
}

func TestWireTimestamp(t *testing.T) {
	for in, want := range map[string]string{
		"2026-05-18T12:46:35.123456+00:00": "2026-05-18T12:46:35.123456Z",
		"2026-05-18T12:46:35.123+00:00":    "2026-05-18T12:46:35.123000Z",
		"2026-05-18T12:46:35+00:00":        "2026-05-18T12:46:35Z",
		"2026-05-18T12:46:35.000000+00:00": "2026-05-18T12:46:35Z",
		"2026-05-18T12:46:35Z":             "2026-05-18T12:46:35Z",
		"2026-05-18T12:46:35.5+02:00":      "2026-05-18T12:46:35.500000+02:00",
		"2026-05-18 12:46:35+00:00":        "2026-05-18T12:46:35Z",
		"2026-05-18T12:46:35.123456":       "2026-05-18T12:46:35.123456Z",
	} {
		got, err := wireTimestamp(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}
