package suite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Names of the bare workflows and activities.
const (
	BareTrivialWorkflow   = "bench.BareTrivial"
	BareParentWorkflow    = "bench.BareParent"
	BareSpinWorkflow      = "bench.BareSpin"
	BareHeartbeatWorkflow = "bench.BareHeartbeatLoop"
	BareFanoutWorkflow    = "bench.BareFanout"

	bareTrivialActivity   = "bench.Trivial"
	bareSpinActivity      = "bench.Spin"
	bareHeartbeatActivity = "bench.HeartbeatLoop"
)

func registerBare(w worker.Worker, acts *bareActivities) {
	w.RegisterWorkflowWithOptions(bareTrivial, workflow.RegisterOptions{Name: BareTrivialWorkflow})
	w.RegisterWorkflowWithOptions(bareParent, workflow.RegisterOptions{Name: BareParentWorkflow})
	w.RegisterWorkflowWithOptions(bareSpin, workflow.RegisterOptions{Name: BareSpinWorkflow})
	w.RegisterWorkflowWithOptions(bareHeartbeatLoop, workflow.RegisterOptions{Name: BareHeartbeatWorkflow})
	w.RegisterWorkflowWithOptions(bareFanout, workflow.RegisterOptions{Name: BareFanoutWorkflow})
	w.RegisterActivityWithOptions(acts.trivial, activity.RegisterOptions{Name: bareTrivialActivity})
	w.RegisterActivityWithOptions(acts.spin, activity.RegisterOptions{Name: bareSpinActivity})
	w.RegisterActivityWithOptions(acts.heartbeatLoop, activity.RegisterOptions{Name: bareHeartbeatActivity})
}

// bareTrivial runs one trivial activity.
func bareTrivial(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	return workflow.ExecuteActivity(ctx, bareTrivialActivity).Get(ctx, nil)
}

// bareParent starts n bareTrivial child workflows, at most limit at a time,
// and returns how many ended without error.
func bareParent(ctx workflow.Context, n, limit int) (int, error) {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	sel := workflow.NewSelector(ctx)
	inflight, ok := 0, 0
	var firstErr error
	for i := range n {
		for inflight >= limit {
			sel.Select(ctx)
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("%s/%04d", id, i),
		})
		inflight++
		sel.AddFuture(workflow.ExecuteChildWorkflow(cctx, BareTrivialWorkflow), func(f workflow.Future) {
			inflight--
			if err := f.Get(ctx, nil); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			ok++
		})
	}
	for inflight > 0 {
		sel.Select(ctx)
	}
	return ok, firstErr
}

// BareFanoutInput is the input of the bare fan-out parent, and what one of
// its runs hands the next through continue-as-new.
type BareFanoutInput struct {
	// N is the number of children in all; at most Limit run at a time.
	N, Limit int
	// EventBudget is the history length at which a run stops starting
	// children, waits for those in flight and continues as new, unless the
	// server suggests it earlier.
	EventBudget int
	// Next is the index of the next child to start; OK counts the children
	// of earlier runs that ended without error.
	Next, OK int
}

// bareFanout starts N bareTrivial child workflows, at most Limit at a time,
// and returns how many ended without error. A run whose history reaches
// EventBudget events (or whose continue-as-new the server suggests) starts
// no more children, waits for those in flight and continues as new with the
// next index: children of a closed run would be terminated (the default
// parent close policy), and waiting keeps each run the only record of its
// children.
func bareFanout(ctx workflow.Context, in BareFanoutInput) (int, error) {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	rollDue := func() bool {
		info := workflow.GetInfo(ctx)
		return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= in.EventBudget
	}
	sel := workflow.NewSelector(ctx)
	inflight := 0
	var firstErr error
	for in.Next < in.N && firstErr == nil && !rollDue() {
		if inflight >= in.Limit {
			sel.Select(ctx)
			continue
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("%s/%05d", id, in.Next),
		})
		in.Next++
		inflight++
		sel.AddFuture(workflow.ExecuteChildWorkflow(cctx, BareTrivialWorkflow), func(f workflow.Future) {
			inflight--
			if err := f.Get(ctx, nil); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			in.OK++
		})
	}
	for inflight > 0 {
		sel.Select(ctx)
	}
	if firstErr != nil || in.Next >= in.N {
		return in.OK, firstErr
	}
	return 0, workflow.NewContinueAsNewError(ctx, BareFanoutWorkflow, in)
}

// bareSpin runs the spin activity with the heartbeat timeout optio's body
// has, and ends when it does (cancelled, on a workflow cancel).
func bareSpin(ctx workflow.Context, key string, heartbeatTimeout time.Duration) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    heartbeatTimeout,
		WaitForCancellation: true,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	return workflow.ExecuteActivity(ctx, bareSpinActivity, key, heartbeatInterval(heartbeatTimeout)).Get(ctx, nil)
}

// bareHeartbeatLoop runs the heartbeat loop activity and returns how many
// RecordHeartbeat calls it made.
func bareHeartbeatLoop(ctx workflow.Context, d, heartbeatTimeout time.Duration) (int64, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var calls int64
	err := workflow.ExecuteActivity(ctx, bareHeartbeatActivity, d).Get(ctx, &calls)
	return calls, err
}

// bareActivities are the bare activities; spin reports to the driver through
// probes registered by key.
type bareActivities struct {
	probes sync.Map // key -> *spinProbe
	// finished, when set, counts the trivial activities that returned.
	finished atomic.Pointer[finishLine]
}

func (a *bareActivities) trivial(context.Context) error {
	if f := a.finished.Load(); f != nil {
		f.finish()
	}
	return nil
}

// spinProbe tells the driver when a spinning body started and when it saw
// its cancellation.
type spinProbe struct {
	started chan struct{}
	turned  chan time.Time
}

func newSpinProbe() *spinProbe {
	return &spinProbe{started: make(chan struct{}, 1), turned: make(chan time.Time, 1)}
}

// reset drops what a previous run left in the channels.
func (p *spinProbe) reset() {
	select {
	case <-p.started:
	default:
	}
	select {
	case <-p.turned:
	default:
	}
}

// spin heartbeats every interval, as optio's body does, until its context
// is cancelled, and records the instant it was.
func (a *bareActivities) spin(ctx context.Context, key string, interval time.Duration) error {
	v, ok := a.probes.Load(key)
	if !ok {
		return errors.New("no probe " + key)
	}
	p := v.(*spinProbe)
	t := time.NewTicker(interval)
	defer t.Stop()
	activity.RecordHeartbeat(ctx)
	p.started <- struct{}{}
	for {
		select {
		case <-ctx.Done():
			p.turned <- time.Now()
			return ctx.Err()
		case <-t.C:
			activity.RecordHeartbeat(ctx)
		}
	}
}

// heartbeatLoop calls RecordHeartbeat with a progress value in a tight loop
// for d and returns the number of calls.
func (a *bareActivities) heartbeatLoop(ctx context.Context, d time.Duration) (int64, error) {
	type progress struct {
		Percent float64
		Message string
	}
	var calls int64
	start := time.Now()
	for time.Since(start) < d {
		for range 256 {
			activity.RecordHeartbeat(ctx, progress{Percent: float64(calls % 100), Message: "working"})
			calls++
		}
	}
	return calls, nil
}
