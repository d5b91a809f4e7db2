package suite

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
)

// ThroughputOptions shapes Throughput.
type ThroughputOptions struct {
	// N is the number of concurrent processes (and bare workflows). Default 500.
	N int
	// BareFirst runs the bare side first (alternate it between repetitions).
	BareFirst bool
}

// ThroughputTarget is the throughput target: optio at least this fraction of
// bare Temporal's processes per second.
const ThroughputTarget = 0.9

// EngineCPUTarget is the target of the engine's own CPU per process (its
// goroutines and the calls that drive them, as a CPU profile's labels split
// it): at most this multiple of the bare worker's.
const EngineCPUTarget = 1.2

// Throughput measures how many trivial processes per second complete when N
// are launched at once: optio's LaunchAndWait of N ad-hoc processes (defined
// beforehand, not timed) from N goroutines, against N goroutines each doing
// ExecuteWorkflow + Get of the bare one-activity workflow. The clock runs
// from the first launch to the last completion.
func Throughput(ctx context.Context, env *Env, opts ThroughputOptions) (*Result, error) {
	if opts.N <= 0 {
		opts.N = 500
	}
	sd, err := env.newSides(ctx, "throughput")
	if err != nil {
		return nil, err
	}
	defer sd.stop()
	eng, bare := sd.eng, sd.bare

	trivial := func(*adapter.ProcessContext) error { return nil }
	ids := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s-%04d", prefix, i)
		}
		return out
	}
	defineStart := time.Now()
	if err := parallel(ctx, append(ids("warm", 10), ids("p", opts.N)...), 8, func(ctx context.Context, id string) error {
		_, err := eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: id, Name: "Trivial " + id, Execute: trivial}, adapter.AdhocOptions{})
		return err
	}); err != nil {
		return nil, fmt.Errorf("define: %w", err)
	}
	defineTime := time.Since(defineStart)

	optioRun := func(ctx context.Context, id string) error {
		p, err := eng.LaunchAndWait(ctx, id)
		if err == nil && (p == nil || p.Status.State != adapter.StateDone) {
			err = fmt.Errorf("process %s did not end done: %s", id, describe(p))
		}
		return err
	}
	bareRun := func(ctx context.Context, id string) error {
		run, err := env.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: bare.Queue + "/" + id, TaskQueue: bare.Queue}, BareTrivialWorkflow)
		if err != nil {
			return err
		}
		return run.Get(ctx, nil)
	}
	// Warm-up: a few of each, concurrently.
	if err := parallel(ctx, ids("warm", 10), 10, optioRun); err != nil {
		return nil, fmt.Errorf("optio warm-up: %w", err)
	}
	if err := parallel(ctx, ids("warm", 10), 10, bareRun); err != nil {
		return nil, fmt.Errorf("bare warm-up: %w", err)
	}

	// A failed launch or run does not stop the others: the measurement
	// reports how many failed and the rate of those that completed.
	om, bm := newMeter(env), newMeter(env)
	var optioWall, bareWall time.Duration
	var optioFailed, bareFailed int
	var optioErr, bareErr error
	runOptio := func() error {
		optioWall = env.timedSide(ctx, "throughput", "optio", om, opts.N, func(ctx context.Context) {
			optioFailed, optioErr = parallelCount(ctx, ids("p", opts.N), opts.N, optioRun)
		})
		if optioFailed == opts.N {
			return optioErr
		}
		return nil
	}
	runBare := func() error {
		bareWall = env.timedSide(ctx, "throughput", "bare", bm, opts.N, func(ctx context.Context) {
			bareFailed, bareErr = parallelCount(ctx, ids("p", opts.N), opts.N, bareRun)
		})
		if bareFailed == opts.N {
			return bareErr
		}
		return nil
	}
	if err := inOrder(opts.BareFirst, runOptio, runBare); err != nil {
		return nil, err
	}
	done, err := eng.ListProcesses(ctx, adapter.ListOptions{State: adapter.StateDone})
	if err != nil {
		return nil, err
	}
	if optioFailed == 0 && len(done) != opts.N+10 {
		return nil, fmt.Errorf("%d processes done, want %d", len(done), opts.N+10)
	}

	m := fmt.Sprintf("2 throughput (%d concurrent)", opts.N)
	ours := float64(opts.N-optioFailed) / optioWall.Seconds()
	theirs := float64(opts.N-bareFailed) / bareWall.Seconds()
	ou, bu := om.usage(), bm.usage()
	res := &Result{Name: "throughput", Rows: []Row{
		{Measure: m, Metric: "processes/s (completed)", Ours: ours, Bare: theirs, Target: fmt.Sprintf(">= %.1fx bare", ThroughputTarget),
			Verdict: verdict(optioFailed == 0 && ours >= ThroughputTarget*theirs)},
		{Measure: m, Metric: "failed launches/runs", Ours: float64(optioFailed), Bare: float64(bareFailed)},
		{Measure: m, Metric: "wall s", Ours: optioWall.Seconds(), Bare: bareWall.Seconds()},
		{Measure: m, Metric: "CPU ms/process (whole proc.)", Ours: ms(ou.CPUPerOp()), Bare: ms(bu.CPUPerOp())},
		{Measure: m, Metric: "Mongo commands/process", Ours: perOp(ou.Mongo.Total(), opts.N), Bare: perOp(bu.Mongo.Total(), opts.N)},
	}}
	if ou.Profiled != nil && bu.Profiled != nil {
		// With -profile-dir: the engine's own CPU against the bare
		// worker's, each with the calls that drive it.
		ours, theirs := ou.SideCPUPerOp("optio"), bu.SideCPUPerOp("bare")
		res.Rows = append(res.Rows, Row{Measure: m, Metric: "engine CPU ms/process (profiled)", Ours: ms(ours), Bare: ms(theirs),
			Target: fmt.Sprintf("<= %.1fx bare", EngineCPUTarget), Verdict: verdict(float64(ours) <= EngineCPUTarget*float64(theirs))})
	}
	var b strings.Builder
	order := "optio first"
	if opts.BareFirst {
		order = "bare first"
	}
	fmt.Fprintf(&b, "  2 throughput: %d at once per side (%s); defining the %d ad-hoc processes beforehand took %.1f s (not timed)\n",
		opts.N, order, opts.N+10, defineTime.Seconds())
	if optioErr != nil {
		fmt.Fprintf(&b, "    optio: %d of %d failed; first error: %v\n", optioFailed, opts.N, optioErr)
	}
	if bareErr != nil {
		fmt.Fprintf(&b, "    bare: %d of %d failed; first error: %v\n", bareFailed, opts.N, bareErr)
	}
	b.WriteString(ou.Format("optio"))
	b.WriteString(bu.Format("bare"))
	b.WriteString(sd.logsSince(env))
	res.Details = b.String()
	return res, nil
}

// parallel runs f for every item, at most limit at a time, and returns the
// first error.
func parallel(ctx context.Context, items []string, limit int, f func(context.Context, string) error) error {
	_, err := parallelCount(ctx, items, limit, f)
	return err
}

// parallelCount is parallel that also says how many items failed.
func parallelCount(ctx context.Context, items []string, limit int, f func(context.Context, string) error) (failed int, first error) {
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, it); err != nil {
				mu.Lock()
				failed++
				if first == nil {
					first = fmt.Errorf("%s: %w", it, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed, first
}

// describe says in which state a process document is, and why.
func describe(p *adapter.Process) string {
	if p == nil {
		return "no document"
	}
	if p.Status.Error != nil {
		return string(p.Status.State) + ": " + *p.Status.Error
	}
	return string(p.Status.State)
}
