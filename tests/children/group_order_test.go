package children

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// A group's children take their order numbers, and the parent's "Spawned
// child" entries come, in the order the body spawned them, as optio-core's
// tasks take them in the order they were created: the goroutine a spawn
// starts takes the oldest spawn not yet on its way, not its own (Go runs the
// goroutine started last first).
func TestGroupChildrenFollowSpawnOrder(t *testing.T) {
	const n = 6
	for _, limit := range []int{n, 3} {
		t.Run(fmt.Sprintf("max %d", limit), func(t *testing.T) {
			id := fmt.Sprintf("spawns-%d", limit)
			parent := adapter.TaskInstance{ProcessID: id, Name: "Spawns", Execute: func(pc *adapter.ProcessContext) error {
				g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: limit})
				for i := range n {
					if err := g.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("%s/%d", id, i), Name: fmt.Sprintf("Child %d", i), Execute: func(*adapter.ProcessContext) error { return nil }}); err != nil {
						return err
					}
				}
				_, err := g.Wait()
				return err
			}}
			h := newHarness(t, parent)
			p, err := h.eng.LaunchAndWait(h.ctx, id)
			require.NoError(t, err)
			require.Equal(t, adapter.StateDone, p.Status.State, "error: %v", p.Status.Error)
			for i := range n {
				assert.Equal(t, i, h.get(fmt.Sprintf("%s/%d", id, i)).Order, "order of child %d", i)
			}
			assert.Equal(t, numberedNames("Child %d", n), spawnedNames(p))
		})
	}
}
