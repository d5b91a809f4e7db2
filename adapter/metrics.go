package adapter

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
)

// Metrics receives the engine's own measurements (Config.Metrics); the
// internal/telemetry package of cmd/worker turns them into Prometheus
// metrics. Implementations must be safe for concurrent use and cheap: they
// are called on the engine's hot paths.
type Metrics interface {
	// RunStarted is called when a launched process's run starts its body
	// (the document moved to running).
	RunStarted()
	// RunEnded is called when a run that started ends, with its final
	// state and how long it ran.
	RunEnded(state State, ran time.Duration)
	// BodyStarted and BodyEnded bracket every body run in this process.
	BodyStarted()
	// BodyEnded: see BodyStarted.
	BodyEnded()
	// MirrorWrite is called after each write of the workflow to the Mongo
	// mirror (op is the activity: StartRun, Finish, RequestCancel,
	// CancelScheduled, AppendLog, CreateChildren), with its latency.
	MirrorWrite(op string, took time.Duration, err error)
	// RPCCall is called after each call of the optio-engine RPC service,
	// with outcome "ok" or "error".
	RPCCall(method, outcome string)
	// LaunchRefused is called when a launch is refused for a contract
	// reason (ReasonNotFound, ReasonNotLaunchable, ReasonLaunchBlocked,
	// ReasonNoResumeSupport, ReasonShuttingDown), whichever way it came:
	// Launch, LaunchAndWait, RPC, a cron fire or an auto-resume.
	LaunchRefused(reason Reason)
	// ProgressFlush is called after each write of a body's buffered
	// progress (and its log lines) to Mongo, with its latency.
	ProgressFlush(took time.Duration, err error)
}

// metricsInterceptor reports what the engine's activities do to Metrics.
type metricsInterceptor struct {
	interceptor.WorkerInterceptorBase
	m Metrics
}

func (i *metricsInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	a := &metricsActivity{m: i.m}
	a.Next = next
	return a
}

type metricsActivity struct {
	interceptor.ActivityInboundInterceptorBase
	m Metrics
}

func (a *metricsActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	name := activity.GetInfo(ctx).ActivityType.Name
	start := time.Now()
	res, err := a.Next.ExecuteActivity(ctx, in)
	took := time.Since(start)
	switch name {
	case activities.StartRunName, activities.FinishName, activities.RequestCancelName,
		activities.CancelScheduledName, activities.AppendLogName, activities.CreateChildrenName:
		a.m.MirrorWrite(name, took, err)
	}
	if err != nil {
		return res, err
	}
	switch r := res.(type) {
	case activitydef.StartRunResult:
		if r.Started {
			a.m.RunStarted()
		}
	case activitydef.FinishResult:
		if fin, ok := firstArg[activitydef.FinishInput](in); ok && r.State.End() {
			a.m.RunEnded(r.State, time.Since(fin.RunningSince))
		}
	case activitydef.BodyResult:
		if body, ok := firstArg[activitydef.BodyInput](in); ok && r.Finished != nil && r.Finished.State.End() {
			a.m.RunEnded(r.Finished.State, time.Since(body.RunningSince))
		}
	}
	return res, err
}

func firstArg[T any](in *interceptor.ExecuteActivityInput) (T, bool) {
	var zero T
	if len(in.Args) == 0 {
		return zero, false
	}
	v, ok := in.Args[0].(T)
	return v, ok
}
