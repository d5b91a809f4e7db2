package adapter

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// Which errors a cancelled body may return and still end cancelled: those
// made of the cancel alone. A real failure ends it failed, cancel or not.
func TestStoppedByCancel(t *testing.T) {
	refused := fmt.Errorf("spawn child %q: %w", "demo-parallel/item-10", ErrParentCancelled)
	cancelledChild := &ChildError{ProcessID: "p/a", Name: "A", State: StateCancelled}
	failedChild := &ChildError{ProcessID: "p/b", Name: "B", State: StateFailed, Err: "boom"}
	cancelledGroup := &GroupError{Children: []*ChildError{cancelledChild, {ProcessID: "p/c", Name: "C", State: StateCancelled, Err: "parent cancelled"}}}
	// A failure the group survives (SurviveFailure) did not break it: the
	// cancel did.
	survivedFailure := &GroupError{Children: []*ChildError{failedChild, cancelledChild}, survivesFailure: true}
	// A failure that broke the group, its siblings cancelled by the breach.
	brokenByFailure := &GroupError{Children: []*ChildError{failedChild, cancelledChild}}

	for _, tt := range []struct {
		name string
		err  error
		// cancelled is the answer when the body's context was cancelled;
		// uncancelled when it was not (yet).
		cancelled, uncancelled bool
	}{
		{"context.Canceled", context.Canceled, true, false},
		{"wrapped ctx.Err()", fmt.Errorf("step 3: %w", context.Canceled), true, false},
		{"refused spawn", refused, true, true},
		{"refused spawn, wrapped", fmt.Errorf("items: %w", refused), true, true},
		{"cancelled child", cancelledChild, true, false},
		{"cancelled child, wrapped", fmt.Errorf("phase 2: %w", cancelledChild), true, false},
		{"group of cancelled children", cancelledGroup, true, false},
		{"group with a survived failure", survivedFailure, true, false},
		{"refusal joined with a cancelled group", errors.Join(refused, cancelledGroup), true, true},
		{"group broken by a failure", brokenByFailure, false, false},
		{"group broken by a failure, wrapped", fmt.Errorf("items: %w", brokenByFailure), false, false},
		{"failed child", failedChild, false, false},
		{"unrelated error", errors.New("disk full"), false, false},
		{"unrelated error joined with a cancel", errors.Join(context.Canceled, errors.New("disk full")), false, false},
		{"refusal joined with an unrelated error", errors.Join(refused, errors.New("launch blocked")), false, false},
		{"two wraps, one unrelated", fmt.Errorf("%w; %w", context.Canceled, errors.New("x")), false, false},
		{"panic", fmt.Errorf("panic: %v", context.Canceled), false, false},
		{"empty group", &GroupError{}, false, false},
		{"error that wraps nothing", errors.New("context canceled"), false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			require.Equal(t, tt.cancelled, stoppedByCancel(cancelled, tt.err), "after a cancel")
			require.Equal(t, tt.uncancelled, stoppedByCancel(context.Background(), tt.err), "without a cancel")
		})
	}
}

// ErrParentCancelled keeps its text and identity, and matches
// context.Canceled like any cancellation a body returns.
func TestErrParentCancelledIsACancellation(t *testing.T) {
	err := fmt.Errorf("spawn child %q: %w", "p/x", ErrParentCancelled)
	require.EqualError(t, err, `spawn child "p/x": parent already cancelled`)
	require.ErrorIs(t, err, ErrParentCancelled)
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, context.Canceled, ErrParentCancelled)
}
