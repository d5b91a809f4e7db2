package mirror

import (
	"bytes"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Process is one document of {prefix}_processes, field for field the schema of
// optio-core's README ("MongoDB Document Schema"), plus originatingSessionId,
// which optio-core writes at the start of every run.
type Process struct {
	ID          bson.ObjectID  `bson:"_id" json:"_id"`
	ProcessID   string         `bson:"processId" json:"processId"`
	Name        string         `bson:"name" json:"name"`
	Description *string        `bson:"description" json:"description"`
	Params      map[string]any `bson:"params" json:"params"`
	Metadata    map[string]any `bson:"metadata" json:"metadata"`
	ParentID    *bson.ObjectID `bson:"parentId" json:"parentId"`
	RootID      bson.ObjectID  `bson:"rootId" json:"rootId"`
	Depth       int            `bson:"depth" json:"depth"`
	Order       int            `bson:"order" json:"order"`
	Cancellable bool           `bson:"cancellable" json:"cancellable"`
	Adhoc       bool           `bson:"adhoc" json:"adhoc"`
	Ephemeral   bool           `bson:"ephemeral" json:"ephemeral"`
	Special     bool           `bson:"special" json:"special"`
	Warning     *string        `bson:"warning" json:"warning"`
	Status      Status         `bson:"status" json:"status"`
	Progress    Progress       `bson:"progress" json:"progress"`
	Log         []LogEntry     `bson:"log" json:"log"`
	CreatedAt   time.Time      `bson:"createdAt" json:"createdAt"`
	// SupportsResume, HasSavedState and AutoResumeScheduled are optio-core
	// 0.4's resume fields. Top-level processes have them (the definition
	// sets supportsResume; hasSavedState and autoResumeScheduled start
	// false); child documents do not, so nil means the key is absent.
	// hasSavedState is true while the process has state a resume can
	// continue from (a saved checkpoint marks it); autoResumeScheduled is
	// true between the shutdown of an engine that was running the process
	// and its automatic resume by the next engine.
	SupportsResume      *bool `bson:"supportsResume,omitempty" json:"supportsResume,omitempty"`
	HasSavedState       *bool `bson:"hasSavedState,omitempty" json:"hasSavedState,omitempty"`
	AutoResumeScheduled *bool `bson:"autoResumeScheduled,omitempty" json:"autoResumeScheduled,omitempty"`
	// OriginatingSessionID is the session that launched the run (optio-api
	// sends the dashboard's session with a launch), nil when none was given
	// or the process has not run yet. optio-core sets it at the start of
	// every run, null included, and a child takes its parent's; optio-api
	// finds a session's processes by it. The key is absent until the first
	// run, so it is omitted from a document inserted without one.
	OriginatingSessionID *string `bson:"originatingSessionId,omitempty" json:"originatingSessionId"`
}

// Status is the runtime status sub-document. It is always written whole.
type Status struct {
	State        State      `bson:"state" json:"state"`
	Error        *string    `bson:"error" json:"error"`
	RunningSince *time.Time `bson:"runningSince" json:"runningSince"`
	DoneAt       *time.Time `bson:"doneAt" json:"doneAt"`
	Duration     *float64   `bson:"duration" json:"duration"`
	FailedAt     *time.Time `bson:"failedAt" json:"failedAt"`
	StoppedAt    *time.Time `bson:"stoppedAt" json:"stoppedAt"`
}

// Progress is the progress sub-document. Percent is nil when indeterminate;
// a fresh or relaunched process starts at {percent: 0.0, message: null}, as in
// optio-core.
type Progress struct {
	Percent *float64 `bson:"percent" json:"percent"`
	Message *string  `bson:"message" json:"message"`
}

// LogEntry is one element of the log array.
type LogEntry struct {
	Timestamp string         `bson:"timestamp" json:"timestamp"`
	Level     Level          `bson:"level" json:"level"`
	Message   string         `bson:"message" json:"message"`
	Data      map[string]any `bson:"data,omitempty" json:"data,omitempty"`
}

// Level is a log entry's level.
type Level string

// The log levels optio-core writes.
const (
	LevelEvent   Level = "event"
	LevelInfo    Level = "info"
	LevelDebug   Level = "debug"
	LevelWarning Level = "warning"
	LevelError   Level = "error"
)

// Flag reads one of the optional boolean fields: nil (absent) is false.
func Flag(b *bool) bool { return b != nil && *b }

// IsRoot reports whether the process has no parent.
func (p *Process) IsRoot() bool { return p.ParentID == nil }

// State returns status.state.
func (p *Process) State() State { return p.Status.State }

// isoTimestamp renders t as Python's datetime.isoformat() does for an aware UTC
// datetime: microseconds only when non-zero, and a "+00:00" offset.
func isoTimestamp(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05+00:00")
	}
	return t.Format("2006-01-02T15:04:05.000000+00:00")
}

// NewLogEntry builds a log entry stamped with the given time.
func NewLogEntry(at time.Time, level Level, message string) LogEntry {
	return LogEntry{Timestamp: isoTimestamp(at), Level: level, Message: message}
}

// DecodeProcess decodes a BSON process document the way the store reads one
// from Mongo (embedded documents as maps).
func DecodeProcess(b []byte) (*Process, error) {
	dec := bson.NewDecoder(bson.NewDocumentReader(bytes.NewReader(b)))
	dec.DefaultDocumentMap()
	var p Process
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decode process document: %w", err)
	}
	return &p, nil
}
