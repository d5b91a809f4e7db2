package tests

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// TestFiftyConcurrentLaunchesRunOnce: 50 concurrent Launch calls of one idle
// process: exactly one is OK, the other 49 get not-launchable, and the body
// runs exactly once. The body holds until every call has returned, so a
// quick finish cannot make a late call a legitimate relaunch.
func TestFiftyConcurrentLaunchesRunOnce(t *testing.T) {
	g := newGate(t)
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(adapter.TaskInstance{ProcessID: "once", Name: "Once", Execute: g.stubborn})})

	const n = 50
	outs := make([]adapter.Outcome, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			outs[i], errs[i] = s.eng.Launch(s.ctx(), "once")
		})
	}
	close(start)
	wg.Wait()

	ok, refused := 0, 0
	for i := range n {
		require.NoError(t, errs[i], "call %d", i)
		if outs[i].OK {
			ok++
			continue
		}
		require.Equal(t, adapter.ReasonNotLaunchable, outs[i].Reason, "call %d", i)
		refused++
	}
	require.Equal(t, 1, ok)
	require.Equal(t, n-1, refused)

	g.waitStarted(t)
	g.open()
	p := s.waitState("once", adapter.StateDone)
	require.EqualValues(t, 1, g.runs.Load(), "exactly one body execution")
	require.Equal(t, []string{"event: State changed to scheduled", "event: State changed to running", "event: State changed to done"}, logLines(p))
}
