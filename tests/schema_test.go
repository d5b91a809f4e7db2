package tests

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/adapter"
)

// seedSchema is the seed's "MongoDB Document Schema" table: every top-level
// field with the BSON types it may have. A document has exactly these fields.
var seedSchema = map[string][]bson.Type{
	"_id":         {bson.TypeObjectID},
	"processId":   {bson.TypeString},
	"name":        {bson.TypeString},
	"description": {bson.TypeString, bson.TypeNull},
	"params":      {bson.TypeEmbeddedDocument},
	"metadata":    {bson.TypeEmbeddedDocument},
	"parentId":    {bson.TypeObjectID, bson.TypeNull},
	"rootId":      {bson.TypeObjectID},
	"depth":       {bson.TypeInt32, bson.TypeInt64},
	"order":       {bson.TypeInt32, bson.TypeInt64},
	"cancellable": {bson.TypeBoolean},
	"adhoc":       {bson.TypeBoolean},
	"ephemeral":   {bson.TypeBoolean},
	"special":     {bson.TypeBoolean},
	"warning":     {bson.TypeString, bson.TypeNull},
	"status":      {bson.TypeEmbeddedDocument},
	"progress":    {bson.TypeEmbeddedDocument},
	"log":         {bson.TypeArray},
	"createdAt":   {bson.TypeDateTime},
}

// runFields are fields beyond the seed's table that optio-core writes at
// the start of every run (a document that has never run lacks them):
// originatingSessionId, the launching session or null; and optio-core
// 0.4's resume fields, which top-level processes have and children lack.
var runFields = map[string][]bson.Type{
	"originatingSessionId": {bson.TypeString, bson.TypeNull},
	"supportsResume":       {bson.TypeBoolean},
	"hasSavedState":        {bson.TypeBoolean},
	"autoResumeScheduled":  {bson.TypeBoolean},
}

// statusSchema is the status sub-document. Which of the nullable fields are
// set depends on the state; schemaCase says.
var statusSchema = map[string]bson.Type{
	"state":        bson.TypeString,
	"error":        bson.TypeString,
	"runningSince": bson.TypeDateTime,
	"doneAt":       bson.TypeDateTime,
	"duration":     bson.TypeDouble,
	"failedAt":     bson.TypeDateTime,
	"stoppedAt":    bson.TypeDateTime,
}

var logLevels = []string{"event", "info", "debug", "warning", "error"}

// TestDocumentSchemaIsExactlyTheSeeds reads the raw documents of processes in
// every kind of situation (fresh, done, failed, cancelled, indeterminate
// progress, ad-hoc child, run_child child) and checks each against the seed's
// table: every field, nothing else but originatingSessionId once it has run,
// the right BSON types, the status and progress sub-documents field for
// field, ISO-8601 string log timestamps, and the engine's log entries.
func TestDocumentSchemaIsExactlyTheSeeds(t *testing.T) {
	g := newGate(t)
	s := newSystem(t, adapter.Config{
		TaskDefinitions: staticTasks(
			adapter.TaskInstance{
				ProcessID: "described", Name: "Described", Execute: quick,
				Description: "tooltip", Warning: "are you sure?", Special: true, NotCancellable: true,
				Params: map[string]any{"n": 3, "nested": map[string]any{"k": "v"}}, Metadata: map[string]any{"customer": "2"},
			},
			adapter.TaskInstance{ProcessID: "done", Name: "Done", Execute: func(ctx *adapter.ProcessContext) error {
				ctx.ReportProgress(50, "half")
				ctx.ReportProgress(100, "all")
				return nil
			}},
			adapter.TaskInstance{ProcessID: "failed", Name: "Failed", Execute: func(*adapter.ProcessContext) error {
				return errors.New("it broke")
			}},
			adapter.TaskInstance{ProcessID: "cancelled", Name: "Cancelled", Execute: g.cooperative},
			adapter.TaskInstance{ProcessID: "indeterminate", Name: "Indeterminate", Execute: func(ctx *adapter.ProcessContext) error {
				ctx.ReportProgress(adapter.Indeterminate, "")
				return nil
			}},
			adapter.TaskInstance{ProcessID: "parent", Name: "Parent", Execute: func(ctx *adapter.ProcessContext) error {
				_, err := ctx.RunChild(adapter.ChildSpec{ProcessID: "parent/child", Name: "Child", Execute: quick})
				return err
			}},
		),
	})
	ctx := s.ctx()
	s.run("done")
	_, err := s.eng.LaunchAndWait(ctx, "failed")
	require.NoError(t, err)
	s.launch("cancelled")
	g.waitStarted(t)
	_, err = s.eng.Cancel(ctx, "cancelled")
	require.NoError(t, err)
	s.waitState("cancelled", adapter.StateCancelled)
	s.run("indeterminate")
	s.run("parent")
	_, err = s.eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: "adhoc-child", Name: "Ad-hoc child", Execute: quick}, adapter.AdhocOptions{Parent: "described", Ephemeral: true})
	require.NoError(t, err)

	type logLine struct{ level, message string }
	for _, tc := range []struct {
		id string
		// statusSet lists the nullable status fields that hold a value.
		statusSet []string
		percent   any // float64, or nil for null
		message   any // string, or nil for null
		log       []logLine
		check     func(t *testing.T, raw bson.Raw)
	}{
		{
			id: "described", percent: 0.0,
			check: func(t *testing.T, raw bson.Raw) {
				require.Equal(t, "tooltip", raw.Lookup("description").StringValue())
				require.Equal(t, "are you sure?", raw.Lookup("warning").StringValue())
				require.True(t, raw.Lookup("special").Boolean())
				require.False(t, raw.Lookup("cancellable").Boolean())
				require.False(t, raw.Lookup("adhoc").Boolean())
				require.Equal(t, "v", raw.Lookup("params", "nested", "k").StringValue())
				require.Equal(t, "2", raw.Lookup("metadata", "customer").StringValue())
				require.Equal(t, bson.TypeNull, raw.Lookup("parentId").Type)
				require.Equal(t, raw.Lookup("_id").ObjectID(), raw.Lookup("rootId").ObjectID(), "rootId equals _id for a root")
				require.EqualValues(t, 0, raw.Lookup("depth").AsInt64())
				require.EqualValues(t, 0, raw.Lookup("order").AsInt64())
				require.WithinDuration(t, time.Now(), raw.Lookup("createdAt").Time(), time.Minute)
			},
		},
		{
			id: "done", statusSet: []string{"runningSince", "doneAt", "duration"}, percent: 100.0, message: "all",
			log: []logLine{{"event", "State changed to scheduled"}, {"event", "State changed to running"}, {"info", "half"}, {"info", "all"}, {"event", "State changed to done"}},
			check: func(t *testing.T, raw bson.Raw) {
				require.Equal(t, bson.TypeNull, raw.Lookup("description").Type)
				require.Equal(t, bson.TypeNull, raw.Lookup("warning").Type)
				require.True(t, raw.Lookup("cancellable").Boolean(), "cancellable by default")
				require.GreaterOrEqual(t, raw.Lookup("status", "duration").Double(), 0.0)
			},
		},
		{
			id: "failed", statusSet: []string{"runningSince", "error", "failedAt"}, percent: 0.0,
			log: []logLine{{"event", "State changed to scheduled"}, {"event", "State changed to running"}, {"error", "it broke"}},
			check: func(t *testing.T, raw bson.Raw) {
				require.Equal(t, "it broke", raw.Lookup("status", "error").StringValue())
			},
		},
		{
			id: "cancelled", statusSet: []string{"runningSince", "stoppedAt"}, percent: 0.0,
			log: []logLine{{"event", "State changed to scheduled"}, {"event", "State changed to running"}, {"event", "State changed to cancelled"}},
		},
		{
			id: "indeterminate", statusSet: []string{"runningSince", "doneAt", "duration"}, percent: nil,
			log: []logLine{{"event", "State changed to scheduled"}, {"event", "State changed to running"}, {"event", "State changed to done"}},
		},
		{
			id: "parent", statusSet: []string{"runningSince", "doneAt", "duration"}, percent: 0.0,
			log: []logLine{{"event", "State changed to scheduled"}, {"event", "State changed to running"}, {"event", "Spawned child: Child"}, {"event", "State changed to done"}},
		},
		{
			id: "parent/child", statusSet: []string{"runningSince", "doneAt", "duration"}, percent: 0.0,
			log: []logLine{{"event", "State changed to running"}, {"event", "State changed to done"}},
			check: func(t *testing.T, raw bson.Raw) {
				parent := s.raw("parent")
				require.Equal(t, parent.Lookup("_id").ObjectID(), raw.Lookup("parentId").ObjectID())
				require.Equal(t, parent.Lookup("_id").ObjectID(), raw.Lookup("rootId").ObjectID())
				require.EqualValues(t, 1, raw.Lookup("depth").AsInt64())
				require.False(t, raw.Lookup("adhoc").Boolean())
			},
		},
		{
			id: "adhoc-child", percent: 0.0,
			check: func(t *testing.T, raw bson.Raw) {
				parent := s.raw("described")
				require.Equal(t, parent.Lookup("_id").ObjectID(), raw.Lookup("parentId").ObjectID())
				require.Equal(t, parent.Lookup("_id").ObjectID(), raw.Lookup("rootId").ObjectID())
				require.EqualValues(t, 1, raw.Lookup("depth").AsInt64())
				require.True(t, raw.Lookup("adhoc").Boolean())
				require.True(t, raw.Lookup("ephemeral").Boolean())
				require.True(t, raw.Lookup("cancellable").Boolean(), "an ad-hoc child is always cancellable")
			},
		},
	} {
		t.Run(tc.id, func(t *testing.T) {
			raw := s.raw(tc.id)
			requireSeedSchema(t, raw)
			session, err := raw.LookupErr("originatingSessionId")
			if tc.log == nil {
				require.Error(t, err, "a process that has not run has no originatingSessionId")
			} else {
				require.NoError(t, err, "originatingSessionId is written at the start of a run")
				require.Equal(t, bson.TypeNull, session.Type, "launched without a session")
			}

			status := raw.Lookup("status").Document()
			for field, typ := range statusSchema {
				v := status.Lookup(field)
				switch {
				case field == "state":
				case slices.Contains(tc.statusSet, field):
					require.Equal(t, typ, v.Type, "status.%s", field)
				default:
					require.Equal(t, bson.TypeNull, v.Type, "status.%s must be null", field)
				}
			}

			progress := raw.Lookup("progress").Document()
			if tc.percent == nil {
				require.Equal(t, bson.TypeNull, progress.Lookup("percent").Type)
			} else {
				require.Equal(t, bson.TypeDouble, progress.Lookup("percent").Type, "progress.percent is a float")
				require.Equal(t, tc.percent, progress.Lookup("percent").Double())
			}
			if tc.message == nil {
				require.Equal(t, bson.TypeNull, progress.Lookup("message").Type)
			} else {
				require.Equal(t, tc.message, progress.Lookup("message").StringValue())
			}

			var got []logLine
			entries, err := raw.Lookup("log").Array().Values()
			require.NoError(t, err)
			for _, e := range entries {
				d := e.Document()
				got = append(got, logLine{d.Lookup("level").StringValue(), d.Lookup("message").StringValue()})
			}
			require.Equal(t, tc.log, got)

			if tc.check != nil {
				tc.check(t, raw)
			}
		})
	}
}

// requireSeedSchema checks one raw document against the seed's table.
func requireSeedSchema(t *testing.T, raw bson.Raw) {
	t.Helper()
	elems, err := raw.Elements()
	require.NoError(t, err)
	var keys []string
	for _, e := range elems {
		if allowed, ok := runFields[e.Key()]; ok {
			require.Contains(t, allowed, e.Value().Type, "field %q has BSON type %s", e.Key(), e.Value().Type)
			continue
		}
		keys = append(keys, e.Key())
		allowed, known := seedSchema[e.Key()]
		require.True(t, known, "field %q is not in the seed's schema", e.Key())
		require.Contains(t, allowed, e.Value().Type, "field %q has BSON type %s", e.Key(), e.Value().Type)
	}
	require.ElementsMatch(t, slices.Collect(maps.Keys(seedSchema)), keys, "the document has exactly the seed's fields")

	requireExactKeys(t, raw.Lookup("status").Document(), slices.Collect(maps.Keys(statusSchema)), "status")
	status := raw.Lookup("status").Document()
	require.Equal(t, bson.TypeString, status.Lookup("state").Type)
	require.True(t, adapter.State(status.Lookup("state").StringValue()).Valid())
	for field, typ := range statusSchema {
		v := status.Lookup(field)
		require.Contains(t, []bson.Type{typ, bson.TypeNull}, v.Type, "status.%s", field)
	}

	requireExactKeys(t, raw.Lookup("progress").Document(), []string{"percent", "message"}, "progress")
	progress := raw.Lookup("progress").Document()
	require.Contains(t, []bson.Type{bson.TypeDouble, bson.TypeNull}, progress.Lookup("percent").Type)
	require.Contains(t, []bson.Type{bson.TypeString, bson.TypeNull}, progress.Lookup("message").Type)

	entries, err := raw.Lookup("log").Array().Values()
	require.NoError(t, err)
	for i, e := range entries {
		require.Equal(t, bson.TypeEmbeddedDocument, e.Type, "log[%d]", i)
		d := e.Document()
		elems, err := d.Elements()
		require.NoError(t, err)
		for _, f := range elems {
			require.Contains(t, []string{"timestamp", "level", "message", "data"}, f.Key(), "log[%d] field", i)
		}
		ts := d.Lookup("timestamp")
		require.Equal(t, bson.TypeString, ts.Type, "log[%d].timestamp is an ISO string", i)
		at, err := time.Parse(time.RFC3339Nano, ts.StringValue())
		require.NoError(t, err, "log[%d].timestamp %q", i, ts.StringValue())
		require.WithinDuration(t, time.Now(), at, time.Hour)
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$`, ts.StringValue(), "Python isoformat() of a UTC datetime")
		require.Contains(t, logLevels, d.Lookup("level").StringValue(), "log[%d].level", i)
		require.Equal(t, bson.TypeString, d.Lookup("message").Type, "log[%d].message", i)
		if data, err := d.LookupErr("data"); err == nil {
			require.Equal(t, bson.TypeEmbeddedDocument, data.Type, "log[%d].data is an object when present", i)
		}
	}
}

func requireExactKeys(t *testing.T, doc bson.Raw, want []string, what string) {
	t.Helper()
	elems, err := doc.Elements()
	require.NoError(t, err)
	var keys []string
	for _, e := range elems {
		keys = append(keys, e.Key())
	}
	require.ElementsMatch(t, want, keys, fmt.Sprintf("%s has exactly the seed's fields", what))
}
