package tests

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
)

// scheduleIDs lists the Temporal Schedules whose IDs start with prefix.
func (s *system) scheduleIDs(prefix string) []string {
	s.t.Helper()
	it, err := s.temporal().ScheduleClient().List(s.ctx(), client.ScheduleListOptions{PageSize: 1000})
	require.NoError(s.t, err)
	var out []string
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(s.t, err)
		if strings.HasPrefix(e.ID, prefix) {
			out = append(out, e.ID)
		}
	}
	slices.Sort(out)
	return out
}

// world is everything a bad call must leave as it was: the process
// documents and the engine's schedules (with when they fire).
type world struct {
	docs      []string
	schedules []string
	fires     string
}

func (s *system) world() world {
	s.t.Helper()
	w := world{schedules: s.scheduleIDs(s.eng.ScheduleID(""))}
	for _, d := range s.snapshot() {
		w.docs = append(w.docs, d.String())
	}
	for _, id := range w.schedules {
		d, err := s.temporal().ScheduleClient().GetHandle(s.ctx(), id).Describe(s.ctx())
		require.NoError(s.t, err)
		w.fires += id + "@" + d.Info.NextActionTimes[0].UTC().Format("15:04") + " "
	}
	return w
}

// badTasks are task sets no generator may return. Each also holds a valid
// cron task that must not be half-written.
var badTasks = map[string][]adapter.TaskInstance{
	"duplicate ids": {
		{ProcessID: "fresh", Name: "Fresh", Execute: quick, Schedule: "0 9 * * *"},
		{ProcessID: "fresh", Name: "Fresh again", Execute: quick},
	},
	"invalid cron": {
		{ProcessID: "fresh", Name: "Fresh", Execute: quick, Schedule: "0 9 * * *"},
		{ProcessID: "bad-cron", Name: "Bad cron", Execute: quick, Schedule: "every day at nine"},
	},
	"six-field cron": {
		{ProcessID: "fresh", Name: "Fresh", Execute: quick, Schedule: "0 9 * * *"},
		{ProcessID: "bad-cron", Name: "Bad cron", Execute: quick, Schedule: "0 0 9 * * *"},
	},
	"nil execute": {
		{ProcessID: "fresh", Name: "Fresh", Execute: quick, Schedule: "0 9 * * *"},
		{ProcessID: "no-body", Name: "No body"},
	},
	"empty name": {
		{ProcessID: "fresh", Name: "Fresh", Execute: quick, Schedule: "0 9 * * *"},
		{ProcessID: "no-name", Execute: quick},
	},
	"empty process id": {
		{ProcessID: "fresh", Name: "Fresh", Execute: quick, Schedule: "0 9 * * *"},
		{Name: "No id", Execute: quick},
	},
	"process id that is not UTF-8": {
		{ProcessID: "fresh", Name: "Fresh", Execute: quick, Schedule: "0 9 * * *"},
		{ProcessID: "import-m\xfcnchen", Name: "München in Latin-1", Execute: quick},
	},
	"process id too long for Temporal's IDs": {
		{ProcessID: "fresh", Name: "Fresh", Execute: quick, Schedule: "0 9 * * *"},
		{ProcessID: strings.Repeat("x", 1000), Name: "Long", Execute: quick},
	},
}

// TestBadInputIsRejectedAndWritesNothing: every public call given an empty
// or unknown process ID, a bad task, a bad parent, root ID or state filter
// returns a clear error (ErrInvalidInput, or the contract's not-found
// reason), and the documents and schedules are exactly as before.
func TestBadInputIsRejectedAndWritesNothing(t *testing.T) {
	gen := newGenerator(
		adapter.TaskInstance{ProcessID: "real", Name: "Real", Execute: quick, Schedule: "0 1 * * *"},
		adapter.TaskInstance{ProcessID: "ran", Name: "Ran", Execute: quick},
	)
	s := newSystem(t, adapter.Config{TaskDefinitions: gen.generate})
	s.run("ran")
	_, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: "ran/child", Name: "Child", Execute: quick}, adapter.AdhocOptions{Parent: "ran"})
	require.NoError(t, err)

	invalid := func(err error) error {
		if !errors.Is(err, adapter.ErrInvalidInput) {
			return errors.New("want ErrInvalidInput, got " + errString(err))
		}
		return nil
	}
	reason := func(r adapter.Reason) func(adapter.Outcome, error) error {
		return func(out adapter.Outcome, err error) error {
			if err != nil || out.OK || out.Reason != r {
				return errors.New("want outcome " + string(r) + ", got " + string(out.Reason) + " / " + errString(err))
			}
			return nil
		}
	}
	notFound := func(err error) error {
		if !errors.Is(err, adapter.ReasonNotFound) {
			return errors.New("want not-found, got " + errString(err))
		}
		return nil
	}
	adhoc := func(task adapter.TaskInstance, opts adapter.AdhocOptions) error {
		_, err := s.eng.AdhocDefine(s.ctx(), task, opts)
		return err
	}
	list := func(opts adapter.ListOptions) error {
		_, err := s.eng.ListProcesses(s.ctx(), opts)
		return err
	}
	ctx := s.ctx()
	unknownOID := "0123456789abcdef01234567"

	cases := []struct {
		name  string
		check func() error
	}{
		{"launch empty id", func() error { return invalid(second(s.eng.Launch(ctx, ""))) }},
		{"launch-and-wait empty id", func() error { return invalid(second(s.eng.LaunchAndWait(ctx, ""))) }},
		{"cancel empty id", func() error { return invalid(second(s.eng.Cancel(ctx, ""))) }},
		{"dismiss empty id", func() error { return invalid(second(s.eng.Dismiss(ctx, ""))) }},
		{"get-process empty id", func() error { return invalid(second(s.eng.GetProcess(ctx, ""))) }},
		{"adhoc-delete empty id", func() error { return invalid(s.eng.AdhocDelete(ctx, "")) }},

		{"launch unknown id", func() error { return reason(adapter.ReasonNotFound)(s.eng.Launch(ctx, "nope")) }},
		{"launch unknown _id", func() error { return reason(adapter.ReasonNotFound)(s.eng.Launch(ctx, unknownOID)) }},
		{"launch-and-wait unknown id", func() error { return notFound(second(s.eng.LaunchAndWait(ctx, "nope"))) }},
		{"cancel unknown id", func() error { return reason(adapter.ReasonNotFound)(s.eng.Cancel(ctx, "nope")) }},
		{"dismiss unknown id", func() error { return reason(adapter.ReasonNotFound)(s.eng.Dismiss(ctx, "nope")) }},
		{"get-process unknown id", func() error { return notFound(second(s.eng.GetProcess(ctx, "nope"))) }},
		{"adhoc-delete unknown id", func() error { return notFound(s.eng.AdhocDelete(ctx, "nope")) }},

		{"adhoc empty process id", func() error {
			return invalid(adhoc(adapter.TaskInstance{Name: "X", Execute: quick}, adapter.AdhocOptions{}))
		}},
		{"adhoc empty name", func() error {
			return invalid(adhoc(adapter.TaskInstance{ProcessID: "x", Execute: quick}, adapter.AdhocOptions{}))
		}},
		{"adhoc nil execute", func() error {
			return invalid(adhoc(adapter.TaskInstance{ProcessID: "x", Name: "X"}, adapter.AdhocOptions{}))
		}},
		{"adhoc invalid cron", func() error {
			return invalid(adhoc(adapter.TaskInstance{ProcessID: "x", Name: "X", Execute: quick, Schedule: "61 * * * *"}, adapter.AdhocOptions{}))
		}},
		{"adhoc with a schedule", func() error {
			return invalid(adhoc(adapter.TaskInstance{ProcessID: "x", Name: "X", Execute: quick, Schedule: "0 1 * * *"}, adapter.AdhocOptions{}))
		}},
		{"adhoc unknown parent", func() error {
			return invalid(adhoc(adapter.TaskInstance{ProcessID: "x", Name: "X", Execute: quick}, adapter.AdhocOptions{Parent: "nope"}))
		}},
		{"adhoc unknown parent _id", func() error {
			return invalid(adhoc(adapter.TaskInstance{ProcessID: "x", Name: "X", Execute: quick}, adapter.AdhocOptions{Parent: unknownOID}))
		}},
		{"adhoc child with a taken id", func() error {
			return invalid(adhoc(adapter.TaskInstance{ProcessID: "real", Name: "X", Execute: quick}, adapter.AdhocOptions{Parent: "ran"}))
		}},
		{"adhoc id too long for Temporal's IDs", func() error {
			return invalid(adhoc(adapter.TaskInstance{ProcessID: strings.Repeat("x", 1000), Name: "X", Execute: quick}, adapter.AdhocOptions{}))
		}},
		{"adhoc child id too long for Temporal's IDs", func() error {
			return invalid(adhoc(adapter.TaskInstance{ProcessID: strings.Repeat("x", 1000), Name: "X", Execute: quick}, adapter.AdhocOptions{Parent: "ran"}))
		}},
		{"adhoc root with a child's id", func() error {
			return invalid(adhoc(adapter.TaskInstance{ProcessID: "ran/child", Name: "X", Execute: quick}, adapter.AdhocOptions{}))
		}},

		{"list bad root id", func() error { return invalid(list(adapter.ListOptions{RootID: "root"})) }},
		{"list unknown state", func() error { return invalid(list(adapter.ListOptions{State: "finished"})) }},
	}
	for name, tasks := range badTasks {
		cases = append(cases, struct {
			name  string
			check func() error
		}{"resync " + name, func() error {
			gen.set(tasks...)
			defer gen.set(adapter.TaskInstance{ProcessID: "real", Name: "Real", Execute: quick, Schedule: "0 1 * * *"}, adapter.TaskInstance{ProcessID: "ran", Name: "Ran", Execute: quick})
			for _, clean := range []bool{false, true} {
				if err := invalid(second(s.eng.Resync(ctx, clean, nil))); err != nil {
					return err
				}
			}
			return nil
		}})
	}
	cases = append(cases, struct {
		name  string
		check func() error
	}{"resync with a task id held by a child", func() error {
		gen.set(
			adapter.TaskInstance{ProcessID: "fresh", Name: "Fresh", Execute: quick, Schedule: "0 9 * * *"},
			adapter.TaskInstance{ProcessID: "ran/child", Name: "Clash", Execute: quick},
		)
		defer gen.set(adapter.TaskInstance{ProcessID: "real", Name: "Real", Execute: quick, Schedule: "0 1 * * *"}, adapter.TaskInstance{ProcessID: "ran", Name: "Ran", Execute: quick})
		return invalid(second(s.eng.Resync(ctx, false, nil)))
	}}, struct {
		name  string
		check func() error
	}{"resync with a failing generator", func() error {
		var calls atomic.Int32
		// Another engine whose generator works at New and fails after.
		failing := s.startEngine(adapter.Config{TaskDefinitions: func(ctx context.Context, services, filter map[string]any) ([]adapter.TaskInstance, error) {
			if calls.Add(1) > 1 {
				return nil, errors.New("catalogue unavailable")
			}
			return gen.generate(ctx, services, filter)
		}, DisableWorker: true, ReconcileInterval: -1})
		_, err := failing.Resync(ctx, true, nil)
		if err == nil || !strings.Contains(err.Error(), "catalogue unavailable") {
			return errors.New("want the generator's error, got " + errString(err))
		}
		return nil
	}})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.world()
			require.NoError(t, tc.check())
			require.Equal(t, before, s.world(), "nothing is written")
		})
	}
}

// TestNewRejectsBadDefinitions: New refuses a generator result with a bad
// task and writes no document and creates no schedule, not even for the
// valid tasks next to the bad one; a config without Temporal or Mongo is
// refused too.
func TestNewRejectsBadDefinitions(t *testing.T) {
	s := newSystem(t, adapter.Config{})
	for name, tasks := range badTasks {
		t.Run(name, func(t *testing.T) {
			prefix := "bad" + strings.NewReplacer(" ", "", "-", "").Replace(name)
			_, err := s.newEngine(adapter.Config{Prefix: prefix, TaskDefinitions: staticTasks(tasks...)})
			require.ErrorIs(t, err, adapter.ErrInvalidInput)
			n, err := s.env.Mongo.DB.Collection(prefix+"_processes").CountDocuments(s.ctx(), map[string]any{})
			require.NoError(t, err)
			require.Zero(t, n, "no documents")
			require.Empty(t, s.scheduleIDs(s.env.Mongo.Name+"/"+prefix+":"), "no schedules")
		})
	}
	t.Run("no Temporal client", func(t *testing.T) {
		_, err := adapter.New(s.ctx(), adapter.Config{Mongo: s.env.Mongo.DB})
		require.ErrorIs(t, err, adapter.ErrInvalidConfig)
	})
	t.Run("no Mongo database", func(t *testing.T) {
		_, err := adapter.New(s.ctx(), adapter.Config{Temporal: s.temporal()})
		require.ErrorIs(t, err, adapter.ErrInvalidConfig)
	})
	t.Run("a prefix Temporal's IDs cannot carry", func(t *testing.T) {
		_, err := s.newEngine(adapter.Config{Prefix: "präfix", TaskDefinitions: staticTasks(badTasks["duplicate ids"][0])})
		require.ErrorIs(t, err, adapter.ErrInvalidConfig)
		require.ErrorContains(t, err, "outside printable ASCII")
		require.Empty(t, s.scheduleIDs(s.env.Mongo.Name+"/präfix:"), "no schedules")
	})
}

func second[T any](_ T, err error) error { return err }

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
