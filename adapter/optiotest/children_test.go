package optiotest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/adapter/optiotest"
)

func succeed(pc *adapter.ProcessContext) error {
	pc.ReportProgress(100, "done "+pc.ProcessID())
	return nil
}

func fail(*adapter.ProcessContext) error { return errBroken }

// waitForCancel blocks until its process is cancelled.
func waitForCancel(pc *adapter.ProcessContext) error {
	<-pc.Context().Done()
	return pc.Context().Err()
}

func TestRunChildRunsTheChildInProcess(t *testing.T) {
	var childParams, childMeta map[string]any
	var childServices map[string]any
	grandchild := func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(100, "leaf")
		return nil
	}
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		state, err := pc.RunChild(adapter.ChildSpec{
			ProcessID: "p/child", Name: "Child", Params: map[string]any{"n": 1},
			Execute: func(c *adapter.ProcessContext) error {
				childParams, childMeta, childServices = c.Params(), c.Metadata(), c.Services()
				_, err := c.RunChild(adapter.ChildSpec{Execute: grandchild, ProcessID: "p/child/leaf", Name: "Leaf"})
				return err
			},
		})
		pc.ReportProgress(100, fmt.Sprintf("child ended %s", state))
		return err
	}, optiotest.Options{ProcessID: "p", Metadata: map[string]any{"team": "a"}, Services: map[string]any{"db": "x"}})
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, res.State, "%v", res.Err)
	require.Equal(t, map[string]any{"n": 1}, childParams, "the child's own params")
	require.Equal(t, map[string]any{"team": "a"}, childMeta, "the parent's metadata")
	require.Equal(t, map[string]any{"db": "x"}, childServices)
	require.Equal(t, []optiotest.LogEntry{
		{Level: optiotest.LevelEvent, Message: "Spawned child: Child"},
		{Level: optiotest.LevelInfo, Message: "child ended done"},
	}, res.Log)
	require.Len(t, res.Children, 1)
	child := res.Children[0]
	require.Equal(t, "p/child", child.ProcessID)
	require.Equal(t, "Child", child.Name)
	require.Equal(t, adapter.StateDone, child.State)
	leaf := res.Child("p/child/leaf")
	require.NotNil(t, leaf)
	require.Same(t, child.Children[0], leaf)
	require.Equal(t, []string{"leaf"}, leaf.Messages())
	require.Nil(t, res.Child("p/nope"))
}

func TestRunChildReturnsTheChildsEndAsTheEngineDoes(t *testing.T) {
	cancelChild := func(_ string, r optiotest.Report) bool { return r.Message == "cancel me" }
	cancelled := func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(10, "cancel me")
		return waitForCancel(pc)
	}
	for _, tc := range []struct {
		name        string
		spec        adapter.ChildSpec
		state       adapter.State
		errText     string
		parentState adapter.State
	}{
		{"done", adapter.ChildSpec{Execute: succeed}, adapter.StateDone, "", adapter.StateDone},
		{"failed", adapter.ChildSpec{Execute: fail}, adapter.StateFailed,
			"Child 'Child' (process_id=p/c) failed: the source is broken", adapter.StateFailed},
		{"failed, survived", adapter.ChildSpec{Execute: fail, SurviveFailure: true}, adapter.StateFailed, "", adapter.StateDone},
		// A cancelled child's error matches context.Canceled, but a parent
		// that was not cancelled itself fails when it returns it.
		{"cancelled", adapter.ChildSpec{Execute: cancelled}, adapter.StateCancelled,
			"Child 'Child' (process_id=p/c) was cancelled", adapter.StateFailed},
		{"cancelled, survived", adapter.ChildSpec{Execute: cancelled, SurviveCancel: true}, adapter.StateCancelled, "", adapter.StateDone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			spec.ProcessID, spec.Name = "p/c", "Child"
			var state adapter.State
			var childErr error
			res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
				state, childErr = pc.RunChild(spec)
				return childErr
			}, optiotest.Options{ProcessID: "p", CancelChildWhen: cancelChild})
			require.NoError(t, err)
			require.Equal(t, tc.state, state)
			require.Equal(t, tc.state, res.Child("p/c").State)
			require.Equal(t, tc.parentState, res.State)
			if tc.errText == "" {
				require.NoError(t, childErr)
				return
			}
			var ce *adapter.ChildError
			require.ErrorAs(t, childErr, &ce)
			require.Equal(t, tc.errText, ce.Error())
			require.Equal(t, tc.errText, res.Err.Error(), "the parent's status.error")
		})
	}
}

func TestChildSpawnsRefusedAsOnTheEngine(t *testing.T) {
	t.Run("bad spec", func(t *testing.T) {
		var errs []error
		res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
			_, e1 := pc.RunChild(adapter.ChildSpec{ProcessID: "p/c", Name: "No body"})
			_, e2 := pc.RunChild(adapter.ChildSpec{Execute: succeed, Name: "No ID"})
			errs = append(errs, e1, e2)
			return nil
		}, optiotest.Options{ProcessID: "p"})
		require.NoError(t, err)
		for _, e := range errs {
			require.ErrorIs(t, e, adapter.ErrInvalidInput)
		}
		require.Empty(t, res.Children)
	})
	t.Run("process id taken", func(t *testing.T) {
		var dupOfRoot, dupOfChild error
		res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
			_, dupOfRoot = pc.RunChild(adapter.ChildSpec{Execute: succeed, ProcessID: "p", Name: "Me again"})
			if _, err := pc.RunChild(adapter.ChildSpec{Execute: succeed, ProcessID: "p/c", Name: "C"}); err != nil {
				return err
			}
			_, dupOfChild = pc.RunChild(adapter.ChildSpec{Execute: succeed, ProcessID: "p/c", Name: "C again"})
			return nil
		}, optiotest.Options{ProcessID: "p"})
		require.NoError(t, err)
		require.ErrorIs(t, dupOfRoot, adapter.ErrInvalidInput)
		require.ErrorIs(t, dupOfChild, adapter.ErrInvalidInput)
		require.Len(t, res.Children, 1)
	})
	t.Run("after a cancel", func(t *testing.T) {
		var spawnErr error
		res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
			pc.ReportProgress(0, "go")
			_, spawnErr = pc.RunChild(adapter.ChildSpec{Execute: succeed, ProcessID: "p/late", Name: "Late"})
			return spawnErr
		}, optiotest.Options{ProcessID: "p", CancelWhen: func(string, optiotest.Report) bool { return true }})
		require.NoError(t, err)
		require.ErrorIs(t, spawnErr, adapter.ErrParentCancelled)
		require.ErrorIs(t, spawnErr, context.Canceled)
		require.Equal(t, adapter.StateCancelled, res.State)
		require.Empty(t, res.Children)
		require.Equal(t, optiotest.LogEntry{
			Level:   optiotest.LevelEvent,
			Message: "Refused to spawn child 'Late' (process_id=p/late): parent already cancelled",
		}, res.Log[len(res.Log)-1])
	})
}

func TestParallelGroupFailureCancelsSiblings(t *testing.T) {
	// The failing item fails once both blockers run, so that the group
	// cancels them.
	var running sync.WaitGroup
	running.Add(2)
	blocker := func(pc *adapter.ProcessContext) error {
		running.Done()
		return waitForCancel(pc)
	}
	failsLater := func(*adapter.ProcessContext) error {
		running.Wait()
		return errBroken
	}
	var results []adapter.ChildResult
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 3})
		for i, body := range []adapter.TaskFunc{blocker, blocker, failsLater} {
			if err := g.Spawn(adapter.ChildSpec{Execute: body, ProcessID: fmt.Sprintf("p/%d", i), Name: fmt.Sprintf("Item %d", i)}); err != nil {
				return err
			}
		}
		var err error
		results, err = g.Wait()
		return err
	}, optiotest.Options{ProcessID: "p"})
	require.NoError(t, err)
	require.Equal(t, adapter.StateFailed, res.State)
	var ge *adapter.GroupError
	require.ErrorAs(t, res.Err, &ge)
	require.Len(t, ge.Children, 3)
	require.Equal(t, []adapter.ChildResult{
		{ProcessID: "p/0", Name: "Item 0", State: adapter.StateCancelled, Error: "Child cancelled"},
		{ProcessID: "p/1", Name: "Item 1", State: adapter.StateCancelled, Error: "Child cancelled"},
		{ProcessID: "p/2", Name: "Item 2", State: adapter.StateFailed, Error: "the source is broken"},
	}, results)
	for _, id := range []string{"p/0", "p/1"} {
		require.Equal(t, adapter.StateCancelled, res.Child(id).State, id)
	}
}

func TestParallelGroupSurvivesFailureAndReportsAverageProgress(t *testing.T) {
	var results []adapter.ChildResult
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 2, SurviveFailure: true, OnChildProgress: adapter.AverageProgress(pc)})
		for i := range 4 {
			body := succeed
			if i == 2 {
				body = fail
			}
			if err := g.Spawn(adapter.ChildSpec{Execute: body, ProcessID: fmt.Sprintf("p/%d", i), Name: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		var err error
		results, err = g.Wait()
		return err
	}, optiotest.Options{ProcessID: "p"})
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, res.State, "%v", res.Err)
	require.Len(t, results, 4)
	require.Equal(t, adapter.StateFailed, results[2].State)
	require.Equal(t, "the source is broken", results[2].Error)
	require.Len(t, res.Children, 4)
	// The callback fires at once when a child ends: the last one leaves
	// the parent at 100%.
	require.NotEmpty(t, res.Progress)
	require.Equal(t, 100.0, res.Progress[len(res.Progress)-1].Percent)
}

func TestParentCancelReachesChildrenAndEndsCancelled(t *testing.T) {
	var running sync.WaitGroup
	running.Add(2)
	blocker := func(pc *adapter.ProcessContext) error {
		running.Done()
		return waitForCancel(pc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { running.Wait(); cancel() }()
	var spawnErr error
	res, err := optiotest.Run(ctx, func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 2})
		for i := 0; spawnErr == nil; i++ {
			spawnErr = g.Spawn(adapter.ChildSpec{Execute: blocker, ProcessID: fmt.Sprintf("p/%d", i), Name: fmt.Sprint(i)})
		}
		_, err := g.Wait()
		return errors.Join(spawnErr, err)
	}, optiotest.Options{ProcessID: "p"})
	require.NoError(t, err)
	require.ErrorIs(t, spawnErr, adapter.ErrParentCancelled)
	require.Equal(t, adapter.StateCancelled, res.State, "%v", res.Err)
	require.Len(t, res.Children, 2)
	for _, c := range res.Children {
		require.Equal(t, adapter.StateCancelled, c.State, c.ProcessID)
	}
}

func TestFailedParentCancelsChildrenItDidNotWaitFor(t *testing.T) {
	started := make(chan struct{})
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{})
		if err := g.Spawn(adapter.ChildSpec{ProcessID: "p/c", Name: "C", Execute: func(c *adapter.ProcessContext) error {
			close(started)
			return waitForCancel(c)
		}}); err != nil {
			return err
		}
		<-started
		return errBroken // without Wait
	}, optiotest.Options{ProcessID: "p"})
	require.NoError(t, err)
	require.Equal(t, adapter.StateFailed, res.State)
	require.Equal(t, adapter.StateCancelled, res.Child("p/c").State)
}

func TestSequentialProgressFollowsTheChildren(t *testing.T) {
	phase := func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(50, "")
		pc.ReportProgress(100, "")
		return nil
	}
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		progress := adapter.SequentialProgress(pc, 2)
		for i := 1; i <= 2; i++ {
			if _, err := pc.RunChild(adapter.ChildSpec{Execute: phase, ProcessID: fmt.Sprintf("p/%d", i), Name: fmt.Sprint(i), OnChildProgress: progress}); err != nil {
				return err
			}
		}
		return nil
	}, optiotest.Options{ProcessID: "p"})
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, res.State)
	var last float64
	for _, r := range res.Progress {
		require.GreaterOrEqual(t, r.Percent, last, "%v", res.Progress)
		last = r.Percent
	}
	require.Equal(t, 100.0, last)
	require.Contains(t, res.Progress, optiotest.Report{Percent: 50}, "the first phase's end fills its half")
}

func TestBodyReturningWithoutWaitWaitsForItsChildren(t *testing.T) {
	spawnAndReturn := func(child adapter.TaskFunc) adapter.TaskFunc {
		return func(pc *adapter.ProcessContext) error {
			g := pc.ParallelGroup(adapter.GroupOptions{})
			for i := range 2 {
				if err := g.Spawn(adapter.ChildSpec{Execute: child, ProcessID: fmt.Sprintf("p/%d", i), Name: fmt.Sprint(i)}); err != nil {
					return err
				}
			}
			return nil // without Wait
		}
	}
	t.Run("done", func(t *testing.T) {
		res, err := optiotest.Run(context.Background(), spawnAndReturn(succeed), optiotest.Options{ProcessID: "p"})
		require.NoError(t, err)
		require.Equal(t, adapter.StateDone, res.State, "%v", res.Err)
		for _, id := range []string{"p/0", "p/1"} {
			require.Equal(t, adapter.StateDone, res.Child(id).State, id)
		}
	})
	t.Run("a child fails", func(t *testing.T) {
		res, err := optiotest.Run(context.Background(), spawnAndReturn(fail), optiotest.Options{ProcessID: "p"})
		require.NoError(t, err)
		require.Equal(t, adapter.StateFailed, res.State)
		var ge *adapter.GroupError
		require.ErrorAs(t, res.Err, &ge)
	})
	t.Run("cancelled", func(t *testing.T) {
		var running sync.WaitGroup
		running.Add(2)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { running.Wait(); cancel() }()
		res, err := optiotest.Run(ctx, spawnAndReturn(func(pc *adapter.ProcessContext) error {
			running.Done()
			return waitForCancel(pc)
		}), optiotest.Options{ProcessID: "p"})
		require.NoError(t, err)
		require.Equal(t, adapter.StateCancelled, res.State, "%v", res.Err)
		for _, id := range []string{"p/0", "p/1"} {
			require.Equal(t, adapter.StateCancelled, res.Child(id).State, id)
		}
	})
}

func TestRunChildAfterTheBodyReturnedIsRefused(t *testing.T) {
	var pc *adapter.ProcessContext
	res, err := optiotest.Run(context.Background(), func(c *adapter.ProcessContext) error {
		pc = c
		return nil
	}, optiotest.Options{ProcessID: "p"})
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, res.State)
	_, err = pc.RunChild(adapter.ChildSpec{ProcessID: "p/late", Name: "Late", Execute: succeed})
	require.ErrorIs(t, err, adapter.ErrBodyReturned)
	g := pc.ParallelGroup(adapter.GroupOptions{})
	require.ErrorIs(t, g.Spawn(adapter.ChildSpec{ProcessID: "p/late", Name: "Late", Execute: succeed}), adapter.ErrBodyReturned)
}

// Spawns from other goroutines racing the group's Wait: each child is either
// refused with ErrGroupClosed or counted in Wait's results, never lost.
func TestSpawnRacingWaitIsRefusedOrWaitedFor(t *testing.T) {
	for range 20 {
		const n = 8
		errs := make([]error, n)
		var results []adapter.ChildResult
		res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
			g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 2})
			var spawning sync.WaitGroup
			for i := range n {
				spawning.Go(func() {
					errs[i] = g.Spawn(adapter.ChildSpec{Execute: succeed, ProcessID: fmt.Sprintf("p/%d", i), Name: fmt.Sprint(i)})
				})
			}
			var err error
			results, err = g.Wait()
			spawning.Wait()
			return err
		}, optiotest.Options{ProcessID: "p"})
		require.NoError(t, err)
		require.Equal(t, adapter.StateDone, res.State, "%v", res.Err)
		waited := map[string]adapter.State{}
		for _, r := range results {
			waited[r.ProcessID] = r.State
		}
		for i, err := range errs {
			id := fmt.Sprintf("p/%d", i)
			if err != nil {
				require.ErrorIs(t, err, adapter.ErrGroupClosed, id)
				require.NotContains(t, waited, id)
				continue
			}
			require.Equal(t, adapter.StateDone, waited[id], id)
		}
	}
}
