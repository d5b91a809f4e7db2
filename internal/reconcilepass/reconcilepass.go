// Package reconcilepass describes a pass of the engine's reconciler, for
// the module's own tests and measurements of what a pass costs.
//
// It is internal because the figures are the reconciler's bookkeeping (how
// it batches its Temporal calls, when it suspects a document), which may
// change with it; a library user reads the reconciler's effect in the
// documents it fails instead.
package reconcilepass

import "time"

// Pass is what one pass of the reconciler did.
type Pass struct {
	// Active is the number of documents in an active state (one Mongo
	// query read them, without their logs).
	Active int
	// TemporalCalls is the pass's calls to Temporal: one
	// DescribeWorkflowExecution per workflow described.
	TemporalCalls int
	// Suspects is the number of documents whose workflow was found not
	// running; the next pass fails them if it finds the same.
	Suspects int
	// Failed is the number of documents failed as stuck.
	Failed int
	// Took is the pass's duration.
	Took time.Duration
	// Listed is how long the query for the active documents took, which
	// paces the passes (see adapter's reconcilePace).
	Listed time.Duration
}

// Observer is an optional extension of adapter.Metrics: when the engine's
// Config.Metrics implements it too, the reconciler reports every pass.
type Observer interface {
	ReconcilePass(Pass)
}
