package adapter

import (
	"errors"

	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/mirror"
)

// Process is a process document of {prefix}_processes.
type Process = mirror.Process

// Reason is a contract failure reason of the optio-engine service. A Reason is
// also an error, so a call that fails for a contract reason can be checked with
// errors.Is(err, adapter.ReasonNotFound). The contract's reasons are listed
// once, in package mirror, where the RPC contract (rpc/engineapi) finds them
// too; the names here are that list, for callers of this package.
type Reason = mirror.Reason

// The failure reasons of the optio-engine contract.
const (
	ReasonNotFound                   = mirror.ReasonNotFound
	ReasonNotLaunchable              = mirror.ReasonNotLaunchable
	ReasonNotCancellable             = mirror.ReasonNotCancellable
	ReasonNotDismissable             = mirror.ReasonNotDismissable
	ReasonLaunchBlocked              = mirror.ReasonLaunchBlocked
	ReasonNoResumeSupport            = mirror.ReasonNoResumeSupport
	ReasonInvalidPersistWithoutBlock = mirror.ReasonInvalidPersistWithoutBlock
)

// ReasonShuttingDown is returned by Launch while the engine shuts down. It
// is not part of the wire contract (optio-core answers it with an RPC
// error); the RPC service does the same.
const ReasonShuttingDown Reason = "shutting-down"

// ErrNotFound is ReasonNotFound, for callers that think in errors.
var ErrNotFound error = ReasonNotFound

// ErrInvalidInput is wrapped by every error about a caller's bad argument
// (empty IDs, nil functions, bad cron expressions, duplicate IDs ...). Nothing
// is written when it is returned.
var ErrInvalidInput = errors.New("invalid input")

// Outcome is the result of Launch, Cancel and Dismiss: either OK with the
// document as it is after the action, or a contract failure Reason.
type Outcome struct {
	// OK is true when the action took place.
	OK bool
	// Reason says why it did not, when OK is false.
	Reason Reason
	// Process is the document after the action (nil when OK is false, or
	// when an ephemeral process is already gone).
	Process *Process

	run client.WorkflowRun // the run a launch started
	// watch has the notices of the run's end written on this engine, for a
	// launch that waits (LaunchAndWait); nil otherwise.
	watch *endWatch
}

// Err returns nil for an OK outcome and the Reason otherwise.
func (o Outcome) Err() error {
	if o.OK {
		return nil
	}
	return o.Reason
}

func okOutcome(p *Process) Outcome { return Outcome{OK: true, Process: p} }

func failOutcome(r Reason) Outcome { return Outcome{Reason: r} }
