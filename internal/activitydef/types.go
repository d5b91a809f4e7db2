package activitydef

import (
	"time"

	"github.com/optio-temporal/optio/mirror"
)

// StartRunInput asks to move a scheduled process to running.
type StartRunInput struct {
	DocID string
	// Claim, when set, also picks the body's task queue, as ClaimBody would
	// for the first run, in the same local activity.
	Claim *ClaimBodyInput `json:",omitempty"`
	// ClaimStamp, when set, names the launch's claim
	// (docstore.ClaimStamp): a document claimed again since, by a later
	// launch, is not started. A workflow task retried after the run's end
	// was written runs StartRun again, and a relaunch may have claimed the
	// document meanwhile.
	ClaimStamp string `json:",omitempty"`
	// ReportLost asks StartRun to report a document already running for
	// this launch with no body of the run on this worker
	// (StartRunResult.Lost): set by runs that start their body inline.
	ReportLost bool `json:",omitempty"`
}

// StartRunResult says whether the run started and what the body needs.
type StartRunResult struct {
	// Started is false when the document was no longer scheduled (cancelled
	// before the body started, or deleted).
	Started      bool
	State        mirror.State
	RunningSince time.Time
	Metadata     map[string]any
	// Cancellable is the document's cancellable flag.
	Cancellable bool
	// Claim answers StartRunInput.Claim.
	Claim ClaimBodyResult
	// Lost is true, when StartRunInput.ReportLost asked, if the document was
	// already running for this launch and no body of the run is on this worker:
	// the worker that ran the run's first workflow task, and its inline
	// body, was lost before that task completed.
	Lost bool `json:",omitempty"`
}

// ClaimBodyInput asks which task queue should run a body.
type ClaimBodyInput struct {
	ProcessID string
	// HintQueue is the worker-specific queue of an engine known to hold the
	// execute function (the launching engine, or a parent body's engine).
	HintQueue string
	// LostQueues are queues whose worker was lost during this run.
	LostQueues []string
}

// ClaimBodyResult names the queue to run the body on; Queue is empty when no
// live worker is known to hold the execute function.
type ClaimBodyResult struct {
	Queue string
	Local bool
}

// DocInput names a process document.
type DocInput struct {
	DocID string
	// ClaimStamp, for CancelScheduled, names the launch's claim as
	// StartRunInput.ClaimStamp does: a document claimed again since is not
	// cancelled.
	ClaimStamp string `json:",omitempty"`
}

// Outcome is how a body ended, as the workflow saw it.
type Outcome string

// Body outcomes.
const (
	OutcomeDone      Outcome = "done"
	OutcomeFailed    Outcome = "failed"
	OutcomeCancelled Outcome = "cancelled"
)

// FinishInput asks for the terminal write of a run.
type FinishInput struct {
	DocID     string
	ProcessID string
	// RunningSince is the run's start, from StartRun.
	RunningSince time.Time
	Outcome      Outcome
	Error        string
	// Log replaces the default "error" entry of a failure.
	Log []LogLine
	// Unlogged writes a failure with no log entry at all, as optio-core
	// writes the failure of a run whose execute function is missing.
	Unlogged bool `json:",omitempty"`
	// ReturnDoc asks for the document as the terminal write left it.
	ReturnDoc bool `json:",omitempty"`
}

// FinishResult reports the terminal write.
type FinishResult struct {
	State   mirror.State
	Deleted bool // the process was ephemeral and is gone
	// Doc is the document after the terminal write, BSON-encoded, when
	// FinishInput.ReturnDoc asked for it and it is at most MaxReturnedDoc
	// bytes.
	Doc []byte `json:",omitempty"`
	// Final is the document after the terminal write (nil when Deleted),
	// for a caller of Mirror.Finish in this process: the engine hands it to
	// a LaunchAndWait waiting here. It is not serialized, so an activity's
	// result never carries it.
	Final *mirror.Process `json:"-"`
}

// MaxReturnedDoc bounds FinishResult.Doc: a larger document (a long log) is
// left out and read from Mongo by whoever wants it, rather than copied into
// the workflow's history.
const MaxReturnedDoc = 16 << 10

// AppendLogInput appends log entries to a process.
type AppendLogInput struct {
	DocID string
	Log   []LogLine
	// Stamped are entries stamped already (CreateChildrenResult.Log),
	// appended after Log and once: a retry of a call whose write landed
	// finds them in the log and writes nothing.
	Stamped []mirror.LogEntry `json:",omitempty"`
}

// LogLine is a log entry the activity stamps with its own clock, so that
// workflow code never reads the wall clock.
type LogLine struct {
	Level   mirror.Level
	Message string
}

// BodyInput tells the body activity what to run.
type BodyInput struct {
	WorkflowID   string
	RunID        string
	DocID        string
	ProcessID    string
	Name         string
	RunningSince time.Time
	Metadata     map[string]any
	// Attempt counts body runs within this launch, from 1; it is above 1 after
	// a lost worker.
	Attempt int
	// Finish, when set, makes the body activity write the terminal state
	// itself when the body returned nil, uncancelled, without children (the
	// workflow has nothing to wait for then): one local activity fewer per
	// run. Outcome is set by the activity.
	Finish *FinishInput `json:",omitempty"`
	// Revision is the process workflow's revision (workflowdef.CurrentRevision
	// when it started): from 2 on, the body sends its children to a children
	// workflow instead of its own.
	Revision int `json:",omitempty"`
	// InlineFor, for the local activity that starts a body inline
	// (activities.BodyInlineName), is how long it waits for the body to end
	// before it leaves the body running and reports it Detached.
	InlineFor time.Duration `json:",omitempty"`
	// AdoptWithin, for that local activity, is how long a detached body waits
	// for the body activity that takes it over (Adopt); a body nobody took
	// over by then is cancelled, as its workflow counts its worker lost.
	AdoptWithin time.Duration `json:",omitempty"`
	// Adopt makes the body activity take over the body that started inline
	// for this run on this worker, instead of running the function again;
	// a worker where it does not run fails with activities.BodyGoneType.
	Adopt bool `json:",omitempty"`
}

// BodyResult is what a body that returned without error reports.
type BodyResult struct {
	// Cancelled is true when the body returned after its context was
	// cancelled by a cancel of the process or by the engine's shutdown.
	Cancelled bool
	// Interrupted is true when the body's context was cancelled by the SDK
	// itself: a cancel the server delivered with a heartbeat response, or
	// heartbeats that kept failing (the worker lost the server). The workflow
	// knows which: it either requested the cancel or re-runs the body.
	Interrupted bool
	// SpawnedChildren is true when the body asked for child processes.
	SpawnedChildren bool `json:",omitempty"`
	// Finished is the terminal write the activity made (BodyInput.Finish);
	// nil leaves it to the workflow.
	Finished *FinishResult `json:",omitempty"`
	// Detached is true when the inline local activity left the body running
	// (it outlasted BodyInput.InlineFor, or it needs its workflow for
	// children); a body activity with Adopt takes it over.
	Detached bool `json:",omitempty"`
}

// CancelBodyInput identifies a running body to cancel.
type CancelBodyInput struct {
	WorkflowID string
	RunID      string
}

// ScheduledLaunchInput is the argument of a cron fire.
type ScheduledLaunchInput struct {
	ProcessID string
	// FiredAt is when the Schedule started the fire's workflow, set by
	// that workflow; zero in fires of older workflows.
	FiredAt time.Time `json:",omitzero"`
}

// CreateChildrenInput asks to insert child documents under a parent.
type CreateChildrenInput struct {
	ParentDocID string
	// FirstOrder is the order number of the first child inserted; the others
	// follow it. Duplicates use none.
	FirstOrder int
	Children   []ChildSpec
	// Known reports children this launch already has (documents under the
	// same parent from an earlier body run) as Known, with their state,
	// instead of as Duplicate.
	Known bool `json:",omitempty"`
	// Launch, when set, names the parent's launch (the children workflow's
	// first run ID): the worker reads the parent's document once per launch
	// rather than once per call.
	Launch string `json:",omitempty"`
	// DeferLog leaves the parent's "Spawned child" entries to the caller:
	// they come back stamped in CreateChildrenResult.Log, for an AppendLog
	// with Stamped.
	DeferLog bool `json:",omitempty"`
}

// ChildSpec is one child document to insert.
type ChildSpec struct {
	ProcessID   string
	Name        string
	Description string
	Params      map[string]any
}

// CreateChildrenResult says, child by child, what was inserted.
type CreateChildrenResult struct {
	Children []CreatedChild
	// Log are the parent's "Spawned child" entries still to write, stamped
	// with the inserts' time (CreateChildrenInput.DeferLog).
	Log []mirror.LogEntry `json:",omitempty"`
}

// CreatedChild is the fate of one ChildSpec.
type CreatedChild struct {
	DocID string
	Order int
	// Duplicate is true when the processId is taken by another process.
	Duplicate bool
	// Known is true when the processId belongs to a child of the same parent
	// created earlier in this launch (CreateChildrenInput.Known); State and
	// Error are its document's.
	Known bool         `json:",omitempty"`
	State mirror.State `json:",omitempty"`
	Error string       `json:",omitempty"`
}

// ChildrenOf names the children of one launch of a process.
type ChildrenOf struct {
	ParentDocID string
	// IDPrefix makes a child's workflow ID from its processId.
	IDPrefix string
}

// WorkflowRef names a workflow, for WorkflowOpen.
type WorkflowRef struct {
	WorkflowID string
}
