package tests

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/internal/processfixture"
	"github.com/optio-temporal/optio/internal/reconcilepass"
)

// reconcileTick is the reconcile interval of these tests: a document is
// described after 6 passes unchanged (600 ms), then every 360 (36 s).
const reconcileTick = 100 * time.Millisecond

// passLog records the reconciler's passes (reconcilepass.Observer); the
// other measurements are dropped.
type passLog struct {
	mu     sync.Mutex
	passes []reconcilepass.Pass
}

var _ reconcilepass.Observer = (*passLog)(nil)

func (l *passLog) ReconcilePass(p reconcilepass.Pass) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.passes = append(l.passes, p)
}

func (l *passLog) snapshot() []reconcilepass.Pass {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]reconcilepass.Pass(nil), l.passes...)
}

func (*passLog) RunStarted()                              {}
func (*passLog) RunEnded(adapter.State, time.Duration)    {}
func (*passLog) BodyStarted()                             {}
func (*passLog) BodyEnded()                               {}
func (*passLog) MirrorWrite(string, time.Duration, error) {}
func (*passLog) RPCCall(string, string)                   {}
func (*passLog) LaunchRefused(adapter.Reason)             {}
func (*passLog) ProgressFlush(time.Duration, error)       {}

// TestReconcilerFailsAClaimWhoseWorkflowNeverStarted: a document claimed
// for a run whose workflow never started (the engine died in between) has
// no run for the closed-run watcher to find; the reconciler fails it once it
// has stayed scheduled for a while, and it can be launched again.
func TestReconcilerFailsAClaimWhoseWorkflowNeverStarted(t *testing.T) {
	passes := &passLog{}
	s := newSystem(t, adapter.Config{
		TaskDefinitions:   staticTasks(adapter.TaskInstance{ProcessID: "orphan", Name: "Orphan", Execute: quick}),
		ReconcileInterval: reconcileTick,
		Metrics:           passes,
	})
	doc := s.get("orphan")
	// The engine hands out only a read-only view; the claim goes through a
	// store of the test's own on the same collection, as a dead engine's would.
	_, err := docstore.NewStore(s.eng.Config().Mongo, s.eng.Config().Prefix).Claim(s.ctx(), doc.ID)
	require.NoError(t, err)
	claimed := time.Now()

	p := s.waitState("orphan", adapter.StateFailed)
	t.Logf("failed %v after the claim", time.Since(claimed).Round(time.Millisecond))
	require.Equal(t, "Process has no workflow run while scheduled", *p.Status.Error)
	require.GreaterOrEqual(t, findLog(p, "event", "State reconciled: scheduled -> failed (has no workflow run)"), 0, "log:\n%s", formatLog(p))
	// The pass reports itself once it has ended, after its writes: the
	// document can show failed a moment before.
	eventually(t, "the failing reconcile pass reported", func() bool {
		return slices.ContainsFunc(passes.snapshot(), func(p reconcilepass.Pass) bool { return p.Failed > 0 })
	})
	failedIn := -1
	for i, pass := range passes.snapshot() {
		if pass.Failed > 0 {
			failedIn = i
			require.Equal(t, 1, pass.Failed)
			require.Equal(t, 1, pass.TemporalCalls, "the failing pass re-describes its one suspect")
		}
	}
	require.GreaterOrEqual(t, failedIn, 6, "failed only once unchanged for 6 passes and confirmed by a second")
	s.run("orphan")
}

// TestReconcilerCostDoesNotGrowWithRunningProcesses: with processes running
// (and not changing), a reconcile pass describes no workflow until the
// documents have been unchanged for 6 passes, then at most 10 a pass, each
// document once per state it held that long, and none after that (until the
// recheck, 360 passes later); none of them is failed.
func TestReconcilerCostDoesNotGrowWithRunningProcesses(t *testing.T) {
	const n = 25
	g := newGate(t)
	var tasks []adapter.TaskInstance
	for i := range n {
		tasks = append(tasks, adapter.TaskInstance{ProcessID: fmt.Sprintf("long-%02d", i), Name: "Long", Execute: g.stubborn})
	}
	passes := &passLog{}
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(tasks...), ReconcileInterval: reconcileTick, Metrics: passes})
	defer g.open()
	for _, task := range tasks {
		s.launch(task.ProcessID)
	}
	for _, task := range tasks {
		s.waitState(task.ProcessID, adapter.StateRunning)
	}
	// From here on every document runs. Wait until each has been described
	// as running (6 passes unchanged, at most 10 a pass) and 10 passes more.
	from := len(passes.snapshot())
	deadline := time.Now().Add(patience)
	var seen []reconcilepass.Pass
	described, after := 0, -1
	for time.Now().Before(deadline) {
		seen = passes.snapshot()
		described, after = 0, -1
		for i, p := range seen {
			described += p.TemporalCalls
			if i >= from+6 && p.TemporalCalls > 0 {
				after = -1
			} else if i >= from+6 && after < 0 {
				after = i
			}
		}
		if described >= n && after >= 0 && len(seen) >= after+10 {
			break
		}
		time.Sleep(reconcileTick)
	}
	t.Logf("%d passes (all running from pass %d), %d describes, none from pass %d: %v", len(seen), from, described, after, seen)
	// A document is described once running; under load one may also have
	// stayed scheduled for 6 passes and been described then.
	require.GreaterOrEqual(t, described, n, "each running process described")
	require.LessOrEqual(t, described, 2*n, "at most once per state held for 6 passes")
	require.GreaterOrEqual(t, after, 0, "passes with no describe once every document was checked")
	require.GreaterOrEqual(t, len(seen), after+10)
	for i, p := range seen {
		require.LessOrEqual(t, p.TemporalCalls, 10, "pass %d", i)
		require.Zero(t, p.Failed, "pass %d", i)
		require.Zero(t, p.Suspects, "pass %d", i)
		// Pass from may have listed the documents before the last launch
		// (passes run one at a time: it reported after the waits above);
		// every later one began after them.
		if i > from {
			require.Equal(t, n, p.Active, "pass %d", i)
		}
	}
	for _, task := range tasks {
		require.Equal(t, adapter.StateRunning, s.get(task.ProcessID).Status.State)
	}
}

// TestReconcilerPacesASlowQuery: the reconciler's query for the active
// documents reads the whole collection on FerretDB, so with many documents
// it takes long; a pass that follows another at once would keep a core
// busy. The next pass starts no sooner than ten times that query's time
// after the previous one did. (On MongoDB the query uses an index and is
// fast; the test skips when no pass is slow enough to pace.)
func TestReconcilerPacesASlowQuery(t *testing.T) {
	const interval = 20 * time.Millisecond
	passes := &timedPassLog{}
	s := newSystem(t, adapter.Config{ReconcileInterval: interval, Metrics: passes})
	docs := make([]any, 1000)
	for i := range docs {
		p := processfixture.Example()
		p.ID, p.ProcessID = bson.NewObjectID(), fmt.Sprintf("ended-%04d", i)
		p.RootID = p.ID
		docs[i] = p
	}
	_, err := s.procs.InsertMany(t.Context(), docs)
	require.NoError(t, err)

	// A paced pass comes ten times its predecessor's query time later: on a
	// loaded machine FerretDB's read of these 1,000 documents took 1.4-1.8 s
	// and the pass after it began some 15 s later. So the wait for each
	// pass lasts a patience past the time the one before makes it due.
	deadline := time.Now().Add(patience)
	var seen []timedPass
	for time.Now().Before(deadline) {
		if seen = passes.snapshot(); len(seen) >= 5 {
			break
		}
		if n := len(seen); n > 0 {
			last := seen[n-1]
			if due := last.start.Add(max(interval, 10*last.Listed) + patience); due.After(deadline) {
				deadline = due
			}
		}
		time.Sleep(interval)
	}
	require.GreaterOrEqual(t, len(seen), 5, "passes: %v", seen)
	paced := 0
	for i := 1; i < len(seen); i++ {
		prev := seen[i-1]
		gap := seen[i].start.Sub(prev.start)
		want := max(interval, 10*prev.Listed)
		require.GreaterOrEqual(t, gap, want, "pass %d began %v after pass %d, whose query took %v", i, gap, i-1, prev.Listed)
		if want > interval {
			paced++
		}
	}
	t.Logf("passes (query time, start): %v", seen)
	if paced == 0 {
		t.Skip("no query took a tenth of the interval: nothing to pace on this server")
	}
}

// timedPassLog is passLog with each pass's start.
type timedPassLog struct {
	passLog
	timed []timedPass
}

type timedPass struct {
	reconcilepass.Pass
	start time.Time
}

func (p timedPass) String() string {
	return fmt.Sprintf("{listed %v, at %s}", p.Listed, p.start.Format("15:04:05.000"))
}

func (l *timedPassLog) ReconcilePass(p reconcilepass.Pass) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timed = append(l.timed, timedPass{Pass: p, start: time.Now().Add(-p.Took)})
}

func (l *timedPassLog) snapshot() []timedPass {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.timed)
}
