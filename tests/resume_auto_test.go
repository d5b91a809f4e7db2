package tests

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/demo"
)

// TestAutoResumeAfterEngineRestart: an engine shuts down while
// demo-resumable (AutoResume) runs on it. The process ends cancelled,
// marked autoResumeScheduled with optio-core's log entry; the next engine
// to start resumes it by itself, from its checkpoint, says so in the log,
// and the process ends done with the mark cleared.
func TestAutoResumeAfterEngineRestart(t *testing.T) {
	t.Parallel()
	defs := staticTasks(resumableDemo(resumeStepMillis))
	s := newSystem(t, adapter.Config{TaskDefinitions: defs})
	id := demo.ResumableID
	require.True(t, s.launch(id).OK)
	var saved int
	eventually(t, "a checkpoint past step 5", func() bool {
		saved = savedStep(t, s.env.Mongo.DB, "optio", s.get(id).ID)
		return saved >= 5
	})
	require.NoError(t, s.eng.Shutdown(s.ctx()))

	p := s.get(id)
	require.Equal(t, adapter.StateCancelled, p.Status.State, "log:\n%s", formatLog(p))
	require.True(t, *p.AutoResumeScheduled)
	require.GreaterOrEqual(t, findLog(p, "event", "Scheduled for auto-resume after restart"), 0, "log:\n%s", formatLog(p))
	saved = savedStep(t, s.env.Mongo.DB, "optio", p.ID)

	s.startEngine(adapter.Config{TaskDefinitions: defs})
	p = s.waitState(id, adapter.StateDone, adapter.StateFailed)
	require.Equal(t, adapter.StateDone, p.Status.State, "log:\n%s", formatLog(p))
	require.False(t, *p.AutoResumeScheduled)
	require.Equal(t, []string{
		"event: State changed to scheduled",
		"event: Resumed automatically after an engine restart",
		"event: State changed to running",
		"info: Resumed (resumed): continuing from step " + itoa(saved+1) + "/40",
	}, logLines(p)[:4])
	require.Equal(t, -1, findLog(p, "info", stepMessage(saved)), "step %d repeated; log:\n%s", saved, formatLog(p))
	require.GreaterOrEqual(t, findLog(p, "info", stepMessage(resumeSteps)), 0)
}

// TestAutoResumeRequiresSupportsResume: a definition with AutoResume but not
// SupportsResume is a definition error, from the generator and from
// AdhocDefine, and nothing is written.
func TestAutoResumeRequiresSupportsResume(t *testing.T) {
	t.Parallel()
	bad := adapter.TaskInstance{ProcessID: "bad", Name: "Bad", Execute: quick, AutoResume: true}
	s := newSystem(t, adapter.Config{})
	_, err := s.newEngine(adapter.Config{Prefix: "other", TaskDefinitions: staticTasks(bad)})
	require.ErrorIs(t, err, adapter.ErrInvalidInput)
	require.ErrorContains(t, err, `task "bad": AutoResume requires SupportsResume`)
	n, err := s.env.Mongo.DB.Collection("other_processes").CountDocuments(context.Background(), bson.D{})
	require.NoError(t, err)
	require.Zero(t, n)

	_, err = s.eng.AdhocDefine(s.ctx(), bad, adapter.AdhocOptions{})
	require.ErrorIs(t, err, adapter.ErrInvalidInput)
	require.Zero(t, s.count())

	bad.SupportsResume = true
	p, err := s.eng.AdhocDefine(s.ctx(), bad, adapter.AdhocOptions{})
	require.NoError(t, err)
	require.True(t, *p.SupportsResume)
}
