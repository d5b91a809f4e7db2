package activitydef

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/mirror"
)

// Children implements the activities of the children workflow: the ones
// that act on every child of a launch at once. The children's documents say
// which are still active, so these work whichever run of the children
// workflow started them.
type Children struct {
	Store    *docstore.Store
	Temporal client.Client
	Logger   *slog.Logger
}

// activeChildren lists the children of a launch still in an active state.
func (c *Children) activeChildren(ctx context.Context, in ChildrenOf) ([]mirror.Process, error) {
	id, err := parseDocID(in.ParentDocID)
	if err != nil {
		return nil, err
	}
	return c.Store.List(ctx, mirror.Query{ParentID: &id, States: []mirror.State{
		mirror.Scheduled, mirror.Running, mirror.CancelRequested, mirror.Cancelling,
	}})
}

// CancelChildren requests cancellation of the workflow of every active child
// of a launch, as Engine.Cancel would, and returns how many it reached.
func (c *Children) CancelChildren(ctx context.Context, in ChildrenOf) (int, error) {
	kids, err := c.activeChildren(ctx, in)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range kids {
		if k.Status.State == mirror.Scheduled {
			// Not started yet: its workflow finds it cancelled.
			if _, err := c.Store.CancelScheduled(ctx, k.ID); err == nil {
				n++
				continue
			}
		} else if _, err := c.Store.RequestCancel(ctx, k.ID); err != nil && !errors.Is(err, mirror.ErrConflict) {
			return n, err
		}
		err := c.Temporal.CancelWorkflow(ctx, in.IDPrefix+k.ProcessID, "")
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			return n, fmt.Errorf("cancel child %q: %w", k.ProcessID, err)
		}
		n++
	}
	return n, nil
}

// awaitParallel bounds how many child runs AwaitChildren waits on at once.
const awaitParallel = 64

// AwaitChildren returns once no child of the launch is active any more. It
// waits on the children's workflow runs, not on a clock, and heartbeats
// while it waits.
func (c *Children) AwaitChildren(ctx context.Context, in ChildrenOf) error {
	stop := heartbeatEvery(ctx, 10*time.Second)
	defer stop()
	for {
		kids, err := c.activeChildren(ctx, in)
		if err != nil || len(kids) == 0 {
			return err
		}
		sem := make(chan struct{}, awaitParallel)
		var wg sync.WaitGroup
		for _, k := range kids {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				c.awaitRun(ctx, in.IDPrefix+k.ProcessID)
			}()
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// awaitRun waits for the current run of a workflow to close. A run that is
// gone, or a document that is still active after its run closed (a
// terminal write on its way), costs a short pause instead of a busy loop.
func (c *Children) awaitRun(ctx context.Context, workflowID string) {
	err := c.Temporal.GetWorkflow(ctx, workflowID, "").GetWithOptions(ctx, nil, client.WorkflowRunGetOptions{DisableFollowingRuns: true})
	// Give a closing run's terminal write a moment before re-listing; a run
	// not started yet (or gone) a longer one.
	pause := 100 * time.Millisecond
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		pause = time.Second
	}
	t := time.NewTimer(pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// WorkflowOpen reports whether the latest run of a workflow is still running.
func (c *Children) WorkflowOpen(ctx context.Context, in WorkflowRef) (bool, error) {
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, in.WorkflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// heartbeatEvery heartbeats an activity until the returned func is called.
func heartbeatEvery(ctx context.Context, interval time.Duration) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}
