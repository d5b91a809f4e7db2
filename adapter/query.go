package adapter

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.temporal.io/sdk/converter"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// GetProcess returns the document of a process, by processId or by _id in
// hex. It returns an error wrapping ReasonNotFound when there is none.
func (e *Engine) GetProcess(ctx context.Context, id string) (*Process, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	p, err := e.store.Resolve(ctx, id)
	if isNotFound(err) {
		return nil, fmt.Errorf("process %q: %w", id, ReasonNotFound)
	}
	return p, err
}

// ListOptions filters ListProcesses. Zero fields do not filter.
type ListOptions struct {
	// State keeps processes in this state.
	State State
	// RootID keeps the processes of one tree: the root's _id in hex.
	RootID string
	// Metadata keeps processes whose metadata.<key> equals each value.
	Metadata map[string]any
}

// ListProcesses returns the processes matching opts, roots and children
// alike, sorted by depth, order, then _id.
func (e *Engine) ListProcesses(ctx context.Context, opts ListOptions) ([]Process, error) {
	q := mirror.Query{State: opts.State, Metadata: opts.Metadata}
	if opts.State != "" && !opts.State.Valid() {
		return nil, fmt.Errorf("%w: unknown state %q", ErrInvalidInput, opts.State)
	}
	if opts.RootID != "" {
		oid, err := bson.ObjectIDFromHex(opts.RootID)
		if err != nil {
			return nil, fmt.Errorf("%w: root id %q is not a 24-digit hex ObjectId", ErrInvalidInput, opts.RootID)
		}
		q.RootID = &oid
	}
	return e.store.List(ctx, q)
}

// RunState returns what the workflow of a process's latest run knows about
// it (the optio.state query: state, body queue, body runs, cancel requested)
// together with its latest progress, which the workflow never holds
// (progress is not a history event): it comes from the body's last
// heartbeat when the body is running, else from the document.
func (e *Engine) RunState(ctx context.Context, id string) (workflows.StateView, error) {
	var v workflows.StateView
	p, err := e.GetProcess(ctx, id)
	if err != nil {
		return v, err
	}
	wfID := e.WorkflowID(p.ProcessID)
	res, err := e.cfg.Temporal.QueryWorkflow(ctx, wfID, "", workflows.QueryState)
	if err != nil {
		return v, fmt.Errorf("query workflow %s: %w", wfID, err)
	}
	if err := res.Get(&v); err != nil {
		return v, fmt.Errorf("query workflow %s: %w", wfID, err)
	}
	v.Progress = p.Progress
	desc, err := e.cfg.Temporal.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		return v, nil // the document's progress will do
	}
	for _, a := range desc.GetPendingActivities() {
		if a.GetActivityType().GetName() != activities.BodyName || a.GetHeartbeatDetails() == nil {
			continue
		}
		var pr *mirror.Progress
		if converter.GetDefaultDataConverter().FromPayloads(a.GetHeartbeatDetails(), &pr) == nil && pr != nil {
			v.Progress = *pr
		}
	}
	return v, nil
}
