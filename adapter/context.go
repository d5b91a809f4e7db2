package adapter

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/optio-temporal/optio/adapter/internal/bodyhost"
	"github.com/optio-temporal/optio/internal/docstore"
)

// Indeterminate is the percent to pass to ProcessContext.ReportProgress when
// progress cannot be measured; it is stored as progress.percent = null.
const Indeterminate = -1.0

// ProcessContext is the sole argument of every TaskFunc: what the process
// receives (its ID, params, metadata, the engine's services and how its run
// began) and what it can do (report progress, save checkpoints, check for
// cancellation, mark itself ephemeral, run child processes).
type ProcessContext struct {
	ctx context.Context
	// host runs the body: the engine (engineHost) or the test kit.
	host      bodyhost.Host[TaskFunc]
	processID string
	params    map[string]any
	metadata  map[string]any
	services  map[string]any

	trackerOnce sync.Once
	children    *childTracker
	cpOnce      sync.Once
	cp          checkpoints

	// kids accounts for the children the body starts, so that its return
	// can wait for those it left running.
	kids bodyChildren
}

// newProcessContext builds the context of a body that host runs.
func newProcessContext(ctx context.Context, host bodyhost.Host[TaskFunc]) *ProcessContext {
	p := host.Process()
	return &ProcessContext{
		ctx:       ctx,
		host:      host,
		processID: p.ProcessID,
		params:    p.Params,
		metadata:  p.Metadata,
		services:  p.Services,
	}
}

// Context returns a context that is cancelled when the process is cancelled
// (from the API, over RPC or from the Temporal Web UI) or the engine shuts
// down. Pass it to every blocking call in the body; context.Cause tells why.
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
// loops and return early when it is false; a body that never checks it stays
// cancelling until it returns.
func (c *ProcessContext) ShouldContinue() bool { return c.ctx.Err() == nil }

// MaxMessageSize is the most of a progress message, or of the text of an
// error a body returns, that the document and its log keep: the rest is
// cut, with a note of the full length.
const MaxMessageSize = docstore.MaxMessageBytes

// ReportProgress records progress: percent from 0 to 100 (clamped), or
// Indeterminate (any negative value or NaN) for null; message, when not
// empty, is also appended to the process log (both cut to MaxMessageSize).
// Reports are buffered and written to Mongo at most once per
// Config.ProgressFlushInterval, with a final write when the body returns.
// ReportProgress never blocks on Mongo.
func (c *ProcessContext) ReportProgress(percent float64, message string) {
	var p *float64
	if percent >= 0 && !math.IsNaN(percent) {
		percent = min(percent, 100)
		p = &percent
	}
	var m *string
	if message != "" {
		m = &message
	}
	c.host.Report(p, m)
}

// MarkEphemeral marks this process for deletion once it reaches an end state.
func (c *ProcessContext) MarkEphemeral() error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 30*time.Second)
	defer cancel()
	return c.host.SetEphemeral(ctx)
}
