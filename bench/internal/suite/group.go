package suite

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
)

// GroupOptions shapes ParallelGroup.
type GroupOptions struct {
	// Children is the number of children. Default 1000.
	Children int
	// Concurrency is the most children running at once. Default 50.
	Concurrency int
	// BareFirst runs the bare side first (alternate it between repetitions).
	BareFirst bool
}

// GroupTarget is the parallel-group target: optio at least this fraction of
// bare Temporal's children per second.
const GroupTarget = 1.0

// ParallelGroup measures a parallel group of trivial children: optio's
// LaunchAndWait of a process whose body spawns Children trivial children in
// a ProcessContext.ParallelGroup with MaxConcurrency Concurrency and waits
// for them, against a bare workflow that starts Children child workflows, at
// most Concurrency at a time, each running one trivial activity. Children
// per second, from launch to the parent's end.
func ParallelGroup(ctx context.Context, env *Env, opts GroupOptions) (*Result, error) {
	if opts.Children <= 0 {
		opts.Children = 1000
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 50
	}
	sd, err := env.newSides(ctx, "group")
	if err != nil {
		return nil, err
	}
	defer sd.stop()
	eng, bare := sd.eng, sd.bare

	trivial := func(*adapter.ProcessContext) error { return nil }
	define := func(id string, n int) error {
		return defineGroupTask(ctx, eng, id, n, opts.Concurrency, trivial)
	}
	if err := define("warm", 20); err != nil {
		return nil, err
	}
	if err := define("group", opts.Children); err != nil {
		return nil, err
	}
	optioRun := func(ctx context.Context, id string) error { return launchDone(ctx, eng, id) }
	bareRun := func(ctx context.Context, id string, n int) error {
		run, err := env.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: bare.Queue + "/" + id, TaskQueue: bare.Queue},
			BareParentWorkflow, n, opts.Concurrency)
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
	if err := optioRun(ctx, "warm"); err != nil {
		return nil, fmt.Errorf("optio warm-up: %w", err)
	}
	if err := bareRun(ctx, "warm", 20); err != nil {
		return nil, fmt.Errorf("bare warm-up: %w", err)
	}

	// A failed optio run is reported (figure "-", MISS, the error in the
	// details), not fatal: the bare side still runs.
	om, bm := newMeter(env), newMeter(env)
	var optioWall, bareWall time.Duration
	var optioErr error
	runOptio := func() error {
		optioWall = env.timedSide(ctx, "group", "optio", om, opts.Children, func(ctx context.Context) {
			optioErr = optioRun(ctx, "group")
		})
		return nil
	}
	runBare := func() error {
		var err error
		bareWall = env.timedSide(ctx, "group", "bare", bm, opts.Children, func(ctx context.Context) {
			err = bareRun(ctx, "group", opts.Children)
		})
		return err
	}
	if err := inOrder(opts.BareFirst, runOptio, runBare); err != nil {
		return nil, err
	}

	m := fmt.Sprintf("5 parallel group (%d, max %d)", opts.Children, opts.Concurrency)
	ours := float64(opts.Children) / optioWall.Seconds()
	if optioErr != nil {
		ours = math.NaN()
	}
	theirs := float64(opts.Children) / bareWall.Seconds()
	ou, bu := om.usage(), bm.usage()
	res := &Result{Name: "group", Rows: []Row{
		{Measure: m, Metric: "children/s", Ours: ours, Bare: theirs, Target: fmt.Sprintf(">= %.1fx bare", GroupTarget), Verdict: verdict(optioErr == nil && ours >= GroupTarget*theirs)},
		{Measure: m, Metric: "wall s", Ours: optioWall.Seconds(), Bare: bareWall.Seconds()},
		{Measure: m, Metric: "CPU ms/child (whole proc.)", Ours: ms(ou.CPUPerOp()), Bare: ms(bu.CPUPerOp())},
		{Measure: m, Metric: "Mongo commands/child", Ours: perOp(ou.Mongo.Total(), opts.Children), Bare: perOp(bu.Mongo.Total(), opts.Children)},
		{Measure: m, Metric: "Temporal calls/child", Ours: perOp(ou.Temporal.Total(), opts.Children), Bare: perOp(bu.Temporal.Total(), opts.Children)},
	}}
	var b strings.Builder
	order := "optio first"
	if opts.BareFirst {
		order = "bare first"
	}
	fmt.Fprintf(&b, "  5 parallel group: %d trivial children, at most %d at once (%s)\n", opts.Children, opts.Concurrency, order)
	if optioErr != nil {
		done, _ := eng.ListProcesses(ctx, adapter.ListOptions{State: adapter.StateDone})
		fmt.Fprintf(&b, "    optio FAILED after %.1f s (%d documents done, the 21 of the warm-up included): %v\n", optioWall.Seconds(), len(done), optioErr)
	}
	if ev, wt, mk, err := env.historyStats(ctx, eng.WorkflowID("group"), ""); err == nil {
		fmt.Fprintf(&b, "    optio parent history: %d events, %d workflow tasks, %d local-activity markers\n", ev, wt, mk)
	}
	fmt.Fprintf(&b, "      by type: %s\n", env.historyTypes(ctx, eng.WorkflowID("group"), ""))
	b.WriteString(env.childrenRuns(ctx, eng.WorkflowID("group")+"#children"))
	if ev, wt, mk, err := env.historyStats(ctx, eng.WorkflowID("group/0000"), ""); err == nil {
		fmt.Fprintf(&b, "    optio child history:  %d events, %d workflow tasks, %d local-activity markers\n", ev, wt, mk)
	}
	fmt.Fprintf(&b, "      by type: %s\n", env.historyTypes(ctx, eng.WorkflowID("group/0000"), ""))
	if ev, wt, mk, err := env.historyStats(ctx, bare.Queue+"/group", ""); err == nil {
		fmt.Fprintf(&b, "    bare parent history:  %d events, %d workflow tasks, %d local-activity markers\n", ev, wt, mk)
	}
	fmt.Fprintf(&b, "      by type: %s\n", env.historyTypes(ctx, bare.Queue+"/group", ""))
	if ev, wt, mk, err := env.historyStats(ctx, bare.Queue+"/group/0000", ""); err == nil {
		fmt.Fprintf(&b, "    bare child history:   %d events, %d workflow tasks, %d local-activity markers\n", ev, wt, mk)
	}
	b.WriteString(ou.Format("optio"))
	b.WriteString(bu.Format("bare"))
	b.WriteString(sd.logsSince(env))
	res.Details = b.String()
	return res, nil
}

// defineGroupTask defines an ad-hoc process id whose body spawns n children
// running child in one ParallelGroup with the given MaxConcurrency, waits for
// them and fails unless every one ended done. The children's processIds are
// "{id}/0000", "{id}/0001", ... (five digits from 10,000 children on).
func defineGroupTask(ctx context.Context, eng *adapter.Engine, id string, n, concurrency int, child adapter.TaskFunc) error {
	width := max(4, len(strconv.Itoa(n-1)))
	_, err := eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: id, Name: "Group", Execute: func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: concurrency})
		for i := range n {
			if err := g.Spawn(adapter.ChildSpec{
				ProcessID: fmt.Sprintf("%s/%0*d", id, width, i), Name: "Item",
				Execute: child,
			}); err != nil {
				return err
			}
		}
		results, err := g.Wait()
		if err != nil {
			var why []string
			for _, r := range results {
				if r.State != adapter.StateDone && len(why) < 3 {
					why = append(why, fmt.Sprintf("%s %s: %s", r.ProcessID, r.State, r.Error))
				}
			}
			return fmt.Errorf("%w; first: %s", err, strings.Join(why, "; "))
		}
		for _, r := range results {
			if r.State != adapter.StateDone {
				return fmt.Errorf("child %s ended %s: %s", r.ProcessID, r.State, r.Error)
			}
		}
		if len(results) != n {
			return fmt.Errorf("%d results, want %d", len(results), n)
		}
		return nil
	}}, adapter.AdhocOptions{})
	return err
}

// launchDone launches process id, waits for its end and returns an error
// unless it ended done; the error quotes the process's log, less its info
// and spawn entries.
func launchDone(ctx context.Context, eng *adapter.Engine, id string) error {
	p, err := eng.LaunchAndWait(ctx, id)
	if err != nil {
		return err
	}
	if p == nil {
		return fmt.Errorf("%s: no document", id)
	}
	if p.Status.State == adapter.StateDone {
		return nil
	}
	return &endedError{p: p}
}

// endedError is a process that ended other than done; it quotes its log.
type endedError struct{ p *adapter.Process }

func (e *endedError) Error() string {
	return fmt.Sprintf("%s ended %s: %s\n  its log (spawn entries left out):\n    %s",
		e.p.ProcessID, e.p.Status.State, statusError(e.p), strings.Join(logNotes(e.p), "\n    "))
}

func statusError(p *adapter.Process) string {
	if p.Status.Error == nil {
		return ""
	}
	return *p.Status.Error
}

// logNotes returns a process's log entries, less its info and spawn
// entries, one line each; the refused spawns that follow one another are
// folded into one line with their count.
func logNotes(p *adapter.Process) []string {
	var notes []string
	refused := 0
	flush := func() {
		if refused > 1 {
			notes = append(notes, fmt.Sprintf("  ... and %d more refused spawns", refused-1))
		}
		refused = 0
	}
	for _, e := range p.Log {
		if e.Level == "info" || strings.HasPrefix(e.Message, "Spawned child") {
			continue
		}
		if strings.HasPrefix(e.Message, "Refused to spawn child") {
			if refused++; refused > 1 {
				continue
			}
		} else {
			flush()
		}
		notes = append(notes, e.Timestamp[11:23]+" "+string(e.Level)+" "+e.Message)
	}
	flush()
	return notes
}
