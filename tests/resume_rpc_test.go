package tests

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/demo"
)

// TestResumeOverRPC drives resume through the optio-engine service, as
// optio's dashboard does: demo-resumable cancelled mid-run is resumed with
// launch {resume: true}, continues from its checkpoint and ends done; a
// process without SupportsResume is refused with no-resume-support and an
// unknown one with not-found, and neither refusal writes anything.
func TestResumeOverRPC(t *testing.T) {
	t.Parallel()
	tasks := &rpcTasks{}
	tasks.extra.Store(&[]adapter.TaskInstance{resumableDemo(resumeStepMillis)})
	h := newRPCHarness(t, rpcHarnessOptions{tasks: tasks})
	id := demo.ResumableID
	resume := func(id string) map[string]any {
		return map[string]any{"processId": id, "resume": true, "sessionId": nil}
	}

	t.Run("refusals write nothing", func(t *testing.T) {
		before := h.snapshot()
		beforeCheckpoints := readCollection(t, h.env.Mongo.DB.Collection("optio_checkpoints"))
		requireRPCReason(t, h.call("launch", resume("quick")), adapter.ReasonNoResumeSupport)
		requireRPCReason(t, h.call("launch", resume("no-such-process")), adapter.ReasonNotFound)
		require.Equal(t, before, h.snapshot())
		require.Equal(t, beforeCheckpoints, readCollection(t, h.env.Mongo.DB.Collection("optio_checkpoints")))
	})

	t.Run("cancel mid-run, resume, done", func(t *testing.T) {
		launched := rpcProcessOf(t, h.call("launch", launchArgs(id)))
		require.Equal(t, true, launched["supportsResume"])
		var saved int
		eventually(t, "a checkpoint past step 6", func() bool {
			saved = savedStep(t, h.env.Mongo.DB, "optio", h.get(id).ID)
			return saved >= 6
		})
		rpcProcessOf(t, h.call("cancel", map[string]any{"processId": id}))
		p := h.waitState(id, adapter.StateCancelled, adapter.StateDone, adapter.StateFailed)
		require.Equal(t, adapter.StateCancelled, p.Status.State, "log:\n%s", formatLog(p))
		require.True(t, *p.HasSavedState, "the cancelled run keeps its saved state")
		saved = savedStep(t, h.env.Mongo.DB, "optio", p.ID) // the final write, at the cancel
		stepsBefore := 0
		for j := 1; j <= resumeSteps; j++ {
			if findLog(p, "info", stepMessage(j)) >= 0 {
				stepsBefore = j
			}
		}
		require.Equal(t, saved, stepsBefore, "the checkpoint is the last step done")

		res := rpcProcessOf(t, h.call("launch", resume(id)))
		require.Equal(t, true, res["hasSavedState"])
		p = h.waitState(id, adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
		require.Equal(t, adapter.StateDone, p.Status.State, "log:\n%s", formatLog(p))
		// The resumed run's log starts afresh (a launch resets it): the
		// Resumed entry first, then the remaining steps only.
		require.Equal(t, []string{
			"event: State changed to scheduled",
			"event: State changed to running",
			"info: Resumed (resumed): continuing from step " + itoa(saved+1) + "/40",
		}, logLines(p)[:3])
		for j := 1; j <= resumeSteps; j++ {
			if j <= saved {
				require.Equal(t, -1, findLog(p, "info", stepMessage(j)), "step %d repeated; log:\n%s", j, formatLog(p))
			} else {
				require.GreaterOrEqual(t, findLog(p, "info", stepMessage(j)), 0, "step %d missing; log:\n%s", j, formatLog(p))
			}
		}
		t.Logf("cancelled after step %d; the resume ran steps %d to 40", saved, saved+1)
	})
}

func stepMessage(j int) string { return "Step " + itoa(j) + "/40" }

func itoa(n int) string { return strconv.Itoa(n) }
