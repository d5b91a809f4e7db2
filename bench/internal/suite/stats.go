package suite

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"
)

// Samples are durations of one kind of operation.
type Samples []time.Duration

// Percentile returns the p-th percentile (0-100, nearest rank), 0 if empty.
func (s Samples) Percentile(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Mean returns the mean, 0 if empty.
func (s Samples) Mean() time.Duration {
	if len(s) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return sum / time.Duration(len(s))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuTime returns the CPU time (user + system) this process has used. The
// servers run in this process when embedded, so it includes theirs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// meter measures one side's wall time, CPU time, Temporal calls and Mongo
// commands over a stretch of work that may be split in pieces.
type meter struct {
	env   *Env
	ops   int
	wall  time.Duration
	cpu   time.Duration
	grpc  Counts
	mongo Counts
	// profiled is the side's CPU as its profile splits it (-profile-dir).
	profiled CPUSplit

	t0     time.Time
	c0     time.Duration
	g0, m0 Counts
}

func newMeter(env *Env) *meter { return &meter{env: env, grpc: Counts{}, mongo: Counts{}} }

func (m *meter) start() {
	m.g0, m.m0 = m.env.mon.snapshot()
	m.c0 = cpuTime()
	m.t0 = time.Now()
}

// stop ends a piece of work that did ops operations and returns its wall time.
func (m *meter) stop(ops int) time.Duration {
	wall := time.Since(m.t0)
	m.cpu += cpuTime() - m.c0
	g, mo := m.env.mon.snapshot()
	addCounts(m.grpc, g.Sub(m.g0))
	addCounts(m.mongo, mo.Sub(m.m0))
	m.wall += wall
	m.ops += ops
	return wall
}

func addCounts(into, c Counts) {
	for k, v := range c {
		x := into[k]
		x.N += v.N
		x.Total += v.Total
		into[k] = x
	}
}

// Usage is what one side of a measurement consumed.
type Usage struct {
	Ops int
	// CPU is the whole process's CPU time (servers included when embedded).
	CPU time.Duration
	// Temporal counts the Temporal client's gRPC calls, workers' included.
	Temporal Counts
	// Mongo counts the Mongo commands.
	Mongo Counts
	// Profiled is the CPU as the side's profile splits it by label; nil
	// without -profile-dir.
	Profiled CPUSplit
}

func (m *meter) usage() Usage {
	return Usage{Ops: m.ops, CPU: m.cpu, Temporal: m.grpc, Mongo: m.mongo, Profiled: m.profiled}
}

// SideCPUPerOp returns the CPU per operation of the side's own goroutines
// (label side) and of the Temporal client's connections (label "clients"),
// as the profile splits it; 0 without a profile.
func (u Usage) SideCPUPerOp(side string) time.Duration {
	if u.Ops == 0 || u.Profiled == nil {
		return 0
	}
	return (u.Profiled[side] + u.Profiled["clients"]) / time.Duration(u.Ops)
}

// CPUPerOp returns the CPU time per operation.
func (u Usage) CPUPerOp() time.Duration {
	if u.Ops == 0 {
		return 0
	}
	return u.CPU / time.Duration(u.Ops)
}

// Format prints the usage per operation.
func (u Usage) Format(label string) string {
	if u.Ops == 0 {
		return ""
	}
	ops := float64(u.Ops)
	s := fmt.Sprintf("    %s: %d ops, CPU %.1f ms/op (whole process), Temporal calls %.1f/op, Mongo commands %.1f/op\n",
		label, u.Ops, ms(u.CPUPerOp()), float64(u.Temporal.Total())/ops, float64(u.Mongo.Total())/ops)
	if len(u.Temporal) > 0 {
		s += "     Temporal calls (long polls included; their time is mostly waiting):\n" + u.Temporal.Format(u.Ops)
	}
	if len(u.Mongo) > 0 {
		s += "     Mongo commands:\n" + u.Mongo.Format(u.Ops)
	}
	return s + u.Profiled.Format(label)
}

// Profile starts a CPU profile named name in the profile directory, if one
// is set, and returns the function that stops it and returns the profile's
// path ("" when there is none).
func (env *Env) Profile(name string) func() string {
	none := func() string { return "" }
	if env.Opts.ProfileDir == "" {
		return none
	}
	if err := os.MkdirAll(env.Opts.ProfileDir, 0o755); err != nil {
		env.log.Warn("profile dir", "error", err)
		return none
	}
	path := filepath.Join(env.Opts.ProfileDir, name+".pprof")
	f, err := os.Create(path)
	if err != nil {
		env.log.Warn("create profile", "error", err)
		return none
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		env.log.Warn("start profile (is -cpuprofile set too?)", "error", err)
		_ = f.Close()
		return none
	}
	return func() string {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			env.log.Warn("write profile", "error", err)
			return ""
		}
		return path
	}
}
