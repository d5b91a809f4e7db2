package children

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// A group of 1000 children with max concurrency 50 completes, never runs more
// than 50 bodies at once (from the recorded start and end times) and returns
// complete results in spawn order; the parent's log says "Spawned child"
// once per child, before its end.
func TestParallelGroupOf1000RespectsConcurrency(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 child workflows take a while")
	}
	if raceEnabled {
		t.Skip("1000 child workflows under the race detector take too long; .ci/run runs this test without -race")
	}
	const n, limit = 1000, 50
	type span struct{ start, end time.Time }
	var mu sync.Mutex
	spans := map[string]span{}
	var results []adapter.ChildResult
	parent := adapter.TaskInstance{ProcessID: "big", Name: "Big", Execute: func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: limit})
		for i := range n {
			err := g.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("big/%04d", i), Name: "Item", Execute: func(c *adapter.ProcessContext) error {
				s := span{start: time.Now()}
				time.Sleep(5 * time.Millisecond)
				s.end = time.Now()
				mu.Lock()
				spans[c.ProcessID()] = s
				mu.Unlock()
				return nil
			}})
			if err != nil {
				return err
			}
		}
		var err error
		results, err = g.Wait()
		return err
	}}
	h := newHarness(t, parent)
	start := time.Now()
	p, err := h.eng.LaunchAndWait(h.ctx, "big")
	require.NoError(t, err)
	t.Logf("1000 children, concurrency 50: %s", time.Since(start))
	require.Equal(t, adapter.StateDone, p.Status.State, "error: %v", errText(p))

	require.Len(t, results, n)
	for i, r := range results {
		require.Equal(t, fmt.Sprintf("big/%04d", i), r.ProcessID)
		require.Equal(t, adapter.StateDone, r.State)
	}
	require.Len(t, spans, n, "every body ran exactly once")

	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, s := range spans {
		edges = append(edges, edge{s.start, 1}, edge{s.end, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].delta < edges[j].delta
		}
		return edges[i].at.Before(edges[j].at)
	})
	running, peak := 0, 0
	for _, e := range edges {
		running += e.delta
		peak = max(peak, running)
	}
	t.Logf("peak concurrency %d", peak)
	assert.LessOrEqual(t, peak, limit)
	assert.Greater(t, peak, 1, "children did run in parallel")
	kids := h.children(p)
	assert.Len(t, kids, n)

	// Past the first hundred, the parent's "Spawned child" entries are
	// written apart from the inserts: each is there once, before the end.
	spawned := 0
	for _, e := range p.Log {
		if e.Message == "Spawned child: Item" {
			spawned++
		}
	}
	assert.Equal(t, n, spawned, "one \"Spawned child\" entry per child")
	assert.Equal(t, "State changed to done", p.Log[len(p.Log)-1].Message)
}
