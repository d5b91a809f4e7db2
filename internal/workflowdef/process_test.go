package workflowdef

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// A process workflow's branches, one case each: which mirror writes and body
// runs it makes (the trail), how it ends, and what it logged.
func TestProcessBranches(t *testing.T) {
	bodyFailed := temporal.NewNonRetryableApplicationError("boom", activities.BodyFailedType, nil)
	noExecute := temporal.NewNonRetryableApplicationError(activities.ErrNoExecute.Error(), activities.NoExecuteType, nil)
	heartbeatLost := temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil)
	neverPicked := temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil)
	lostOnce := func(n int, _ activitydef.BodyInput) (activitydef.BodyResult, error) {
		if n == 1 {
			return activitydef.BodyResult{}, heartbeatLost
		}
		return activitydef.BodyResult{}, nil
	}
	cases := []struct {
		name     string
		revision int
		setup    func(h *harness)
		// want is the trail; wantState the result's state (or the state in
		// a failure's details).
		want      []string
		wantState mirror.State
		// wantErr is "", "failed" (ProcessFailedType) or "canceled".
		wantErr string
		// wantMsg is in the failure's message.
		wantMsg string
		// wantLogs are in the warnings logged, in order.
		wantLogs []string
		// wantQueues are the queues the body runs went to, with their attempts.
		wantQueues   []string
		wantAttempts []int
		check        func(t *testing.T, h *harness)
	}{
		{
			name: "revision 0 runs the body on the claimed queue and finishes done", revision: 0,
			want:       []string{"StartRun", `ClaimBody lost=[] hint=""`, "Body queue=engine-a attempt=1", "Finish done"},
			wantState:  mirror.Done,
			wantQueues: []string{queueA}, wantAttempts: []int{1},
		},
		{
			name: "revision 2 claims in StartRun and runs the body on the workflow's own queue", revision: 2,
			want:       []string{"StartRun+claim", "Body queue=optio attempt=1", "Finish done"},
			wantState:  mirror.Done,
			wantQueues: []string{sharedQueue}, wantAttempts: []int{1},
			check: func(t *testing.T, h *harness) {
				fin := h.bodies[0].in.Finish
				require.NotNil(t, fin, "a revision 1+ body gets its terminal write to make")
				require.Equal(t, "doc-p1", fin.DocID)
			},
		},
		{
			name: "a body that wrote its own end saves the Finish local activity", revision: 2,
			setup: func(h *harness) {
				h.body = func(int, activitydef.BodyInput) (activitydef.BodyResult, error) {
					return activitydef.BodyResult{Finished: &activitydef.FinishResult{State: mirror.Done, Deleted: true}}, nil
				}
			},
			want:      []string{"StartRun+claim", "Body queue=optio attempt=1"},
			wantState: mirror.Done,
			check: func(t *testing.T, h *harness) {
				var res ProcessResult
				require.NoError(t, h.env.GetWorkflowResult(&res))
				require.True(t, res.Deleted)
			},
		},
		{
			name: "a failing body fails the process with its message", revision: 2,
			setup: func(h *harness) {
				h.body = func(int, activitydef.BodyInput) (activitydef.BodyResult, error) {
					return activitydef.BodyResult{}, bodyFailed
				}
			},
			want:      []string{"StartRun+claim", "Body queue=optio attempt=1", "Finish failed"},
			wantState: mirror.Failed, wantErr: "failed", wantMsg: "boom",
		},
		{
			name: "no worker holds the function: failed without a body run", revision: 2,
			setup: func(h *harness) {
				start := h.startRun
				h.startRun = func(in activitydef.StartRunInput) (activitydef.StartRunResult, error) {
					r, err := start(in)
					r.Claim = activitydef.ClaimBodyResult{}
					return r, err
				}
			},
			want:      []string{"StartRun+claim", "Finish failed unlogged"},
			wantState: mirror.Failed, wantErr: "failed", wantMsg: activities.ErrNoExecute.Error(),
		},
		{
			name: "a document no longer scheduled is not run", revision: 2,
			setup: func(h *harness) {
				h.startRun = func(activitydef.StartRunInput) (activitydef.StartRunResult, error) {
					return activitydef.StartRunResult{State: mirror.Cancelled}, nil
				}
			},
			want:      []string{"StartRun+claim"},
			wantState: mirror.Cancelled,
		},
		{
			name: "lost worker: the body re-runs on a live worker's queue with a warning", revision: 2,
			setup: func(h *harness) { h.body = lostOnce },
			want: []string{
				"StartRun+claim", "Body queue=optio attempt=1",
				`ClaimBody lost=[engine-a] hint=""`, "AppendLog warning", "Body queue=engine-b attempt=2", "Finish done",
			},
			wantState:  mirror.Done,
			wantLogs:   []string{"Worker running the body was lost (heartbeat timeout); re-running the body on a live worker"},
			wantQueues: []string{sharedQueue, queueB}, wantAttempts: []int{1, 2},
		},
		{
			name: "a body no worker picked up counts as lost", revision: 0,
			setup: func(h *harness) {
				h.body = func(n int, _ activitydef.BodyInput) (activitydef.BodyResult, error) {
					if n == 1 {
						return activitydef.BodyResult{}, neverPicked
					}
					return activitydef.BodyResult{}, nil
				}
			},
			want: []string{
				"StartRun", `ClaimBody lost=[] hint=""`, "Body queue=engine-a attempt=1",
				`ClaimBody lost=[engine-a] hint=""`, "AppendLog warning", "Body queue=engine-b attempt=2", "Finish done",
			},
			wantState: mirror.Done,
			wantLogs:  []string{"Worker running the body was lost (no worker picked the body up); re-running the body on a live worker"},
		},
		{
			name: "lost worker and none other holds the function: failed", revision: 2,
			setup: func(h *harness) {
				h.body = lostOnce
				h.claim = func(activitydef.ClaimBodyInput) (activitydef.ClaimBodyResult, error) {
					return activitydef.ClaimBodyResult{}, nil
				}
			},
			want:      []string{"StartRun+claim", "Body queue=optio attempt=1", `ClaimBody lost=[engine-a] hint=""`, "Finish failed"},
			wantState: mirror.Failed, wantErr: "failed",
			wantMsg: `Worker running the body was lost (heartbeat timeout) and no live worker holds the execute function of "p1"`,
		},
		{
			name: "a body that loses its worker MaxBodyRuns times gives up", revision: 2,
			setup: func(h *harness) {
				h.body = func(int, activitydef.BodyInput) (activitydef.BodyResult, error) {
					return activitydef.BodyResult{}, heartbeatLost
				}
				h.claim = func(in activitydef.ClaimBodyInput) (activitydef.ClaimBodyResult, error) {
					return activitydef.ClaimBodyResult{Queue: "engine-" + string(rune('a'+len(in.LostQueues)))}, nil
				}
			},
			want: []string{
				"StartRun+claim", "Body queue=optio attempt=1",
				`ClaimBody lost=[engine-a] hint=""`, "AppendLog warning", "Body queue=engine-b attempt=2",
				`ClaimBody lost=[engine-a engine-b] hint=""`, "AppendLog warning", "Body queue=engine-c attempt=3",
				"Finish failed",
			},
			wantState: mirror.Failed, wantErr: "failed", wantMsg: `body of "p1" lost its worker 3 times; giving up`,
			wantLogs: []string{"lost (heartbeat timeout)", "lost (heartbeat timeout)"},
		},
		{
			name: "re-route: a body matched to a worker without the function re-runs on the claimed queue", revision: 2,
			setup: func(h *harness) {
				h.body = func(n int, _ activitydef.BodyInput) (activitydef.BodyResult, error) {
					if n == 1 {
						return activitydef.BodyResult{}, noExecute
					}
					return activitydef.BodyResult{}, nil
				}
			},
			// Not a new run: the attempt stays 1, and no claim is made.
			want:       []string{"StartRun+claim", "Body queue=optio attempt=1", "Body queue=engine-a attempt=1", "Finish done"},
			wantState:  mirror.Done,
			wantQueues: []string{sharedQueue, queueA}, wantAttempts: []int{1, 1},
		},
		{
			name: "revision 0 has no re-route: the missing function fails the process", revision: 0,
			setup: func(h *harness) {
				h.body = func(int, activitydef.BodyInput) (activitydef.BodyResult, error) {
					return activitydef.BodyResult{}, noExecute
				}
			},
			want:      []string{"StartRun", `ClaimBody lost=[] hint=""`, "Body queue=engine-a attempt=1", "Finish failed unlogged"},
			wantState: mirror.Failed, wantErr: "failed", wantMsg: activities.ErrNoExecute.Error(),
		},
		{
			name: "an interrupted body (its worker lost the server) re-runs with a warning", revision: 2,
			setup: func(h *harness) {
				h.body = func(n int, _ activitydef.BodyInput) (activitydef.BodyResult, error) {
					return activitydef.BodyResult{Interrupted: n == 1}, nil
				}
			},
			want: []string{
				"StartRun+claim", "Body queue=optio attempt=1", "AppendLog warning",
				`ClaimBody lost=[] hint=""`, "Body queue=optio attempt=2", "Finish done",
			},
			wantState: mirror.Done,
			wantLogs:  []string{"Body was interrupted (its worker lost contact with the Temporal server); re-running the body"},
		},
		{
			name: "a body cancelled by the engine (optio's cancel) ends cancelled, the workflow completes", revision: 2,
			setup: func(h *harness) {
				h.body = func(int, activitydef.BodyInput) (activitydef.BodyResult, error) {
					return activitydef.BodyResult{Cancelled: true}, nil
				}
			},
			want:      []string{"StartRun+claim", "Body queue=optio attempt=1", "Finish cancelled"},
			wantState: mirror.Cancelled,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.setup != nil {
				tc.setup(h)
			}
			res, err := h.runProcess(processInput(tc.revision))
			require.Equal(t, tc.want, h.Trail())
			requireEnd(t, res, err, tc.wantState, tc.wantErr, tc.wantMsg)
			requireLogs(t, h, tc.wantLogs)
			if tc.wantQueues != nil {
				var queues []string
				var attempts []int
				for _, b := range h.bodies {
					queues, attempts = append(queues, b.queue), append(attempts, b.in.Attempt)
				}
				require.Equal(t, tc.wantQueues, queues)
				require.Equal(t, tc.wantAttempts, attempts)
			}
			if tc.check != nil {
				tc.check(t, h)
			}
		})
	}
}

// requireEnd checks how a process workflow ended.
func requireEnd(t *testing.T, res ProcessResult, err error, state mirror.State, kind, msg string) {
	t.Helper()
	switch kind {
	case "":
		require.NoError(t, err)
		require.Equal(t, state, res.State)
	case "failed":
		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "want a process failure, got %v", err)
		require.Equal(t, workflows.ProcessFailedType, app.Type())
		require.Contains(t, app.Message(), msg)
		var out ProcessResult
		require.NoError(t, app.Details(&out))
		require.Equal(t, state, out.State)
	case "canceled":
		var canceled *temporal.CanceledError
		require.True(t, errors.As(err, &canceled), "want a cancellation, got %v", err)
		if state != "" && canceled.HasDetails() {
			var out ProcessResult
			require.NoError(t, canceled.Details(&out))
			require.Equal(t, state, out.State)
		}
	default:
		t.Fatalf("unknown error kind %q", kind)
	}
}

// requireLogs checks the messages the workflow logged on the document.
func requireLogs(t *testing.T, h *harness, want []string) {
	t.Helper()
	h.mu.Lock()
	got := append([]string(nil), h.logs...)
	h.mu.Unlock()
	require.Len(t, got, len(want), "logged %q", got)
	for i := range want {
		require.Contains(t, got[i], want[i])
	}
}

// TestProcessReadsLateBodyQueues: a parent's body run again elsewhere
// tells its running children where it runs now (SignalBodyQueue). A child
// whose own body was not lost has no use for it, and its run ends without
// the SDK's "unhandled signals" warning.
func TestProcessReadsLateBodyQueues(t *testing.T) {
	var out bytes.Buffer
	h := newHarnessLogging(t, slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})))
	h.at(500*time.Millisecond, func() { h.env.SignalWorkflow(workflows.SignalBodyQueue, queueB) })
	res, err := h.runProcess(processInput(CurrentRevision))
	require.NoError(t, err)
	require.Equal(t, mirror.Done, res.State)
	require.NotContains(t, out.String(), "unhandled signals")
	require.Len(t, h.bodies, 1, "body runs")
}
