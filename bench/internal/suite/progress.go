package suite

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
)

// ProgressOptions shapes ProgressRate.
type ProgressOptions struct {
	// Duration is how long each tight loop runs. Default 2 s.
	Duration time.Duration
}

// ProgressResult is what ProgressRate measured for one variant.
type ProgressResult struct {
	Calls   int64
	Elapsed time.Duration
	// Writes is the number of Mongo update commands on the processes
	// collection during the run (the progress flushes: state changes are
	// findAndModify commands, which are not counted).
	Writes int64
	// LogEntries is the number of info entries (progress messages and the
	// drop notices) in the log afterwards.
	LogEntries int
	// Alloc is the bytes the whole process allocated during the loop.
	Alloc uint64
}

// ProgressRate measures ReportProgress in a tight loop: calls per second for
// Duration, and the Mongo writes they caused, counted by the Mongo command
// monitor as update commands on {prefix}_processes while the process ran
// (optio's progress buffer writes with updateOne; its state transitions use
// findAndModify and are not counted). Two variants: percent only, and
// percent with a message on every call (each message is a log entry). The
// bare reference is activity.RecordHeartbeat with a progress value in a
// tight loop for the same time; its backend writes are the
// RecordActivityTaskHeartbeat calls the SDK made.
func ProgressRate(ctx context.Context, env *Env, opts ProgressOptions) (*Result, error) {
	if opts.Duration <= 0 {
		opts.Duration = 2 * time.Second
	}
	sd, err := env.newSides(ctx, "progress")
	if err != nil {
		return nil, err
	}
	defer sd.stop()
	eng, bare := sd.eng, sd.bare

	results := map[string]*ProgressResult{}
	for _, variant := range []string{"plain", "message"} {
		r := &ProgressResult{}
		results[variant] = r
		msg := ""
		if variant == "message" {
			msg = "working"
		}
		if _, err := eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: "progress-" + variant, Name: "Progress", Execute: func(pc *adapter.ProcessContext) error {
			a0 := totalAlloc()
			start := time.Now()
			var calls int64
			for time.Since(start) < opts.Duration {
				for range 256 {
					pc.ReportProgress(float64(calls%100), msg)
					calls++
				}
			}
			r.Calls, r.Elapsed = calls, time.Since(start)
			r.Alloc = totalAlloc() - a0
			return nil
		}}, adapter.AdhocOptions{}); err != nil {
			return nil, err
		}
	}
	coll := "update " + processes(eng).Name()
	for _, variant := range []string{"plain", "message"} {
		r := results[variant]
		id := "progress-" + variant
		_, m0 := env.Counters()
		var p *adapter.Process
		side(ctx, "optio", func(ctx context.Context) { p, err = eng.LaunchAndWait(ctx, id) })
		if err != nil {
			return nil, err
		}
		if p == nil || p.Status.State != adapter.StateDone {
			return nil, fmt.Errorf("%s did not end done: %+v", id, p)
		}
		_, m1 := env.Counters()
		// Any filter shape: FerretDB gets {_id}, MongoDB {_id, status...}.
		r.Writes = m1.Sub(m0).N(coll + " ")
		for _, e := range p.Log {
			if e.Level == "info" {
				r.LogEntries++
			}
		}
	}

	var bareCalls int64
	var bareElapsed time.Duration
	var bareAlloc uint64
	g0, _ := env.Counters()
	side(ctx, "bare", func(ctx context.Context) {
		a0 := totalAlloc()
		defer func() { bareAlloc = totalAlloc() - a0 }()
		start := time.Now()
		var run client.WorkflowRun
		if run, err = env.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: bare.Queue + "/heartbeat", TaskQueue: bare.Queue},
			BareHeartbeatWorkflow, opts.Duration, env.Opts.HeartbeatTimeout); err == nil {
			err = run.Get(ctx, &bareCalls)
		}
		bareElapsed = time.Since(start)
	})
	if err != nil {
		return nil, err
	}
	g1, _ := env.Counters()
	bareWrites := g1.Sub(g0)["RecordActivityTaskHeartbeat"].N
	// The activity's own loop time is opts.Duration (plus at most one batch).
	bareRate := float64(bareCalls) / opts.Duration.Seconds()

	plain, withMsg := results["plain"], results["message"]
	rate := func(r *ProgressResult) float64 { return float64(r.Calls) / r.Elapsed.Seconds() }
	bound := float64(int64(opts.Duration/env.Opts.ProgressFlushInterval) + 1)
	m := fmt.Sprintf("4 ReportProgress loop (%s)", opts.Duration)
	rows := []Row{
		{Measure: m, Metric: "calls/s, percent only", Ours: rate(plain), Bare: bareRate},
		{Measure: m, Metric: "calls/s, percent+message", Ours: rate(withMsg), Bare: bareRate},
		{Measure: m, Metric: "backend writes, percent only", Ours: float64(plain.Writes), Bare: float64(bareWrites), Target: fmt.Sprintf("<= %.0f (d/interval+1)", bound), Verdict: verdict(float64(plain.Writes) <= bound)},
		{Measure: m, Metric: "backend writes, +message", Ours: float64(withMsg.Writes), Bare: float64(bareWrites), Target: fmt.Sprintf("<= %.0f (d/interval+1)", bound), Verdict: verdict(float64(withMsg.Writes) <= bound)},
		{Measure: m, Metric: "log entries, +message", Ours: float64(withMsg.LogEntries), Bare: math.NaN()},
		{Measure: m, Metric: "bytes alloc/call, percent only", Ours: perCall(plain.Alloc, plain.Calls), Bare: perCall(bareAlloc, bareCalls)},
		{Measure: m, Metric: "bytes alloc/call, +message", Ours: perCall(withMsg.Alloc, withMsg.Calls), Bare: perCall(bareAlloc, bareCalls)},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  4 ReportProgress: %s tight loop per variant; flush interval %s. optio writes = Mongo update commands on %s during the run (command monitor);\n"+
		"    bare = activity.RecordHeartbeat(progress) in a tight loop, writes = RecordActivityTaskHeartbeat calls (heartbeat timeout %s, worker throttle %s); bare run took %.2f s end to end\n",
		opts.Duration, env.Opts.ProgressFlushInterval, processes(eng).Name(), env.Opts.HeartbeatTimeout, heartbeatThrottle(env.Opts.HeartbeatTimeout), bareElapsed.Seconds())
	fmt.Fprintf(&b, "    percent only: %d calls in %.2f s, %d writes, %.0f MB allocated; with message: %d calls in %.2f s, %d writes, %d info log entries, %.0f MB allocated; bare: %d calls, %d writes, %.0f MB allocated\n"+
		"    (allocation is the whole process's during the loop, servers included; the loop dominates it)\n",
		plain.Calls, plain.Elapsed.Seconds(), plain.Writes, float64(plain.Alloc)/(1<<20),
		withMsg.Calls, withMsg.Elapsed.Seconds(), withMsg.Writes, withMsg.LogEntries, float64(withMsg.Alloc)/(1<<20),
		bareCalls, bareWrites, float64(bareAlloc)/(1<<20))
	b.WriteString(sd.logsSince(env))
	return &Result{Name: "progress", Rows: rows, Details: b.String()}, nil
}

// totalAlloc returns the bytes this process has allocated so far.
func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

func perCall(bytes uint64, calls int64) float64 {
	if calls == 0 {
		return math.NaN()
	}
	return float64(bytes) / float64(calls)
}
