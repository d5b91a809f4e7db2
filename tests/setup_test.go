package tests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/mirror"
)

// patience bounds every wait for something the engine does asynchronously.
// It is generous because the tests share two cores with Temporal and
// FerretDB; a passing test never waits that long.
const patience = 30 * time.Second

// pollEvery is how often waits re-read the documents.
const pollEvery = 20 * time.Millisecond

// system is an engine on a database of the test's own, with the servers it
// runs on.
type system struct {
	t     *testing.T
	env   *testenv.Env
	eng   *adapter.Engine
	procs *mongo.Collection
}

// newSystem starts an engine with cfg on a fresh database. Temporal, Mongo
// and Logger are filled in when unset; the engine is shut down on cleanup.
func newSystem(t *testing.T, cfg adapter.Config) *system {
	t.Helper()
	return newSystemOn(t, testenv.New(t), cfg)
}

// newSystemOn is newSystem on servers the test has set up already.
func newSystemOn(t *testing.T, env *testenv.Env, cfg adapter.Config) *system {
	t.Helper()
	s := &system{t: t, env: env}
	s.eng = s.startEngine(cfg)
	s.procs = env.Mongo.DB.Collection(prefixOf(cfg) + "_processes")
	return s
}

func prefixOf(cfg adapter.Config) string {
	if cfg.Prefix == "" {
		return "optio"
	}
	return cfg.Prefix
}

// startEngine starts another engine on the system's servers and database.
func (s *system) startEngine(cfg adapter.Config) *adapter.Engine {
	s.t.Helper()
	eng, err := s.newEngine(cfg)
	require.NoError(s.t, err)
	return eng
}

// newEngine is startEngine that returns New's error.
func (s *system) newEngine(cfg adapter.Config) (*adapter.Engine, error) {
	if cfg.Temporal == nil {
		cfg.Temporal = s.env.Temporal.Client
	}
	if cfg.Mongo == nil {
		cfg.Mongo = s.env.Mongo.DB
	}
	if cfg.Logger == nil {
		cfg.Logger = testenv.Logger(s.t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	eng, err := adapter.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		if err := eng.Shutdown(ctx); err != nil {
			s.t.Errorf("engine shutdown: %v", err)
		}
	})
	return eng, nil
}

// ctx is the context of the test's calls; it ends with the test.
func (s *system) ctx() context.Context { return s.t.Context() }

// temporal is the Temporal client, as an operator's tool (the Web UI) uses it.
func (s *system) temporal() client.Client { return s.env.Temporal.Client }

// get returns a process document; it fails the test if there is none.
func (s *system) get(id string) *adapter.Process {
	s.t.Helper()
	p, err := s.eng.GetProcess(s.ctx(), id)
	require.NoError(s.t, err, "get process %q", id)
	return p
}

// gone reports whether no document has this processId.
func (s *system) gone(id string) bool {
	s.t.Helper()
	_, err := s.eng.GetProcess(s.ctx(), id)
	if errors.Is(err, adapter.ReasonNotFound) {
		return true
	}
	require.NoError(s.t, err)
	return false
}

// waitState waits until the process is in one of the states and returns it.
func (s *system) waitState(id string, states ...adapter.State) *adapter.Process {
	s.t.Helper()
	var last *adapter.Process
	deadline := time.Now().Add(patience)
	for {
		p, err := s.eng.GetProcess(s.ctx(), id)
		if err == nil {
			last = p
			if slices.Contains(states, p.Status.State) {
				return p
			}
		} else if !errors.Is(err, adapter.ReasonNotFound) {
			require.NoError(s.t, err)
		}
		if time.Now().After(deadline) {
			if last == nil {
				s.t.Fatalf("process %q: want state %v, but there is no document", id, states)
			}
			s.t.Fatalf("process %q: want state %v, still %s after %s; log:\n%s", id, states, last.Status.State, patience, formatLog(last))
		}
		time.Sleep(pollEvery)
	}
}

// waitGone waits until no document has this processId.
func (s *system) waitGone(id string) {
	s.t.Helper()
	eventually(s.t, fmt.Sprintf("process %q deleted", id), func() bool { return s.gone(id) })
}

// waitLog waits until the process's log has an entry with this level whose
// message contains text, and returns the document.
func (s *system) waitLog(id string, level string, text string) *adapter.Process {
	s.t.Helper()
	var p *adapter.Process
	eventually(s.t, fmt.Sprintf("process %q logs %s %q", id, level, text), func() bool {
		p = s.get(id)
		return findLog(p, level, text) >= 0
	})
	return p
}

// raw returns a process document as stored, undecoded.
func (s *system) raw(id string) bson.Raw {
	s.t.Helper()
	raw, err := s.procs.FindOne(s.ctx(), bson.D{{Key: "processId", Value: id}}).Raw()
	require.NoError(s.t, err, "raw document of %q", id)
	return raw
}

// snapshot returns every process document as stored, by _id.
func (s *system) snapshot() []bson.Raw {
	s.t.Helper()
	cur, err := s.procs.Find(s.ctx(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	require.NoError(s.t, err)
	var out []bson.Raw
	for cur.Next(s.ctx()) {
		out = append(out, slices.Clone(cur.Current))
	}
	require.NoError(s.t, cur.Err())
	return out
}

// count returns how many process documents exist.
func (s *system) count() int64 {
	s.t.Helper()
	n, err := s.procs.CountDocuments(s.ctx(), bson.D{})
	require.NoError(s.t, err)
	return n
}

// launch launches a process and requires an OK outcome.
func (s *system) launch(id string) adapter.Outcome {
	s.t.Helper()
	out, err := s.eng.Launch(s.ctx(), id)
	require.NoError(s.t, err, "launch %q", id)
	require.True(s.t, out.OK, "launch %q: %s", id, out.Reason)
	return out
}

// run launches a process, waits for its end and requires it to be done.
func (s *system) run(id string) *adapter.Process {
	s.t.Helper()
	p, err := s.eng.LaunchAndWait(s.ctx(), id)
	require.NoError(s.t, err, "launch and wait %q", id)
	require.NotNil(s.t, p, "process %q was deleted", id)
	require.Equal(s.t, adapter.StateDone, p.Status.State, "process %q; log:\n%s", id, formatLog(p))
	return p
}

// eventually polls cond until it holds, failing the test after patience.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", patience, what)
		}
		time.Sleep(pollEvery)
	}
}

// staticTasks is a task generator that always returns the same tasks.
func staticTasks(tasks ...adapter.TaskInstance) adapter.TaskGenerator {
	return func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
		return slices.Clone(tasks), nil
	}
}

// generator is a task generator whose tasks a test changes between resyncs.
// It records the metadata filter of every call.
type generator struct {
	mu      sync.Mutex
	tasks   []adapter.TaskInstance
	filters []map[string]any
}

func newGenerator(tasks ...adapter.TaskInstance) *generator { return &generator{tasks: tasks} }

// set replaces the tasks the next calls return.
func (g *generator) set(tasks ...adapter.TaskInstance) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tasks = tasks
}

func (g *generator) generate(_ context.Context, _ map[string]any, filter map[string]any) ([]adapter.TaskInstance, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.filters = append(g.filters, filter)
	return slices.Clone(g.tasks), nil
}

// lastFilter is the metadata filter of the latest call.
func (g *generator) lastFilter() map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.filters[len(g.filters)-1]
}

// quick is a body that returns at once.
func quick(*adapter.ProcessContext) error { return nil }

// gate gives a test bodies that hold until it opens, and counts how often
// they run. Every gate opens when its test ends, so that no body outlives the
// engine shutdown.
type gate struct {
	release  chan struct{}
	openOnce sync.Once
	started  chan struct{}
	start    sync.Once
	runs     atomic.Int32
	returned atomic.Int32
	testDone <-chan struct{}
}

func newGate(t *testing.T) *gate {
	return &gate{release: make(chan struct{}), started: make(chan struct{}), testDone: t.Context().Done()}
}

func (g *gate) enter() {
	g.runs.Add(1)
	g.start.Do(func() { close(g.started) })
}

// stubborn is a body that ignores cancellation: it returns only when the gate
// opens.
func (g *gate) stubborn(*adapter.ProcessContext) error {
	g.enter()
	defer g.returned.Add(1)
	select {
	case <-g.release:
	case <-g.testDone:
	}
	return nil
}

// cooperative is a body that polls ShouldContinue and returns when it turns
// false, or when the gate opens.
func (g *gate) cooperative(ctx *adapter.ProcessContext) error {
	g.enter()
	defer g.returned.Add(1)
	for ctx.ShouldContinue() {
		select {
		case <-g.release:
			return nil
		case <-g.testDone:
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// open lets every body of the gate return.
func (g *gate) open() { g.openOnce.Do(func() { close(g.release) }) }

// waitStarted waits until a body of the gate has started.
func (g *gate) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-g.started:
	case <-time.After(patience):
		t.Fatalf("no gated body started within %s", patience)
	}
}

// findLog returns the index of the first log entry with this level whose
// message contains text, or -1.
func findLog(p *adapter.Process, level string, text string) int {
	return slices.IndexFunc(p.Log, func(e mirror.LogEntry) bool {
		return string(e.Level) == level && strings.Contains(e.Message, text)
	})
}

// logLines renders the log as "level: message" lines.
func logLines(p *adapter.Process) []string {
	out := make([]string, len(p.Log))
	for i, e := range p.Log {
		out[i] = string(e.Level) + ": " + e.Message
	}
	return out
}

func formatLog(p *adapter.Process) string { return "  " + strings.Join(logLines(p), "\n  ") }

// stateRecorder samples a process's state and keeps the sequence of distinct
// states it saw, for tests of paths through the state machine.
type stateRecorder struct {
	stop chan struct{}
	done chan struct{}
	seen []adapter.State
}

func recordStates(s *system, id string) *stateRecorder {
	r := &stateRecorder{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			// A stop still takes one more sample, of the state the test
			// waited for.
			stopping := false
			select {
			case <-r.stop:
				stopping = true
			default:
			}
			p, err := s.eng.GetProcess(context.Background(), id)
			if err == nil && (len(r.seen) == 0 || r.seen[len(r.seen)-1] != p.Status.State) {
				r.seen = append(r.seen, p.Status.State)
			}
			if stopping {
				return
			}
			select {
			case <-r.stop:
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return r
}

// states stops the recorder and returns what it saw.
func (r *stateRecorder) states() []adapter.State {
	close(r.stop)
	<-r.done
	return r.seen
}
