// Package bodyhost is the seam between a process body's context
// (adapter.ProcessContext) and what runs the body: the engine, which
// mirrors everything into Mongo and runs children as Temporal workflows, or
// the test kit (adapter/optiotest), which runs the body and its children in
// process and records what they do.
//
// The package is internal so that the seam is not an API: only packages
// under adapter can implement a Host, and so only they can call
// adapter.RunHosted, the one exported name the seam adds to adapter.
package bodyhost

import (
	"context"

	"github.com/optio-temporal/optio/mirror"
)

// Host is what a ProcessContext asks of whatever runs its body. F is the
// body's function type, adapter.TaskFunc (a type parameter only because
// this package cannot import adapter). Every method may be called from
// several goroutines at once (a parallel group's children).
type Host[F any] interface {
	// Process describes the process whose body runs.
	Process() Process
	// Report records a progress report: percent is nil for indeterminate,
	// message nil for none. It must not block on I/O.
	Report(percent *float64, message *string)
	// SetEphemeral has the process deleted once it ends.
	SetEphemeral(ctx context.Context) error

	// LoadCheckpoint says how the run began and returns the checkpoint it
	// starts from. On an error, Saved still says whether the run is a
	// re-run.
	LoadCheckpoint(ctx context.Context) (Saved, error)
	// CheckpointWriter returns where the body's checkpoints go, once, on
	// the first save; current returns the latest one at any time.
	CheckpointWriter(current func() *mirror.Checkpoint) CheckpointWriter
	// SetHasSavedState sets the process's hasSavedState.
	SetHasSavedState(ctx context.Context) error
	// ClearSavedState clears hasSavedState and deletes the saved checkpoint.
	ClearSavedState(ctx context.Context) error

	// CheckChildID returns an error when processID cannot name a child at
	// all (Temporal would refuse its IDs: too long, or with characters it
	// cannot carry); nothing is written.
	CheckChildID(processID string) error
	// AdmitChild returns an error when the process may not spawn a child
	// now (a launch block on its metadata).
	AdmitChild(ctx context.Context, processID string) error
	// RunChild runs a child process to its end, or refuses it. It is
	// called with the body's context; when that context is cancelled, the
	// child is cancelled too and RunChild returns once it has ended.
	RunChild(ctx context.Context, child Child[F]) (Reply, error)
	// CancelChild cancels a running child, as a cancel request for it
	// would; it does nothing for a child that has ended. It reports false
	// when the child is not there yet (its spawn is still on its way), for
	// the caller to try again.
	CancelChild(ctx context.Context, processID string) bool
	// RefusedChild records, in the process log, a child refused because
	// the process was already cancelled.
	RefusedChild(ctx context.Context, name, processID string)
}

// Process is what a body receives about its process.
type Process struct {
	ProcessID string
	// Params and Metadata are never nil.
	Params   map[string]any
	Metadata map[string]any
	// Services is Config.Services, the same map for every process.
	Services map[string]any
}

// Saved is how a run began and the checkpoint it starts from.
type Saved struct {
	// Rerun: the same launch runs its body again after its worker was
	// lost. Resumed: the launch resumes an earlier run. Neither: a fresh
	// run.
	Rerun, Resumed bool
	// Latest is the checkpoint to continue from, nil for none.
	Latest *mirror.Checkpoint
	// Seq is the highest checkpoint number used so far.
	Seq int64
}

// CheckpointWriter takes a body's checkpoints (docstore.CheckpointBuffer is
// the engine's).
type CheckpointWriter interface {
	// Save records cp as the latest checkpoint; it does not block on I/O.
	Save(cp mirror.Checkpoint)
	// Flush makes the latest checkpoint durable now.
	Flush(ctx context.Context) error
	// Forget drops a checkpoint not written yet.
	Forget()
	// Close makes the final write when the body returns.
	Close(ctx context.Context) error
}

// Child is a child process to run.
type Child[F any] struct {
	ProcessID   string
	Name        string
	Description string
	Params      map[string]any
	// SpecSize is about what ProcessID, Name, Description and Params take
	// in a request's payload, as JSON; the engine bounds its requests by it.
	SpecSize int
	// Execute is the child's body.
	Execute F
	// OnProgress receives each of the child's progress reports, for its
	// parent's on-child-progress callback.
	OnProgress func(percent *float64, message *string)
	// Queued, when not nil, is called once the child's request holds its
	// place: a request RunChild gets after that call goes after this one.
	// A host may leave it uncalled; the caller then takes RunChild's return
	// for it, and holds its later requests back until then.
	Queued func()
}

// Reply is the end of a child, or why it did not run.
type Reply struct {
	// State is done, failed or cancelled.
	State mirror.State
	// Error is a failed child's status.error.
	Error string
	// Refused: the parent no longer accepts children (it was cancelled, or
	// its body has returned); no child was created.
	Refused bool
	// Duplicate: the processId is taken; no child was created.
	Duplicate bool
}
