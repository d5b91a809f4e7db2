package children

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/workflows"
)

// unwaitedParent is a task whose body spawns n children in a group and
// returns nil without calling Wait.
func unwaitedParent(n int, child adapter.TaskFunc) adapter.TaskInstance {
	return adapter.TaskInstance{ProcessID: "p", Name: "P", Execute: func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: n})
		for i := range n {
			if err := g.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("p/c%d", i), Name: "C", Execute: child}); err != nil {
				return err
			}
		}
		return nil
	}}
}

// A body that returns nil without waiting for its group still has its
// children run, and ends after them: Spawn's nil is a promise kept.
func TestBodyReturningWithoutWaitEndsAfterItsChildren(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, unwaitedParent(3, func(pc *adapter.ProcessContext) error {
		select {
		case <-release:
			return nil
		case <-pc.Context().Done():
			return pc.Context().Err()
		}
	}))
	h.launch("p")
	for i := range 3 {
		h.waitState(fmt.Sprintf("p/c%d", i), adapter.StateRunning)
	}
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, adapter.StateRunning, h.get("p").Status.State, "the parent runs while its children do")
	close(release)

	parent := h.waitState("p", adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
	require.Equal(t, adapter.StateDone, parent.Status.State)
	for i := range 3 {
		c := h.get(fmt.Sprintf("p/c%d", i))
		require.Equal(t, adapter.StateDone, c.Status.State, c.ProcessID)
		require.NotNil(t, c.Status.DoneAt)
		require.NotNil(t, parent.Status.DoneAt)
		assert.False(t, c.Status.DoneAt.After(*parent.Status.DoneAt), "child %s ends before its parent", c.ProcessID)
	}
}

// A cancel that comes while the returned body waits for its children
// reaches them, and the parent ends cancelled; before, the parent had ended
// done with its children not even created, and the cancel was refused.
func TestCancelReachesChildrenOfABodyThatDidNotWait(t *testing.T) {
	for _, n := range []int{1, 12} { // 12: more than a children workflow waits for in its own run
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := newHarness(t, unwaitedParent(n, waitForCancel))
			h.launch("p")
			for i := range n {
				h.waitState(fmt.Sprintf("p/c%d", i), adapter.StateRunning)
			}
			h.cancel("p")

			parent := h.waitState("p", adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
			require.Equal(t, adapter.StateCancelled, parent.Status.State)
			for i := range n {
				c := h.get(fmt.Sprintf("p/c%d", i))
				require.Equal(t, adapter.StateCancelled, c.Status.State, c.ProcessID)
			}
		})
	}
}

// A child that breaks the unwaited group fails the parent, as the error of
// Wait would have.
func TestFailedChildFailsABodyThatDidNotWait(t *testing.T) {
	h := newHarness(t, unwaitedParent(1, func(*adapter.ProcessContext) error { return errors.New("child broke") }))
	h.launch("p")
	parent := h.waitState("p", adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
	require.Equal(t, adapter.StateFailed, parent.Status.State)
	require.NotNil(t, parent.Status.Error)
	assert.Contains(t, *parent.Status.Error, "Parallel group failed (1 sub-exception)")
	assert.Equal(t, adapter.StateFailed, h.get("p/c0").Status.State)
}

// heldSpawn holds the first child spawn update a Temporal client sends for
// a while, once it has told seen: a spawn still on its way.
type heldSpawn struct {
	seen chan struct{}
	once sync.Once
}

func (h *heldSpawn) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if r, ok := req.(*workflowservice.UpdateWorkflowExecutionRequest); ok && r.GetRequest().GetInput().GetName() == workflows.UpdateRunChildren {
		h.once.Do(func() {
			close(h.seen)
			time.Sleep(500 * time.Millisecond)
		})
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// The same holds for children run by goroutines of the body, outside any
// group: a body that returns while such a child's spawn is still on its way
// waits for that child too.
func TestBodyReturningWhileItsGoroutinesRunChildren(t *testing.T) {
	env := testenv.New(t)
	held := &heldSpawn{seen: make(chan struct{})}
	tc := env.Temporal.DialIntercepted(t, held.intercept)
	release := make(chan struct{})
	h := newHarnessOn(t, env, func(cfg *adapter.Config) { cfg.Temporal = tc }, adapter.TaskInstance{ProcessID: "p", Name: "P", Execute: func(pc *adapter.ProcessContext) error {
		go func() {
			_, _ = pc.RunChild(adapter.ChildSpec{ProcessID: "p/c", Name: "C", Execute: func(*adapter.ProcessContext) error {
				<-release
				return nil
			}})
		}()
		<-held.seen // the goroutine is in RunChild, its spawn held on its way
		return nil
	}})
	h.launch("p")
	h.waitState("p/c", adapter.StateRunning)
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, adapter.StateRunning, h.get("p").Status.State, "the parent runs while its child does")
	close(release)
	parent := h.waitState("p", adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
	require.Equal(t, adapter.StateDone, parent.Status.State)
	require.Equal(t, adapter.StateDone, h.get("p/c").Status.State)
}
