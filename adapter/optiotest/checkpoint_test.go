package optiotest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/adapter/optiotest"
)

type position struct {
	Next int `json:"next"`
}

// countTo10 continues from its checkpoint and saves one after every step.
func countTo10(pc *adapter.ProcessContext) error {
	var at position
	if _, err := pc.LoadCheckpoint(&at); err != nil {
		return err
	}
	pc.ReportProgress(float64(at.Next*10), fmt.Sprintf("%s from %d", pc.RunKind(), at.Next))
	for ; at.Next < 10; at.Next++ {
		if !pc.ShouldContinue() {
			return nil
		}
		pc.ReportProgress(float64(at.Next*10), fmt.Sprintf("Step %d", at.Next))
		if err := pc.SaveCheckpoint(position{Next: at.Next + 1}); err != nil {
			return err
		}
	}
	return pc.ClearHasSavedState()
}

func TestCancelThenResumeFromTheCheckpoint(t *testing.T) {
	first, err := optiotest.Run(context.Background(), countTo10, optiotest.Options{CancelWhen: atStep(4)})
	require.NoError(t, err)
	require.Equal(t, adapter.StateCancelled, first.State)
	require.True(t, first.HasSavedState)
	// Cancelled as it reported step 4, it finished that step and saved.
	require.JSONEq(t, `{"next": 5}`, string(first.Checkpoint))
	require.Equal(t, "fresh from 0", first.Messages()[0])

	second, err := optiotest.Run(context.Background(), countTo10, optiotest.Options{RunKind: adapter.ResumedRun, Checkpoint: first.Checkpoint})
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, second.State, "%v", second.Err)
	require.Equal(t, "resumed from 5", second.Messages()[0])
	require.Equal(t, "Step 5", second.Messages()[1])
	require.False(t, second.HasSavedState, "cleared at the end")
	require.Nil(t, second.Checkpoint)

	// A Result's cleared checkpoint resumes as no checkpoint.
	third, err := optiotest.Run(context.Background(), countTo10, optiotest.Options{RunKind: adapter.RerunAfterLostWorker, Checkpoint: second.Checkpoint})
	require.NoError(t, err)
	require.Equal(t, "re-run after a lost worker from 0", third.Messages()[0])
}

func TestCheckpointWithoutSavesIsKept(t *testing.T) {
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		return pc.FlushCheckpoint()
	}, optiotest.Options{RunKind: adapter.ResumedRun, Checkpoint: position{Next: 7}})
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, res.State)
	require.True(t, res.HasSavedState)
	require.JSONEq(t, `{"next": 7}`, string(res.Checkpoint))
}

func TestMarkHasSavedStateAndChildren(t *testing.T) {
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		if err := pc.MarkHasSavedState(); err != nil {
			return err
		}
		_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "p/c", Name: "C", Execute: func(c *adapter.ProcessContext) error {
			if c.RunKind() != adapter.FreshRun {
				return fmt.Errorf("child run kind %s", c.RunKind())
			}
			return c.SaveCheckpoint(position{Next: 1})
		}})
		return err
	}, optiotest.Options{ProcessID: "p", RunKind: adapter.ResumedRun})
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, res.State, "%v", res.Err)
	require.True(t, res.HasSavedState)
	child := res.Child("p/c")
	require.False(t, child.HasSavedState, "a child has no hasSavedState")
	require.JSONEq(t, `{"next": 1}`, string(child.Checkpoint))
}

func TestSaveCheckpointRefusesWhatTheEngineRefuses(t *testing.T) {
	var tooLarge, notJSON error
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		if err := pc.SaveCheckpoint(position{Next: 1}); err != nil {
			return err
		}
		tooLarge = pc.SaveCheckpoint(strings.Repeat("x", adapter.MaxCheckpointSize))
		notJSON = pc.SaveCheckpoint(make(chan int))
		var back position
		if _, err := pc.LoadCheckpoint(&back); err != nil {
			return err
		}
		if back.Next != 1 {
			return fmt.Errorf("the previous checkpoint did not stay: %+v", back)
		}
		return nil
	}, optiotest.Options{})
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, res.State, "%v", res.Err)
	require.ErrorIs(t, tooLarge, adapter.ErrCheckpointTooLarge)
	require.ErrorIs(t, notJSON, adapter.ErrInvalidInput)
	require.JSONEq(t, `{"next": 1}`, string(res.Checkpoint))
}

func TestBadOptionsAreRefusedAndNothingRuns(t *testing.T) {
	ran := false
	body := func(*adapter.ProcessContext) error { ran = true; return nil }
	for _, tc := range []struct {
		name string
		ctx  context.Context
		fn   adapter.TaskFunc
		opts optiotest.Options
		is   error
	}{
		{"nil TaskFunc", context.Background(), nil, optiotest.Options{}, adapter.ErrInvalidInput},
		{"nil context", nil, body, optiotest.Options{}, adapter.ErrInvalidInput},
		{"unknown run kind", context.Background(), body, optiotest.Options{RunKind: adapter.RunKind(7)}, adapter.ErrInvalidInput},
		{"checkpoint for a fresh run", context.Background(), body, optiotest.Options{Checkpoint: position{Next: 3}}, adapter.ErrInvalidInput},
		{"checkpoint that is not JSON", context.Background(), body, optiotest.Options{RunKind: adapter.ResumedRun, Checkpoint: func() {}}, adapter.ErrInvalidInput},
		{"checkpoint too large", context.Background(), body,
			optiotest.Options{RunKind: adapter.ResumedRun, Checkpoint: json.RawMessage(`"` + strings.Repeat("x", adapter.MaxCheckpointSize) + `"`)},
			adapter.ErrCheckpointTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := optiotest.Run(tc.ctx, tc.fn, tc.opts)
			require.ErrorIs(t, err, tc.is)
			require.ErrorIs(t, err, adapter.ErrInvalidInput)
			require.Nil(t, res)
			require.False(t, ran)
		})
	}
}
