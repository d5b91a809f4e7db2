package tests

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/adapter"
)

// nestedBody runs a child that runs a grandchild, so that a session has to
// travel two levels down.
func nestedBody(pc *adapter.ProcessContext) error {
	_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "nest/child", Name: "Child", Execute: func(c *adapter.ProcessContext) error {
		_, err := c.RunChild(adapter.ChildSpec{ProcessID: "nest/child/grandchild", Name: "Grandchild", Execute: rpcQuickBody})
		return err
	}})
	return err
}

// The sessionId of a launch is written as originatingSessionId at the start
// of the run, on the root and on every child (a child takes its parent's
// value), null when the launch gave none; optio-api finds a session's
// processes with {originatingSessionId: <session>}. The launch's reply
// carries null there, as optio-core's payload does, and a process that has
// never run has no such key.
func TestLaunchSessionID(t *testing.T) {
	t.Parallel()
	tasks := &rpcTasks{}
	tasks.extra.Store(&[]adapter.TaskInstance{{ProcessID: "nest", Name: "Nest", Execute: nestedBody}})
	h := newRPCHarness(t, rpcHarnessOptions{tasks: tasks})
	procs := h.env.Mongo.DB.Collection("optio_processes")
	raw := func(id string) bson.Raw {
		t.Helper()
		r, err := procs.FindOne(h.ctx, bson.D{{Key: "processId", Value: id}}).Raw()
		require.NoError(t, err, id)
		return r
	}
	// sessionOf is the stored value: a string, nil for null, or "absent".
	sessionOf := func(id string) any {
		t.Helper()
		v, err := raw(id).LookupErr("originatingSessionId")
		switch {
		case err != nil:
			return "absent"
		case v.Type == bson.TypeNull:
			return nil
		}
		return v.StringValue()
	}
	// ofSession is what optio-api's session-events poller reads.
	ofSession := func(session string) []string {
		t.Helper()
		cur, err := procs.Find(h.ctx, bson.D{{Key: "originatingSessionId", Value: session}})
		require.NoError(t, err)
		var docs []adapter.Process
		require.NoError(t, cur.All(h.ctx, &docs))
		var ids []string
		for _, d := range docs {
			ids = append(ids, d.ProcessID)
		}
		slices.Sort(ids)
		return ids
	}

	assert.Equal(t, "absent", sessionOf("tree"), "no run yet")

	// Over RPC, as the dashboard launches through optio-api.
	p := rpcProcessOf(t, h.call("launch", map[string]any{"processId": "tree", "resume": false, "sessionId": "sess-1"}))
	assert.Contains(t, p, "originatingSessionId")
	assert.Nil(t, p["originatingSessionId"], "optio-core's payload leaves it out")
	h.waitState("tree/a", adapter.StateRunning)
	h.waitState("tree/b", adapter.StateRunning)
	for _, id := range []string{"tree", "tree/a", "tree/b"} {
		assert.Equal(t, "sess-1", sessionOf(id), id)
	}
	assert.Equal(t, []string{"tree", "tree/a", "tree/b"}, ofSession("sess-1"))
	assert.Equal(t, "sess-1", *h.get("tree/a").OriginatingSessionID)
	rpcProcessOf(t, h.call("cancel", map[string]any{"processId": "tree"}))
	h.waitState("tree", adapter.StateCancelled)
	assert.Equal(t, "sess-1", sessionOf("tree"), "kept after the run")

	// A launch without a session (explicit null) writes null on the new run
	// and its children.
	rpcProcessOf(t, h.call("launch", launchArgs("tree")))
	h.waitState("tree/a", adapter.StateRunning)
	h.waitState("tree/b", adapter.StateRunning)
	for _, id := range []string{"tree", "tree/a", "tree/b"} {
		assert.Nil(t, sessionOf(id), id)
	}
	assert.Empty(t, ofSession("sess-1"))
	rpcProcessOf(t, h.call("cancel", map[string]any{"processId": "tree"}))
	h.waitState("tree", adapter.StateCancelled)

	// Two levels of children, launched as a Python client sends it.
	rpcProcessOf(t, h.call("launch", map[string]any{"processId": "nest", "resume": nil, "sessionId": "sess-2"}))
	h.waitState("nest", adapter.StateDone)
	assert.Equal(t, []string{"nest", "nest/child", "nest/child/grandchild"}, ofSession("sess-2"))

	// Through the Go API: a launch option.
	out, err := h.eng.Launch(h.ctx, "quick", adapter.WithSessionID("go-session"))
	require.NoError(t, err)
	require.True(t, out.OK, out.Reason)
	assert.Equal(t, "go-session", *out.Process.OriginatingSessionID)
	h.waitState("quick", adapter.StateDone)
	assert.Equal(t, "go-session", sessionOf("quick"))
	done, err := h.eng.LaunchAndWait(h.ctx, "nest", adapter.WithSessionID("go-wait"))
	require.NoError(t, err)
	assert.Equal(t, "go-wait", *done.OriginatingSessionID)
	assert.Equal(t, []string{"nest", "nest/child", "nest/child/grandchild"}, ofSession("go-wait"))
	done, err = h.eng.LaunchAndWait(h.ctx, "nest")
	require.NoError(t, err)
	assert.Nil(t, done.OriginatingSessionID)
	assert.Nil(t, sessionOf("nest/child/grandchild"))

	// Dismiss leaves it, as optio-core does.
	rpcProcessOf(t, h.call("dismiss", map[string]any{"processId": "quick"}))
	assert.Equal(t, "go-session", sessionOf("quick"))
	assert.Equal(t, "absent", sessionOf("idle"), "never launched")
}
