package adapter

import (
	"github.com/optio-temporal/optio/mirror"
)

// TaskFunc is the body of a process: an Optio-style function that runs
// durably inside a Temporal activity (a short one inside its run's first
// workflow task: Config.InlineBody). Returning nil ends the process done (or
// cancelled, when a cancel was requested); returning an error ends it failed
// with the error's text in status.error.
type TaskFunc func(ctx *ProcessContext) error

// TaskInstance declares one process that the engine manages, as optio-core's
// TaskInstance does. The generator given in Config.TaskDefinitions returns
// these; AdhocDefine takes one.
type TaskInstance struct {
	// Execute is the body. Required.
	Execute TaskFunc
	// ProcessID uniquely identifies the process. Required.
	ProcessID string
	// Name is the human-readable display name. Required.
	Name string
	// Description is optional tooltip text; empty is stored as null.
	Description string
	// Params reach the body as ProcessContext.Params.
	Params map[string]any
	// Metadata tags the process; ListProcesses, launch blocks, group cancel
	// and partial resyncs match against it.
	Metadata map[string]any
	// Schedule is an optional 5-field cron expression. A task with a schedule
	// gets a Temporal Schedule that launches it.
	Schedule string
	// Special hides the process from default UI views.
	Special bool
	// Warning is shown as a confirmation prompt before launch; empty is stored as null.
	Warning string
	// NotCancellable makes Cancel refuse with ReasonNotCancellable. The zero
	// value means cancellable, as in optio-core.
	NotCancellable bool
	// SupportsResume declares that the body can continue a previous run
	// from its saved state (ProcessContext.SaveCheckpoint): Launch with
	// WithResume, and the RPC launch {resume: true}, resume it rather than
	// start it over. Written as the document's supportsResume.
	SupportsResume bool
	// AutoResume makes a process that was running when its engine shut
	// down resume by itself once an engine starts again. It requires
	// SupportsResume; a definition with AutoResume alone is refused with
	// ErrInvalidInput.
	AutoResume bool
}

// State is a process state as stored in status.state.
type State = mirror.State

// The process states, re-exported from the mirror package.
const (
	StateIdle            = mirror.Idle
	StateScheduled       = mirror.Scheduled
	StateRunning         = mirror.Running
	StateCancelRequested = mirror.CancelRequested
	StateCancelling      = mirror.Cancelling
	StateDone            = mirror.Done
	StateFailed          = mirror.Failed
	StateCancelled       = mirror.Cancelled
)
