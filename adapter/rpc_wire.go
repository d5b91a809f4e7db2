package adapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/mirror"
)

// ProcessJSON encodes a process document as the optio-engine service sends it
// in launch, cancel and dismiss results, which is what optio-core's generated
// Process model emits: the contract's keys in the model's order, the fields
// this engine does not keep (uiWidget, sessionEvents, ...) as null, the
// resume flags as the document has them (false when absent), ObjectIds as 24-digit hex strings, datetimes in ISO-8601 UTC
// with a Z and microseconds only when non-zero (log timestamps included),
// progress.percent and status.duration as floats. The text is compact; the
// RPC server re-lays it out the way Python's json.dumps writes it.
//
// Values under params, metadata and log data pass through as JSON: nested
// documents keep their stored key order, Go maps (params and metadata
// themselves among them, as the mirror decodes them) are written with sorted
// keys, NaN and infinities become null. A document the contract's model
// would reject (a percent outside 0..100, a negative depth or order, an
// unknown state or log level, an unreadable log timestamp) is an error, as
// it is a validation error in optio-core.
func ProcessJSON(p *Process) ([]byte, error) {
	if p == nil {
		return []byte("null"), nil
	}
	w := &jsonWriter{}
	if err := w.process(p); err != nil {
		return nil, fmt.Errorf("process %q: %w", p.ProcessID, err)
	}
	return w.buf, nil
}

// wireLogLevels are the log levels the contract's model accepts.
var wireLogLevels = []mirror.Level{mirror.LevelEvent, mirror.LevelInfo, mirror.LevelDebug, mirror.LevelWarning, mirror.LevelError}

// jsonWriter writes compact JSON in a fixed key order, which neither
// encoding/json on a map nor a struct with omitted fields can express.
type jsonWriter struct {
	buf   []byte
	first []bool // per open object or array: no member written yet
}

func (w *jsonWriter) open(c byte) {
	w.buf = append(w.buf, c)
	w.first = append(w.first, true)
}

func (w *jsonWriter) close(c byte) {
	w.buf = append(w.buf, c)
	w.first = w.first[:len(w.first)-1]
}

func (w *jsonWriter) sep() {
	if n := len(w.first); n > 0 {
		if !w.first[n-1] {
			w.buf = append(w.buf, ',')
		}
		w.first[n-1] = false
	}
}

// key starts a member of the open object.
func (w *jsonWriter) key(k string) {
	w.sep()
	w.str(k)
	w.buf = append(w.buf, ':')
}

// elem starts an element of the open array.
func (w *jsonWriter) elem() { w.sep() }

func (w *jsonWriter) null()          { w.buf = append(w.buf, "null"...) }
func (w *jsonWriter) boolean(b bool) { w.buf = strconv.AppendBool(w.buf, b) }
func (w *jsonWriter) integer(n int64) {
	w.buf = strconv.AppendInt(w.buf, n, 10)
}

func (w *jsonWriter) str(s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	w.buf = append(w.buf, bytes.TrimRight(b.Bytes(), "\n")...)
}

// float writes f so that it reads back as a float (50.0, not 50), as
// Python's repr does; NaN and infinities, which JSON cannot carry, are null.
func (w *jsonWriter) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		w.null()
		return
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		w.buf = strconv.AppendFloat(w.buf, f, 'e', -1, 64)
		return
	}
	start := len(w.buf)
	w.buf = strconv.AppendFloat(w.buf, f, 'f', -1, 64)
	if !bytes.ContainsRune(w.buf[start:], '.') {
		w.buf = append(w.buf, ".0"...)
	}
}

func (w *jsonWriter) optString(s *string) {
	if s == nil {
		w.null()
		return
	}
	w.str(*s)
}

func (w *jsonWriter) optFloat(f *float64) {
	if f == nil {
		w.null()
		return
	}
	w.float(*f)
}

func (w *jsonWriter) optTime(t *time.Time) {
	if t == nil {
		w.null()
		return
	}
	w.str(wireTime(*t))
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

func (w *jsonWriter) process(p *Process) error {
	if p.Depth < 0 || p.Order < 0 {
		return fmt.Errorf("depth %d and order %d must be >= 0", p.Depth, p.Order)
	}
	if !p.Status.State.Valid() {
		return fmt.Errorf("unknown state %q", p.Status.State)
	}
	if pc := p.Progress.Percent; pc != nil && !(*pc >= 0 && *pc <= 100) {
		return fmt.Errorf("progress.percent %v is outside 0..100", *pc)
	}
	w.open('{')
	w.key("_id")
	w.str(p.ID.Hex())
	w.key("processId")
	w.str(p.ProcessID)
	w.key("name")
	w.str(p.Name)
	w.key("params")
	if err := w.object(p.Params); err != nil {
		return fmt.Errorf("params: %w", err)
	}
	w.key("metadata")
	if err := w.object(p.Metadata); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	w.key("parentId")
	if p.ParentID != nil {
		w.str(p.ParentID.Hex())
	} else {
		w.null()
	}
	w.key("rootId")
	w.str(p.RootID.Hex())
	w.key("depth")
	w.integer(int64(p.Depth))
	w.key("order")
	w.integer(int64(p.Order))
	w.key("cancellable")
	w.boolean(p.Cancellable)
	w.key("special")
	w.boolean(p.Special)
	w.key("warning")
	w.optString(p.Warning)
	w.key("description")
	w.optString(p.Description)

	st := p.Status
	w.key("status")
	w.open('{')
	w.key("state")
	w.str(string(st.State))
	w.key("error")
	w.optString(st.Error)
	w.key("runningSince")
	w.optTime(st.RunningSince)
	w.key("doneAt")
	w.optTime(st.DoneAt)
	w.key("duration")
	w.optFloat(st.Duration)
	w.key("failedAt")
	w.optTime(st.FailedAt)
	w.key("stoppedAt")
	w.optTime(st.StoppedAt)
	w.close('}')

	w.key("progress")
	w.open('{')
	w.key("percent")
	w.optFloat(p.Progress.Percent)
	w.key("message")
	w.optString(p.Progress.Message)
	w.close('}')

	w.key("log")
	w.open('[')
	for i, e := range p.Log {
		if !slices.Contains(wireLogLevels, e.Level) {
			return fmt.Errorf("log[%d]: unknown level %q", i, e.Level)
		}
		ts, err := wireTimestamp(e.Timestamp)
		if err != nil {
			return fmt.Errorf("log[%d]: %w", i, err)
		}
		w.elem()
		w.open('{')
		w.key("timestamp")
		w.str(ts)
		w.key("level")
		w.str(string(e.Level))
		w.key("message")
		w.str(e.Message)
		w.key("data")
		if e.Data == nil {
			w.null()
		} else if err := w.value(e.Data, 0); err != nil {
			return fmt.Errorf("log[%d].data: %w", i, err)
		}
		w.close('}')
	}
	w.close(']')

	// Fields of optio-core's model that this engine has no use for, as the
	// model emits them when a document lacks them.
	for _, k := range []string{"uiWidget", "widgetData"} {
		w.key(k)
		w.null()
	}
	// optio-core's resume fields; a child lacks them, emitted as false.
	for _, f := range []struct {
		k string
		v *bool
	}{{"supportsResume", p.SupportsResume}, {"hasSavedState", p.HasSavedState}, {"autoResumeScheduled", p.AutoResumeScheduled}} {
		w.key(f.k)
		w.boolean(mirror.Flag(f.v))
	}
	for _, k := range []string{"browserOpenRequests", "sessionEvents"} {
		w.key(k)
		w.null()
	}
	// The document may hold one, but optio-core's payload leaves the key
	// out of its projection, so its model always emits null.
	w.key("originatingSessionId")
	w.null()
	w.key("createdAt")
	w.str(wireTime(p.CreatedAt))
	w.close('}')
	return nil
}

// object writes a params or metadata map; a missing one is {}.
func (w *jsonWriter) object(m map[string]any) error {
	if m == nil {
		w.buf = append(w.buf, "{}"...)
		return nil
	}
	return w.value(m, 0)
}

const maxValueDepth = 200

// value writes a value read from BSON (or built in Go) as JSON.
func (w *jsonWriter) value(v any, depth int) error {
	if depth > maxValueDepth {
		return fmt.Errorf("value nested deeper than %d levels", maxValueDepth)
	}
	switch x := v.(type) {
	case nil:
		w.null()
	case bool:
		w.boolean(x)
	case string:
		w.str(x)
	case int:
		w.integer(int64(x))
	case int32:
		w.integer(int64(x))
	case int64:
		w.integer(x)
	case float64:
		w.float(x)
	case float32:
		w.float(float64(x))
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			f, err := x.Float64()
			if err != nil {
				return err
			}
			w.float(f)
		} else {
			w.buf = append(w.buf, x...)
		}
	case bson.ObjectID:
		w.str(x.Hex())
	case time.Time:
		w.str(wireTime(x))
	case bson.DateTime:
		w.str(wireTime(x.Time()))
	case bson.Decimal128:
		w.str(x.String())
	case bson.Binary:
		if !utf8.Valid(x.Data) {
			return fmt.Errorf("binary value is not UTF-8 text")
		}
		w.str(string(x.Data))
	case bson.D:
		w.open('{')
		for _, e := range x {
			w.key(e.Key)
			if err := w.value(e.Value, depth+1); err != nil {
				return err
			}
		}
		w.close('}')
	case bson.A:
		return w.value([]any(x), depth)
	case []any:
		w.open('[')
		for _, e := range x {
			w.elem()
			if err := w.value(e, depth+1); err != nil {
				return err
			}
		}
		w.close(']')
	default:
		return w.reflected(reflect.ValueOf(v), depth)
	}
	return nil
}

// reflected covers the Go maps, slices and numbers a caller may build.
func (w *jsonWriter) reflected(v reflect.Value, depth int) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			w.null()
			return nil
		}
		return w.value(v.Elem().Interface(), depth+1)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("unsupported map key type %s", v.Type().Key())
		}
		if v.IsNil() {
			w.null()
			return nil
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		w.open('{')
		for _, k := range keys {
			w.key(k.String())
			if err := w.value(v.MapIndex(k).Interface(), depth+1); err != nil {
				return err
			}
		}
		w.close('}')
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			w.null()
			return nil
		}
		w.open('[')
		for i := range v.Len() {
			w.elem()
			if err := w.value(v.Index(i).Interface(), depth+1); err != nil {
				return err
			}
		}
		w.close(']')
	case reflect.Bool:
		w.boolean(v.Bool())
	case reflect.String:
		w.str(v.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.integer(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		w.buf = strconv.AppendUint(w.buf, v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		w.float(v.Float())
	default:
		return fmt.Errorf("cannot encode a %s as JSON", v.Type())
	}
	return nil
}
