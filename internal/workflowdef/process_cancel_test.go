package workflowdef

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/mirror"
)

// A cancel of the process workflow (API, RPC or the Temporal Web UI) in each
// state of a run.
func TestProcessCancelInEveryState(t *testing.T) {
	notCancellable := func(h *harness) {
		start := h.startRun
		h.startRun = func(in activitydef.StartRunInput) (activitydef.StartRunResult, error) {
			r, err := start(in)
			r.Cancellable = false
			return r, err
		}
	}
	cases := []struct {
		name      string
		setup     func(h *harness)
		cancelAt  time.Duration
		want      []string
		wantState mirror.State
		wantErr   string
		wantLogs  []string
		// wantCancelBody are the queues the cancel was delivered to.
		wantCancelBody []string
	}{
		{
			name:     "while StartRun claims the body: no body runs, the run ends cancelled",
			setup:    func(h *harness) { h.startTakes = 2 * time.Second },
			cancelAt: time.Second,
			// The cancel is recorded and sent to the claimed worker, which
			// finds no body to cancel.
			want:      []string{"StartRun+claim", "RequestCancel", "Finish cancelled"},
			wantState: mirror.Cancelled, wantErr: "canceled",
			wantCancelBody: []string{queueA},
		},
		{
			name:      "while the body runs: the cancel is recorded, delivered to the body's worker, and the run ends cancelled",
			setup:     func(h *harness) { h.bodyTakes = func(int) time.Duration { return time.Hour } },
			cancelAt:  time.Minute,
			want:      []string{"StartRun+claim", "Body queue=optio attempt=1", "RequestCancel", "Finish cancelled"},
			wantState: mirror.Cancelled, wantErr: "canceled",
			wantCancelBody: []string{queueA},
		},
		{
			name: "while the body runs, not cancellable: the cancel is refused with a warning and the body completes",
			setup: func(h *harness) {
				notCancellable(h)
				h.bodyTakes = func(int) time.Duration { return time.Hour }
			},
			cancelAt:  time.Minute,
			want:      []string{"StartRun+claim", "Body queue=optio attempt=1", "AppendLog warning", "Finish done"},
			wantState: mirror.Done,
			wantLogs:  []string{"Cancel requested from the Temporal side refused: the process is not cancellable"},
		},
		{
			name: "while the body finishes (its terminal write under way): the run ends as written",
			setup: func(h *harness) {
				h.finishTakes = time.Minute
			},
			cancelAt:  30 * time.Second,
			want:      []string{"StartRun+claim", "Body queue=optio attempt=1", "Finish done"},
			wantState: mirror.Done,
		},
		{
			name: "while the body finishes, the terminal write finding a cancel recorded: the workflow ends cancelled",
			setup: func(h *harness) {
				h.finishTakes = time.Minute
				h.finish = func(activitydef.FinishInput) (activitydef.FinishResult, error) {
					return activitydef.FinishResult{State: mirror.Cancelled}, nil
				}
			},
			cancelAt:  30 * time.Second,
			want:      []string{"StartRun+claim", "Body queue=optio attempt=1", "Finish done"},
			wantState: mirror.Cancelled, wantErr: "canceled",
		},
		{
			name: "while a lost body waits for a new claim: no new body run, the run ends cancelled",
			setup: func(h *harness) {
				h.bodyTakes = func(n int) time.Duration { return time.Duration(n) * time.Minute }
				h.body = func(n int, _ activitydef.BodyInput) (activitydef.BodyResult, error) {
					if n == 1 {
						return activitydef.BodyResult{Interrupted: true}, nil
					}
					return activitydef.BodyResult{}, nil
				}
			},
			// The first run ends at 1m, the second at 1m+2m.
			cancelAt: 2 * time.Minute,
			want: []string{
				"StartRun+claim", "Body queue=optio attempt=1", "AppendLog warning",
				`ClaimBody lost=[] hint=""`, "Body queue=optio attempt=2", "RequestCancel", "Finish cancelled",
			},
			wantState: mirror.Cancelled, wantErr: "canceled",
			wantLogs:       []string{"Body was interrupted"},
			wantCancelBody: []string{queueA},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			// The terminal write takes a while, so that the cancel sent to
			// the body's worker (not awaited) is handled before the end.
			h.finishTakes = time.Second
			if tc.setup != nil {
				tc.setup(h)
			}
			h.at(tc.cancelAt, h.env.CancelWorkflow)
			res, err := h.runProcess(processInput(CurrentRevision))
			require.Equal(t, tc.want, h.Trail())
			requireEnd(t, res, err, tc.wantState, tc.wantErr, "")
			requireLogs(t, h, tc.wantLogs)
			require.Equal(t, tc.wantCancelBody, h.cancelQueue)
		})
	}
}
