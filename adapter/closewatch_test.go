package adapter

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
)

// awaitAsync runs c.await in a goroutine and returns a channel closed when
// it returns.
func awaitAsync(ctx context.Context, c *runCloses, runID string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.await(ctx, "wf-"+runID, runID)
	}()
	return done
}

// waitPending waits until the watch lists want (sorted).
func waitPending(t *testing.T, c *runCloses, want ...string) {
	t.Helper()
	require.Eventually(t, func() bool { return slices.Equal(c.pending(), want) }, 5*time.Second, time.Millisecond,
		"waiting for %v", want)
}

func requireOpen(t *testing.T, done <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-done:
		t.Fatal(why)
	case <-time.After(20 * time.Millisecond):
	}
}

const (
	runA = "0a1b2c3d-0000-4000-8000-00000000000a"
	runB = "0a1b2c3d-0000-4000-8000-00000000000b"
)

// A wait registers its run and returns when that run, and only that run, is
// released; the waits for one run share one entry.
func TestRunClosesReleaseTheWaitsOfTheirRun(t *testing.T) {
	var c runCloses
	c.start(time.Minute)
	a1, a2 := awaitAsync(t.Context(), &c, runA), awaitAsync(t.Context(), &c, runA)
	b := awaitAsync(t.Context(), &c, runB)
	waitPending(t, &c, runA, runB)
	c.release(runA)
	<-a1
	<-a2
	requireOpen(t, b, "released with another run")
	require.Equal(t, []string{runB}, c.pending())
	c.stop()
	<-b
	require.Empty(t, c.pending(), "a stopped watch keeps no waits")
}

// A wait whose context ends leaves the watch: its run is no longer asked
// for once no other wait wants it.
func TestRunClosesForgetAWaitThatGaveUp(t *testing.T) {
	var c runCloses
	c.start(time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	gone := awaitAsync(ctx, &c, runA)
	stays := awaitAsync(t.Context(), &c, runA)
	waitPending(t, &c, runA)
	cancel()
	<-gone
	requireOpen(t, stays, "the other wait for the run returned too")
	require.Equal(t, []string{runA}, c.pending(), "a run still waited for was dropped")
	c.release(runA)
	<-stays
	require.Empty(t, c.pending())
}

// A run is due for a description once it has been waited for firstCheck,
// then after twice the last gap each time, up to runCloseCheckMaxFactor
// times firstCheck; the longest due go first, at most n a call, each with
// the workflow ID its wait gave.
func TestRunClosesDescribeLongWaitsLessAndLessOften(t *testing.T) {
	var c runCloses
	c.start(time.Minute)
	defer c.stop()
	a := awaitAsync(t.Context(), &c, runA)
	waitPending(t, &c, runA)
	time.Sleep(5 * time.Millisecond)
	b := awaitAsync(t.Context(), &c, runB)
	waitPending(t, &c, runA, runB)
	now := time.Now()
	require.Empty(t, c.due(now, 10), "a run registered just now is due")
	now = now.Add(time.Minute)
	require.Equal(t, []closeCheck{{wfID: "wf-" + runA, runID: runA}}, c.due(now, 1), "not the longest waiting run first")
	require.Equal(t, []closeCheck{{wfID: "wf-" + runB, runID: runB}}, c.due(now, 10))
	require.Empty(t, c.due(now, 10), "a run just described is due again")
	// Gaps of 2, 4, 8, 16, then 20 minutes, 20 again.
	for _, gap := range []time.Duration{2, 4, 8, 16, 20, 20} {
		require.Empty(t, c.due(now.Add(gap*time.Minute-time.Second), 10), "due before a gap of %d min", gap)
		now = now.Add(gap * time.Minute)
		require.Len(t, c.due(now, 10), 2, "not due after a gap of %d min", gap)
	}
	requireOpen(t, a, "a description released its run")
	requireOpen(t, b, "a description released its run")
}

// With the watch off, or for what is no run ID (empty: a workflow's current
// run; anything a query could not name as it is), await returns at once and
// the wait polls its run itself.
func TestRunClosesLeaveToThePollWhatTheyCannotWatch(t *testing.T) {
	var off runCloses
	off.await(t.Context(), "wf", runA)
	var c runCloses
	c.start(time.Minute)
	for _, id := range []string{"", "run' OR RunId != '", "x"} {
		c.await(t.Context(), "wf", id)
	}
	require.Empty(t, c.pending())
	c.stop()
	c.await(t.Context(), "wf", runA) // off again
}

// The query names each run and asks for those no longer running.
func TestClosedRunsQuery(t *testing.T) {
	require.Equal(t, "RunId IN ('"+runA+"', '"+runB+"') AND ExecutionStatus != 'Running'", closedRunsQuery([]string{runA, runB}))
}

// A query the server will never answer releases its waits to poll; one it
// is too busy for now is asked again at the next pass.
func TestRunClosesGiveUpOnlyOnARefusalForGood(t *testing.T) {
	for _, err := range []error{
		serviceerror.NewInvalidArgument("invalid query"),
		fmt.Errorf("list: %w", serviceerror.NewPermissionDenied("no", "")),
		serviceerror.NewUnimplemented("no visibility"),
	} {
		require.True(t, refusedForGood(err), "%v", err)
	}
	for _, err := range []error{
		serviceerror.NewResourceExhausted(enumspb.RESOURCE_EXHAUSTED_CAUSE_RPS_LIMIT, "slow down"),
		serviceerror.NewUnavailable("restarting"),
		context.DeadlineExceeded,
	} {
		require.False(t, refusedForGood(err), "%v", err)
	}
}
