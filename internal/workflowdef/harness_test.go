package workflowdef

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// The unit tests of this package run the workflows in the SDK's test
// environment (in memory, time skipping) with every activity mocked by name:
// a harness records the calls in order (the trail), so a test asserts which
// mirror writes and body runs a branch of the workflow makes.

// rootProcessName is the name the workflow under test is registered under:
// ProcessName itself is left for the child processes that a test mocks.
const rootProcessName = "test.Process"

// Queues the fake claims hand out.
const (
	queueA = "engine-a" // the first worker's own queue
	queueB = "engine-b" // a live worker found after a loss
)

// errUnmocked fails an activity that a test did not expect to be called.
var errUnmocked = errors.New("activity not mocked by the test")

// harness is one test's workflow environment and fakes. Its fields are the
// behaviour of the mocked activities; a test changes them before run.
type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu    sync.Mutex
	trail []string
	logs  []string // messages of AppendLog, in order
	// stamped are AppendLog's writes of stamped entries, in order.
	stamped []stampedWrite
	// bodies are the inputs of the body runs, with the queue each ran on.
	bodies      []bodyCall
	cancelQueue []string // queues CancelBody was sent to

	startRun func(activitydef.StartRunInput) (activitydef.StartRunResult, error)
	// startTakes is how long the StartRun local activity takes.
	startTakes time.Duration
	claim      func(activitydef.ClaimBodyInput) (activitydef.ClaimBodyResult, error)
	// body answers the n-th body run (from 1).
	body func(n int, in activitydef.BodyInput) (activitydef.BodyResult, error)
	// bodyTakes is how long (workflow time) the n-th body run takes.
	bodyTakes func(n int) time.Duration
	finish    func(activitydef.FinishInput) (activitydef.FinishResult, error)
	// finishTakes is how long the Finish local activity takes.
	finishTakes time.Duration
}

// stampedWrite is an AppendLog of stamped entries: when (workflow time)
// and their messages.
type stampedWrite struct {
	at       time.Time
	messages []string
}

type bodyCall struct {
	queue string
	in    activitydef.BodyInput
}

// newHarness returns an environment with the workflows registered and the
// mirror activities faking a process that starts, runs its body on queueA
// and finishes as the body returned.
func newHarness(t *testing.T) *harness {
	// The workflows log the failures the tests provoke; keep them quiet.
	return newHarnessLogging(t, slog.New(slog.DiscardHandler))
}

// newHarnessLogging is newHarness with the workflows' and the SDK's log
// going to logger.
func newHarnessLogging(t *testing.T, logger *slog.Logger) *harness {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(logger))
	h := &harness{t: t, env: suite.NewTestWorkflowEnvironment()}
	h.env.SetTestTimeout(30 * time.Second)
	h.startRun = func(in activitydef.StartRunInput) (activitydef.StartRunResult, error) {
		return activitydef.StartRunResult{
			Started: true, State: mirror.Running, Cancellable: true,
			RunningSince: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
			Claim:        activitydef.ClaimBodyResult{Queue: queueA, Local: true},
		}, nil
	}
	h.claim = func(in activitydef.ClaimBodyInput) (activitydef.ClaimBodyResult, error) {
		if len(in.LostQueues) == 0 {
			return activitydef.ClaimBodyResult{Queue: queueA, Local: true}, nil
		}
		return activitydef.ClaimBodyResult{Queue: queueB}, nil
	}
	h.body = func(int, activitydef.BodyInput) (activitydef.BodyResult, error) { return activitydef.BodyResult{}, nil }
	h.bodyTakes = func(int) time.Duration { return time.Second }
	h.finish = func(in activitydef.FinishInput) (activitydef.FinishResult, error) {
		return activitydef.FinishResult{State: mirror.State(in.Outcome)}, nil
	}
	h.register()
	h.mockMirror()
	return h
}

// register registers the workflows and a stub under every activity name,
// so that the names can be mocked.
func (h *harness) register() {
	env := h.env
	env.RegisterWorkflowWithOptions(NewProcess(ProcessOptions{}), workflow.RegisterOptions{Name: rootProcessName})
	env.RegisterWorkflowWithOptions(Process, workflow.RegisterOptions{Name: workflows.ProcessName})
	env.RegisterWorkflowWithOptions(Children, workflow.RegisterOptions{Name: workflows.ChildrenName})
	env.RegisterWorkflowWithOptions(ScheduledLaunch, workflow.RegisterOptions{Name: workflows.ScheduledLaunchName})
	for name, fn := range map[string]any{
		activities.StartRunName: func(context.Context, activitydef.StartRunInput) (activitydef.StartRunResult, error) {
			return activitydef.StartRunResult{}, errUnmocked
		},
		activities.ClaimBodyName: func(context.Context, activitydef.ClaimBodyInput) (activitydef.ClaimBodyResult, error) {
			return activitydef.ClaimBodyResult{}, errUnmocked
		},
		activities.RequestCancelName:   func(context.Context, activitydef.DocInput) (mirror.State, error) { return "", errUnmocked },
		activities.CancelScheduledName: func(context.Context, activitydef.DocInput) (mirror.State, error) { return "", errUnmocked },
		activities.FinishName: func(context.Context, activitydef.FinishInput) (activitydef.FinishResult, error) {
			return activitydef.FinishResult{}, errUnmocked
		},
		activities.AppendLogName: func(context.Context, activitydef.AppendLogInput) error { return errUnmocked },
		activities.CreateChildrenName: func(context.Context, activitydef.CreateChildrenInput) (activitydef.CreateChildrenResult, error) {
			return activitydef.CreateChildrenResult{}, errUnmocked
		},
		activities.BodyName: func(context.Context, activitydef.BodyInput) (activitydef.BodyResult, error) {
			return activitydef.BodyResult{}, errUnmocked
		},
		activities.CancelBodyName:      func(context.Context, activitydef.CancelBodyInput) (bool, error) { return false, errUnmocked },
		activities.ScheduledLaunchName: func(context.Context, activitydef.ScheduledLaunchInput) (string, error) { return "", errUnmocked },
		activities.CancelChildrenName:  func(context.Context, activitydef.ChildrenOf) (int, error) { return 0, errUnmocked },
		activities.AwaitChildrenName:   func(context.Context, activitydef.ChildrenOf) error { return errUnmocked },
		activities.WorkflowOpenName:    func(context.Context, activitydef.WorkflowRef) (bool, error) { return false, errUnmocked },
	} {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// note appends to the trail.
func (h *harness) note(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.trail = append(h.trail, fmt.Sprintf(format, args...))
}

// Trail returns the calls so far.
func (h *harness) Trail() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.trail...)
}

// mockMirror mocks the activities of the process workflow with the
// harness's fakes.
func (h *harness) mockMirror() {
	env := h.env
	env.OnActivity(activities.StartRunName, mock.Anything, mock.Anything).AfterFn(func() time.Duration {
		return h.startTakes
	}).Return(
		func(_ context.Context, in activitydef.StartRunInput) (activitydef.StartRunResult, error) {
			if in.Claim != nil {
				h.note("StartRun+claim")
			} else {
				h.note("StartRun")
			}
			return h.startRun(in)
		}).Maybe()
	env.OnActivity(activities.ClaimBodyName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activitydef.ClaimBodyInput) (activitydef.ClaimBodyResult, error) {
			h.note("ClaimBody lost=%v hint=%q", in.LostQueues, in.HintQueue)
			return h.claim(in)
		}).Maybe()
	// A body run is noted when it starts: a cancel can end the activity
	// before its mock returns.
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		if info.ActivityType.Name != activities.BodyName {
			return
		}
		var in activitydef.BodyInput
		require.NoError(h.t, args.Get(&in))
		h.mu.Lock()
		h.bodies = append(h.bodies, bodyCall{queue: info.TaskQueue, in: in})
		h.mu.Unlock()
		h.note("Body queue=%s attempt=%d", info.TaskQueue, in.Attempt)
	})
	env.OnActivity(activities.BodyName, mock.Anything, mock.Anything).AfterFn(func() time.Duration {
		h.mu.Lock()
		n := len(h.bodies)
		h.mu.Unlock()
		return h.bodyTakes(n)
	}).Return(
		func(ctx context.Context, in activitydef.BodyInput) (activitydef.BodyResult, error) {
			h.mu.Lock()
			n := len(h.bodies)
			h.mu.Unlock()
			return h.body(n, in)
		}).Maybe()
	env.OnActivity(activities.FinishName, mock.Anything, mock.Anything).AfterFn(func() time.Duration {
		return h.finishTakes
	}).Return(
		func(_ context.Context, in activitydef.FinishInput) (activitydef.FinishResult, error) {
			if in.Unlogged {
				h.note("Finish %s unlogged", in.Outcome)
			} else {
				h.note("Finish %s", in.Outcome)
			}
			return h.finish(in)
		}).Maybe()
	env.OnActivity(activities.AppendLogName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activitydef.AppendLogInput) error {
			for _, l := range in.Log {
				h.note("AppendLog %s", l.Level)
				h.mu.Lock()
				h.logs = append(h.logs, l.Message)
				h.mu.Unlock()
			}
			if len(in.Stamped) > 0 {
				w := stampedWrite{at: h.env.Now()}
				for _, e := range in.Stamped {
					w.messages = append(w.messages, e.Message)
				}
				h.mu.Lock()
				h.stamped = append(h.stamped, w)
				h.mu.Unlock()
			}
			return nil
		}).Maybe()
	env.OnActivity(activities.RequestCancelName, mock.Anything, mock.Anything).Return(
		func(context.Context, activitydef.DocInput) (mirror.State, error) {
			h.note("RequestCancel")
			return mirror.Cancelling, nil
		}).Maybe()
	env.OnActivity(activities.CancelScheduledName, mock.Anything, mock.Anything).Return(
		func(context.Context, activitydef.DocInput) (mirror.State, error) {
			h.note("CancelScheduled")
			return mirror.Cancelled, nil
		}).Maybe()
	// CancelBody is not awaited by the workflow: it is kept off the trail,
	// whose order it would make racy.
	env.OnActivity(activities.CancelBodyName, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activitydef.CancelBodyInput) (bool, error) {
			h.mu.Lock()
			h.cancelQueue = append(h.cancelQueue, activity.GetInfo(ctx).TaskQueue)
			h.mu.Unlock()
			return true, nil
		}).Maybe()
}

// processInput is a launch of process "p1" with short timeouts.
func processInput(revision int) ProcessInput {
	return ProcessInput{
		DocID: "doc-p1", ProcessID: "p1", Name: "Process one", IDPrefix: "db/",
		Revision: revision,
		Timeouts: Timeouts{Heartbeat: 10 * time.Second, ScheduleToStart: 10 * time.Second, MaxBodyRuns: 3},
	}
}

// sharedQueue is the workflows' task queue in these tests.
const sharedQueue = "optio"

// startOptions starts the workflow under the ID an engine gives it.
func startOptions(in ProcessInput) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: in.IDPrefix + in.ProcessID, TaskQueue: sharedQueue}
}

// runProcess runs the process workflow to its end.
func (h *harness) runProcess(in ProcessInput) (ProcessResult, error) {
	h.env.SetStartWorkflowOptions(startOptions(in))
	h.env.ExecuteWorkflow(rootProcessName, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
	var res ProcessResult
	err := h.env.GetWorkflowError()
	if err == nil {
		require.NoError(h.t, h.env.GetWorkflowResult(&res))
	}
	return res, err
}

// at runs f after d of workflow time.
func (h *harness) at(d time.Duration, f func()) { h.env.RegisterDelayedCallback(f, d) }

// update sends an update and returns where its outcome lands.
func (h *harness) update(name string, args ...any) *updateOutcome {
	o := &updateOutcome{}
	h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { o.rejected, o.done = err, true },
		OnComplete: func(v any, err error) {
			o.value, o.err, o.done = v, err, true
		},
	}, args...)
	return o
}

// updateOutcome is what became of an update.
type updateOutcome struct {
	done     bool
	rejected error
	value    any
	err      error
}

// decode turns the update's result into out.
func (o *updateOutcome) decode(t *testing.T, out any) {
	t.Helper()
	require.True(t, o.done, "update not answered")
	require.NoError(t, o.rejected)
	require.NoError(t, o.err)
	switch v := o.value.(type) {
	case converter.EncodedValue:
		require.NoError(t, v.Get(out))
	default:
		// The test environment hands the handler's own value back.
		b, err := converter.GetDefaultDataConverter().ToPayload(v)
		require.NoError(t, err)
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(b, out))
	}
}

// recordEnds records when each workflow type's run last returned, by the
// workflow clock. Call it before the workflow starts.
func (h *harness) recordEnds() map[string]time.Time {
	ends := map[string]time.Time{}
	h.env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&endRecorder{ends: ends}}})
	return ends
}

// endRecorder is recordEnds' interceptor.
type endRecorder struct {
	interceptor.WorkerInterceptorBase
	ends map[string]time.Time
}

func (r *endRecorder) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &endRecorderInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, ends: r.ends}
}

type endRecorderInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	ends map[string]time.Time
}

func (r *endRecorderInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	out, err := r.Next.ExecuteWorkflow(ctx, in)
	r.ends[workflow.GetInfo(ctx).WorkflowType.Name] = workflow.Now(ctx)
	return out, err
}

// recordOpenSleeps records, as each run of a workflow type returns, how
// many of its workflow.Sleep calls still wait on a context not cancelled:
// timers that could fire while the run's last workflow task completes.
// Call it before the workflow starts.
func (h *harness) recordOpenSleeps() map[string][]int {
	open := map[string][]int{}
	h.env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&sleepRecorder{open: open}}})
	return open
}

// sleepRecorder is recordOpenSleeps' interceptor.
type sleepRecorder struct {
	interceptor.WorkerInterceptorBase
	open map[string][]int
}

func (r *sleepRecorder) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &sleepRecorderInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, open: r.open}
}

type sleepRecorderInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	open map[string][]int
	// sleeping are the contexts of the run's sleeps under way.
	sleeping []workflow.Context
}

func (r *sleepRecorderInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return r.Next.Init(&sleepRecorderOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, in: r})
}

func (r *sleepRecorderInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	out, err := r.Next.ExecuteWorkflow(ctx, in)
	n := 0
	for _, sctx := range r.sleeping {
		if sctx.Err() == nil {
			n++
		}
	}
	name := workflow.GetInfo(ctx).WorkflowType.Name
	r.open[name] = append(r.open[name], n)
	return out, err
}

type sleepRecorderOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	in *sleepRecorderInbound
}

func (o *sleepRecorderOutbound) Sleep(ctx workflow.Context, d time.Duration) error {
	o.in.sleeping = append(o.in.sleeping, ctx)
	defer func() {
		o.in.sleeping = slices.DeleteFunc(o.in.sleeping, func(c workflow.Context) bool { return c == ctx })
	}()
	return o.Next.Sleep(ctx, d)
}
