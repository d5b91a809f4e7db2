// Package children holds the end-to-end tests of child processes and parallel
// groups: real child workflows on the in-process Temporal server, documents in
// the embedded Mongo-wire server.
package children

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// spawnedNames returns the child names of p's "Spawned child" entries, in
// the log's order.
func spawnedNames(p *adapter.Process) []string {
	var names []string
	for _, e := range p.Log {
		if name, ok := strings.CutPrefix(e.Message, "Spawned child: "); ok {
			names = append(names, name)
		}
	}
	return names
}

// numberedNames returns fmt.Sprintf(format, i) for i from 0 to n-1.
func numberedNames(format string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf(format, i)
	}
	return names
}

// harness is one engine over a fresh database, with the test's tasks.
type harness struct {
	t   testing.TB
	env *testenv.Env
	eng *adapter.Engine
	ctx context.Context
}

func newHarness(t *testing.T, tasks ...adapter.TaskInstance) *harness {
	t.Helper()
	return newHarnessOn(t, testenv.New(t), nil, tasks...)
}

// newHarnessOn is newHarness on env, with configure (if not nil) changing
// the engine's configuration before it starts.
func newHarnessOn(t testing.TB, env *testenv.Env, configure func(*adapter.Config), tasks ...adapter.TaskInstance) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	t.Cleanup(cancel)
	cfg := adapter.Config{
		Temporal:             env.Temporal.Client,
		Namespace:            env.Temporal.Namespace,
		Mongo:                env.Mongo.DB,
		Logger:               testenv.Logger(t),
		ReconcileInterval:    -1,
		BodyHeartbeatTimeout: 10 * time.Second,
		TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
			return tasks, nil
		},
	}
	if configure != nil {
		configure(&cfg)
	}
	eng, err := adapter.New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = eng.Shutdown(sctx)
	})
	return &harness{t: t, env: env, eng: eng, ctx: ctx}
}

func (h *harness) get(id string) *adapter.Process {
	h.t.Helper()
	p, err := h.eng.GetProcess(h.ctx, id)
	require.NoError(h.t, err)
	return p
}

// cancel cancels id through the engine, requiring the cancel to be taken.
func (h *harness) cancel(id string) {
	h.t.Helper()
	out, err := h.eng.Cancel(h.ctx, id)
	require.NoError(h.t, err)
	require.True(h.t, out.OK, "cancel %s: %s", id, out.Reason)
}

// waitState polls until the process reaches one of the states.
func (h *harness) waitState(id string, states ...adapter.State) *adapter.Process {
	h.t.Helper()
	var last *adapter.Process
	require.Eventually(h.t, func() bool {
		p, err := h.eng.GetProcess(h.ctx, id)
		if err != nil {
			return false
		}
		last = p
		for _, s := range states {
			if p.Status.State == s {
				return true
			}
		}
		return false
	}, 60*time.Second, 20*time.Millisecond, "process %s never reached %v (last: %+v)", id, states, last)
	return last
}

func (h *harness) launch(id string) {
	h.t.Helper()
	out, err := h.eng.Launch(h.ctx, id)
	require.NoError(h.t, err)
	require.True(h.t, out.OK, "launch %s: %s", id, out.Reason)
}

func (h *harness) children(root *adapter.Process) []adapter.Process {
	h.t.Helper()
	all, err := h.eng.ListProcesses(h.ctx, adapter.ListOptions{RootID: root.ID.Hex()})
	require.NoError(h.t, err)
	var out []adapter.Process
	for _, p := range all {
		if p.Depth > 0 {
			out = append(out, p)
		}
	}
	return out
}

// gates lets a test release child bodies one by one.
type gates struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func newGates() *gates { return &gates{ch: map[string]chan struct{}{}} }

func (g *gates) get(id string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.ch[id]
	if !ok {
		c = make(chan struct{})
		g.ch[id] = c
	}
	return c
}

func (g *gates) open(id string) { close(g.get(id)) }

// wait blocks until the gate opens; it returns false when pc is cancelled first.
func (g *gates) wait(pc *adapter.ProcessContext, id string) bool {
	select {
	case <-g.get(id):
		return true
	case <-pc.Context().Done():
		return false
	}
}

// errText is a process's status.error, for failure messages.
func errText(p *adapter.Process) string {
	if p == nil || p.Status.Error == nil {
		return ""
	}
	return *p.Status.Error
}
