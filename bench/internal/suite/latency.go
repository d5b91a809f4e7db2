package suite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
)

// LatencyOptions shapes LaunchLatency.
type LatencyOptions struct {
	// N is the number of measured runs per side. Default 100.
	N int
	// Warmup is the number of unmeasured runs per side first. Default 10.
	Warmup int
	// Trace adds a timeline of one traced run per side to the details.
	Trace bool
}

// LatencyTarget is the launch-to-done target: optio's p50 at most this many
// times bare Temporal's.
const LatencyTarget = 1.3

// LatencyResult is what LaunchLatency measured.
type LatencyResult struct {
	Optio, Bare           Samples
	OptioUsage, BareUsage Usage
	// EagerStart is bare Temporal started with EnableEagerStart, as optio's
	// launches are: the first workflow task comes back with the start
	// response instead of through matching.
	EagerStart Samples
	Result
}

// LaunchLatency measures launch-to-done latency of a trivial task: optio's
// LaunchAndWait of an ad-hoc process whose body returns nil, against bare
// Temporal's ExecuteWorkflow + Get of a workflow that runs one trivial
// activity on a worker of this process (SDK defaults: eager activity
// dispatch, no eager start). A third series starts the bare workflow with
// EnableEagerStart, as optio's Launch does, for the like-for-like
// reference. The runs are sequential and interleaved (optio, bare, bare
// with eager start; then rotated) so all see the same machine load.
func LaunchLatency(ctx context.Context, env *Env, opts LatencyOptions) (*LatencyResult, error) {
	if opts.N <= 0 {
		opts.N = 100
	}
	if opts.Warmup < 0 {
		opts.Warmup = 0
	}
	sd, err := env.newSides(ctx, "latency")
	if err != nil {
		return nil, err
	}
	defer sd.stop()
	eng, bare := sd.eng, sd.bare
	if _, err := eng.AdhocDefine(ctx, adapter.TaskInstance{
		ProcessID: "trivial", Name: "Trivial",
		Execute: func(*adapter.ProcessContext) error { return nil },
	}, adapter.AdhocOptions{}); err != nil {
		return nil, err
	}

	optioOnce := func() error {
		var err error
		side(ctx, "optio", func(ctx context.Context) {
			var p *adapter.Process
			if p, err = eng.LaunchAndWait(ctx, "trivial"); err == nil && (p == nil || p.Status.State != adapter.StateDone) {
				err = fmt.Errorf("trivial process did not end done: %s", describe(p))
			}
		})
		return err
	}
	seq := 0
	bareID := ""
	bareOnce := func() error {
		var err error
		side(ctx, "bare", func(ctx context.Context) {
			seq++
			bareID = fmt.Sprintf("%s/trivial-%d", bare.Queue, seq)
			var run client.WorkflowRun
			if run, err = env.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: bareID, TaskQueue: bare.Queue}, BareTrivialWorkflow); err == nil {
				err = run.Get(ctx, nil)
			}
		})
		return err
	}
	eagerOnce := func() error {
		var err error
		side(ctx, "bare", func(ctx context.Context) {
			seq++
			var run client.WorkflowRun
			if run, err = env.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("%s/eager-%d", bare.Queue, seq), TaskQueue: bare.Queue, EnableEagerStart: true}, BareTrivialWorkflow); err == nil {
				err = run.Get(ctx, nil)
			}
		})
		return err
	}
	for range opts.Warmup {
		if err := errors.Join(optioOnce(), bareOnce(), eagerOnce()); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}

	res := &LatencyResult{Result: Result{Name: "latency"}}
	om, bm, nm := newMeter(env), newMeter(env), newMeter(env)
	timed := func(m *meter, f func() error, into *Samples) error {
		m.start()
		err := f()
		*into = append(*into, m.stop(1))
		return err
	}
	stopProfile := env.Profile("latency")
	for i := range opts.N {
		steps := []func() error{
			func() error { return timed(om, optioOnce, &res.Optio) },
			func() error { return timed(bm, bareOnce, &res.Bare) },
			func() error { return timed(nm, eagerOnce, &res.EagerStart) },
		}
		var err error
		for j := range steps {
			err = errors.Join(err, steps[(i+j)%len(steps)]())
		}
		if err != nil {
			stopProfile()
			return nil, err
		}
	}
	stopProfile()
	res.OptioUsage, res.BareUsage = om.usage(), bm.usage()

	const m = "1 launch-to-done (trivial)"
	p50o, p50b := ms(res.Optio.Percentile(50)), ms(res.Bare.Percentile(50))
	res.Rows = []Row{
		{Measure: m, Metric: "p50 ms", Ours: p50o, Bare: p50b, Target: fmt.Sprintf("<= %.1fx bare", LatencyTarget), Verdict: verdict(p50o <= LatencyTarget*p50b)},
		{Measure: m, Metric: "p50 ms vs bare w/ eager start", Ours: p50o, Bare: ms(res.EagerStart.Percentile(50))},
		{Measure: m, Metric: "p99 ms", Ours: ms(res.Optio.Percentile(99)), Bare: ms(res.Bare.Percentile(99))},
		{Measure: m, Metric: "mean ms", Ours: ms(res.Optio.Mean()), Bare: ms(res.Bare.Mean())},
		{Measure: m, Metric: "CPU ms/op (whole process)", Ours: ms(res.OptioUsage.CPUPerOp()), Bare: ms(res.BareUsage.CPUPerOp())},
		{Measure: m, Metric: "Mongo commands/op", Ours: perOp(res.OptioUsage.Mongo.Total(), opts.N), Bare: perOp(res.BareUsage.Mongo.Total(), opts.N)},
		{Measure: m, Metric: "Temporal calls/op", Ours: perOp(res.OptioUsage.Temporal.Total(), opts.N), Bare: perOp(res.BareUsage.Temporal.Total(), opts.N)},
	}

	var b strings.Builder
	fmt.Fprintf(&b, "  1 launch-to-done: N=%d per side after %d warm-up runs, interleaved with bare runs started with EnableEagerStart; min optio %.1f ms, bare %.1f ms, bare with eager start %.1f ms\n",
		opts.N, opts.Warmup, ms(res.Optio.Percentile(0)), ms(res.Bare.Percentile(0)), ms(res.EagerStart.Percentile(0)))
	b.WriteString(res.OptioUsage.Format("optio"))
	b.WriteString(res.BareUsage.Format("bare"))
	wfID := eng.WorkflowID("trivial")
	if ev, wt, mk, err := env.historyStats(ctx, wfID, ""); err == nil {
		fmt.Fprintf(&b, "    optio history per run: %d events, %d workflow tasks, %d local-activity markers\n", ev, wt, mk)
	}
	if ev, wt, mk, err := env.historyStats(ctx, bareID, ""); err == nil {
		fmt.Fprintf(&b, "    bare history per run:  %d events, %d workflow tasks, %d local-activity markers\n", ev, wt, mk)
	}
	if opts.Trace {
		t, err := env.traced(ctx, "optio LaunchAndWait", optioOnce, func() []wfRef { return []wfRef{{"", wfID, ""}} })
		if err != nil {
			return nil, err
		}
		b.WriteString(t)
		t, err = env.traced(ctx, "bare ExecuteWorkflow+Get", bareOnce, func() []wfRef { return []wfRef{{"", bareID, ""}} })
		if err != nil {
			return nil, err
		}
		b.WriteString(t)
	}
	b.WriteString(sd.logsSince(env))
	res.Details = b.String()
	return res, nil
}

func perOp(n int64, ops int) float64 {
	if ops == 0 {
		return math.NaN()
	}
	return float64(n) / float64(ops)
}
