package optiotest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/adapter/optiotest"
)

// steps reports ten steps and stops, with what it was told to return, as
// soon as ShouldContinue turns false.
func steps(onStop func(pc *adapter.ProcessContext) error) adapter.TaskFunc {
	return func(pc *adapter.ProcessContext) error {
		for i := 1; i <= 10; i++ {
			if !pc.ShouldContinue() {
				return onStop(pc)
			}
			pc.ReportProgress(float64(i*10), fmt.Sprintf("Step %d", i))
		}
		return nil
	}
}

func atStep(n int) func(string, optiotest.Report) bool {
	return func(_ string, r optiotest.Report) bool { return r.Message == fmt.Sprintf("Step %d", n) }
}

func TestCancelWhenStopsTheBodyAtThatReport(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stop  func(pc *adapter.ProcessContext) error
		state adapter.State
	}{
		{"returning nil ends cancelled", func(*adapter.ProcessContext) error { return nil }, adapter.StateCancelled},
		{"returning ctx.Err() ends cancelled", func(pc *adapter.ProcessContext) error { return pc.Context().Err() }, adapter.StateCancelled},
		{"returning another error ends failed", func(*adapter.ProcessContext) error { return errBroken }, adapter.StateFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := optiotest.Run(context.Background(), steps(tc.stop), optiotest.Options{CancelWhen: atStep(3)})
			require.NoError(t, err)
			require.Equal(t, tc.state, res.State)
			require.Equal(t, []string{"Step 1", "Step 2", "Step 3"}, res.Messages(), "stopped at the next ShouldContinue")
		})
	}
}

func TestCancelCauseIsACancelRequest(t *testing.T) {
	var cause error
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(50, "half")
		<-pc.Context().Done()
		cause = context.Cause(pc.Context())
		return pc.Context().Err()
	}, optiotest.Options{CancelWhen: func(string, optiotest.Report) bool { return true }})
	require.NoError(t, err)
	require.Equal(t, adapter.StateCancelled, res.State)
	require.ErrorIs(t, cause, activities.ErrCancelRequested)
}

func TestCancellingRunsContextCancelsTheProcess(t *testing.T) {
	// A deadline too: the body's Context ends as a cancel request ends it
	// (context.Canceled), so returning its Err ends the process cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	started := time.Now()
	res, err := optiotest.Run(ctx, func(pc *adapter.ProcessContext) error {
		<-pc.Context().Done()
		return pc.Context().Err()
	}, optiotest.Options{})
	require.NoError(t, err)
	require.Equal(t, adapter.StateCancelled, res.State)
	require.ErrorIs(t, res.Err, context.Canceled)
	require.Less(t, time.Since(started), 10*time.Second)
}

func TestCancelWhenSeesChildrenReports(t *testing.T) {
	var seen []string
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(0, "parent starts")
		_, err := pc.RunChild(adapter.ChildSpec{
			Execute:   steps(func(*adapter.ProcessContext) error { return nil }),
			ProcessID: "p/child", Name: "Child",
		})
		return err
	}, optiotest.Options{ProcessID: "p", CancelWhen: func(id string, r optiotest.Report) bool {
		seen = append(seen, id+": "+r.Message)
		return id == "p/child" && r.Message == "Step 2"
	}})
	require.NoError(t, err)
	require.Equal(t, adapter.StateCancelled, res.State, "the parent returned its child's cancellation: %v", res.Err)
	require.Equal(t, []string{"p: parent starts", "p/child: Step 1", "p/child: Step 2"}, seen)
	child := res.Child("p/child")
	require.NotNil(t, child)
	require.Equal(t, adapter.StateCancelled, child.State)
	require.Equal(t, []string{"Step 1", "Step 2"}, child.Messages())
}
