package tests

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/workflows"
)

// TestProcessIDsAtTemporalsIDLimit: the in-process server refuses workflow
// and Schedule IDs over 1,000 bytes (its default limit.maxIDLength,
// Config.MaxIDLength's default). A processId whose IDs fit exactly runs: as
// a child, as a parent of children (its children workflow's ID adds
// "#children"), as an ad-hoc process and as a cron task (its Schedule's runs
// add ":cron" and the fire time). One byte more is refused at once with
// ErrInvalidInput and nothing is written, instead of a start the server
// rejects: a child's left its parent's body waiting for ever.
func TestProcessIDsAtTemporalsIDLimit(t *testing.T) {
	gen := newGenerator()
	s := newSystem(t, adapter.Config{TaskDefinitions: gen.generate})
	room := 1000 - len(s.eng.WorkflowID("")) // the longest processId
	id := func(prefix string, n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }
	invalid := func(t *testing.T, err error, id string) {
		t.Helper()
		require.True(t, errors.Is(err, adapter.ErrInvalidInput), "want ErrInvalidInput, got %v", err)
		require.ErrorContains(t, err, "over the server's limit of 1000")
		require.NotContains(t, err.Error(), id, "the whole id is not repeated")
	}
	define := func(t *testing.T, processID string, body adapter.TaskFunc) {
		t.Helper()
		_, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: processID, Name: "Ad hoc", Execute: body}, adapter.AdhocOptions{})
		require.NoError(t, err)
	}

	t.Run("a child", func(t *testing.T) {
		fit, over := id("child-fit/", room), id("child-over/", room+1)
		errs := make(chan error, 3)
		define(t, "parent", func(pc *adapter.ProcessContext) error {
			_, err := pc.RunChild(adapter.ChildSpec{ProcessID: over, Name: "Over", Execute: quick})
			errs <- err
			g := pc.ParallelGroup(adapter.GroupOptions{})
			errs <- g.Spawn(adapter.ChildSpec{ProcessID: over, Name: "Over", Execute: quick})
			if _, err := g.Wait(); err != nil {
				return err
			}
			_, err = pc.RunChild(adapter.ChildSpec{ProcessID: fit, Name: "Fit", Execute: quick})
			errs <- err
			return err
		})
		p := s.run("parent")
		invalid(t, <-errs, over)
		invalid(t, <-errs, over)
		require.NoError(t, <-errs)
		require.Equal(t, adapter.StateDone, s.get(fit).Status.State)
		require.True(t, s.gone(over), "a document was written for the refused child")
		require.NotContains(t, logLines(p), "event: Spawned child: Over")
	})

	t.Run("a parent", func(t *testing.T) {
		parentOf := func(child string, errs chan<- error) adapter.TaskFunc {
			return func(pc *adapter.ProcessContext) error {
				_, err := pc.RunChild(adapter.ChildSpec{ProcessID: child, Name: "Child", Execute: quick})
				errs <- err
				return nil
			}
		}
		fit, over := id("parent-fit/", room-len(workflows.ChildrenIDSuffix)), id("parent-over/", room-len(workflows.ChildrenIDSuffix)+1)
		errs := make(chan error, 1)
		define(t, fit, parentOf("child-of-fit", errs))
		s.run(fit)
		require.NoError(t, <-errs)
		require.Equal(t, adapter.StateDone, s.get("child-of-fit").Status.State)

		define(t, over, parentOf("child-of-over", errs))
		s.run(over) // a process with an ID this long runs; it cannot have children
		err := <-errs
		invalid(t, err, over)
		require.ErrorContains(t, err, "the ID of the children workflow that starts its children would be 1001 bytes")
		require.True(t, s.gone("child-of-over"))
	})

	t.Run("ad hoc", func(t *testing.T) {
		fit, over := id("adhoc-fit/", room), id("adhoc-over/", room+1)
		_, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: over, Name: "Over", Execute: quick}, adapter.AdhocOptions{})
		invalid(t, err, over)
		require.True(t, s.gone(over))
		define(t, fit, quick)
		s.run(fit)
	})

	t.Run("a cron task", func(t *testing.T) {
		fit := id("cron-fit/", room-len(":cron-2006-01-02T15:04:05Z"))
		over := id("cron-over/", len(fit)+1)
		gen.set(adapter.TaskInstance{ProcessID: over, Name: "Cron over", Execute: quick, Schedule: "0 9 * * *"})
		_, err := s.eng.Resync(s.ctx(), false, nil)
		invalid(t, err, over)
		require.ErrorContains(t, err, "the IDs of its Schedule's runs would be 1001 bytes")
		require.True(t, s.gone(over))
		require.Empty(t, s.scheduleIDs(s.eng.ScheduleID(over)))

		gen.set(adapter.TaskInstance{ProcessID: fit, Name: "Cron fit", Execute: quick, Schedule: "0 9 * * *"})
		_, err = s.eng.Resync(s.ctx(), false, nil)
		require.NoError(t, err)
		require.NoError(t, s.temporal().ScheduleClient().GetHandle(s.ctx(), s.eng.ScheduleID(fit)).Trigger(s.ctx(), client.ScheduleTriggerOptions{}))
		s.requireEnd(fit, adapter.StateDone)
	})
}
