package tests

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/internal/workerproc"
)

// lostBodyHeartbeat is the body heartbeat timeout of the worker-loss tests:
// how long a killed worker goes unnoticed.
const lostBodyHeartbeat = 2 * time.Second

// hangsInWorkerProcess is a body that, in a worker process, says where it
// runs and then hangs until that process dies; anywhere else it says where
// it runs and returns.
func hangsInWorkerProcess(ctx *adapter.ProcessContext) error {
	ctx.ReportProgress(adapter.Indeterminate, runsInPid(os.Getpid()))
	if os.Getenv(workerproc.EnvConfig) != "" {
		<-ctx.Context().Done()
	}
	return nil
}

func runsInPid(pid int) string { return fmt.Sprintf("body running in pid %d", pid) }

// lostWorkerDefinitions are the generated tasks of the worker process and of
// the live engine that takes over.
func lostWorkerDefinitions() []adapter.TaskInstance {
	return []adapter.TaskInstance{{ProcessID: "survivor", Name: "Survivor", Execute: hangsInWorkerProcess}}
}

// lostWorkerTasks: the worker process also defines an ad-hoc process, whose
// function then exists in that process only.
var lostWorkerTasks = workerproc.Register("lost-worker", func(map[string]string) workerproc.Tasks {
	return workerproc.Tasks{
		Definitions: lostWorkerDefinitions(),
		Adhoc: []workerproc.AdhocTask{{Task: adapter.TaskInstance{
			ProcessID: "orphan", Name: "Orphan", Execute: hangsInWorkerProcess,
		}}},
	}
})

// TestWorkerKilledMidBody: bodies run in a second worker process, which is
// killed (SIGKILL) while they run. The process whose function a live worker
// also holds is re-run there and ends done, its log saying the worker was
// lost; the ad-hoc process whose function lived only in the dead process
// ends failed with an error that says so. Neither stays active.
//
// Killed while its bodies run in body activities, the worker is found lost
// by their heartbeat timeout; killed while they still run inline, in the
// first workflow task of their runs, by that task's timeout.
func TestWorkerKilledMidBody(t *testing.T) {
	t.Parallel()
	t.Run("body activity", func(t *testing.T) {
		t.Parallel()
		testWorkerKilledMidBody(t, -1, "heartbeat timeout")
	})
	t.Run("inline", func(t *testing.T) {
		t.Parallel()
		testWorkerKilledMidBody(t, time.Hour, "workflow task timeout")
	})
}

func testWorkerKilledMidBody(t *testing.T, inlineBody time.Duration, reason string) {
	// A client-only engine launches, so the bodies land in the worker
	// process, the only worker there is. Its launches set how long a body
	// runs inline.
	s := newSystem(t, adapter.Config{DisableWorker: true, BodyHeartbeatTimeout: lostBodyHeartbeat, InlineBody: inlineBody})
	w := workerproc.Start(t, workerproc.Config{
		HostPort: s.env.Temporal.HostPort, Namespace: s.env.Temporal.Namespace,
		MongoURI: s.env.Mongo.URI, Database: s.env.Mongo.Name,
		TaskSet:              lostWorkerTasks,
		BodyHeartbeatTimeout: lostBodyHeartbeat,
	})
	for _, id := range []string{"survivor", "orphan"} {
		s.launch(id)
		s.waitLog(id, "info", runsInPid(w.Pid()))
	}

	// A live worker that holds the generated task, not the ad-hoc one.
	s.startEngine(adapter.Config{
		TaskDefinitions:      staticTasks(lostWorkerDefinitions()...),
		BodyHeartbeatTimeout: lostBodyHeartbeat,
	})
	w.Kill()
	lost := "Worker running the body was lost (" + reason + "); re-running the body on a live worker"

	t.Run("body re-run on a live worker", func(t *testing.T) {
		p := s.waitState("survivor", adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
		require.Equal(t, adapter.StateDone, p.Status.State, "log:\n%s", formatLog(p))
		first := findLog(p, "info", runsInPid(w.Pid()))
		warning := findLog(p, "warning", lost)
		second := findLog(p, "info", runsInPid(os.Getpid()))
		require.True(t, first >= 0 && warning > first && second > warning,
			"first run in the worker process, the warning, then the re-run here; log:\n%s", formatLog(p))
		require.Equal(t, "event: State changed to done", logLines(p)[len(p.Log)-1])
	})
	t.Run("function only in the dead worker", func(t *testing.T) {
		p := s.waitState("orphan", adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
		require.Equal(t, adapter.StateFailed, p.Status.State, "log:\n%s", formatLog(p))
		require.Contains(t, *p.Status.Error, "Worker running the body was lost")
		require.Contains(t, *p.Status.Error, "it lived only in the lost worker")
		require.Contains(t, *p.Status.Error, `"orphan"`)
		// No warning promises a re-run that cannot happen: the error says it all.
		require.Equal(t, -1, findLog(p, "warning", "re-running the body"), "log:\n%s", formatLog(p))
		require.GreaterOrEqual(t, findLog(p, "error", "Worker running the body was lost ("+reason+") and no live worker holds"), 0, "log:\n%s", formatLog(p))
	})
}

// lostCompletion makes the first completion of a body activity that wrote
// its run's end fail, unsent, as when the worker dies between its terminal
// write and telling Temporal: the server hears nothing, and the body's
// heartbeat timeout runs out.
// With inline, it loses the first workflow task completion that carries
// such an end instead: the body ran inline, in a local activity of the
// run's first workflow task, which times out and runs again.
type lostCompletion struct {
	inline bool
	lost   atomic.Int32
}

func (l *lostCompletion) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	var carried string
	switch r := req.(type) {
	case *workflowservice.RespondActivityTaskCompletedRequest:
		if !l.inline {
			carried = r.GetResult().String()
		}
	case *workflowservice.RespondWorkflowTaskCompletedRequest:
		if l.inline {
			carried = fmt.Sprint(r.GetCommands())
		}
	}
	if strings.Contains(carried, "Finished") && l.lost.CompareAndSwap(0, 1) {
		return status.Error(codes.NotFound, "completion lost with its worker")
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// A body whose run's end was written before its worker was lost is not run
// again: the re-run finds the end in the document and reports it, and the
// task's function ran once.
//
// Run inline, the body's end rides on the run's first workflow task; when
// its completion is lost, the task times out and runs again, and its
// StartRun finds the run's end already written: the run ends done without
// running the function again.
func TestBodyThatFinishedBeforeItsWorkerWasLostIsNotRunAgain(t *testing.T) {
	t.Run("body activity", func(t *testing.T) { testFinishedBodyNotRunAgain(t, false) })
	t.Run("inline", func(t *testing.T) { testFinishedBodyNotRunAgain(t, true) })
}

func testFinishedBodyNotRunAgain(t *testing.T, inline bool) {
	env := testenv.New(t)
	lost := &lostCompletion{inline: inline}
	tc := env.Temporal.DialIntercepted(t, lost.intercept)
	var runs atomic.Int32
	inlineBody := time.Duration(-1)
	if inline {
		inlineBody = time.Minute
	}
	s := newSystemOn(t, env, adapter.Config{Temporal: tc, BodyHeartbeatTimeout: lostBodyHeartbeat, InlineBody: inlineBody, TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "once", Name: "Once", Execute: func(pc *adapter.ProcessContext) error {
			runs.Add(1)
			pc.ReportProgress(100, "did it")
			return nil
		}},
	)})

	ctx, cancel := context.WithTimeout(s.ctx(), time.Minute)
	defer cancel()
	got, err := s.eng.LaunchAndWait(ctx, "once")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, got.Status.State)
	// LaunchAndWait returns at the end's write, before its completion is
	// lost; the run goes on until Temporal has re-run what was lost.
	require.NoError(t, s.temporal().GetWorkflow(ctx, s.eng.WorkflowID("once"), "").Get(ctx, nil))
	require.EqualValues(t, 1, lost.lost.Load(), "no completion was lost")
	// (The body activity's re-run logs the lost worker before it finds
	// the end written, so only the status is compared.)
	require.Equal(t, got.Status, s.get("once").Status, "the run changed the document's status after its end")
	require.EqualValues(t, 1, runs.Load(), "the task's function ran again after its end was written")
}
