package suite

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/optio-temporal/optio/adapter"
)

// rssBytes returns the process's resident set size, 0 if unknown (not
// Linux). With embedded servers it includes theirs, and the in-memory
// Temporal server keeps every history it has stored.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// resetPeakRSS resets the kernel's high-water mark of the process's RSS
// (VmHWM) to the current RSS, and reports whether it could.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSSBytes returns the kernel's high-water mark of the process's RSS
// (VmHWM), 0 if unknown.
func peakRSSBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := bytes.Fields(v)
			if len(f) == 0 {
				return 0
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// liveHeapBytes returns the Go heap the last garbage collection found live
// (the whole process's, servers included when embedded).
func liveHeapBytes() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// memMark is the process's memory when a count of finished operations
// reached a mark.
type memMark struct {
	At       int64 // the mark
	Reached  time.Duration
	RSS      int64
	LiveHeap int64
}

// finishLine counts finished operations (children) of one side and records
// the process's memory the moment the count reaches each mark.
type finishLine struct {
	t0    time.Time
	n     atomic.Int64
	mu    sync.Mutex
	marks []memMark
}

func newFinishLine(marks ...int64) *finishLine {
	f := &finishLine{t0: time.Now()}
	for _, m := range marks {
		f.marks = append(f.marks, memMark{At: m})
	}
	return f
}

func (f *finishLine) finish() {
	n := f.n.Add(1)
	for i := range f.marks {
		if f.marks[i].At == n {
			rss, heap := rssBytes(), liveHeapBytes()
			f.mu.Lock()
			f.marks[i].Reached, f.marks[i].RSS, f.marks[i].LiveHeap = time.Since(f.t0), rss, heap
			f.mu.Unlock()
		}
	}
}

// count returns how many operations finished so far.
func (f *finishLine) count() int64 { return f.n.Load() }

// mark returns the memory recorded at mark m, and whether it was reached.
func (f *finishLine) mark(m int64) (memMark, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.marks {
		if k.At == m {
			return k, k.RSS != 0
		}
	}
	return memMark{}, false
}

// MemoryOptions shapes Memory.
type MemoryOptions struct {
	// Running is the number of processes held running for the per-process
	// figure. Default 1,000.
	Running int
	// Churn is how long processes are launched one after the other for the
	// slope. Default 10 minutes.
	Churn time.Duration
	// ChurnConcurrency is the number of launchers during the churn, each
	// relaunching a process of its own. Default 4.
	ChurnConcurrency int
	// Progress receives a line per step, when set.
	Progress io.Writer
}

// RegisterFlags adds the -memory-* flags to fs.
func (o *MemoryOptions) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.Running, "memory-running", 1000, "memory: processes held running for the per-process figure")
	fs.DurationVar(&o.Churn, "memory-churn", 10*time.Minute, "memory: how long to churn launches for the slope")
	fs.IntVar(&o.ChurnConcurrency, "memory-churn-concurrency", 4, "memory: concurrent launchers during the churn")
}

// memSample is the process's memory at a moment of a run.
type memSample struct {
	at        time.Duration
	rss, heap int64
}

// settledMemory collects garbage, returns what it can to the OS, and reads
// the process's RSS and live Go heap.
func settledMemory() (rss, heap int64) {
	runtime.GC()
	debug.FreeOSMemory()
	return rssBytes(), liveHeapBytes()
}

// slopePerMinute fits a line by least squares through the samples and
// returns its slope in MB per minute, of RSS and of live heap.
func slopePerMinute(s []memSample) (rss, heap float64) {
	if len(s) < 2 {
		return math.NaN(), math.NaN()
	}
	var mt, mr, mh float64
	for _, x := range s {
		mt += x.at.Minutes()
		mr += mb(x.rss)
		mh += mb(x.heap)
	}
	n := float64(len(s))
	mt, mr, mh = mt/n, mr/n, mh/n
	var vt, cr, ch float64
	for _, x := range s {
		dt := x.at.Minutes() - mt
		vt += dt * dt
		cr += dt * (mb(x.rss) - mr)
		ch += dt * (mb(x.heap) - mh)
	}
	if vt == 0 {
		return math.NaN(), math.NaN()
	}
	return cr / vt, ch / vt
}

// Memory measures the process's memory: before the engine starts (the
// servers and clients, when embedded), with an idle engine, per 1,000
// processes held running, and its slope over a churn of launches (each of
// ChurnConcurrency launchers relaunching a trivial process of its own with
// LaunchAndWait), sampled every 1/20th of the churn after the garbage
// collector ran; the first 10% of the churn is warm-up and left out of the
// slope. With embedded servers every figure includes theirs, and the
// in-memory Temporal keeps every history, so its RSS grows with the
// launches: run the servers apart (-serve) for the engine's own.
func Memory(ctx context.Context, env *Env, opts MemoryOptions) (*Result, error) {
	if opts.Running <= 0 {
		opts.Running = 1000
	}
	if opts.Churn <= 0 {
		opts.Churn = 10 * time.Minute
	}
	if opts.ChurnConcurrency <= 0 {
		opts.ChurnConcurrency = 4
	}
	say := func(format string, args ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "memory: "+format+"\n", args...)
		}
	}
	release := make(chan struct{})
	var tasks []adapter.TaskInstance
	for i := range opts.Running {
		tasks = append(tasks, adapter.TaskInstance{ProcessID: fmt.Sprintf("hold/%04d", i), Name: "Hold", Execute: func(pc *adapter.ProcessContext) error {
			select {
			case <-release:
			case <-pc.Context().Done():
			}
			return nil
		}})
	}
	for i := range opts.ChurnConcurrency {
		tasks = append(tasks, adapter.TaskInstance{ProcessID: fmt.Sprintf("churn/%d", i), Name: "Churn", Execute: func(*adapter.ProcessContext) error { return nil }})
	}
	baseRSS, baseHeap := settledMemory()
	eng, err := env.NewEngine(ctx, "memory")
	if err != nil {
		return nil, err
	}
	defer StopEngine(eng)
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	for _, t := range tasks {
		if _, err := eng.AdhocDefine(ctx, t, adapter.AdhocOptions{}); err != nil {
			return nil, err
		}
	}
	idleRSS, idleHeap := settledMemory()

	t0 := time.Now()
	for _, t := range tasks[:opts.Running] {
		if out, err := eng.Launch(ctx, t.ProcessID); err != nil || !out.OK {
			return nil, fmt.Errorf("launch %s: %v %s", t.ProcessID, err, out.Reason)
		}
	}
	for {
		ps, err := eng.ListProcesses(ctx, adapter.ListOptions{State: adapter.StateRunning})
		if err != nil {
			return nil, err
		}
		if len(ps) == opts.Running {
			break
		}
		if time.Since(t0) > 10*time.Minute {
			return nil, fmt.Errorf("only %d of %d processes running after 10 minutes", len(ps), opts.Running)
		}
		time.Sleep(100 * time.Millisecond)
	}
	runRSS, runHeap := settledMemory()
	say("%d processes running after %.1f s", opts.Running, time.Since(t0).Seconds())
	close(release)
	released = true
	for {
		ps, err := eng.ListProcesses(ctx, adapter.ListOptions{State: adapter.StateDone})
		if err != nil {
			return nil, err
		}
		if len(ps) == opts.Running {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	say("churning launches for %s", opts.Churn)
	cctx, cancel := context.WithTimeout(ctx, opts.Churn)
	defer cancel()
	end, _ := cctx.Deadline()
	// over tells a launch the churn's end cut off from one that failed: a
	// socket deadline taken from cctx can fire before cctx's own timer has
	// set cctx.Err().
	over := func() bool { return cctx.Err() != nil || !time.Now().Before(end) }
	var launches atomic.Int64
	errs := make(chan error, opts.ChurnConcurrency)
	var wg sync.WaitGroup
	for i := range opts.ChurnConcurrency {
		id := fmt.Sprintf("churn/%d", i)
		wg.Go(func() {
			for cctx.Err() == nil {
				p, err := eng.LaunchAndWait(cctx, id)
				if over() {
					return
				}
				if err == nil && p.Status.State != adapter.StateDone {
					err = fmt.Errorf("%s ended %s", id, describe(p))
				}
				if err != nil {
					errs <- err
					cancel()
					return
				}
				launches.Add(1)
			}
		})
	}
	every := opts.Churn / 20
	start := time.Now()
	var samples []memSample
	tick := time.NewTicker(every)
	for cctx.Err() == nil {
		select {
		case <-cctx.Done():
		case <-tick.C:
			rss, heap := settledMemory()
			samples = append(samples, memSample{at: time.Since(start), rss: rss, heap: heap})
		}
	}
	tick.Stop()
	wg.Wait()
	select {
	case err := <-errs:
		return nil, fmt.Errorf("churn: %w", err)
	default:
	}
	var fit []memSample
	for _, s := range samples {
		if s.at >= opts.Churn/10 {
			fit = append(fit, s)
		}
	}
	rssSlope, heapSlope := slopePerMinute(fit)
	per := 1000 / float64(opts.Running)
	const m = "M memory"
	nan := math.NaN()
	res := &Result{Name: "memory", Rows: []Row{
		{Measure: m, Metric: "idle engine: RSS MB (process)", Ours: mb(idleRSS), Bare: nan},
		{Measure: m, Metric: "idle engine: live Go heap MB", Ours: mb(idleHeap), Bare: nan},
		{Measure: m, Metric: "engine's share: RSS / heap MB", Ours: mb(idleRSS - baseRSS), Bare: mb(idleHeap - baseHeap)},
		{Measure: m, Metric: "per 1,000 running: RSS MB", Ours: mb(runRSS-idleRSS) * per, Bare: nan},
		{Measure: m, Metric: "per 1,000 running: live heap MB", Ours: mb(runHeap-idleHeap) * per, Bare: nan},
		{Measure: m, Metric: "churn: launches", Ours: float64(launches.Load()), Bare: nan},
		{Measure: m, Metric: "churn: RSS slope MB/min", Ours: rssSlope, Bare: nan},
		{Measure: m, Metric: "churn: live heap slope MB/min", Ours: heapSlope, Bare: nan},
	}}
	var b strings.Builder
	fmt.Fprintf(&b, "  memory: before the engine RSS %.1f MB, heap %.1f MB; idle engine %.1f / %.1f MB; %d running %.1f / %.1f MB\n",
		mb(baseRSS), mb(baseHeap), mb(idleRSS), mb(idleHeap), opts.Running, mb(runRSS), mb(runHeap))
	fmt.Fprintf(&b, "    churn of %s, %d launchers, %d launches (%.1f/s); samples (minute: RSS MB / heap MB), the first 10%% left out of the slope:\n     ",
		opts.Churn, opts.ChurnConcurrency, launches.Load(), float64(launches.Load())/opts.Churn.Seconds())
	for _, s := range samples {
		fmt.Fprintf(&b, " %.1f: %.0f/%.1f", s.at.Minutes(), mb(s.rss), mb(s.heap))
	}
	b.WriteString("\n")
	if env.Embedded {
		b.WriteString("    the servers run in this process (the in-memory Temporal keeps every history): run them apart (-serve) for the engine's own memory\n")
	}
	res.Details = b.String()
	return res, nil
}
