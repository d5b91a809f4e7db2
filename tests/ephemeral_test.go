package tests

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// TestEphemeralProcessesAreDeletedOnceTerminal: a process marked ephemeral,
// by AdhocDefine's option or by its body calling MarkEphemeral, is deleted
// (with its descendants) as soon as it ends, whether done, failed or
// cancelled; LaunchAndWait then returns no document. A process that is not
// ephemeral stays.
func TestEphemeralProcessesAreDeletedOnceTerminal(t *testing.T) {
	type ending struct {
		name string
		body func(g *gate) adapter.TaskFunc
		// cancel cancels the process once its body runs.
		cancel bool
		want   adapter.State
	}
	endings := []ending{
		{name: "done", body: func(*gate) adapter.TaskFunc { return quick }, want: adapter.StateDone},
		{name: "failed", body: func(*gate) adapter.TaskFunc {
			return func(*adapter.ProcessContext) error { return errors.New("broken") }
		}, want: adapter.StateFailed},
		{name: "cancelled", body: func(g *gate) adapter.TaskFunc { return g.cooperative }, cancel: true, want: adapter.StateCancelled},
	}
	markingBody := func(inner adapter.TaskFunc) adapter.TaskFunc {
		return func(ctx *adapter.ProcessContext) error {
			if err := ctx.MarkEphemeral(); err != nil {
				return err
			}
			return inner(ctx)
		}
	}

	for _, how := range []string{"adhoc option", "MarkEphemeral", "neither"} {
		for _, end := range endings {
			t.Run(how+"/"+end.name, func(t *testing.T) {
				g := newGate(t)
				body := end.body(g)
				opts := adapter.AdhocOptions{}
				switch how {
				case "adhoc option":
					opts.Ephemeral = true
				case "MarkEphemeral":
					body = markingBody(body)
				}
				s := newSystem(t, adapter.Config{})
				_, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: "temp", Name: "Temp", Execute: body}, opts)
				require.NoError(t, err)

				if !end.cancel {
					p, err := s.eng.LaunchAndWait(s.ctx(), "temp")
					require.NoError(t, err)
					if how == "neither" {
						require.NotNil(t, p)
						require.Equal(t, end.want, p.Status.State)
						require.False(t, s.gone("temp"))
						return
					}
					require.Nil(t, p, "LaunchAndWait returns no document for a deleted process")
					require.True(t, s.gone("temp"))
					return
				}

				s.launch("temp")
				g.waitStarted(t)
				if how == "MarkEphemeral" {
					eventually(t, "the mark is stored while the body runs", func() bool { return s.get("temp").Ephemeral })
				}
				_, err = s.eng.Cancel(s.ctx(), "temp")
				require.NoError(t, err)
				if how == "neither" {
					s.waitState("temp", end.want)
					return
				}
				s.waitGone("temp")
			})
		}
	}
}

// TestEphemeralDeletionTakesDescendants: an ephemeral process that has
// children (an ad-hoc ephemeral child and a run_child child) is deleted with
// all of them, leaving no orphans; its non-ephemeral siblings stay.
func TestEphemeralDeletionTakesDescendants(t *testing.T) {
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(adapter.TaskInstance{ProcessID: "keeper", Name: "Keeper", Execute: quick})})
	parent := func(ctx *adapter.ProcessContext) error {
		_, err := ctx.RunChild(adapter.ChildSpec{ProcessID: "temp/child", Name: "Child", Execute: quick})
		return err
	}
	_, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: "temp", Name: "Temp", Execute: parent}, adapter.AdhocOptions{Ephemeral: true})
	require.NoError(t, err)
	_, err = s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: "keeper/scratch", Name: "Scratch", Execute: quick}, adapter.AdhocOptions{Parent: "keeper", Ephemeral: true})
	require.NoError(t, err)

	p, err := s.eng.LaunchAndWait(s.ctx(), "temp")
	require.NoError(t, err)
	require.Nil(t, p)
	require.True(t, s.gone("temp"))
	require.True(t, s.gone("temp/child"), "the run_child child went with its ephemeral parent")

	p, err = s.eng.LaunchAndWait(s.ctx(), "keeper/scratch")
	require.NoError(t, err)
	require.Nil(t, p)
	require.True(t, s.gone("keeper/scratch"), "an ephemeral ad-hoc child is deleted once it ends")
	require.Equal(t, adapter.StateIdle, s.get("keeper").Status.State, "its parent is not")
	require.EqualValues(t, 1, s.count())
}

// TestMarkEphemeralOnAGeneratedTask: a generated task's body may mark its
// process ephemeral too; it is deleted once done, the next resync creates it
// afresh, idle and not ephemeral, and its next run deletes it again.
func TestMarkEphemeralOnAGeneratedTask(t *testing.T) {
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(adapter.TaskInstance{ProcessID: "once-only", Name: "Once only", Execute: func(ctx *adapter.ProcessContext) error {
		return ctx.MarkEphemeral()
	}})})
	before := s.get("once-only")
	p, err := s.eng.LaunchAndWait(s.ctx(), "once-only")
	require.NoError(t, err)
	require.Nil(t, p)
	require.True(t, s.gone("once-only"))

	_, err = s.eng.Resync(s.ctx(), false, nil)
	require.NoError(t, err)
	after := s.get("once-only")
	require.NotEqual(t, before.ID, after.ID)
	require.Equal(t, adapter.StateIdle, after.Status.State)
	require.False(t, after.Ephemeral)
	p, err = s.eng.LaunchAndWait(s.ctx(), "once-only")
	require.NoError(t, err)
	require.Nil(t, p, "and the new document goes the same way")
}
