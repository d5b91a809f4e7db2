// Command bench measures optio-temporal against bare Temporal, both sides in
// the same run, on the same Temporal server and in the same worker process,
// and prints optio's figure, bare Temporal's, their ratio and whether the
// target is met:
//
//  1. launch-to-done latency of a trivial task (p50, p99; target optio p50
//     at most 1.3x bare);
//  2. throughput of 500 concurrent trivial processes (target at least 0.9x
//     bare);
//  3. cancel to ShouldContinue() == false, from Engine.Cancel and from
//     client.CancelWorkflow (target p50 under 250 ms), against an activity
//     cancelled through its heartbeats;
//  4. ReportProgress calls per second in a tight loop and the Mongo writes
//     they cause, against activity.RecordHeartbeat;
//  5. a parallel group of 1000 trivial children, at most 50 at once (target
//     at least 1.0x bare).
//
// "-only fanout" runs an on-demand measurement, not among the defaults: a
// group of 10,000 trivial children at most 200 at once under the server's
// default history limits, against a bare parent that continues as new;
// children per second (target at least 0.6x bare), the process's RSS, the
// longest history of any run (target at most 5,000 events) and the number of
// roll-overs. "-serve" starts only the servers, for a bench in another
// process whose RSS and CPU are then its own; "-servers-apart" does that
// in one command, the servers in a child process.
//
// "-only checkpoint" measures SaveCheckpoint as 4 measures ReportProgress:
// calls per second in a tight loop (-progress-duration long) and the Mongo
// writes they cause.
//
// "-only rpc" measures the optio-engine service over Redis: launch and
// cancel of distinct processes from 1 client, then from 16 at once; the
// rate ratio (target at least 4x) and p50/p99 per method. "-rpc-latency
// 0,1ms" runs it once per round trip added between Redis and its clients
// (a delaying proxy, bench/internal/netdelay), "-rpc-mongo-latency" adds
// one between the engine and Mongo and "-rpc-temporal-latency" one between
// the engine and Temporal, as when they run on other hosts.
//
// "-only growth" (on demand) measures how launch, cancel, get, list and
// resync cost as the collection grows (-growth-sizes documents,
// -growth-schedules cron tasks) and the reconciler's Temporal calls with
// -growth-active processes running; "-only memory" the RSS of an idle
// engine, per 1,000 running processes and its slope over a churn of
// launches (-memory-churn). See bench/README.md.
//
// "-only filters" adds a diagnostic: what one findAndModify and one find
// cost on the Mongo server with the filter shapes optio's mirror uses,
// against _id-only filters, on collections of growing size.
//
// It starts its own in-process Temporal server (on a scratch SQLite file) and FerretDB
// unless -temporal-address and -mongo-url point elsewhere. Each measurement
// gets a fresh database and a fresh engine. See bench/README.md.
//
// Usage:
//
//	go run ./bench [-only 1,3] [-reps 3] [-trace] [-profile-dir DIR] ...
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/optio-temporal/optio/bench/internal/suite"
)

// revision names the engine code measured; set it with
// -ldflags "-X main.revision=..." when building outside a git checkout.
var revision string

func codeRevision() string {
	if revision != "" {
		return revision
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "unknown", ""
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 7:
			rev = s.Value[:7]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = " with uncommitted changes"
		}
	}
	return rev + dirty
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	env        suite.EnvOptions
	only       string
	reps       int
	n, warmup  int
	concurrent int
	cancelN    int
	progressD  time.Duration
	children   int
	groupConc  int
	fanout     suite.FanoutOptions
	rpc        suite.RPCOptions
	growth     suite.GrowthOptions
	memory     suite.MemoryOptions
	serve      bool
	// serveForParent makes -serve name its servers on one line for
	// -servers-apart.
	serveForParent bool
	serversApart   bool
	trace          bool
	cpuprofile     string
	quiet          bool
	verbose        bool
}

func parseFlags() config {
	var c config
	flag.StringVar(&c.env.TemporalAddress, "temporal-address", "", "Temporal frontend host:port (default: start an in-process server on a scratch database)")
	flag.StringVar(&c.env.Namespace, "namespace", "default", "Temporal namespace")
	flag.StringVar(&c.env.MongoURL, "mongo-url", "", "mongodb:// URL (default: start an embedded FerretDB)")
	flag.DurationVar(&c.env.HeartbeatTimeout, "heartbeat-timeout", 10*time.Second, "body heartbeat timeout of optio and of the bare heartbeating activity")
	flag.DurationVar(&c.env.ProgressFlushInterval, "flush-interval", 100*time.Millisecond, "optio's progress flush interval")
	flag.BoolVar(&c.env.NoCompression, "no-compression", false, "send the Temporal client's requests uncompressed (the SDK gzips them by default), for both sides")
	flag.StringVar(&c.env.ProfileDir, "profile-dir", "", "write a CPU profile per measurement (and per side where the sides run apart) into this directory; measurement 2 then also reports the engine's own CPU per process against the bare worker's, split from the profiles by goroutine label")
	flag.StringVar(&c.only, "only", "1,2,3,4,5", "measurements to run, comma-separated; \"fanout\" adds the 10,000-children fan-out (on demand), \"filters\" a diagnostic of the Mongo server's cost per filter shape")
	flag.IntVar(&c.reps, "reps", 1, "run each measurement this many times (fresh database and engine each time) and report the spread")
	flag.IntVar(&c.n, "n", 100, "1: measured launches per side")
	flag.IntVar(&c.warmup, "warmup", 10, "1: warm-up launches per side")
	flag.IntVar(&c.concurrent, "concurrent", 500, "2: concurrent processes per side")
	flag.IntVar(&c.cancelN, "cancel-n", 30, "3: measured cancels per path")
	flag.DurationVar(&c.progressD, "progress-duration", 2*time.Second, "4: length of each ReportProgress loop")
	flag.IntVar(&c.children, "children", 1000, "5: children in the parallel group")
	flag.IntVar(&c.groupConc, "group-concurrency", 50, "5: max concurrency of the group")
	flag.IntVar(&c.fanout.Children, "fanout-children", 10000, "fanout: children in the group")
	flag.IntVar(&c.fanout.Concurrency, "fanout-concurrency", 200, "fanout: max concurrency of the group")
	flag.DurationVar(&c.fanout.Timeout, "fanout-timeout", 30*time.Minute, "fanout: longest a side may take before it is reported failed")
	flag.DurationVar(&c.fanout.Stall, "fanout-stall", 5*time.Minute, "fanout: a side in which no child finishes for this long is given up and reported failed")
	flag.IntVar(&c.rpc.Processes, "rpc-processes", 96, "rpc: processes launched and cancelled per phase")
	flag.IntVar(&c.rpc.Clients, "rpc-clients", 16, "rpc: clients calling at once in the concurrent phase")
	flag.Var((*durations)(&c.rpc.Latencies), "rpc-latency", "rpc: round trips added between Redis and its clients (the engine's face and the bench's), through an in-process delaying proxy, comma-separated; all phases run once per value, 0 meaning direct (default 0)")
	flag.Var((*durations)(&c.rpc.MongoLatencies), "rpc-mongo-latency", "rpc: round trips added between the engine and Mongo, one for every -rpc-latency value or one per value, comma-separated (default 0)")
	flag.Var((*durations)(&c.rpc.TemporalLatencies), "rpc-temporal-latency", "rpc: round trips added between the engine (client and workers) and the Temporal frontend, one for every -rpc-latency value or one per value, comma-separated (default 0)")
	c.growth.RegisterFlags(flag.CommandLine)
	c.memory.RegisterFlags(flag.CommandLine)
	flag.BoolVar(&c.serve, "serve", false, "start the in-process servers only and serve until interrupted; run the bench in another process with the -temporal-address and -mongo-url printed")
	flag.BoolVar(&c.serveForParent, "serve-for-parent", false, "with -serve: name the servers on one line for the process that started this one (-servers-apart)")
	flag.BoolVar(&c.serversApart, "servers-apart", false, "start the in-process servers in a child process (this program with -serve) instead of this one, so that the CPU this process spends, the whole-process figures and measurement 2's engine CPU among them, is the engine's and the bare worker's without the servers', as where production runs them on other hosts")
	flag.BoolVar(&c.trace, "trace", false, "1 and 3: print a timeline of one traced run (Temporal calls, Mongo commands, history events)")
	flag.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file (not with -profile-dir)")
	flag.BoolVar(&c.quiet, "quiet", false, "print only the tables, not the per-run details")
	flag.TextVar(&c.env.ServerLogLevel, "server-log-level", slog.LevelWarn, "with -v: least severe in-process Temporal server log printed (debug, info, warn, error)")
	flag.BoolVar(&c.verbose, "v", false, "also print the warnings and errors of the servers, the SDK and the engine as they come (they are counted in the details either way)")
	flag.Parse()
	return c
}

func run() error {
	c := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if c.verbose {
		c.env.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: c.env.ServerLogLevel}))
	}
	start := time.Now()
	where := "in-process servers"
	if c.serversApart {
		if c.serve || c.env.TemporalAddress != "" || c.env.MongoURL != "" {
			return fmt.Errorf("-servers-apart starts the servers in a child process: not with -serve, -temporal-address or -mongo-url")
		}
		apart, err := startServersApart(ctx, "-namespace", c.env.Namespace, "-server-log-level", c.env.ServerLogLevel.String())
		if err != nil {
			return err
		}
		defer func() {
			if err := apart.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "bench: stop the servers' process:", err)
			}
		}()
		c.env.TemporalAddress, c.env.MongoURL = apart.temporal, apart.mongo
		where = fmt.Sprintf("servers in child process %d", apart.cmd.Process.Pid)
	}
	env, err := suite.NewEnv(ctx, c.env)
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: close:", err)
		}
	}()
	out := os.Stdout
	if c.serve {
		return serve(ctx, out, env, start, c.serveForParent)
	}
	if !env.Embedded && !c.serversApart {
		where = "external servers"
	}
	fmt.Fprintf(out, "optio-temporal bench of %s: %s, GOMAXPROCS %d, %s; Temporal %s, Mongo %s (%s, up in %.1f s); load average at start: %s\n\n",
		codeRevision(), runtime.Version(), runtime.GOMAXPROCS(0), runtime.GOOS+"/"+runtime.GOARCH, env.TemporalAddress, env.MongoURL, where,
		time.Since(start).Seconds(), loadavg())

	selected := map[string]bool{}
	for _, s := range strings.Split(c.only, ",") {
		selected[strings.TrimSpace(s)] = true
	}
	type measurement struct {
		key string
		run func(rep int) (*suite.Result, error)
	}
	all := []measurement{
		{"1", func(int) (*suite.Result, error) {
			r, err := suite.LaunchLatency(ctx, env, suite.LatencyOptions{N: c.n, Warmup: c.warmup, Trace: c.trace})
			if err != nil {
				return nil, err
			}
			return &r.Result, nil
		}},
		{"2", func(rep int) (*suite.Result, error) {
			return suite.Throughput(ctx, env, suite.ThroughputOptions{N: c.concurrent, BareFirst: rep%2 == 1})
		}},
		{"3", func(int) (*suite.Result, error) {
			r, err := suite.CancelLatency(ctx, env, suite.CancelOptions{N: c.cancelN, Warmup: 3, Trace: c.trace})
			if err != nil {
				return nil, err
			}
			return &r.Result, nil
		}},
		{"4", func(int) (*suite.Result, error) {
			return suite.ProgressRate(ctx, env, suite.ProgressOptions{Duration: c.progressD})
		}},
		{"5", func(rep int) (*suite.Result, error) {
			return suite.ParallelGroup(ctx, env, suite.GroupOptions{Children: c.children, Concurrency: c.groupConc, BareFirst: rep%2 == 1})
		}},
		{"checkpoint", func(int) (*suite.Result, error) {
			return suite.CheckpointRate(ctx, env, suite.CheckpointOptions{Duration: c.progressD})
		}},
		{"fanout", func(rep int) (*suite.Result, error) {
			opts := c.fanout
			opts.BareFirst = rep%2 == 1
			if !c.quiet {
				opts.Progress = os.Stderr
			}
			return suite.Fanout(ctx, env, opts)
		}},
		{"rpc", func(int) (*suite.Result, error) {
			return suite.RPCConcurrency(ctx, env, c.rpc)
		}},
		{"filters", func(int) (*suite.Result, error) {
			return suite.FilterCost(ctx, env, nil)
		}},
		{"growth", func(int) (*suite.Result, error) {
			opts := c.growth
			if !c.quiet {
				opts.Progress = os.Stderr
			}
			return suite.Growth(ctx, env, opts)
		}},
		{"memory", func(int) (*suite.Result, error) {
			opts := c.memory
			if !c.quiet {
				opts.Progress = os.Stderr
			}
			return suite.Memory(ctx, env, opts)
		}},
	}
	// runs[i] holds the rows of repetition i, in measurement order.
	runs := make([][]suite.Row, c.reps)
	for _, m := range all {
		if !selected[m.key] {
			continue
		}
		for rep := range c.reps {
			t0 := time.Now()
			res, err := m.run(rep)
			if err != nil {
				return fmt.Errorf("measurement %s (run %d): %w", m.key, rep+1, err)
			}
			runs[rep] = append(runs[rep], res.Rows...)
			fmt.Fprintf(out, "== measurement %s, run %d/%d (%.1f s, load average now %s)\n", m.key, rep+1, c.reps, time.Since(t0).Seconds(), loadavg())
			suite.WriteTable(out, res.Rows)
			if !c.quiet && res.Details != "" {
				fmt.Fprint(out, "\n"+res.Details)
			}
			fmt.Fprintln(out)
		}
	}
	if c.reps > 1 {
		summarize(out, runs)
	}
	return nil
}

// serve prints where the servers of env are and waits for an interrupt;
// forParent names them first on one line for startServersApart, and stops
// them as well when its stdin closes (the parent is gone).
func serve(ctx context.Context, out io.Writer, env *suite.Env, start time.Time, forParent bool) error {
	if !env.Embedded {
		return fmt.Errorf("-serve starts the in-process servers; -temporal-address and -mongo-url name external ones")
	}
	if forParent {
		// The parent holds this process's stdin open: if it ends without
		// stopping this one, the pipe closes and the servers stop too.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			cancel()
		}()
		fmt.Fprintf(out, "%s%s %s\n", serversReadyPrefix, env.TemporalAddress, env.MongoURL)
	}
	fmt.Fprintf(out, "bench servers up in %.1f s (pid %d). In another shell:\n\n  go run ./bench -temporal-address %s -mongo-url '%s' -only ...\n\nCtrl+C stops them.\n",
		time.Since(start).Seconds(), os.Getpid(), env.TemporalAddress, env.MongoURL)
	<-ctx.Done()
	return nil
}

// summarize prints, per row, the median over the repetitions of optio's and
// bare's figures (the table's ratio is the ratio of those medians), how many
// runs met the target, and the range of optio's, bare's and each run's own
// ratio with the median of those (the paired figure: both sides of a run
// share the machine's load).
func summarize(w io.Writer, runs [][]suite.Row) {
	fmt.Fprintf(w, "== summary over %d runs: median per figure, how many runs met the target, then min..max\n", len(runs))
	var med []suite.Row
	var spread []string
	for i, r := range runs[0] {
		var ours, bare, ratios []float64
		passes := 0
		for _, rows := range runs {
			if i >= len(rows) {
				continue
			}
			ours = append(ours, rows[i].Ours)
			bare = append(bare, rows[i].Bare)
			ratios = append(ratios, rows[i].Ratio())
			if rows[i].Verdict == suite.Pass {
				passes++
			}
		}
		m := r
		m.Ours, m.Bare = median(ours), median(bare)
		if r.Verdict != "" {
			m.Verdict = fmt.Sprintf("%d/%d runs passed", passes, len(ours))
		}
		med = append(med, m)
		line := fmt.Sprintf("%-40s %-30s optio %s  bare %s  ratio %s",
			r.Measure, r.Metric, rng(ours, "%.2f"), rng(bare, "%.2f"), rng(ratios, "%.2fx"))
		if mr := median(ratios); !math.IsNaN(mr) {
			line += fmt.Sprintf(" (median of the runs' ratios %.2fx)", mr)
		}
		spread = append(spread, line)
	}
	suite.WriteTable(w, med)
	fmt.Fprintln(w, "\nspread (min..max over runs):")
	for _, s := range spread {
		fmt.Fprintln(w, s)
	}
}

func median(v []float64) float64 {
	v = slices.DeleteFunc(slices.Clone(v), math.IsNaN)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func rng(v []float64, format string) string {
	v = slices.DeleteFunc(slices.Clone(v), math.IsNaN)
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprintf(format+".."+format, slices.Min(v), slices.Max(v))
}

// durations is a flag.Value of comma-separated durations ("0,500us,1ms").
type durations []time.Duration

func (d *durations) String() string {
	if d == nil {
		return ""
	}
	s := make([]string, len(*d))
	for i, v := range *d {
		s[i] = v.String()
	}
	return strings.Join(s, ",")
}

func (d *durations) Set(v string) error {
	*d = nil
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "0" {
			*d = append(*d, 0)
			continue
		}
		x, err := time.ParseDuration(f)
		if err != nil {
			return err
		}
		if x < 0 {
			return fmt.Errorf("negative duration %v", x)
		}
		*d = append(*d, x)
	}
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
