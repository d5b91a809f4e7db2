package suite

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/mirror"
)

// GrowthOptions shapes Growth.
type GrowthOptions struct {
	// Sizes are the numbers of process documents in the collection, in
	// increasing order. Default 1,000, 10,000 and 100,000.
	Sizes Ints
	// Schedules are the numbers of cron tasks (Temporal Schedules), one per
	// size. Default 10, 100 and 1,000.
	Schedules Ints
	// N is the number of samples per operation and size. Default 30.
	N int
	// ScanN, when set, is the number of samples of the lists, which read
	// the whole collection on FerretDB (seconds each at 100,000 documents
	// there). Default N.
	ScanN int
	// ResyncN is the number of resyncs per size. Default 5.
	ResyncN int
	// Active are the numbers of running processes the reconciler is
	// watched with. Default 10 and 1,000.
	Active Ints
	// ReconcileInterval is the engine's Config.ReconcileInterval while the
	// reconciler is watched. Default 1 s.
	ReconcileInterval time.Duration
	// ReconcilePasses is how many intervals the reconciler is watched for,
	// once every process runs. Default 30.
	ReconcilePasses int
	// Progress receives a line per step, when set.
	Progress io.Writer
}

// RegisterFlags adds the -growth-* flags to fs.
func (o *GrowthOptions) RegisterFlags(fs *flag.FlagSet) {
	o.Sizes, o.Schedules, o.Active = Ints{1000, 10000, 100000}, Ints{10, 100, 1000}, Ints{10, 1000}
	fs.Var(&o.Sizes, "growth-sizes", "growth: process documents in the collection, comma-separated, increasing")
	fs.Var(&o.Schedules, "growth-schedules", "growth: cron tasks (Temporal Schedules) at each size, comma-separated")
	fs.IntVar(&o.N, "growth-n", 30, "growth: samples per operation and size")
	fs.IntVar(&o.ScanN, "growth-scan-n", 0, "growth: samples of the lists per size (0: -growth-n)")
	fs.IntVar(&o.ResyncN, "growth-resync-n", 5, "growth: resyncs per size")
	fs.Var(&o.Active, "growth-active", "growth: running processes the reconciler is watched with, comma-separated (empty: skip)")
	fs.DurationVar(&o.ReconcileInterval, "growth-reconcile-interval", time.Second, "growth: the engine's ReconcileInterval while the reconciler is watched")
	fs.IntVar(&o.ReconcilePasses, "growth-reconcile-passes", 30, "growth: intervals the reconciler is watched for")
}

// Ints is a comma-separated list of integers, as a flag.
type Ints []int

// String prints the list as the flag takes it.
func (v *Ints) String() string {
	s := make([]string, len(*v))
	for i, n := range *v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// Set parses a comma-separated list; "" is the empty list.
func (v *Ints) Set(s string) error {
	*v = nil
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a non-negative integer", f)
		}
		*v = append(*v, n)
	}
	return nil
}

// GrowthTarget bounds launch, cancel and get: their p50 at the largest size
// at most this many times that at the smallest.
const GrowthTarget = 1.2

// seedShelves is how many metadata values the seeded documents spread over;
// probeShelf marks the few that the list probes find.
const (
	seedShelves = 100
	probeShelf  = "probe"
	probeCount  = 10
)

// Growth measures how the engine's everyday operations cost as the data
// grows: one engine, one database, grown step by step to each size of
// process documents (inserted directly, in end states: see seedDocuments)
// and of cron tasks (through the task generator, synced by a resync), and at
// each step the p50 of launch-to-done, cancel (Engine.Cancel to the body's
// context done), get (by _id and by processId, of a random seeded
// document), list by state and by metadata (each matching the same 11 and
// 10 documents at every size) and resync. Launch, cancel and the gets are
// sampled in turn with a second engine that stays at the smallest size,
// against which their growth is read (see growthRows). Then, with the
// reconciler on, the DescribeWorkflowExecution calls per reconcile interval
// with Active processes running.
func Growth(ctx context.Context, env *Env, opts GrowthOptions) (*Result, error) {
	if len(opts.Sizes) != len(opts.Schedules) {
		return nil, fmt.Errorf("growth: %d sizes but %d schedule counts", len(opts.Sizes), len(opts.Schedules))
	}
	if opts.N <= 0 {
		opts.N = 30
	}
	if opts.ScanN <= 0 {
		opts.ScanN = opts.N
	}
	if opts.ResyncN <= 0 {
		opts.ResyncN = 5
	}
	g := &growth{env: env, opts: opts}
	res := &Result{Name: "growth"}
	var b strings.Builder
	if len(opts.Sizes) > 0 {
		if err := g.sizes(ctx, res, &b); err != nil {
			return nil, err
		}
	}
	for i, a := range opts.Active {
		if err := g.reconciler(ctx, a, i == 0, res, &b); err != nil {
			return nil, err
		}
	}
	res.Details = b.String()
	return res, nil
}

type growth struct {
	env  *Env
	opts GrowthOptions
}

// growthSide is one engine of the size steps, on a database of its own,
// with the documents seeded there and its cron tasks.
type growthSide struct {
	eng       *adapter.Engine
	mu        sync.Mutex
	crons     int
	started   chan struct{}
	cancelled chan time.Time
	seeded    []bson.ObjectID
	seededIDs []string
}

func newGrowthSide() *growthSide {
	return &growthSide{started: make(chan struct{}, 1), cancelled: make(chan time.Time, 1)}
}

func (g *growth) progress(format string, args ...any) {
	if g.opts.Progress != nil {
		fmt.Fprintf(g.opts.Progress, "growth: "+format+"\n", args...)
	}
}

// tasks is the side's generator: the two probes and its current number of
// cron tasks, which fire once a year.
func (g *growthSide) tasks(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
	g.mu.Lock()
	n := g.crons
	g.mu.Unlock()
	out := []adapter.TaskInstance{
		{ProcessID: "probe/done", Name: "Probe", Execute: func(*adapter.ProcessContext) error { return nil }},
		{ProcessID: "probe/cancel", Name: "Probe cancel", Execute: func(pc *adapter.ProcessContext) error {
			// A body re-run (its worker seemed lost under load) must not
			// block on a signal nobody reads.
			select {
			case g.started <- struct{}{}:
			default:
			}
			<-pc.Context().Done()
			select {
			case g.cancelled <- time.Now():
			default:
			}
			return nil
		}},
	}
	for i := range n {
		out = append(out, adapter.TaskInstance{
			ProcessID: fmt.Sprintf("cron/%04d", i), Name: "Cron", Schedule: "0 0 1 1 *",
			Metadata: map[string]any{"shelf": "cron"}, Execute: func(*adapter.ProcessContext) error { return nil },
		})
	}
	return out, nil
}

func (g *growth) newEngine(ctx context.Context, measure string, cfg adapter.Config) (*adapter.Engine, error) {
	var eng *adapter.Engine
	var err error
	pprof.Do(ctx, pprof.Labels(SideLabel, "optio"), func(ctx context.Context) {
		cfg.Temporal, cfg.Namespace, cfg.Mongo, cfg.Logger = g.env.Temporal, g.env.Opts.Namespace, g.env.freshDB(measure), g.env.log
		cfg.BodyHeartbeatTimeout, cfg.ProgressFlushInterval = g.env.Opts.HeartbeatTimeout, g.env.Opts.ProgressFlushInterval
		eng, err = adapter.New(ctx, cfg)
	})
	return eng, err
}

// growthRows are the measurement's rows, in the order of measure's
// samples. A paired row is sampled on both sides, one sample on each in
// turn; the others on the growing side alone.
//
// Why the pairing: a get takes a few tenths of a millisecond, and its p50
// moves by up to a third from one moment to the next on a shared machine
// (0.30 to 0.54 ms for a get by _id at 1,000 documents over a dozen runs),
// more than the growth it is to show. So the everyday operations are
// sampled on two engines in turn: the growing one, and a base one on a
// database of its own that stays at the smallest size (documents and cron
// tasks); each step's growth is the first's p50 against the second's, both
// taken in the same seconds. The first step, where both hold the smallest
// size, shows what that ratio reads when nothing has grown.
var growthRows = []struct {
	metric string
	paired bool
}{
	{"launch-to-done p50 ms", true},
	{"cancel -> body done p50 ms", true},
	{"get by _id p50 ms", true},
	{"get by processId p50 ms", true},
	{"list by state p50 ms", false},
	{"list by metadata p50 ms", false},
	{"resync p50 ms", false},
}

func (g *growth) sizes(ctx context.Context, res *Result, b *strings.Builder) error {
	grow, base := newGrowthSide(), newGrowthSide()
	for _, s := range []struct {
		side *growthSide
		name string
	}{{grow, "growth"}, {base, "growth_base"}} {
		eng, err := g.newEngine(ctx, s.name, adapter.Config{TaskDefinitions: s.side.tasks, ReconcileInterval: -1})
		if err != nil {
			return err
		}
		defer StopEngine(eng)
		s.side.eng = eng
	}
	if _, err := g.setUp(ctx, base, g.opts.Sizes[0], g.opts.Schedules[0]); err != nil {
		return err
	}
	// The p50s by row and step: the growing side's, and beside them the
	// base side's of the paired rows.
	at, beside := make([][]float64, len(growthRows)), make([][]float64, len(growthRows))
	for step, size := range g.opts.Sizes {
		t0 := time.Now()
		n, err := g.setUp(ctx, grow, size, g.opts.Schedules[step])
		if err != nil {
			return err
		}
		g.progress("%d documents, %d cron tasks, set up in %.1f s", n, g.opts.Schedules[step], time.Since(t0).Seconds())
		fmt.Fprintf(b, "  growth step %d: %d process documents (%d seeded), %d cron tasks; the base beside it: %d seeded, %d cron tasks\n",
			step+1, n, len(grow.seeded), g.opts.Schedules[step], len(base.seeded), g.opts.Schedules[0])
		samples, baseSamples, err := g.measure(ctx, grow, base, b)
		if err != nil {
			return err
		}
		for i, r := range growthRows {
			at[i] = append(at[i], ms(samples[i].Percentile(50)))
			if r.paired {
				beside[i] = append(beside[i], ms(baseSamples[i].Percentile(50)))
			}
		}
	}
	for i, r := range growthRows {
		for step, v := range at[i] {
			row := Row{
				Measure: "G growth", Metric: fmt.Sprintf("%s @ %d docs / %d cron", r.metric, g.opts.Sizes[step], g.opts.Schedules[step]),
				Ours: v, Bare: at[i][0],
			}
			if r.paired {
				row.Bare = beside[i][step]
			}
			if r.paired && step > 0 {
				row.Target, row.Verdict = fmt.Sprintf("<= %.1fx base", GrowthTarget), verdict(v <= GrowthTarget*row.Bare)
			}
			res.Rows = append(res.Rows, row)
		}
	}
	return nil
}

// setUp brings side to size seeded documents and crons cron tasks (synced
// by a resync) and returns the number of process documents.
func (g *growth) setUp(ctx context.Context, side *growthSide, size, crons int) (int64, error) {
	if err := side.seedDocuments(ctx, size); err != nil {
		return 0, err
	}
	side.mu.Lock()
	side.crons = crons
	side.mu.Unlock()
	if _, err := side.eng.Resync(ctx, false, nil); err != nil {
		return 0, fmt.Errorf("sync %d cron tasks: %w", crons, err)
	}
	return processes(side.eng).EstimatedDocumentCount(ctx)
}

// measure takes the samples of one step, in the rows' order: the growing
// side's, and the base side's of the paired rows, taken in turn with them.
func (g *growth) measure(ctx context.Context, grow, base *growthSide, b *strings.Builder) (out, baseOut []Samples, err error) {
	out, baseOut = make([]Samples, len(growthRows)), make([]Samples, len(growthRows))
	timed := func(into *Samples, f func() error) error {
		t0 := time.Now()
		err := f()
		*into = append(*into, time.Since(t0))
		return err
	}
	// paired takes n samples of op on each side, one on each in turn,
	// the side that goes first alternating.
	paired := func(row, n int, op func(side *growthSide, into *Samples) error) error {
		for i := range n {
			first, second := grow, base
			firstOut, secondOut := &out[row], &baseOut[row]
			if i%2 == 1 {
				first, second, firstOut, secondOut = base, grow, secondOut, firstOut
			}
			if err := op(first, firstOut); err != nil {
				return err
			}
			if err := op(second, secondOut); err != nil {
				return err
			}
		}
		return nil
	}
	counted := func(label string, ops int, f func() error) error {
		m := newMeter(g.env)
		m.start()
		err := f()
		m.stop(ops)
		u := m.usage()
		g.progress("  %s: %d in %.1f s", label, ops, m.wall.Seconds())
		fmt.Fprintf(b, "    %s: %.1f Mongo commands, %.1f Temporal calls per op\n", label, perOp(u.Mongo.Total(), ops), perOp(u.Temporal.Total(), ops))
		if label == "resync" {
			b.WriteString(u.Mongo.Format(ops))
			b.WriteString(u.Temporal.Format(ops))
		}
		return err
	}
	n := g.opts.N
	// Paired operations count both sides' (2n per operation).
	err = counted("launch-to-done", 2*n, func() error {
		return paired(0, n, func(side *growthSide, into *Samples) error {
			return timed(into, func() error {
				p, err := side.eng.LaunchAndWait(ctx, "probe/done")
				if err == nil && p.Status.State != adapter.StateDone {
					err = fmt.Errorf("probe ended %s", describe(p))
				}
				return err
			})
		})
	})
	if err != nil {
		return nil, nil, err
	}
	err = counted("cancel", 2*n, func() error {
		return paired(1, n, func(side *growthSide, into *Samples) error { return side.cancelOnce(ctx, into) })
	})
	if err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	// The gets by _id come first, on their own: FerretDB's scans (the
	// other gets and the lists, below) leave hundreds of MB of garbage
	// whose collection would otherwise be charged to the lookup after
	// them.
	if err := paired(2, n, func(side *growthSide, into *Samples) error {
		k := rand.IntN(len(side.seeded))
		return timed(into, func() error { _, err := side.eng.GetProcess(ctx, side.seeded[k].Hex()); return err })
	}); err != nil {
		return nil, nil, err
	}
	// The gets by processId come next, also on their own. On FerretDB the
	// first that asks for a document inserted since the engine last read
	// every processId reads them all again (the bench inserts the seeded
	// documents behind the engine's back); the others are gets by _id.
	if err := paired(3, n, func(side *growthSide, into *Samples) error {
		k := rand.IntN(len(side.seeded))
		return timed(into, func() error { _, err := side.eng.GetProcess(ctx, side.seededIDs[k]); return err })
	}); err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(b, "    get by processId: p50 %.2f ms, slowest %.1f ms (on FerretDB, a miss that reads every processId); the base beside it: p50 %.2f ms, slowest %.1f ms\n",
		ms(out[3].Percentile(50)), ms(out[3].Percentile(100)), ms(baseOut[3].Percentile(50)), ms(baseOut[3].Percentile(100)))
	eng := grow.eng
	for i := range g.opts.ScanN {
		check := func(want int, f func() ([]adapter.Process, error)) func() error {
			return func() error {
				ps, err := f()
				if err == nil && len(ps) != want && i == 0 {
					err = fmt.Errorf("list found %d documents, want %d", len(ps), want)
				}
				return err
			}
		}
		if err := timed(&out[4], check(probeCount+1, func() ([]adapter.Process, error) {
			return eng.ListProcesses(ctx, adapter.ListOptions{State: adapter.StateCancelled})
		})); err != nil {
			return nil, nil, err
		}
		if err := timed(&out[5], check(probeCount, func() ([]adapter.Process, error) {
			return eng.ListProcesses(ctx, adapter.ListOptions{Metadata: map[string]any{"shelf": probeShelf}})
		})); err != nil {
			return nil, nil, err
		}
	}
	g.progress("  gets and lists: %d gets by _id and by processId on each side, %d rounds of the lists in %.1f s", n, g.opts.ScanN, time.Since(t0).Seconds())
	err = counted("resync", g.opts.ResyncN, func() error {
		for range g.opts.ResyncN {
			if err := timed(&out[6], func() error { _, err := eng.Resync(ctx, false, nil); return err }); err != nil {
				return err
			}
		}
		return nil
	})
	return out, baseOut, err
}

// cancelOnce launches the cancel probe, waits for its body, cancels it and
// records the time from the cancel call to the body's context ending.
func (g *growthSide) cancelOnce(ctx context.Context, into *Samples) error {
	eng := g.eng
	done := make(chan error, 1)
	go func() {
		p, err := eng.LaunchAndWait(ctx, "probe/cancel")
		if err == nil && p.Status.State != adapter.StateCancelled {
			err = fmt.Errorf("cancel probe ended %s", describe(p))
		}
		done <- err
	}()
	select {
	case <-g.started:
	case err := <-done:
		return fmt.Errorf("cancel probe ended before its body started: %v", err)
	}
	t0 := time.Now()
	out, err := eng.Cancel(ctx, "probe/cancel")
	if err != nil {
		return err
	}
	if !out.OK {
		return fmt.Errorf("cancel refused: %s", out.Reason)
	}
	*into = append(*into, (<-g.cancelled).Sub(t0))
	return <-done
}

// seedDocuments inserts process documents in end states until the
// collection's seeded documents number size: trees of one ad-hoc root and 9
// children, done or failed (the first tree cancelled, with metadata shelf
// "probe"), each with the log of a finished run; the metadata of the others
// spreads over 100 shelves.
func (g *growthSide) seedDocuments(ctx context.Context, size int) error {
	coll := processes(g.eng)
	const batch = 1000
	now := time.Now().UTC().Truncate(time.Millisecond)
	docs := make([]any, 0, batch)
	var root bson.ObjectID
	for i := len(g.seeded); i < size; i++ {
		p := seedDocument(i, now, &root)
		g.seeded, g.seededIDs = append(g.seeded, p.ID), append(g.seededIDs, p.ProcessID)
		docs = append(docs, p)
		if len(docs) == batch || i == size-1 {
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				return fmt.Errorf("seed documents: %w", err)
			}
			docs = docs[:0]
		}
	}
	return nil
}

func seedDocument(i int, now time.Time, root *bson.ObjectID) mirror.Process {
	id := bson.NewObjectID()
	p := mirror.Process{
		ID: id, ProcessID: fmt.Sprintf("seed/%06d", i), Name: "Seeded " + strconv.Itoa(i),
		Params: map[string]any{}, Metadata: map[string]any{"shelf": fmt.Sprintf("seed-%02d", i%seedShelves)},
		RootID: id, Cancellable: true, CreatedAt: now.Add(-time.Hour),
	}
	if i%10 == 0 {
		*root, p.Adhoc = id, true
	} else {
		parent := *root
		p.ParentID, p.RootID, p.Depth, p.Order = &parent, parent, 1, i%10-1
	}
	started, ended := now.Add(-time.Hour), now.Add(-59*time.Minute)
	dur := ended.Sub(started).Seconds()
	hundred := 100.0
	p.Progress = mirror.Progress{Percent: &hundred}
	p.Log = []mirror.LogEntry{
		mirror.NewLogEntry(started, mirror.LevelEvent, "State changed to scheduled"),
		mirror.NewLogEntry(started, mirror.LevelEvent, "State changed to running"),
	}
	switch {
	case i < probeCount:
		p.Metadata["shelf"] = probeShelf
		p.Status = mirror.Status{State: mirror.Cancelled, RunningSince: &started, StoppedAt: &ended}
	case i%3 == 0:
		msg := "seeded failure"
		p.Status = mirror.Status{State: mirror.Failed, Error: &msg, RunningSince: &started, FailedAt: &ended}
	default:
		p.Status = mirror.Status{State: mirror.Done, RunningSince: &started, DoneAt: &ended, Duration: &dur}
	}
	p.Log = append(p.Log, mirror.NewLogEntry(ended, mirror.LevelEvent, "State changed to "+string(p.Status.State)))
	return p
}

// reconciler launches active processes that hold until released, on an
// engine whose reconciler runs every ReconcileInterval, and counts the
// DescribeWorkflowExecution calls per interval once all run.
func (g *growth) reconciler(ctx context.Context, active int, first bool, res *Result, b *strings.Builder) error {
	release := make(chan struct{})
	var tasks []adapter.TaskInstance
	for i := range active {
		tasks = append(tasks, adapter.TaskInstance{ProcessID: fmt.Sprintf("hold/%04d", i), Name: "Hold", Execute: func(pc *adapter.ProcessContext) error {
			select {
			case <-release:
			case <-pc.Context().Done():
			}
			return nil
		}})
	}
	interval := g.opts.ReconcileInterval
	if interval <= 0 {
		interval = time.Second
	}
	passes := max(g.opts.ReconcilePasses, 1)
	eng, err := g.newEngine(ctx, "reconcile", adapter.Config{
		TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
			return tasks, nil
		},
		ReconcileInterval: interval,
	})
	if err != nil {
		return err
	}
	defer StopEngine(eng)
	defer close(release)
	t0 := time.Now()
	for _, t := range tasks {
		if out, err := eng.Launch(ctx, t.ProcessID); err != nil || !out.OK {
			return fmt.Errorf("launch %s: %v %s", t.ProcessID, err, out.Reason)
		}
	}
	for {
		ps, err := eng.ListProcesses(ctx, adapter.ListOptions{State: adapter.StateRunning})
		if err != nil {
			return err
		}
		if len(ps) == active {
			break
		}
		if time.Since(t0) > 10*time.Minute {
			return fmt.Errorf("only %d of %d processes running after 10 minutes", len(ps), active)
		}
		time.Sleep(100 * time.Millisecond)
	}
	g.progress("%d processes running after %.1f s; watching the reconciler for %d intervals of %s", active, time.Since(t0).Seconds(), passes, interval)
	var perPass []int64
	before, _ := g.env.Counters()
	for range passes {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
		now, _ := g.env.Counters()
		perPass = append(perPass, now.Sub(before).N("DescribeWorkflowExecution"))
		before = now
	}
	var sum, peak int64
	for _, n := range perPass {
		sum += n
		peak = max(peak, n)
	}
	mean := float64(sum) / float64(len(perPass))
	res.Rows = append(res.Rows,
		Row{Measure: "G reconciler", Metric: fmt.Sprintf("describes/interval, %d running, mean", active), Ours: mean, Bare: math.NaN()},
		Row{Measure: "G reconciler", Metric: fmt.Sprintf("describes/interval, %d running, max", active), Ours: float64(peak), Bare: math.NaN()},
	)
	if first {
		fmt.Fprintf(b, "  reconciler: ReconcileInterval %s; DescribeWorkflowExecution calls per interval, counted at the client, once every process runs\n", interval)
	}
	fmt.Fprintf(b, "    %d running: %v\n", active, perPass)
	return nil
}
