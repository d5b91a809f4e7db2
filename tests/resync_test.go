package tests

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/adapter"
)

// runtimeFields are the fields a definition sync must never touch.
var runtimeFields = []string{"_id", "processId", "parentId", "rootId", "depth", "order", "adhoc", "ephemeral", "status", "progress", "log", "createdAt"}

// requireSameFields checks that two raw documents agree on the given fields.
func requireSameFields(t *testing.T, before, after bson.Raw, fields []string) {
	t.Helper()
	for _, f := range fields {
		require.True(t, before.Lookup(f).Equal(after.Lookup(f)), "field %q changed:\n before %s\n after  %s", f, before.Lookup(f), after.Lookup(f))
	}
}

// requireNoOrphans checks that every parentId and rootId names an existing
// document.
func (s *system) requireNoOrphans() {
	s.t.Helper()
	docs := s.snapshot()
	ids := map[bson.ObjectID]bool{}
	for _, d := range docs {
		ids[d.Lookup("_id").ObjectID()] = true
	}
	for _, d := range docs {
		if parent, ok := d.Lookup("parentId").ObjectIDOK(); ok {
			require.True(s.t, ids[parent], "%s is an orphan: parent %s is gone", d.Lookup("processId"), parent.Hex())
		}
		require.True(s.t, ids[d.Lookup("rootId").ObjectID()], "%s is an orphan: root is gone", d.Lookup("processId"))
	}
}

// addSubtree gives a process an ad-hoc child and grandchild.
func (s *system) addSubtree(parent string) {
	s.t.Helper()
	_, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: parent + "/child", Name: "Child", Execute: quick}, adapter.AdhocOptions{Parent: parent})
	require.NoError(s.t, err)
	_, err = s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: parent + "/child/grandchild", Name: "Grandchild", Execute: quick}, adapter.AdhocOptions{Parent: parent + "/child"})
	require.NoError(s.t, err)
}

// TestResyncUpdatesDefinitionsWithoutTouchingRuntimeState: every definition
// field of an existing process (name, description, params, metadata,
// schedule, special, warning, cancellable) follows the generator on resync,
// while its runtime state (status, progress, log, place in the tree) stays
// exactly as it was, for an ended process and for a running one, whose body
// runs on undisturbed. The next run gets the new params.
func TestResyncUpdatesDefinitionsWithoutTouchingRuntimeState(t *testing.T) {
	g := newGate(t)
	var lastParams atomic.Pointer[map[string]any]
	report := func(ctx *adapter.ProcessContext) error {
		p := ctx.Params()
		lastParams.Store(&p)
		ctx.ReportProgress(60, "wrote the report")
		return nil
	}
	v1 := func(id string, body adapter.TaskFunc) adapter.TaskInstance {
		return adapter.TaskInstance{
			ProcessID: id, Execute: body, Name: "Report", Description: "first draft",
			Params: map[string]any{"pages": 1}, Metadata: map[string]any{"customer": "1"},
			Schedule: "0 1 * * *",
		}
	}
	v2 := func(id string, body adapter.TaskFunc) adapter.TaskInstance {
		return adapter.TaskInstance{
			ProcessID: id, Execute: body, Name: "Report v2", Description: "second draft",
			Params: map[string]any{"pages": 2, "format": "pdf"}, Metadata: map[string]any{"customer": "2", "tier": "gold"},
			Schedule: "30 5 * * *", Special: true, Warning: "sends e-mail", NotCancellable: true,
		}
	}
	gen := newGenerator(v1("ended", report), v1("running", g.stubborn))
	s := newSystem(t, adapter.Config{TaskDefinitions: gen.generate})
	s.run("ended")
	s.launch("running")
	g.waitStarted(t)
	s.waitState("running", adapter.StateRunning)
	before := map[string]bson.Raw{"ended": s.raw("ended"), "running": s.raw("running")}

	gen.set(v2("ended", report), v2("running", g.stubborn))
	_, err := s.eng.Resync(s.ctx(), false, nil)
	require.NoError(t, err)

	for id, old := range before {
		t.Run(id, func(t *testing.T) {
			now := s.raw(id)
			requireSeedSchema(t, now)
			requireSameFields(t, old, now, runtimeFields)
			p := s.get(id)
			require.Equal(t, "Report v2", p.Name)
			require.Equal(t, "second draft", *p.Description)
			require.Equal(t, map[string]any{"pages": int32(2), "format": "pdf"}, p.Params)
			require.Equal(t, map[string]any{"customer": "2", "tier": "gold"}, p.Metadata)
			require.True(t, p.Special)
			require.Equal(t, "sends e-mail", *p.Warning)
			require.False(t, p.Cancellable)
			requireFiresAt(t, s.describeSchedule(id), 5, 30)
		})
	}

	// The running body was not disturbed, and its process now refuses a
	// cancel.
	out, err := s.eng.Cancel(s.ctx(), "running")
	require.NoError(t, err)
	require.Equal(t, adapter.ReasonNotCancellable, out.Reason)
	g.open()
	s.waitState("running", adapter.StateDone)

	s.run("ended")
	require.Equal(t, map[string]any{"pages": 2, "format": "pdf"}, *lastParams.Load(), "the next run gets the new params")

	// Clearing the optional text fields stores null again.
	gen.set(adapter.TaskInstance{ProcessID: "ended", Name: "Report v3", Execute: report}, v2("running", g.stubborn))
	_, err = s.eng.Resync(s.ctx(), false, nil)
	require.NoError(t, err)
	raw := s.raw("ended")
	require.Equal(t, bson.TypeNull, raw.Lookup("description").Type)
	require.Equal(t, bson.TypeNull, raw.Lookup("warning").Type)
	require.True(t, raw.Lookup("cancellable").Boolean())
	require.Nil(t, s.describeSchedule("ended"))
}

// TestResyncDeletesRemovedTasks: a task the generator no longer returns is
// deleted on resync together with all its descendants (no orphans) when it
// is not active; an active one is left alone, body and all, until a resync
// after it has ended. Tasks still returned keep their documents.
func TestResyncDeletesRemovedTasks(t *testing.T) {
	g := newGate(t)
	keep := adapter.TaskInstance{ProcessID: "keep", Name: "Keep", Execute: quick}
	gen := newGenerator(
		keep,
		adapter.TaskInstance{ProcessID: "idle", Name: "Idle", Execute: quick},
		adapter.TaskInstance{ProcessID: "ended", Name: "Ended", Execute: quick},
		adapter.TaskInstance{ProcessID: "active", Name: "Active", Execute: g.stubborn},
	)
	s := newSystem(t, adapter.Config{TaskDefinitions: gen.generate})
	s.run("ended")
	s.launch("active")
	g.waitStarted(t)
	s.waitState("active", adapter.StateRunning)
	// After the launches, which delete the previous run's descendants.
	for _, id := range []string{"keep", "idle", "ended", "active"} {
		s.addSubtree(id)
	}
	kept := s.raw("keep")

	gen.set(keep)
	_, err := s.eng.Resync(s.ctx(), false, nil)
	require.NoError(t, err)

	for _, id := range []string{"idle", "ended"} {
		require.True(t, s.gone(id), id)
		require.True(t, s.gone(id+"/child"), "%s's child", id)
		require.True(t, s.gone(id+"/child/grandchild"), "%s's grandchild", id)
	}
	s.requireNoOrphans()
	require.Equal(t, kept, s.raw("keep"), "a task still returned is untouched")
	require.False(t, s.gone("keep/child"))
	require.Equal(t, adapter.StateRunning, s.get("active").Status.State, "an active removed task is left alone")
	require.False(t, s.gone("active/child/grandchild"))
	require.Zero(t, g.returned.Load(), "its body runs on")

	g.open()
	s.waitState("active", adapter.StateDone)
	_, err = s.eng.Resync(s.ctx(), false, nil)
	require.NoError(t, err)
	require.True(t, s.gone("active"), "deleted by the first resync after it ended")
	require.True(t, s.gone("active/child/grandchild"))
	s.requireNoOrphans()
	require.EqualValues(t, 3, s.count(), "keep and its two descendants")
}

// TestResyncWithMetadataFilter: a resync with a metadata filter passes the
// filter to the generator and creates, updates and deletes only tasks whose
// metadata matches it, even when the generator returns more.
func TestResyncWithMetadataFilter(t *testing.T) {
	task := func(id, name, group string) adapter.TaskInstance {
		return adapter.TaskInstance{ProcessID: id, Name: name, Execute: quick, Metadata: map[string]any{"group": group}}
	}
	gen := newGenerator(task("a1", "A1", "a"), task("a2", "A2", "a"), task("b1", "B1", "b"), task("b2", "B2", "b"))
	s := newSystem(t, adapter.Config{TaskDefinitions: gen.generate})
	s.addSubtree("a2")
	b2 := s.raw("b2")

	gen.set(task("a1", "A1 renamed", "a"), task("a3", "A3", "a"), task("b1", "B1 renamed", "b"), task("b3", "B3", "b"))
	synced, err := s.eng.Resync(s.ctx(), false, map[string]any{"group": "a"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"group": "a"}, gen.lastFilter(), "the generator gets the filter")
	require.ElementsMatch(t, []string{"a1", "a3"}, keysOf(synced))

	require.Equal(t, "A1 renamed", s.get("a1").Name)
	require.Equal(t, adapter.StateIdle, s.get("a3").Status.State)
	require.True(t, s.gone("a2"))
	require.True(t, s.gone("a2/child"))
	s.requireNoOrphans()

	require.Equal(t, "B1", s.get("b1").Name, "out of scope: not updated")
	require.True(t, s.gone("b3"), "out of scope: not created")
	require.Equal(t, b2, s.raw("b2"), "out of scope: not deleted")

	_, err = s.eng.Resync(s.ctx(), false, nil)
	require.NoError(t, err)
	require.Nil(t, gen.lastFilter())
	require.Equal(t, "B1 renamed", s.get("b1").Name)
	require.False(t, s.gone("b3"))
	require.True(t, s.gone("b2"))
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestResyncCleanCancelsBeforeDeleting: resync with clean cancels every
// active process in scope and waits for its body to return before deleting
// the documents (with their descendants), then syncs afresh, so no body is
// left writing to a deleted document. With a metadata filter only the roots
// matching it (and their trees) go; the rest, running or not, stay as they
// are.
func TestResyncCleanCancelsBeforeDeleting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		filter map[string]any
	}{
		{"everything", nil},
		{"filtered", map[string]any{"group": "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var writerReturned atomic.Bool
			writer := func(ctx *adapter.ProcessContext) error {
				defer writerReturned.Store(true)
				for i := 0; ctx.ShouldContinue(); i++ {
					ctx.ReportProgress(float64(i%100), fmt.Sprintf("wrote %d", i))
					time.Sleep(10 * time.Millisecond)
				}
				return nil
			}
			bGate := newGate(t)
			tasks := staticTasks(
				adapter.TaskInstance{ProcessID: "writer", Name: "Writer", Execute: writer, Metadata: map[string]any{"group": "a"}},
				adapter.TaskInstance{ProcessID: "idle-a", Name: "Idle A", Execute: quick, Metadata: map[string]any{"group": "a"}},
				adapter.TaskInstance{ProcessID: "idle-b", Name: "Idle B", Execute: quick, Metadata: map[string]any{"group": "b"}},
				adapter.TaskInstance{ProcessID: "running-b", Name: "Running B", Execute: bGate.cooperative, Metadata: map[string]any{"group": "b"}},
			)
			s := newSystem(t, adapter.Config{TaskDefinitions: tasks, CancelGrace: 10 * time.Second})
			s.addSubtree("idle-a")
			s.addSubtree("idle-b")
			s.launch("writer")
			s.waitLog("writer", "info", "wrote 3")
			s.launch("running-b")
			bGate.waitStarted(t)
			before := map[string]bson.Raw{}
			for _, id := range []string{"writer", "idle-a", "idle-b", "idle-b/child", "running-b"} {
				before[id] = s.raw(id)
			}

			_, err := s.eng.Resync(s.ctx(), true, tc.filter)
			require.NoError(t, err)
			require.True(t, writerReturned.Load(), "the cancelled body returned before its document was deleted")

			fresh := s.get("writer")
			require.NotEqual(t, before["writer"].Lookup("_id").ObjectID(), fresh.ID, "deleted and created afresh")
			require.Equal(t, adapter.StateIdle, fresh.Status.State)
			require.Empty(t, fresh.Log)
			require.NotEqual(t, before["idle-a"].Lookup("_id").ObjectID(), s.get("idle-a").ID)
			require.True(t, s.gone("idle-a/child"))
			require.True(t, s.gone("idle-a/child/grandchild"))
			s.requireNoOrphans()

			if tc.filter == nil {
				require.True(t, s.gone("idle-b/child"), "a full clean deletes everything")
				require.Equal(t, adapter.StateIdle, s.get("running-b").Status.State)
				require.EqualValues(t, 1, bGate.returned.Load(), "a full clean cancelled the other body too")
				require.EqualValues(t, 4, s.count())
			} else {
				for _, id := range []string{"idle-b", "idle-b/child"} {
					require.Equal(t, before[id], s.raw(id), "%s is out of the filter's scope", id)
				}
				require.Equal(t, adapter.StateRunning, s.get("running-b").Status.State)
				require.Zero(t, bGate.returned.Load(), "the body out of scope runs on")
				bGate.open()
				s.waitState("running-b", adapter.StateDone)
			}
			// Nothing is written to the fresh document by the old run.
			time.Sleep(300 * time.Millisecond)
			require.Empty(t, s.get("writer").Log)
		})
	}
}
