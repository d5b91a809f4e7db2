package adapter

import (
	"context"
)

// Indeterminate is the percent to pass to ProcessContext.ReportProgress when
// progress cannot be measured; it is stored as progress.percent = null.
const Indeterminate = -1.0

// ProcessContext is the sole argument of every TaskFunc: what the process
// receives (its ID, params, metadata and the engine's services) and what it can
// do (report progress, check for cancellation, run children).
type ProcessContext struct {
	ctx       context.Context
	processID string
	params    map[string]any
	metadata  map[string]any
	services  map[string]any
}

// Context returns a context that is cancelled when the process is cancelled
// (from the API, over RPC or from the Temporal Web UI) or the engine shuts down.
// Pass it to every blocking call in the body.
func (c *ProcessContext) Context() context.Context { return c.ctx }

// ProcessID returns the process's processId.
func (c *ProcessContext) ProcessID() string { return c.processID }

// Params returns the params of the task definition (or of the child spec).
func (c *ProcessContext) Params() map[string]any { return c.params }

// Metadata returns the process document's metadata.
func (c *ProcessContext) Metadata() map[string]any { return c.metadata }

// Services returns Config.Services, the same map for every process.
func (c *ProcessContext) Services() map[string]any { return c.services }

// ShouldContinue reports false once cancellation has been requested. Poll it in
// loops; a body that never checks it stays cancelling until it returns.
func (c *ProcessContext) ShouldContinue() bool { return c.ctx.Err() == nil }
