package activitydef_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.temporal.io/sdk/testsuite"

	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/mirror"
)

// fakeLocator says which execute functions this engine holds.
type fakeLocator struct{ holds []string }

func (l fakeLocator) Holds(processID string) bool { return slices.Contains(l.holds, processID) }
func (l fakeLocator) LocalQueue() string          { return "engine-a" }
func (l fakeLocator) Forget(string)               {}

// newMirror returns the mirror activities over a fresh database, with
// process "p1" (cancellable, metadata group=demo) scheduled for a run.
func newMirror(t *testing.T) (*activitydef.Mirror, bson.ObjectID) {
	t.Helper()
	ctx := context.Background()
	store := docstore.NewStore(testenv.NewMongo(t).DB, "optio")
	require.NoError(t, store.EnsureIndexes(ctx))
	p, err := store.UpsertDefinition(ctx, docstore.Definition{
		ProcessID: "p1", Name: "Process one", Cancellable: true, Metadata: map[string]any{"group": "demo"},
	})
	require.NoError(t, err)
	_, err = store.Claim(ctx, p.ID)
	require.NoError(t, err)
	return &activitydef.Mirror{Store: store, Locator: fakeLocator{holds: []string{"p1"}}, Logger: slog.New(slog.DiscardHandler)}, p.ID
}

func stateOf(t *testing.T, m *activitydef.Mirror, id bson.ObjectID) mirror.State {
	t.Helper()
	p, err := m.Store.Get(context.Background(), id)
	require.NoError(t, err)
	return p.Status.State
}

// The mirror writes of one run, each retried as a local activity would be
// after a write that landed.
func TestMirrorRunTransitions(t *testing.T) {
	type step struct {
		name string
		do   func(m *activitydef.Mirror, doc activitydef.DocInput, since time.Time) (mirror.State, error)
	}
	start := step{"start", func(m *activitydef.Mirror, doc activitydef.DocInput, _ time.Time) (mirror.State, error) {
		r, err := m.StartRun(context.Background(), activitydef.StartRunInput{DocID: doc.DocID})
		return r.State, err
	}}
	cancelReq := step{"request cancel", func(m *activitydef.Mirror, doc activitydef.DocInput, _ time.Time) (mirror.State, error) {
		return m.RequestCancel(context.Background(), doc)
	}}
	cancelScheduled := step{"cancel scheduled", func(m *activitydef.Mirror, doc activitydef.DocInput, _ time.Time) (mirror.State, error) {
		return m.CancelScheduled(context.Background(), doc)
	}}
	finish := func(o activitydef.Outcome) step {
		return step{"finish " + string(o), func(m *activitydef.Mirror, doc activitydef.DocInput, since time.Time) (mirror.State, error) {
			r, err := m.Finish(context.Background(), activitydef.FinishInput{DocID: doc.DocID, ProcessID: "p1", RunningSince: since, Outcome: o, Error: "boom"})
			return r.State, err
		}}
	}
	cases := []struct {
		name  string
		steps []step
		want  []mirror.State // the state each step reports
	}{
		{"a run that completes", []step{start, start, finish(activitydef.OutcomeDone), finish(activitydef.OutcomeDone)},
			[]mirror.State{mirror.Running, mirror.Running, mirror.Done, mirror.Done}},
		{"a run that fails", []step{start, finish(activitydef.OutcomeFailed), finish(activitydef.OutcomeFailed)},
			[]mirror.State{mirror.Running, mirror.Failed, mirror.Failed}},
		{"a cancel while running is recorded, then the body's end is written cancelled", []step{start, cancelReq, cancelReq, finish(activitydef.OutcomeCancelled)},
			[]mirror.State{mirror.Running, mirror.Cancelling, mirror.Cancelling, mirror.Cancelled}},
		{"a body that completes while a cancel is recorded ends cancelled", []step{start, cancelReq, finish(activitydef.OutcomeDone)},
			[]mirror.State{mirror.Running, mirror.Cancelling, mirror.Cancelled}},
		{"a cancelled run the body saw first walks through the cancel states", []step{start, finish(activitydef.OutcomeCancelled)},
			[]mirror.State{mirror.Running, mirror.Cancelled}},
		{"a process cancelled before its body started does not start", []step{cancelScheduled, cancelScheduled, start},
			[]mirror.State{mirror.Cancelled, mirror.Cancelled, mirror.Cancelled}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, id := newMirror(t)
			doc := activitydef.DocInput{DocID: id.Hex()}
			var since time.Time
			for i, s := range tc.steps {
				got, err := s.do(m, doc, since)
				require.NoError(t, err, "step %d (%s)", i, s.name)
				require.Equal(t, tc.want[i], got, "step %d (%s)", i, s.name)
				require.Equal(t, tc.want[i], stateOf(t, m, id), "document after step %d (%s)", i, s.name)
				if since.IsZero() {
					if p, err := m.Store.Get(context.Background(), id); err == nil && p.Status.RunningSince != nil {
						since = *p.Status.RunningSince
					}
				}
			}
		})
	}
}

// StartRun reports what the body needs, and a claim in the same call.
func TestMirrorStartRunReportsTheRunAndClaims(t *testing.T) {
	m, id := newMirror(t)
	ctx := context.Background()
	in := activitydef.StartRunInput{DocID: id.Hex(), Claim: &activitydef.ClaimBodyInput{ProcessID: "p1"}}
	first, err := m.StartRun(ctx, in)
	require.NoError(t, err)
	require.True(t, first.Started)
	require.True(t, first.Cancellable)
	require.Equal(t, "demo", first.Metadata["group"])
	require.False(t, first.RunningSince.IsZero())
	require.Equal(t, activitydef.ClaimBodyResult{Queue: "engine-a", Local: true}, first.Claim)

	again, err := m.StartRun(ctx, in)
	require.NoError(t, err)
	require.True(t, again.Started, "a retry after a write that landed finds the run started")
	require.Equal(t, first.RunningSince, again.RunningSince)
}

func TestMirrorClaimBody(t *testing.T) {
	m := &activitydef.Mirror{Locator: fakeLocator{holds: []string{"mine"}}}
	cases := []struct {
		name string
		in   activitydef.ClaimBodyInput
		want activitydef.ClaimBodyResult
	}{
		{"this engine holds the function", activitydef.ClaimBodyInput{ProcessID: "mine", HintQueue: "engine-b", LostQueues: []string{"engine-a"}},
			activitydef.ClaimBodyResult{Queue: "engine-a", Local: true}},
		{"the hint's engine holds it", activitydef.ClaimBodyInput{ProcessID: "other", HintQueue: "engine-b"}, activitydef.ClaimBodyResult{Queue: "engine-b"}},
		{"the hint's worker was lost", activitydef.ClaimBodyInput{ProcessID: "other", HintQueue: "engine-b", LostQueues: []string{"engine-b"}}, activitydef.ClaimBodyResult{}},
		{"no engine is known to hold it", activitydef.ClaimBodyInput{ProcessID: "other"}, activitydef.ClaimBodyResult{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.ClaimBody(context.Background(), tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// Finish hands back the final document when asked.
func TestMirrorFinishReturnsTheDocument(t *testing.T) {
	m, id := newMirror(t)
	ctx := context.Background()
	start, err := m.StartRun(ctx, activitydef.StartRunInput{DocID: id.Hex()})
	require.NoError(t, err)
	res, err := m.Finish(ctx, activitydef.FinishInput{DocID: id.Hex(), ProcessID: "p1", RunningSince: start.RunningSince, Outcome: activitydef.OutcomeDone, ReturnDoc: true})
	require.NoError(t, err)
	var doc mirror.Process
	require.NoError(t, bson.Unmarshal(res.Doc, &doc))
	require.Equal(t, "p1", doc.ProcessID)
	require.Equal(t, mirror.Done, doc.Status.State)
}

// EndWritten says a run's end is in its document once it is done or gone,
// and not while it is scheduled or running.
func TestMirrorEndWritten(t *testing.T) {
	m, id := newMirror(t)
	ctx := context.Background()
	ended := func() bool {
		t.Helper()
		ok, err := m.EndWritten(ctx, id.Hex())
		require.NoError(t, err)
		return ok
	}
	require.False(t, ended(), "scheduled")
	start, err := m.StartRun(ctx, activitydef.StartRunInput{DocID: id.Hex()})
	require.NoError(t, err)
	require.False(t, ended(), "running")
	_, err = m.Finish(ctx, activitydef.FinishInput{DocID: id.Hex(), ProcessID: "p1", RunningSince: start.RunningSince, Outcome: activitydef.OutcomeDone})
	require.NoError(t, err)
	require.True(t, ended(), "done")
	_, err = m.Store.DeleteTree(ctx, id)
	require.NoError(t, err)
	require.True(t, ended(), "gone")
	_, err = m.EndWritten(ctx, "not-an-id")
	require.ErrorContains(t, err, `bad process document id "not-an-id"`)
}

// Bad input gets an error and changes nothing.
func TestMirrorBadInput(t *testing.T) {
	m, id := newMirror(t)
	ctx := context.Background()
	_, err := m.StartRun(ctx, activitydef.StartRunInput{DocID: "not-an-id"})
	require.ErrorContains(t, err, `bad process document id "not-an-id"`)
	_, err = m.Finish(ctx, activitydef.FinishInput{DocID: id.Hex(), Outcome: "exploded"})
	require.ErrorContains(t, err, `unknown outcome "exploded"`)
	require.Equal(t, mirror.Scheduled, stateOf(t, m, id))
}

// CreateChildren inserts children under their parent once: asked again, it
// reports them known (a re-run body) or duplicate.
func TestMirrorCreateChildren(t *testing.T) {
	m, id := newMirror(t)
	ctx := context.Background()
	_, err := m.StartRun(ctx, activitydef.StartRunInput{DocID: id.Hex()})
	require.NoError(t, err)
	in := activitydef.CreateChildrenInput{ParentDocID: id.Hex(), FirstOrder: 0, Children: []activitydef.ChildSpec{
		{ProcessID: "c1", Name: "Child 1"}, {ProcessID: "c2", Name: "Child 2"},
	}}
	res, err := m.CreateChildren(ctx, in)
	require.NoError(t, err)
	require.Len(t, res.Children, 2)
	for i, c := range res.Children {
		require.False(t, c.Duplicate || c.Known)
		require.Equal(t, i, c.Order)
		oid, err := bson.ObjectIDFromHex(c.DocID)
		require.NoError(t, err)
		child, err := m.Store.Get(ctx, oid)
		require.NoError(t, err)
		require.Equal(t, mirror.Scheduled, child.Status.State)
		require.Equal(t, "demo", child.Metadata["group"], "a child inherits its parent's metadata")
		require.Equal(t, id, *child.ParentID)
	}
	// spawned counts the parent's "Spawned child: {name}" entries.
	spawned := func(name string) int {
		t.Helper()
		parent, err := m.Store.Get(ctx, id)
		require.NoError(t, err)
		n := 0
		for _, e := range parent.Log {
			if e.Message == docstore.MsgSpawnedChild(name) {
				n++
			}
		}
		return n
	}
	require.Equal(t, 1, spawned("Child 1"))
	require.Equal(t, 1, spawned("Child 2"))

	retry, err := m.CreateChildren(ctx, in)
	require.NoError(t, err)
	require.Equal(t, res, retry, "a retry after a write that landed keeps the inserts")
	require.Equal(t, 1, spawned("Child 1"), "a retry after the log write landed logs nothing again")
	require.Equal(t, 1, spawned("Child 2"))

	// A re-run body asks again, in a later batch.
	in.FirstOrder, in.Known = 2, true
	again, err := m.CreateChildren(ctx, in)
	require.NoError(t, err)
	require.True(t, again.Children[0].Known)
	require.Equal(t, res.Children[0].DocID, again.Children[0].DocID)
	require.Equal(t, mirror.Scheduled, again.Children[0].State)

	in.Known = false
	dup, err := m.CreateChildren(ctx, in)
	require.NoError(t, err)
	require.True(t, dup.Children[1].Duplicate, "without Known, a child of this parent asked again is a duplicate")

	_, err = m.Store.UpsertDefinition(ctx, docstore.Definition{ProcessID: "taken", Name: "Another root"})
	require.NoError(t, err)
	other, err := m.CreateChildren(ctx, activitydef.CreateChildrenInput{ParentDocID: id.Hex(), FirstOrder: 2, Children: []activitydef.ChildSpec{{ProcessID: "taken", Name: "Taken"}}})
	require.NoError(t, err)
	require.True(t, other.Children[0].Duplicate, "a processId of another process is a duplicate")

	// A batch with taken processIds amid new ones: the new ones are
	// inserted, numbered on without gaps, around them.
	mixed, err := m.CreateChildren(ctx, activitydef.CreateChildrenInput{ParentDocID: id.Hex(), FirstOrder: 2, Known: true, Children: []activitydef.ChildSpec{
		{ProcessID: "n1", Name: "New 1"}, {ProcessID: "taken", Name: "Taken"}, {ProcessID: "n2", Name: "New 2"},
		{ProcessID: "c2", Name: "Child 2"}, {ProcessID: "n3", Name: "New 3"},
	}})
	require.NoError(t, err)
	require.Len(t, mixed.Children, 5)
	require.True(t, mixed.Children[1].Duplicate)
	require.True(t, mixed.Children[3].Known)
	require.Equal(t, res.Children[1].DocID, mixed.Children[3].DocID)
	for i, want := range map[int]int{0: 2, 2: 3, 4: 4} {
		c := mixed.Children[i]
		require.False(t, c.Duplicate || c.Known, "child %d", i)
		require.Equal(t, want, c.Order, "child %d", i)
		oid, err := bson.ObjectIDFromHex(c.DocID)
		require.NoError(t, err)
		child, err := m.Store.Get(ctx, oid)
		require.NoError(t, err)
		require.Equal(t, want, child.Order, "child %d", i)
		require.Equal(t, id, *child.ParentID)
	}

	// A call interrupted between its insert and its log write: the retry
	// keeps the insert and logs it, although the parent's log already says
	// "Spawned child: Child 1" of c1, before it.
	time.Sleep(10 * time.Millisecond) // past c1's entry's millisecond
	parent, err := m.Store.Get(ctx, id)
	require.NoError(t, err)
	landed, err := m.Store.InsertMarkedChildren(ctx, parent, 5, []docstore.Child{{ProcessID: "i1", Name: "Child 1", State: mirror.Scheduled}})
	require.NoError(t, err)
	require.NotNil(t, landed[0].Doc)
	interrupted, err := m.CreateChildren(ctx, activitydef.CreateChildrenInput{ParentDocID: id.Hex(), FirstOrder: 5, Children: []activitydef.ChildSpec{{ProcessID: "i1", Name: "Child 1"}}})
	require.NoError(t, err)
	require.Equal(t, activitydef.CreatedChild{DocID: landed[0].Doc.ID.Hex(), Order: 5}, interrupted.Children[0])
	require.Equal(t, 2, spawned("Child 1"), "the interrupted call's child is logged")
}

// StartRun run again for a launch whose document it started already
// reports Lost when no body of the run is on this worker (the first
// workflow task died with its worker and inline body), not when one is
// (the task is retried here). A launch whose document was claimed again
// since, by a later launch, starts nothing and is not reported lost.
func TestMirrorStartRunAgainReportsALostFirstTask(t *testing.T) {
	m, id := newMirror(t)
	p, err := m.Store.Get(context.Background(), id)
	require.NoError(t, err)
	var here bool
	m.BodyHere = func(workflowID, runID string) bool { return here }
	in := activitydef.StartRunInput{DocID: id.Hex(), ClaimStamp: docstore.ClaimStamp(p), ReportLost: true}
	start := func() activitydef.StartRunResult {
		t.Helper()
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestActivityEnvironment()
		val, err := env.ExecuteLocalActivity(m.StartRun, in)
		require.NoError(t, err)
		var res activitydef.StartRunResult
		require.NoError(t, val.Get(&res))
		return res
	}
	first := start()
	require.True(t, first.Started)
	require.False(t, first.Lost, "the first start")

	here = true
	again := start()
	require.True(t, again.Started)
	require.False(t, again.Lost, "retried where the body runs")

	here = false
	again = start()
	require.True(t, again.Started)
	require.True(t, again.Lost, "retried on a worker without the body")

	// The run ends, and a later launch claims the document again.
	_, err = m.Store.Complete(context.Background(), id, first.RunningSince)
	require.NoError(t, err)
	_, err = m.Store.Claim(context.Background(), id)
	require.NoError(t, err)
	stale := start()
	require.False(t, stale.Started, "the later launch's document is not started by the earlier run")
	require.False(t, stale.Lost)
	require.Equal(t, mirror.Scheduled, stateOf(t, m, id))
}
