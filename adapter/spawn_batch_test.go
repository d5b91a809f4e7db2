package adapter

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The children a body asks for go to its children workflow in updates of at
// most maxSpawnBatch specs and maxSpawnBatchBytes (the server refuses an
// update payload past 2 MB), one spec however large.
func TestBatchLen(t *testing.T) {
	calls := func(sizes ...int) []*spawnCall {
		out := make([]*spawnCall, len(sizes))
		for i, n := range sizes {
			out[i] = &spawnCall{size: n}
		}
		return out
	}
	repeat := func(size, n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = size
		}
		return out
	}
	const kb = 1 << 10
	for _, tt := range []struct {
		name  string
		sizes []int
		want  int
	}{
		{"one", []int{10}, 1},
		{"small specs, by count", repeat(100, 150), maxSpawnBatch},
		{"up to the byte bound", repeat(100*kb, 6), 5},
		{"exactly the byte bound", []int{256 * kb, 256 * kb, 1}, 2},
		{"a large spec alone", []int{300 * kb, 300 * kb}, 1},
		{"a spec past the bound still goes", []int{MaxChildSpecSize * 4, 1}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, batchLen(calls(tt.sizes...)))
		})
	}
}

// specSize counts what a child's request carries.
func TestSpecSize(t *testing.T) {
	n, err := specSize("p/c", "Name", "", map[string]any{"k": strings.Repeat("v", 10)})
	require.NoError(t, err)
	require.Equal(t, len("p/c")+len("Name")+len(`{"k":"vvvvvvvvvv"}`), n)
	_, err = specSize("p/c", "Name", "", map[string]any{"ch": make(chan int)})
	require.Error(t, err)
}

// The pauses before child requests go again double from minSpawnBackoff: up
// to maxSpawnBackoff after an error, up to maxRollOverBackoff while the
// children workflow rolls over (it ends within about a second, and a long
// pause would leave its next run idle); a roll-over after long pauses
// shortens the next one at once.
func TestSpawnPauses(t *testing.T) {
	s := &spawner{backoff: minSpawnBackoff}
	pauses := func(n int, upTo time.Duration) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = s.pause(upTo)
		}
		return out
	}
	ms := time.Millisecond
	require.Equal(t, []time.Duration{20 * ms, 40 * ms, 80 * ms, 100 * ms, 100 * ms}, pauses(5, maxRollOverBackoff))
	require.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}, pauses(6, maxSpawnBackoff))
	require.Equal(t, []time.Duration{100 * ms, 100 * ms}, pauses(2, maxRollOverBackoff))
}
