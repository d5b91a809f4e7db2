package engineapi

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/internal/pyjson"
	"github.com/optio-temporal/optio/mirror"
)

// ProcessJSON encodes a process document as the optio-engine service sends it
// in launch, cancel and dismiss results, which is what optio-core's generated
// Process model emits: the contract's keys in the model's order, the fields
// the engine does not keep (uiWidget, sessionEvents, ...) as null, the
// resume flags as the document has them (false when absent), ObjectIds as
// 24-digit hex strings, datetimes in ISO-8601 UTC with a Z and microseconds
// only when non-zero (log timestamps included), progress.percent and
// status.duration as floats. The text is compact, with text outside ASCII as
// it is; the RPC server re-lays it out the way Python's json.dumps writes it.
//
// Values under params, metadata and log data pass through as JSON: nested
// documents keep their stored key order, Go maps (params and metadata
// themselves among them, as the mirror decodes them) are written with sorted
// keys, NaN and infinities become null. A document the contract's model
// would reject (a percent outside 0..100, a negative depth or order, an
// unknown state or log level, an unreadable log timestamp) is an error, as
// it is a validation error in optio-core.
func ProcessJSON(p *mirror.Process) ([]byte, error) {
	if p == nil {
		return []byte("null"), nil
	}
	doc, err := processObject(p)
	if err == nil {
		var text []byte
		if text, err = pyjson.MarshalCompact(doc); err == nil {
			return text, nil
		}
	}
	return nil, fmt.Errorf("process %q: %w", p.ProcessID, err)
}

// logLevels are the log levels the contract's model accepts.
var logLevels = []mirror.Level{mirror.LevelEvent, mirror.LevelInfo, mirror.LevelDebug, mirror.LevelWarning, mirror.LevelError}

// processObject is the document as the contract's model dumps it in JSON
// mode: an ordered object of JSON values, ready for the encoder.
func processObject(p *mirror.Process) (pyjson.Object, error) {
	if p.Depth < 0 || p.Order < 0 {
		return nil, fmt.Errorf("depth %d and order %d must be >= 0", p.Depth, p.Order)
	}
	if !p.Status.State.Valid() {
		return nil, fmt.Errorf("unknown state %q", p.Status.State)
	}
	if pc := p.Progress.Percent; pc != nil && !(*pc >= 0 && *pc <= 100) {
		return nil, fmt.Errorf("progress.percent %v is outside 0..100", *pc)
	}
	params, err := objectValue(p.Params)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	metadata, err := objectValue(p.Metadata)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	var parentID any
	if p.ParentID != nil {
		parentID = p.ParentID.Hex()
	}
	log, err := logValue(p.Log)
	if err != nil {
		return nil, err
	}
	st := p.Status
	doc := pyjson.Object{
		{Key: "_id", Value: p.ID.Hex()},
		{Key: "processId", Value: p.ProcessID},
		{Key: "name", Value: p.Name},
		{Key: "params", Value: params},
		{Key: "metadata", Value: metadata},
		{Key: "parentId", Value: parentID},
		{Key: "rootId", Value: p.RootID.Hex()},
		{Key: "depth", Value: p.Depth},
		{Key: "order", Value: p.Order},
		{Key: "cancellable", Value: p.Cancellable},
		{Key: "special", Value: p.Special},
		{Key: "warning", Value: p.Warning},
		{Key: "description", Value: p.Description},
		{Key: "status", Value: pyjson.Object{
			{Key: "state", Value: string(st.State)},
			{Key: "error", Value: st.Error},
			{Key: "runningSince", Value: optTime(st.RunningSince)},
			{Key: "doneAt", Value: optTime(st.DoneAt)},
			{Key: "duration", Value: optFloat(st.Duration)},
			{Key: "failedAt", Value: optTime(st.FailedAt)},
			{Key: "stoppedAt", Value: optTime(st.StoppedAt)},
		}},
		{Key: "progress", Value: pyjson.Object{
			{Key: "percent", Value: optFloat(p.Progress.Percent)},
			{Key: "message", Value: p.Progress.Message},
		}},
		{Key: "log", Value: log},
		// Fields of optio-core's model that this engine has no use for, as
		// the model emits them when a document lacks them.
		{Key: "uiWidget", Value: nil},
		{Key: "widgetData", Value: nil},
		// optio-core's resume fields; a child lacks them, emitted as false.
		{Key: "supportsResume", Value: mirror.Flag(p.SupportsResume)},
		{Key: "hasSavedState", Value: mirror.Flag(p.HasSavedState)},
		{Key: "autoResumeScheduled", Value: mirror.Flag(p.AutoResumeScheduled)},
		{Key: "browserOpenRequests", Value: nil},
		{Key: "sessionEvents", Value: nil},
		// The document may hold one, but optio-core's payload leaves the
		// key out of its projection, so its model always emits null.
		{Key: "originatingSessionId", Value: nil},
		{Key: "createdAt", Value: wireTime(p.CreatedAt)},
	}
	return doc, nil
}

func logValue(entries []mirror.LogEntry) ([]any, error) {
	out := make([]any, 0, len(entries))
	for i, e := range entries {
		if !slices.Contains(logLevels, e.Level) {
			return nil, fmt.Errorf("log[%d]: unknown level %q", i, e.Level)
		}
		ts, err := wireTimestamp(e.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("log[%d]: %w", i, err)
		}
		data, err := jsonValue(e.Data, 0)
		if err != nil {
			return nil, fmt.Errorf("log[%d].data: %w", i, err)
		}
		out = append(out, pyjson.Object{
			{Key: "timestamp", Value: ts},
			{Key: "level", Value: string(e.Level)},
			{Key: "message", Value: e.Message},
			{Key: "data", Value: data},
		})
	}
	return out, nil
}

func optTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return wireTime(*t)
}

// optFloat is f as a JSON value: NaN and infinities, which JSON cannot
// carry, are null.
func optFloat(f *float64) any {
	if f == nil {
		return nil
	}
	return floatValue(*f)
}

func floatValue(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// wireTime renders a stored datetime as pydantic does in JSON mode: UTC with
// a Z, microseconds only when non-zero.
func wireTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}

// wireTimestamp re-renders a stored log timestamp (Python's isoformat, such
// as 2026-05-18T12:46:35.123456+00:00) in the wire form. A timestamp with a
// non-UTC offset keeps it, as pydantic keeps an aware datetime's zone; one
// without an offset is taken as UTC, as optio-core makes naive datetimes
// UTC-aware.
func wireTimestamp(s string) (string, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		if _, off := t.Zone(); off != 0 {
			if t.Nanosecond()/1000 == 0 {
				return t.Format("2006-01-02T15:04:05-07:00"), nil
			}
			return t.Format("2006-01-02T15:04:05.000000-07:00"), nil
		}
		return wireTime(t), nil
	}
	return "", fmt.Errorf("log timestamp %q is not an ISO-8601 datetime", s)
}

// objectValue is a params or metadata map as JSON; a missing one is {}.
func objectValue(m map[string]any) (any, error) {
	if m == nil {
		return pyjson.Object{}, nil
	}
	return jsonValue(m, 0)
}

const maxValueDepth = 200

// jsonValue turns a value read from BSON (or built in Go) into the JSON
// value pydantic would dump for it: ObjectIds and datetimes as strings,
// embedded documents as objects in their stored key order, Go maps with
// their keys sorted, NaN as null.
func jsonValue(v any, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", maxValueDepth)
	}
	switch x := v.(type) {
	case nil, bool, string, int, int32, int64:
		return x, nil
	case float64:
		return floatValue(x), nil
	case float32:
		return floatValue(float64(x)), nil
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			f, err := x.Float64()
			if err != nil {
				return nil, err
			}
			return floatValue(f), nil
		}
		return x, nil
	case bson.ObjectID:
		return x.Hex(), nil
	case time.Time:
		return wireTime(x), nil
	case bson.DateTime:
		return wireTime(x.Time()), nil
	case bson.Decimal128:
		return x.String(), nil
	case bson.Binary:
		if !utf8.Valid(x.Data) {
			return nil, fmt.Errorf("binary value is not UTF-8 text")
		}
		return string(x.Data), nil
	case bson.D:
		obj := make(pyjson.Object, 0, len(x))
		for _, e := range x {
			ev, err := jsonValue(e.Value, depth+1)
			if err != nil {
				return nil, err
			}
			obj = append(obj, pyjson.Member{Key: e.Key, Value: ev})
		}
		return obj, nil
	case bson.A:
		return jsonValue([]any(x), depth)
	case []any:
		arr := make([]any, len(x))
		for i, e := range x {
			ev, err := jsonValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			arr[i] = ev
		}
		return arr, nil
	}
	return reflectedValue(reflect.ValueOf(v), depth)
}

// reflectedValue covers the Go maps, slices and numbers a caller may build.
func reflectedValue(v reflect.Value, depth int) (any, error) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, nil
		}
		return jsonValue(v.Elem().Interface(), depth+1)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("unsupported map key type %s", v.Type().Key())
		}
		if v.IsNil() {
			return nil, nil
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		obj := make(pyjson.Object, 0, len(keys))
		for _, k := range keys {
			ev, err := jsonValue(v.MapIndex(k).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			obj = append(obj, pyjson.Member{Key: k.String(), Value: ev})
		}
		return obj, nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil, nil
		}
		arr := make([]any, v.Len())
		for i := range v.Len() {
			ev, err := jsonValue(v.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			arr[i] = ev
		}
		return arr, nil
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.String:
		return v.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint(), nil
	case reflect.Float32, reflect.Float64:
		return floatValue(v.Float()), nil
	}
	return nil, fmt.Errorf("cannot encode a %s as JSON", v.Type())
}
