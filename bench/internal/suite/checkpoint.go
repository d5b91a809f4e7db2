package suite

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
)

// CheckpointOptions shapes CheckpointRate.
type CheckpointOptions struct {
	// Duration is how long the tight loop runs. Default 2 s.
	Duration time.Duration
}

// CheckpointRate measures ProcessContext.SaveCheckpoint in a tight loop, as
// a body that checkpoints every item would call it: calls per second for
// Duration, with a small struct as the checkpoint, and the Mongo writes they
// caused, counted by the command monitor as update commands on
// {prefix}_checkpoints (the coalesced checkpoint writes). The one
// hasSavedState mark per run is a findAndModify on {prefix}_processes, like
// the state transitions, and is not counted. The bare reference is the same as measurement 4's:
// activity.RecordHeartbeat in a tight loop, whose backend writes are the
// RecordActivityTaskHeartbeat calls the SDK made.
func CheckpointRate(ctx context.Context, env *Env, opts CheckpointOptions) (*Result, error) {
	if opts.Duration <= 0 {
		opts.Duration = 2 * time.Second
	}
	sd, err := env.newSides(ctx, "checkpoint")
	if err != nil {
		return nil, err
	}
	defer sd.stop()
	eng, bare := sd.eng, sd.bare

	type point struct {
		Item   int64  `json:"item"`
		Cursor string `json:"cursor"`
	}
	var calls int64
	var elapsed time.Duration
	var alloc uint64
	if _, err := eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: "checkpoint", Name: "Checkpoint", SupportsResume: true, Execute: func(pc *adapter.ProcessContext) error {
		a0 := totalAlloc()
		start := time.Now()
		for time.Since(start) < opts.Duration {
			for range 256 {
				if err := pc.SaveCheckpoint(point{Item: calls, Cursor: "page-0042"}); err != nil {
					return err
				}
				calls++
			}
		}
		elapsed = time.Since(start)
		alloc = totalAlloc() - a0
		return nil
	}}, adapter.AdhocOptions{}); err != nil {
		return nil, err
	}
	procs := processes(eng).Name()
	cps := strings.TrimSuffix(procs, "_processes") + "_checkpoints"
	_, m0 := env.Counters()
	var p *adapter.Process
	side(ctx, "optio", func(ctx context.Context) { p, err = eng.LaunchAndWait(ctx, "checkpoint") })
	if err != nil {
		return nil, err
	}
	if p == nil || p.Status.State != adapter.StateDone {
		return nil, fmt.Errorf("checkpoint did not end done: %+v", p)
	}
	_, m1 := env.Counters()
	d := m1.Sub(m0)
	cpWrites := d.N("update " + cps + " ")

	var bareCalls int64
	g0, _ := env.Counters()
	side(ctx, "bare", func(ctx context.Context) {
		var run client.WorkflowRun
		if run, err = env.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: bare.Queue + "/heartbeat", TaskQueue: bare.Queue},
			BareHeartbeatWorkflow, opts.Duration, env.Opts.HeartbeatTimeout); err == nil {
			err = run.Get(ctx, &bareCalls)
		}
	})
	if err != nil {
		return nil, err
	}
	g1, _ := env.Counters()
	bareWrites := g1.Sub(g0)["RecordActivityTaskHeartbeat"].N
	bareRate := float64(bareCalls) / opts.Duration.Seconds()

	bound := float64(int64(opts.Duration/env.Opts.ProgressFlushInterval) + 1)
	m := fmt.Sprintf("6 SaveCheckpoint loop (%s)", opts.Duration)
	rows := []Row{
		{Measure: m, Metric: "calls/s", Ours: float64(calls) / elapsed.Seconds(), Bare: bareRate},
		{Measure: m, Metric: "backend writes (checkpoints)", Ours: float64(cpWrites), Bare: float64(bareWrites), Target: fmt.Sprintf("<= %.0f (d/interval+1)", bound), Verdict: verdict(float64(cpWrites) <= bound)},
		{Measure: m, Metric: "bytes alloc/call", Ours: perCall(alloc, calls), Bare: math.NaN()},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  6 SaveCheckpoint: %s tight loop, a two-field struct per call; flush interval %s. optio writes = Mongo update commands on %s during the run (command monitor),\n"+
		"    plus one findAndModify on %s per run for hasSavedState (not counted); bare = activity.RecordHeartbeat in a tight loop, writes = RecordActivityTaskHeartbeat calls\n",
		opts.Duration, env.Opts.ProgressFlushInterval, cps, procs)
	fmt.Fprintf(&b, "    %d calls in %.2f s, %d checkpoint writes, %.0f MB allocated; bare: %d calls, %d writes\n",
		calls, elapsed.Seconds(), cpWrites, float64(alloc)/(1<<20), bareCalls, bareWrites)
	b.WriteString(sd.logsSince(env))
	return &Result{Name: "checkpoint", Rows: rows, Details: b.String()}, nil
}
