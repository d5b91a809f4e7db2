// Package leakcheck finds goroutines and child processes that outlive a
// test binary's tests, for TestMain of packages that start the dev stack.
//
// It is goleak's idea with one difference that the embedded Temporal server
// needs: go.temporal.io/server v1.32.1 does not stop everything it starts
// (its parent-close-policy system worker and the SDK client its system
// workers share keep polling after Server.Stop; see TODOs in
// service/worker). devstack starts the server under the pprof label
// devstack.GoroutineLabel, which every goroutine it starts inherits, so
// those goroutines are told apart from everyone else's by their label
// rather than by an ignore list of function names that would also hide a
// test's own leaked Temporal client or worker.
//
// Find also empties the Temporal SDK's process-wide workflow cache before it
// looks; see Find.
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		if code == 0 {
//			if err := leakcheck.Find(); err != nil {
//				fmt.Fprintln(os.Stderr, err)
//				code = 1
//			}
//		}
//		os.Exit(code)
//	}
package leakcheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/worker"
)

// LabelKey is the pprof label that marks a goroutine as started by an
// embedded server. It equals devstack.GoroutineLabel, repeated here so that
// this package does not import the server.
const LabelKey = "optio.devstack"

// Wait is how long Find waits for goroutines and processes to finish
// exiting before it reports them.
const Wait = 10 * time.Second

// ignored lists functions whose goroutines are not leaks: the test runner,
// the runtime's signal handling and this package's own dump.
var ignored = []string{
	"testing.(*M).",
	"testing.tRunner",
	"testing.runTests",
	"testing.(*T).Run",
	"testing.(*T).Parallel",
	"testing.runFuzz",
	"os/signal.signal_recv",
	"os/signal.loop",
	"runtime.ensureSigM",
	"runtime/pprof.writeGoroutine",
	"runtime.ReadTrace",
}

// Find reports goroutines that are still running and were not started by an
// embedded server, and live child processes of this process. It retries for
// up to [Wait] so that things in the middle of stopping can finish.
//
// Call it when every Temporal worker of the tests has stopped: it first
// empties the SDK's process-wide cache of workflow executions, whose
// coroutines would otherwise outlive the workers that ran them (a workflow
// still open when its worker stopped stays cached, parked in a goroutine).
func Find() error {
	worker.PurgeStickyWorkflowCache()
	deadline := time.Now().Add(Wait)
	for {
		err := errors.Join(findGoroutines(), findChildren())
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// goroutineGroup is one entry of the goroutine profile: count goroutines
// with the same stack and labels.
type goroutineGroup struct {
	count  int
	labels string
	frames []string
}

func findGoroutines() error {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return fmt.Errorf("leakcheck: goroutine profile: %w", err)
	}
	var leaks []string
	total := 0
	for _, g := range parseProfile(buf.Bytes()) {
		if strings.Contains(g.labels, strconv.Quote(LabelKey)) || isIgnored(g) {
			continue
		}
		total += g.count
		leaks = append(leaks, fmt.Sprintf("%d goroutine(s):\n\t%s", g.count, strings.Join(g.frames, "\n\t")))
	}
	if total == 0 {
		return nil
	}
	return fmt.Errorf("leakcheck: %d goroutine(s) still running after the tests:\n%s", total, strings.Join(leaks, "\n"))
}

func isIgnored(g goroutineGroup) bool {
	for _, f := range g.frames {
		for _, ig := range ignored {
			if strings.HasPrefix(f, ig) {
				return true
			}
		}
	}
	return false
}

// parseProfile reads the debug=1 text form of the goroutine profile:
//
//	3 @ 0x... 0x...
//	# labels: {"k":"v"}
//	#	0x4c8770	pkg.func+0xb0	/path/file.go:851
func parseProfile(data []byte) []goroutineGroup {
	var groups []goroutineGroup
	var cur *goroutineGroup
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "goroutine profile:"):
		case strings.Contains(line, " @ ") && !strings.HasPrefix(line, "#"):
			n, _ := strconv.Atoi(strings.Fields(line)[0])
			groups = append(groups, goroutineGroup{count: n})
			cur = &groups[len(groups)-1]
		case cur != nil && strings.HasPrefix(line, "# labels:"):
			cur.labels = strings.TrimSpace(strings.TrimPrefix(line, "# labels:"))
		case cur != nil && strings.HasPrefix(line, "#\t"):
			fields := strings.Fields(strings.TrimPrefix(line, "#"))
			if len(fields) >= 2 {
				fn := fields[1]
				if i := strings.LastIndex(fn, "+0x"); i > 0 {
					fn = fn[:i]
				}
				loc := ""
				if len(fields) >= 3 {
					loc = " " + fields[2]
				}
				cur.frames = append(cur.frames, fn+loc)
			}
		}
	}
	return groups
}

// findChildren reports live (not zombie) child processes, from /proc.
// Outside Linux it reports none.
func findChildren() error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var kids []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == self {
			kids = append(kids, e.Name()+" "+s[open+1:end])
		}
	}
	if len(kids) == 0 {
		return nil
	}
	return fmt.Errorf("leakcheck: child processes still running after the tests: %s", strings.Join(kids, ", "))
}
