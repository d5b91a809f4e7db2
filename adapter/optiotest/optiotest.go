package optiotest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/adapter/internal/bodyhost"
	"github.com/optio-temporal/optio/mirror"
)

// DefaultProcessID is the process ID of a run whose Options leave it empty.
const DefaultProcessID = "test-process"

// Options shape one run of a body.
type Options struct {
	// ProcessID is what ProcessContext.ProcessID returns; DefaultProcessID
	// when empty.
	ProcessID string
	// Params reach the body as ProcessContext.Params; nil reaches it as an
	// empty map, as on the engine.
	Params map[string]any
	// Metadata reaches the body as ProcessContext.Metadata, and its
	// children too; nil reaches it as an empty map.
	Metadata map[string]any
	// Services reaches the body and its children as
	// ProcessContext.Services, as Config.Services does.
	Services map[string]any
	// RunKind is how the run began, as ProcessContext.RunKind reports it:
	// adapter.FreshRun (the zero value), RerunAfterLostWorker or
	// ResumedRun.
	RunKind adapter.RunKind
	// Checkpoint is the checkpoint an earlier run saved, any value that
	// encodes as JSON (a Result's Checkpoint fits): LoadCheckpoint decodes
	// it. Only a re-run or a resumed run starts from one; a fresh run
	// starts with none.
	Checkpoint any
	// CancelWhen, when set, is called with each progress report made in
	// the process tree (processID says whose: the process under test or
	// a child), one call at a time, before the ReportProgress that made
	// the report returns. When it returns true, the process under test is
	// cancelled, as Engine.Cancel would cancel it: its Context is done and
	// ShouldContinue false at once, and its running children are
	// cancelled with it.
	CancelWhen func(processID string, r Report) bool
	// CancelChildWhen is like CancelWhen, for the reports of children
	// only: when it returns true, the child that made the report is
	// cancelled (with its own children), as a cancel of that child alone
	// would; its parent sees it end cancelled.
	CancelChildWhen func(processID string, r Report) bool
}

// Report is one progress report.
type Report struct {
	// Percent is from 0 to 100 as the body reported it (clamped to 100),
	// or adapter.Indeterminate for an indeterminate report.
	Percent float64
	// Message is the report's message, empty for none.
	Message string
}

// The levels of log entries a body causes.
const (
	// LevelInfo is the level of a progress message.
	LevelInfo = string(mirror.LevelInfo)
	// LevelEvent is the level of a child spawned or refused.
	LevelEvent = string(mirror.LevelEvent)
)

// LogEntry is one entry of the process log.
type LogEntry struct {
	// Level is LevelInfo or LevelEvent.
	Level string
	// Message is the entry's text, in optio's wording ("Spawned child:
	// Phase 1").
	Message string
}

// Result is what a run of a body did.
type Result struct {
	// ProcessID is the process's processId.
	ProcessID string
	// Name is a child's display name (ChildSpec.Name); empty for the
	// process under test.
	Name string
	// Params are the params the body received.
	Params map[string]any
	// State is the end state: adapter.StateDone, StateFailed or
	// StateCancelled.
	State adapter.State
	// Err is the error the body returned (a panic as an error with its
	// stack), nil when it returned nil. A failed process's status.error is
	// its text; a cancelled process may have one too (the errors its
	// cancel caused).
	Err error
	// Progress holds every progress report, in order.
	Progress []Report
	// Log holds the log entries the body caused, in order: progress
	// messages (LevelInfo), and children spawned and spawns refused
	// (LevelEvent).
	Log []LogEntry
	// Children are the children the body spawned, in the order their
	// spawns reached the kit (for a parallel group, not necessarily the
	// order of Spawn calls). A spawn refused creates none.
	Children []*Result
	// Ephemeral reports whether the body called MarkEphemeral.
	Ephemeral bool
	// HasSavedState is the document's hasSavedState after the run (the
	// process under test only: children have no such field).
	HasSavedState bool
	// Checkpoint is the checkpoint the run leaves, as JSON: the last one
	// the body saved, else the one it started from; nil once the body
	// called ClearHasSavedState.
	Checkpoint json.RawMessage
}

// Child returns the descendant with this process ID, at any depth, or nil.
func (r *Result) Child(processID string) *Result {
	for _, c := range r.Children {
		if c.ProcessID == processID {
			return c
		}
		if d := c.Child(processID); d != nil {
			return d
		}
	}
	return nil
}

// Messages returns the progress messages, in order, without the empty ones.
func (r *Result) Messages() []string {
	var out []string
	for _, p := range r.Progress {
		if p.Message != "" {
			out = append(out, p.Message)
		}
	}
	return out
}

// Run runs fn as the body of the process Options describe, with its
// children, and returns what they did once all of them have returned. When
// ctx is done before then, the process is cancelled, as by a cancel
// request; Run still waits for the body to return.
//
// The error is for bad input only, and then nothing runs: a nil ctx or fn,
// an unknown RunKind, a Checkpoint for a fresh run, or one that does not
// encode as JSON or is larger than adapter.MaxCheckpointSize. It wraps
// adapter.ErrInvalidInput. What the body does, a failure or a panic
// included, is in the Result.
func Run(ctx context.Context, fn adapter.TaskFunc, opts Options) (*Result, error) {
	saved, err := validate(ctx, fn, opts)
	if err != nil {
		return nil, err
	}
	if opts.ProcessID == "" {
		opts.ProcessID = DefaultProcessID
	}
	t := &tree{opts: opts, ids: map[string]bool{opts.ProcessID: true}}
	h := t.newRoot(ctx, saved)
	stop := context.AfterFunc(ctx, h.cancelProcess)
	defer stop()
	return h.execute(fn), nil
}

// validate checks Run's input and returns the checkpoint the run starts
// from.
func validate(ctx context.Context, fn adapter.TaskFunc, opts Options) (bodyhost.Saved, error) {
	var saved bodyhost.Saved
	switch {
	case ctx == nil:
		return saved, fmt.Errorf("optiotest: %w: nil context", adapter.ErrInvalidInput)
	case fn == nil:
		return saved, fmt.Errorf("optiotest: %w: nil TaskFunc", adapter.ErrInvalidInput)
	}
	switch opts.RunKind {
	case adapter.FreshRun:
	case adapter.RerunAfterLostWorker:
		saved.Rerun = true
	case adapter.ResumedRun:
		saved.Resumed = true
	default:
		return saved, fmt.Errorf("optiotest: %w: unknown %v", adapter.ErrInvalidInput, opts.RunKind)
	}
	if opts.Checkpoint == nil {
		return saved, nil
	}
	data, err := json.Marshal(opts.Checkpoint)
	switch {
	case err != nil:
		return saved, fmt.Errorf("optiotest: %w: checkpoint: %v", adapter.ErrInvalidInput, err)
	case string(data) == "null":
		return saved, nil // a Result's Checkpoint after ClearHasSavedState
	case len(data) > adapter.MaxCheckpointSize:
		return saved, fmt.Errorf("optiotest: checkpoint (%d bytes): %w", len(data), adapter.ErrCheckpointTooLarge)
	case opts.RunKind == adapter.FreshRun:
		return saved, fmt.Errorf("optiotest: %w: a fresh run starts with no checkpoint (set RunKind to ResumedRun or RerunAfterLostWorker)", adapter.ErrInvalidInput)
	}
	saved.Latest = &mirror.Checkpoint{Seq: 1, Data: data}
	saved.Seq = 1
	return saved, nil
}
