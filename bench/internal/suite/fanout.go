package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/workflowdef"
	"github.com/optio-temporal/optio/workflows"
)

// FanoutOptions shapes Fanout.
type FanoutOptions struct {
	// Children is the number of children. Default 10,000.
	Children int
	// Concurrency is the group's MaxConcurrency. Default 200.
	Concurrency int
	// BareFirst runs the bare side first (alternate it between repetitions).
	BareFirst bool
	// Timeout bounds each side; a side that runs out is reported as failed.
	// Default 30 minutes.
	Timeout time.Duration
	// Stall ends a side early, reported as failed, when no child has
	// finished for this long. Default 5 minutes.
	Stall time.Duration
	// Progress, when set, receives a line every 10 s while a side runs.
	Progress io.Writer
}

// Targets of the fan-out measurement.
const (
	// FanoutTarget: optio at least this fraction of bare Temporal's
	// children per second.
	FanoutTarget = 0.6
	// FanoutHistoryTarget: no run of optio's has a longer history.
	FanoutHistoryTarget = 5000
	// FanoutGrowthTarget: between fanoutEarlyMark and all children
	// finished, optio's RSS grows by less than this fraction of what it was
	// at the early mark. Judged only against external servers: embedded,
	// the in-memory Temporal server keeps every history in this process.
	FanoutGrowthTarget = 0.10
)

// fanoutEarlyMark is the number of finished children at which the first
// RSS sample is taken.
const fanoutEarlyMark = 2000

// fanoutSide is what one side of the fan-out measurement saw.
type fanoutSide struct {
	wall     time.Duration
	err      error
	line     *finishLine
	startRSS int64
	// peakRSS is the kernel's high-water mark since the side started
	// (peakKernel), or else the highest of the samples taken every 250 ms.
	peakRSS    int64
	peakKernel bool
}

// Fanout measures a wide, flat group under the server's default history
// limits: optio's LaunchAndWait of a process whose body spawns Children
// trivial children in one ParallelGroup with MaxConcurrency Concurrency
// (its children workflow continues as new as its history grows), against a
// bare workflow that starts as many child workflows of one trivial activity,
// at most Concurrency at a time, and continues as new at the same event
// budget (workflowdef.DefaultChildrenEventBudget) or when the server suggests
// it. Per side: children per second from launch to the parent's end, the
// process's peak RSS and its RSS when 2,000 and when all children had
// finished, the longest history of any run involved and the number of
// continue-as-new roll-overs.
func Fanout(ctx context.Context, env *Env, opts FanoutOptions) (*Result, error) {
	if opts.Children <= 0 {
		opts.Children = 10000
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 200
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Minute
	}
	if opts.Stall <= 0 {
		opts.Stall = 5 * time.Minute
	}
	n := opts.Children
	marks := []int64{int64(n)}
	if n > fanoutEarlyMark {
		marks = []int64{fanoutEarlyMark, int64(n)}
	}
	sd, err := env.newSides(ctx, "fanout")
	if err != nil {
		return nil, err
	}
	defer sd.stop()
	eng, bare := sd.eng, sd.bare

	// Children count themselves only while a side is measured.
	var optioLine atomic.Pointer[finishLine]
	child := func(*adapter.ProcessContext) error {
		if f := optioLine.Load(); f != nil {
			f.finish()
		}
		return nil
	}
	if err := defineGroupTask(ctx, eng, "warm", 20, opts.Concurrency, child); err != nil {
		return nil, err
	}
	if err := defineGroupTask(ctx, eng, "fanout", n, opts.Concurrency, child); err != nil {
		return nil, err
	}
	bareRun := func(ctx context.Context, id string, n int) error {
		run, err := env.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: bare.Queue + "/" + id, TaskQueue: bare.Queue},
			BareFanoutWorkflow, BareFanoutInput{N: n, Limit: opts.Concurrency, EventBudget: workflowdef.DefaultChildrenEventBudget})
		if err != nil {
			return err
		}
		var ok int
		if err := run.Get(ctx, &ok); err != nil {
			return err
		}
		if ok != n {
			return fmt.Errorf("bare parent: %d children ok, want %d", ok, n)
		}
		return nil
	}
	if err := launchDone(ctx, eng, "warm"); err != nil {
		return nil, fmt.Errorf("optio warm-up: %w", err)
	}
	if err := bareRun(ctx, "warm", 20); err != nil {
		return nil, fmt.Errorf("bare warm-up: %w", err)
	}

	// A failed side is reported (figures "-", MISS, the error in the
	// details), not fatal: the other side still runs.
	om, bm := newMeter(env), newMeter(env)
	var ours, theirs fanoutSide
	root := eng.WorkflowID("fanout")
	helper := root + workflows.ChildrenIDSuffix
	bareParent := bare.Queue + "/fanout"
	// What the workflows of a failed side were doing when it gave up.
	var optioState, bareState string
	runOptio := func() error {
		ours = env.fanoutSide(ctx, "optio", om, opts, marks, optioLine.Store, func(ctx context.Context) error {
			return launchDone(ctx, eng, "fanout")
		})
		if ours.err != nil {
			optioState = env.describeWorkflow(ctx, root) + env.describeWorkflow(ctx, helper)
			var ended *endedError
			if p, err := eng.GetProcess(ctx, "fanout"); err == nil && p != nil && !errors.As(ours.err, &ended) {
				optioState += fmt.Sprintf("      its document: %s %s\n", p.Status.State, statusError(p))
				for _, note := range logNotes(p) {
					optioState += "        " + note + "\n"
				}
			}
			// Stop what is left of it before the other side runs.
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, _ = eng.Cancel(cctx, "fanout")
			cancel()
		}
		return nil
	}
	runBare := func() error {
		theirs = env.fanoutSide(ctx, "bare", bm, opts, marks, bare.acts.finished.Store, func(ctx context.Context) error {
			return bareRun(ctx, "fanout", n)
		})
		if theirs.err != nil {
			bareState = env.describeWorkflow(ctx, bareParent)
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_ = env.Temporal.CancelWorkflow(cctx, bareParent, "")
			cancel()
		}
		return nil
	}
	_ = inOrder(opts.BareFirst, runOptio, runBare)

	// A failed side may have started fewer runs: wait only for those open.
	want := func(side fanoutSide, all int) int {
		if side.err != nil {
			return 0
		}
		return all
	}
	optioRuns, optioRunsErr := env.runsByPrefix(ctx, root, want(ours, n+2), func(id string) string {
		switch id {
		case root:
			return "root process workflow"
		case helper:
			return "children workflow"
		}
		return "child process workflow"
	})
	bareRuns, bareRunsErr := env.runsByPrefix(ctx, bareParent, want(theirs, n+1), func(id string) string {
		if id == bareParent {
			return "parent workflow"
		}
		return "child workflow"
	})

	m := fmt.Sprintf("F fan-out (%d, max %d)", n, opts.Concurrency)
	rate := func(s fanoutSide) float64 {
		if s.err != nil {
			return math.NaN()
		}
		return float64(n) / s.wall.Seconds()
	}
	rssAt := func(s fanoutSide, at int64) float64 {
		if k, ok := s.line.mark(at); ok {
			return mb(k.RSS)
		}
		return math.NaN()
	}
	longest := func(r runSummary, err error) float64 {
		if err != nil || r.longest.events == 0 {
			return math.NaN()
		}
		return float64(r.longest.events)
	}
	ou, bu := om.usage(), bm.usage()
	or, br := rate(ours), rate(theirs)
	rows := []Row{
		{Measure: m, Metric: "children/s", Ours: or, Bare: br, Target: fmt.Sprintf(">= %.1fx bare", FanoutTarget), Verdict: verdict(ours.err == nil && or >= FanoutTarget*br)},
		{Measure: m, Metric: "wall s", Ours: ours.wall.Seconds(), Bare: theirs.wall.Seconds()},
		{Measure: m, Metric: "peak RSS MB (whole proc.)", Ours: mb(ours.peakRSS), Bare: mb(theirs.peakRSS)},
	}
	if n > fanoutEarlyMark {
		rows = append(rows, Row{Measure: m, Metric: fmt.Sprintf("RSS MB at %d finished", fanoutEarlyMark), Ours: rssAt(ours, fanoutEarlyMark), Bare: rssAt(theirs, fanoutEarlyMark)})
	}
	rows = append(rows, Row{Measure: m, Metric: fmt.Sprintf("RSS MB at %d finished", n), Ours: rssAt(ours, int64(n)), Bare: rssAt(theirs, int64(n))})
	if n > fanoutEarlyMark {
		growth := Row{Measure: m, Metric: fmt.Sprintf("RSS growth %d->%d, MB", fanoutEarlyMark, n),
			Ours: rssAt(ours, int64(n)) - rssAt(ours, fanoutEarlyMark), Bare: rssAt(theirs, int64(n)) - rssAt(theirs, fanoutEarlyMark),
			Target: fmt.Sprintf("< %.0f%% of RSS@%d", 100*FanoutGrowthTarget, fanoutEarlyMark)}
		if env.Embedded {
			growth.Target = "(servers embedded)"
		} else {
			early := rssAt(ours, fanoutEarlyMark)
			growth.Verdict = verdict(!math.IsNaN(growth.Ours) && growth.Ours < FanoutGrowthTarget*early)
		}
		rows = append(rows, growth)
	}
	ol := longest(optioRuns, optioRunsErr)
	rows = append(rows,
		Row{Measure: m, Metric: "longest history of a run, events", Ours: ol, Bare: longest(bareRuns, bareRunsErr),
			Target: fmt.Sprintf("<= %d", FanoutHistoryTarget), Verdict: verdict(!math.IsNaN(ol) && ol <= FanoutHistoryTarget)},
		Row{Measure: m, Metric: "roll-overs (continue-as-new)", Ours: float64(optioRuns.rollovers(helper)), Bare: float64(bareRuns.rollovers(bareParent))},
		Row{Measure: m, Metric: "CPU ms/child (whole proc.)", Ours: ms(ou.CPUPerOp()), Bare: ms(bu.CPUPerOp())},
		Row{Measure: m, Metric: "Mongo commands/child", Ours: perOp(ou.Mongo.Total(), n), Bare: perOp(bu.Mongo.Total(), n)},
		Row{Measure: m, Metric: "Temporal calls/child", Ours: perOp(ou.Temporal.Total(), n), Bare: perOp(bu.Temporal.Total(), n)},
	)

	var b strings.Builder
	order := "optio first"
	if opts.BareFirst {
		order = "bare first"
	}
	fmt.Fprintf(&b, "  F fan-out: %d trivial children in one group, at most %d at once, default history limits; both sides continue as new at %d events or when the server suggests it (%s)\n",
		n, opts.Concurrency, workflowdef.DefaultChildrenEventBudget, order)
	if ours.err != nil {
		done, _ := eng.ListProcesses(ctx, adapter.ListOptions{State: adapter.StateDone})
		fmt.Fprintf(&b, "    optio FAILED after %.1f s (%d children had finished their body, %d documents done, the 21 of the warm-up included): %v\n",
			ours.wall.Seconds(), ours.line.count(), len(done), ours.err)
		b.WriteString("    the process's workflows when it gave up:\n" + optioState)
	}
	if theirs.err != nil {
		fmt.Fprintf(&b, "    bare FAILED after %.1f s (%d children had finished their activity): %v\n", theirs.wall.Seconds(), theirs.line.count(), theirs.err)
		b.WriteString("    the parent when it gave up:\n" + bareState)
	}
	b.WriteString("    memory of the whole process (RSS from /proc/self; the garbage collector returned what it could to the OS before each side):\n")
	b.WriteString(ours.formatMemory("optio", "child bodies returned"))
	b.WriteString(theirs.formatMemory("bare", "child activities returned"))
	if env.Embedded {
		b.WriteString("      the servers run in this process and the in-memory Temporal keeps every history, so RSS grows with the children on both sides;\n" +
			"      run the servers apart (go run ./bench -serve) to see the engine's own memory\n")
	}
	b.WriteString(optioRuns.format("optio", optioRunsErr))
	// The root's history shows a body that ran more than once (its worker
	// lost, say, through a missed heartbeat); its log says why.
	fmt.Fprintf(&b, "      root process workflow by type: %s\n", env.historyTypes(ctx, root, ""))
	if ours.err == nil {
		if p, err := eng.GetProcess(ctx, "fanout"); err == nil && p != nil {
			if notes := logNotes(p); len(notes) > 0 {
				fmt.Fprintf(&b, "      root's log (info and spawn entries left out):\n        %s\n", strings.Join(notes, "\n        "))
			}
		}
	}
	b.WriteString(bareRuns.format("bare", bareRunsErr))
	for _, side := range []struct {
		label string
		r     runRecord
	}{{"optio", optioRuns.longest}, {"bare", bareRuns.longest}} {
		r := side.r
		if r.id == "" {
			continue
		}
		if ev, wt, mk, err := env.historyStats(ctx, r.id, r.runID); err == nil {
			fmt.Fprintf(&b, "    %s longest run read back: %d events, %d workflow tasks, %d local-activity markers\n      by type: %s\n",
				side.label, ev, wt, mk, env.historyTypes(ctx, r.id, r.runID))
			if f := env.taskFailures(ctx, r.id, r.runID); f != "" {
				fmt.Fprintf(&b, "      failed workflow tasks: %s\n", f)
			}
		}
	}
	b.WriteString(ou.Format("optio"))
	b.WriteString(bu.Format("bare"))
	b.WriteString(sd.logsSince(env))
	return &Result{Name: "fanout", Rows: rows, Details: b.String()}, nil
}

// fanoutSide runs f as one side of the fan-out measurement, with a
// finishLine (installed by install while the side runs) counting its
// finished children, and watches the process's memory.
func (env *Env) fanoutSide(ctx context.Context, name string, m *meter, opts FanoutOptions, marks []int64, install func(*finishLine), f func(context.Context) error) fanoutSide {
	// Both sides start from the same floor: what the previous one left
	// garbage is returned to the OS first.
	debug.FreeOSMemory()
	s := fanoutSide{startRSS: rssBytes(), peakKernel: resetPeakRSS()}
	s.line = newFinishLine(marks...)
	install(s.line)
	defer install(nil)
	var stalled atomic.Bool
	s.wall = env.timedSide(ctx, "fanout", name, m, opts.Children, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
		stop := watchSide(opts.Progress, name, opts.Children, s.line, opts.Stall, func() {
			stalled.Store(true)
			cancel()
		})
		s.err = f(ctx)
		s.peakRSS = stop()
	})
	if s.peakKernel {
		s.peakRSS = max(peakRSSBytes(), s.peakRSS)
	}
	if stalled.Load() {
		s.err = fmt.Errorf("stalled: no child finished for %s (%d of %d had): %w", opts.Stall, s.line.count(), opts.Children, s.err)
	}
	return s
}

// watchSide samples the process's RSS every 250 ms while a side runs,
// calls onStall once if no child finishes for stall and, when w is set,
// prints the side's progress every 10 s. The returned function stops it and
// returns the highest RSS sampled.
func watchSide(w io.Writer, name string, total int, line *finishLine, stall time.Duration, onStall func()) (stop func() int64) {
	done := make(chan struct{})
	result := make(chan int64, 1)
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		highest, ticks := rssBytes(), 0
		last, lastAt := int64(0), time.Now()
		moved, movedAt := int64(0), time.Now()
		for {
			select {
			case <-done:
				result <- max(highest, rssBytes())
				return
			case <-t.C:
			}
			rss := rssBytes()
			highest = max(highest, rss)
			if n := line.count(); n != moved {
				moved, movedAt = n, time.Now()
			} else if onStall != nil && time.Since(movedAt) > stall {
				if w != nil {
					fmt.Fprintf(w, "  fan-out %s: no child finished for %s; giving up the side\n", name, stall)
				}
				onStall()
				onStall = nil
			}
			if ticks++; w != nil && ticks%40 == 0 {
				n := line.count()
				fmt.Fprintf(w, "  fan-out %s: %d/%d children finished after %.0f s (%.1f/s in the last 10 s), RSS %.0f MB\n",
					name, n, total, time.Since(line.t0).Seconds(), float64(n-last)/time.Since(lastAt).Seconds(), mb(rss))
				last, lastAt = n, time.Now()
			}
		}
	}()
	return func() int64 {
		close(done)
		return <-result
	}
}

func (s fanoutSide) formatMemory(label, what string) string {
	if s.line == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "      %-5s RSS %.0f MB at the start", label, mb(s.startRSS))
	for _, k := range s.line.marks {
		if k, ok := s.line.mark(k.At); ok {
			fmt.Fprintf(&b, "; %d %s after %.1f s: RSS %.0f MB, Go heap live %.0f MB", k.At, what, k.Reached.Seconds(), mb(k.RSS), mb(k.LiveHeap))
		}
	}
	how := "kernel high-water mark"
	if !s.peakKernel {
		how = "highest sample"
	}
	fmt.Fprintf(&b, "; peak %.0f MB (%s)\n", mb(s.peakRSS), how)
	return b.String()
}
