package adapter

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter/internal/bodyhost"
)

// progressHost is a body host that records progress reports; a body run on
// it may do nothing else (the embedded nil Host has no other method).
type progressHost struct {
	bodyhost.Host[TaskFunc]
	mu      sync.Mutex
	reports []*float64
}

func (h *progressHost) Process() bodyhost.Process {
	return bodyhost.Process{ProcessID: "parent", Params: map[string]any{}, Metadata: map[string]any{}, Services: map[string]any{}}
}

func (h *progressHost) Report(percent *float64, _ *string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reports = append(h.reports, percent)
}

// last returns the last percent reported: nil for Indeterminate, and
// "none" when nothing was reported.
func (h *progressHost) last() any {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.reports) == 0 {
		return "none"
	}
	if p := h.reports[len(h.reports)-1]; p != nil {
		return *p
	}
	return nil
}

func pct(v float64) *float64 { return &v }

// running is a child at percent; done a child that ended.
func running(v float64) ChildProgressInfo {
	return ChildProgressInfo{ProcessID: "c", State: StateRunning, Percent: pct(v)}
}

var done = ChildProgressInfo{ProcessID: "c", State: StateDone}

// TestProgressHelpersTakeAnyArguments: no argument makes a progress helper
// panic, at construction or when its callback fires (inside the engine,
// where a panic would take the worker down). SequentialProgress with no
// children (optio-core raises ZeroDivisionError there) and a helper given
// no ProcessContext return a callback that reports nothing. MappedProgress
// takes its bounds as fractions: it clamps them to [0, 1] (NaN counts as
// 0), so a bound outside the range cannot report a negative percent, which
// would read as Indeterminate; a range given backwards counts down, as in
// optio-core.
func TestProgressHelpersTakeAnyArguments(t *testing.T) {
	for _, tc := range []struct {
		name     string
		callback func(*ProcessContext) func([]ChildProgressInfo)
		children []ChildProgressInfo
		want     any // the last percent reported, nil for Indeterminate
	}{
		{"sequential, no children", func(pc *ProcessContext) func([]ChildProgressInfo) { return SequentialProgress(pc, 0) }, []ChildProgressInfo{running(50)}, "none"},
		{"sequential, negative count", func(pc *ProcessContext) func([]ChildProgressInfo) { return SequentialProgress(pc, -3) }, []ChildProgressInfo{done}, "none"},
		{"sequential, nil context", func(*ProcessContext) func([]ChildProgressInfo) { return SequentialProgress(nil, 2) }, []ChildProgressInfo{done}, "none"},
		{"average, nil context", func(*ProcessContext) func([]ChildProgressInfo) { return AverageProgress(nil) }, []ChildProgressInfo{done}, "none"},
		{"mapped, nil context", func(*ProcessContext) func([]ChildProgressInfo) { return MappedProgress(nil, 0, 1) }, []ChildProgressInfo{done}, "none"},
		{"sequential, 4 children", func(pc *ProcessContext) func([]ChildProgressInfo) { return SequentialProgress(pc, 4) }, []ChildProgressInfo{done, running(50)}, 37.5},
		{"mapped, in range", func(pc *ProcessContext) func([]ChildProgressInfo) { return MappedProgress(pc, 0.25, 0.5) }, []ChildProgressInfo{running(50)}, 37.5},
		{"mapped, start below 0", func(pc *ProcessContext) func([]ChildProgressInfo) { return MappedProgress(pc, -0.5, 0.5) }, []ChildProgressInfo{running(0)}, 0.0},
		{"mapped, end above 1", func(pc *ProcessContext) func([]ChildProgressInfo) { return MappedProgress(pc, 0.5, 3) }, []ChildProgressInfo{running(50)}, 75.0},
		{"mapped, both above 1", func(pc *ProcessContext) func([]ChildProgressInfo) { return MappedProgress(pc, 2, 3) }, []ChildProgressInfo{running(50)}, 100.0},
		{"mapped, NaN start", func(pc *ProcessContext) func([]ChildProgressInfo) { return MappedProgress(pc, nan(), 0.5) }, []ChildProgressInfo{running(50)}, 25.0},
		{"mapped, backwards", func(pc *ProcessContext) func([]ChildProgressInfo) { return MappedProgress(pc, 0.5, 0.25) }, []ChildProgressInfo{running(100)}, 25.0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := &progressHost{}
			pc := newProcessContext(t.Context(), host)
			var cb func([]ChildProgressInfo)
			require.NotPanics(t, func() { cb = tc.callback(pc) }, "building the callback")
			require.NotNil(t, cb)
			require.NotPanics(t, func() { cb(tc.children) }, "calling the callback")
			require.Equal(t, tc.want, host.last())
		})
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

// TestRunHostedRefusesMissingArguments: RunHosted without a context, a host
// or a body runs nothing and returns an error wrapping ErrInvalidInput.
func TestRunHostedRefusesMissingArguments(t *testing.T) {
	quick := func(*ProcessContext) error { return nil }
	var noCtx context.Context // the bad input under test
	for _, tc := range []struct {
		name string
		ctx  context.Context
		host bodyhost.Host[TaskFunc]
		fn   TaskFunc
	}{
		{"nil context", noCtx, &progressHost{}, quick},
		{"nil host", t.Context(), nil, quick},
		{"nil body", t.Context(), &progressHost{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				state State
				err   error
			)
			require.NotPanics(t, func() { state, err = RunHosted(tc.ctx, tc.host, tc.fn) })
			require.ErrorIs(t, err, ErrInvalidInput)
			require.Empty(t, state, "nothing ran")
		})
	}
	state, err := RunHosted(t.Context(), &progressHost{}, quick)
	require.NoError(t, err)
	require.Equal(t, StateDone, state)
}
