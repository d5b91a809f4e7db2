package tests

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/workflows"
)

// helperClosings are the ways an operator ends the children workflow of
// process "parent" from the Temporal side, with what the refusal of a later
// child says of each.
var helperClosings = []struct {
	name  string
	close func(s *system) error
	want  string
}{
	{"terminated", func(s *system) error {
		return s.temporal().TerminateWorkflow(s.ctx(), s.eng.WorkflowID(parentHelper), "", "operator")
	}, "#children was terminated on the Temporal side (reason: operator)"},
	{"deleted", func(s *system) error { return deleteWorkflow(s, parentHelper) }, "#children was "},
}

// parentHelper is the process ID whose workflow ID is that of process
// "parent"'s children workflow.
const parentHelper = "parent" + workflows.ChildrenIDSuffix

// TestAChildAfterItsChildrenWorkflowClosed: an operator terminates or
// deletes a running parent's children workflow ("{ID}#children", listed in
// the Web UI beside the parent's). The child it had started runs on and
// ends done, and the parent's body, waiting for it, gets its end; the next
// child the body asks for is refused at once with
// ErrChildrenWorkflowClosed, saying what happened, instead of its update
// being sent again for a minute and failing with the server's "workflow
// execution already completed". No document is created for it.
func TestAChildAfterItsChildrenWorkflowClosed(t *testing.T) {
	for _, tc := range helperClosings {
		t.Run(tc.name, func(t *testing.T) {
			stop := make(chan struct{})
			first, second := make(chan error, 4), make(chan error, 4)
			parent := func(pc *adapter.ProcessContext) error {
				_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "parent/c", Name: "C", Execute: func(*adapter.ProcessContext) error {
					<-stop
					return nil
				}})
				first <- err
				if err != nil {
					return err
				}
				_, err = pc.RunChild(adapter.ChildSpec{ProcessID: "parent/d", Name: "D", Execute: quick})
				second <- err
				return err
			}
			s := launchParent(t, parent)
			s.waitState("parent/c", adapter.StateRunning)
			require.NoError(t, tc.close(s))
			close(stop)
			require.NoError(t, receiveWithin(t, first, "RunChild of the running child did not return"))
			err := receiveWithin(t, second, "RunChild after the children workflow closed did not return")
			t.Logf("RunChild: %v", err)
			require.True(t, errors.Is(err, adapter.ErrChildrenWorkflowClosed), "%v", err)
			require.ErrorContains(t, err, tc.want)
			s.requireEnd("parent/c", adapter.StateDone)
			p := s.requireEnd("parent", adapter.StateFailed)
			require.Contains(t, *p.Status.Error, adapter.ErrChildrenWorkflowClosed.Error())
			require.True(t, s.gone("parent/d"), "a document was created for the refused child")
		})
	}
}

// TestAParentEndsAfterTheChildrenItsClosedChildrenWorkflowLeft: a parent's
// children workflow is terminated or deleted from the Temporal side while a
// child of a parallel group runs, then the body returns an error. The
// child, which that workflow would have cancelled, is cancelled by the
// parent's run itself, and the parent ends failed after it, as a parent whose
// children workflow lives on does, instead of leaving the child running.
func TestAParentEndsAfterTheChildrenItsClosedChildrenWorkflowLeft(t *testing.T) {
	for _, tc := range helperClosings {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(t)
			defer g.open()
			closed := make(chan struct{})
			parent := func(pc *adapter.ProcessContext) error {
				group := pc.ParallelGroup(adapter.GroupOptions{})
				if err := group.Spawn(adapter.ChildSpec{ProcessID: "parent/c", Name: "C", Execute: g.cooperative}); err != nil {
					return err
				}
				<-closed
				return errors.New("boom")
			}
			s := launchParent(t, parent)
			s.waitState("parent/c", adapter.StateRunning)
			require.NoError(t, tc.close(s))
			close(closed)
			c := s.requireEnd("parent/c", adapter.StateCancelled)
			p := s.requireEnd("parent", adapter.StateFailed)
			require.Equal(t, "boom", *p.Status.Error)
			last := c.Log[len(c.Log)-1]
			require.LessOrEqual(t, last.Timestamp, p.Log[len(p.Log)-1].Timestamp,
				"the parent ended before its child: %v / %v", logLines(c), logLines(p))
			replayEndedRun(t, s, "parent", "children workflow "+tc.name+", then the body failed")
		})
	}
}

// TestAChildAskedForAgainAfterItsChildrenWorkflowClosed: a body asks again
// for a child it has running (as a body re-run after a lost worker does)
// after its children workflow was terminated or deleted, which would have
// answered with the running child. The child's document answers instead:
// the body waits for that child and gets its end, and is not refused.
func TestAChildAskedForAgainAfterItsChildrenWorkflowClosed(t *testing.T) {
	for _, tc := range helperClosings {
		t.Run(tc.name, func(t *testing.T) {
			stop, closed := make(chan struct{}), make(chan struct{})
			again := make(chan error, 4)
			child := adapter.ChildSpec{ProcessID: "parent/c", Name: "C", Execute: func(*adapter.ProcessContext) error {
				<-stop
				return nil
			}}
			parent := func(pc *adapter.ProcessContext) error {
				group := pc.ParallelGroup(adapter.GroupOptions{})
				if err := group.Spawn(child); err != nil {
					return err
				}
				<-closed
				_, err := pc.RunChild(child)
				again <- err
				_, werr := group.Wait()
				return errors.Join(err, werr)
			}
			s := launchParent(t, parent)
			s.waitState("parent/c", adapter.StateRunning)
			require.NoError(t, tc.close(s))
			close(closed)
			requireNothingFor(t, again, time.Second, "RunChild of the running child returned while it ran")
			close(stop)
			require.NoError(t, receiveWithin(t, again, "RunChild of the running child did not return"))
			s.requireEnd("parent/c", adapter.StateDone)
			s.requireEnd("parent", adapter.StateDone)
		})
	}
}
