package tests

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/mirror"
)

// cancelPath is the order of the states a cancelled running process goes
// through.
var cancelPath = []adapter.State{adapter.StateRunning, adapter.StateCancelRequested, adapter.StateCancelling, adapter.StateCancelled}

// requireOrderedSubsequence checks that seen visits states of path only, in
// path's order.
func requireOrderedSubsequence(t *testing.T, path, seen []adapter.State) {
	t.Helper()
	at := 0
	for _, st := range seen {
		i := slices.Index(path[at:], st)
		require.GreaterOrEqual(t, i, 0, "state %s out of order in %v (path %v)", st, seen, path)
		at += i
	}
}

// cancelFrom is where a cancel comes from.
type cancelFrom struct {
	name   string
	cancel func(t *testing.T, s *system, id string)
}

var cancelSources = []cancelFrom{
	{"api", func(t *testing.T, s *system, id string) {
		out, err := s.eng.Cancel(s.ctx(), id)
		require.NoError(t, err)
		require.True(t, out.OK, "cancel: %s", out.Reason)
		require.Contains(t, []adapter.State{adapter.StateCancelled, adapter.StateCancelRequested, adapter.StateCancelling}, out.Process.Status.State,
			"the outcome carries the document after the cancel")
	}},
	// What the Temporal Web UI's "Request Cancellation" does.
	{"temporal", func(t *testing.T, s *system, id string) {
		require.NoError(t, s.temporal().CancelWorkflow(s.ctx(), s.eng.WorkflowID(id), ""))
	}},
}

// workflowStatus describes the latest run of a process's workflow.
func (s *system) workflowStatus(id string) enumspb.WorkflowExecutionStatus {
	s.t.Helper()
	desc, err := s.temporal().DescribeWorkflowExecution(s.ctx(), s.eng.WorkflowID(id), "")
	require.NoError(s.t, err)
	return desc.GetWorkflowExecutionInfo().GetStatus()
}

func (s *system) waitWorkflowStatus(id string, want enumspb.WorkflowExecutionStatus) {
	s.t.Helper()
	eventually(s.t, "workflow of "+id+" "+want.String(), func() bool { return s.workflowStatus(id) == want })
}

// TestCancelRunningProcessEndsCancelled: a cancel from the API and a cancel
// requested from the Temporal side (as the Web UI does) take the same path:
// running -> cancel_requested -> cancelling, the body's context is cancelled
// and ShouldContinue turns false; a body that never checks it keeps the
// process cancelling until it returns, and then it ends cancelled, and so
// does its workflow.
func TestCancelRunningProcessEndsCancelled(t *testing.T) {
	// The mirror refuses every write that is not an edge of the state
	// machine, so a process seen cancelling went through cancel_requested
	// even when no sample caught it there.
	require.False(t, mirror.CanTransition(adapter.StateRunning, adapter.StateCancelling))
	require.False(t, mirror.CanTransition(adapter.StateRunning, adapter.StateCancelled))
	require.False(t, mirror.CanTransition(adapter.StateCancelRequested, adapter.StateCancelled))

	for _, src := range cancelSources {
		t.Run(src.name, func(t *testing.T) {
			g := newGate(t)
			var sawCancel atomic.Bool
			var continueAtReturn atomic.Bool
			body := func(ctx *adapter.ProcessContext) error {
				g.enter()
				// Ignores ShouldContinue until released, but notes when its
				// context is cancelled.
				select {
				case <-ctx.Context().Done():
					sawCancel.Store(true)
				case <-g.release:
				}
				<-g.release
				continueAtReturn.Store(ctx.ShouldContinue())
				return nil
			}
			s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(adapter.TaskInstance{ProcessID: "job", Name: "Job", Execute: body})})
			s.launch("job")
			g.waitStarted(t)
			s.waitState("job", adapter.StateRunning)

			rec := recordStates(s, "job")
			src.cancel(t, s, "job")
			s.waitState("job", adapter.StateCancelling)
			eventually(t, "the body's context is cancelled", sawCancel.Load)

			// It stays cancelling while the body runs on (past several
			// heartbeats of the body's activity).
			for range 15 {
				time.Sleep(100 * time.Millisecond)
				require.Equal(t, adapter.StateCancelling, s.get("job").Status.State)
			}
			g.open()
			p := s.waitState("job", adapter.StateCancelled)
			seen := rec.states()
			t.Logf("states seen: %v", seen)
			requireOrderedSubsequence(t, cancelPath, seen)
			require.Contains(t, seen, adapter.StateCancelling)
			require.Equal(t, adapter.StateCancelled, seen[len(seen)-1])

			require.False(t, continueAtReturn.Load(), "ShouldContinue is false after a cancel")
			require.NotNil(t, p.Status.StoppedAt)
			require.NotNil(t, p.Status.RunningSince)
			require.Nil(t, p.Status.Error)
			require.Equal(t, []string{"event: State changed to scheduled", "event: State changed to running", "event: State changed to cancelled"}, logLines(p))
			s.waitWorkflowStatus("job", enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED)

			// cancelled is launchable.
			out, err := s.eng.Launch(s.ctx(), "job")
			require.NoError(t, err)
			require.True(t, out.OK)
			s.waitState("job", adapter.StateDone)
		})
	}
}

// TestCancelReachesCooperativeBodies: bodies that poll ShouldContinue, wait
// on their context, or return its error all end cancelled (not failed),
// whichever side the cancel comes from.
func TestCancelReachesCooperativeBodies(t *testing.T) {
	bodies := map[string]adapter.TaskFunc{
		"polls-should-continue": func(ctx *adapter.ProcessContext) error {
			for ctx.ShouldContinue() {
				ctx.ReportProgress(adapter.Indeterminate, "")
				time.Sleep(5 * time.Millisecond)
			}
			return nil
		},
		"waits-on-context": func(ctx *adapter.ProcessContext) error {
			<-ctx.Context().Done()
			if !errors.Is(context.Cause(ctx.Context()), context.Canceled) && context.Cause(ctx.Context()) == nil {
				return errors.New("no cause")
			}
			return nil
		},
		"returns-context-error": func(ctx *adapter.ProcessContext) error {
			select {
			case <-ctx.Context().Done():
				return ctx.Context().Err()
			case <-time.After(patience):
				return errors.New("never cancelled")
			}
		},
	}
	var tasks []adapter.TaskInstance
	for id, body := range bodies {
		tasks = append(tasks, adapter.TaskInstance{ProcessID: id, Name: id, Execute: body})
	}
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(tasks...)})
	for _, src := range cancelSources {
		for id := range bodies {
			t.Run(src.name+"/"+id, func(t *testing.T) {
				s.launch(id)
				s.waitState(id, adapter.StateRunning)
				src.cancel(t, s, id)
				p := s.waitState(id, adapter.StateCancelled, adapter.StateFailed, adapter.StateDone)
				require.Equal(t, adapter.StateCancelled, p.Status.State, "log:\n%s", formatLog(p))
				require.Nil(t, p.Status.Error)
			})
		}
	}
}

// TestCancelScheduledProcessGoesStraightToCancelled: a process whose body
// has not started (no worker has picked its workflow up yet) moves from
// scheduled straight to cancelled, and the cancel is not lost: when a worker
// comes, the body never runs.
func TestCancelScheduledProcessGoesStraightToCancelled(t *testing.T) {
	for _, src := range cancelSources {
		t.Run(src.name, func(t *testing.T) {
			var runs atomic.Int32
			tasks := staticTasks(adapter.TaskInstance{ProcessID: "queued", Name: "Queued", Execute: func(*adapter.ProcessContext) error {
				runs.Add(1)
				return nil
			}})
			// A client-only engine: nothing polls the task queue yet.
			s := newSystem(t, adapter.Config{DisableWorker: true, TaskDefinitions: tasks})
			s.launch("queued")
			require.Equal(t, adapter.StateScheduled, s.get("queued").Status.State)

			src.cancel(t, s, "queued")
			if src.name == "api" {
				p := s.get("queued")
				require.Equal(t, adapter.StateCancelled, p.Status.State, "the API writes cancelled at once")
			}
			// The workflow of a Temporal-side cancel needs a worker to
			// record it; start one now.
			s.startEngine(adapter.Config{TaskDefinitions: tasks})
			s.waitState("queued", adapter.StateCancelled)
			s.waitWorkflowStatus("queued", enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED)

			p := s.get("queued")
			require.Equal(t, adapter.StateCancelled, p.Status.State)
			require.NotNil(t, p.Status.StoppedAt)
			require.Nil(t, p.Status.RunningSince, "it never ran")
			require.Equal(t, -1, findLog(p, "event", "State changed to running"), "log:\n%s", formatLog(p))
			require.Zero(t, runs.Load(), "the body never ran")
		})
	}
}

// TestCancelRefusals: a task declared NotCancellable refuses a cancel with
// not-cancellable and keeps running to done; idle and ended processes are
// not cancellable either; unknown ones are not found.
func TestCancelRefusals(t *testing.T) {
	g := newGate(t)
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "pinned", Name: "Pinned", Execute: g.cooperative, NotCancellable: true},
		adapter.TaskInstance{ProcessID: "idle", Name: "Idle", Execute: quick},
		adapter.TaskInstance{ProcessID: "done", Name: "Done", Execute: quick},
	)})
	s.run("done")
	s.launch("pinned")
	g.waitStarted(t)
	s.waitState("pinned", adapter.StateRunning)

	for _, tc := range []struct {
		id   string
		want adapter.Reason
	}{
		{"pinned", adapter.ReasonNotCancellable},
		{"idle", adapter.ReasonNotCancellable},
		{"done", adapter.ReasonNotCancellable},
		{"missing", adapter.ReasonNotFound},
	} {
		before := s.snapshot()
		out, err := s.eng.Cancel(s.ctx(), tc.id)
		require.NoError(t, err, tc.id)
		require.False(t, out.OK, tc.id)
		require.Equal(t, tc.want, out.Reason, tc.id)
		require.Equal(t, before, s.snapshot(), "a refused cancel writes nothing (%s)", tc.id)
	}

	// A cancel from the Temporal side (the Web UI's Cancel) is refused the
	// same way: the body keeps running and the log says why.
	require.NoError(t, s.env.Temporal.Client.CancelWorkflow(s.ctx(), s.eng.WorkflowID("pinned"), ""))
	require.Eventually(t, func() bool {
		return findLog(s.get("pinned"), "warning", "the process is not cancellable") >= 0
	}, 30*time.Second, 20*time.Millisecond)

	time.Sleep(300 * time.Millisecond)
	require.Equal(t, adapter.StateRunning, s.get("pinned").Status.State)
	require.Zero(t, g.returned.Load(), "the body was not told to stop")
	g.open()
	s.waitState("pinned", adapter.StateDone)
}

// TestConcurrentCancelsGiveExactlyOneOK: of many concurrent cancels of one
// running process exactly one is OK; the rest get not-cancellable.
func TestConcurrentCancelsGiveExactlyOneOK(t *testing.T) {
	g := newGate(t)
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(adapter.TaskInstance{ProcessID: "job", Name: "Job", Execute: g.cooperative})})
	s.launch("job")
	g.waitStarted(t)
	s.waitState("job", adapter.StateRunning)

	const n = 20
	var wg sync.WaitGroup
	outs := make([]adapter.Outcome, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			outs[i], errs[i] = s.eng.Cancel(s.ctx(), "job")
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i := range n {
		require.NoError(t, errs[i])
		if outs[i].OK {
			ok++
		} else {
			require.Equal(t, adapter.ReasonNotCancellable, outs[i].Reason)
		}
	}
	require.Equal(t, 1, ok)
	s.waitState("job", adapter.StateCancelled)
	require.EqualValues(t, 1, g.runs.Load())
}
