package tests

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/adapter"
)

// progressWrites counts the progress writes an engine sends to Mongo: update
// commands that set progress without touching the status, which only the
// progress flusher sends.
type progressWrites struct{ n atomic.Int64 }

func (w *progressWrites) started(_ context.Context, e *event.CommandStartedEvent) {
	if e.CommandName != "update" {
		return
	}
	updates, err := e.Command.LookupErr("updates")
	if err != nil {
		return
	}
	values, err := updates.Array().Values()
	if err != nil {
		return
	}
	for _, u := range values {
		// A progress write sets progress and nothing of the status (a
		// launch's reset sets both).
		_, progress := u.Document().LookupErr("u", "$set", "progress")
		_, status := u.Document().LookupErr("u", "$set", "status")
		if progress == nil && status != nil {
			w.n.Add(1)
		}
	}
}

// monitoredSystem is newSystem whose engine talks to Mongo through a client
// that counts progress writes.
func monitoredSystem(t *testing.T, cfg adapter.Config) (*system, *progressWrites) {
	t.Helper()
	writes := &progressWrites{}
	s := newSystem(t, adapter.Config{DisableWorker: true, ReconcileInterval: -1})
	c, err := mongo.Connect(options.Client().ApplyURI(s.env.Mongo.URI).SetMonitor(&event.CommandMonitor{Started: writes.started}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	cfg.Mongo = c.Database(s.env.Mongo.Name)
	s.eng = s.startEngine(cfg)
	return s, writes
}

// TestProgressFlushingBoundsMongoWrites: a body calling ReportProgress in a
// tight loop for about a second causes at most about one Mongo write per
// flush interval (set by Config.ProgressFlushInterval or by
// OPTIO_PROGRESS_FLUSH_INTERVAL_MS), its messages reach the log in order
// with the excess summarised as "(N messages dropped)", and the final report
// is always written, before "State changed to done". Which messages are
// logged is optio-core's avalanche rule (decided per report, see
// docstore.ProgressBuffer): the first 10, then, per write, at most a summary
// and the message held since the last; every report is either logged or
// counted in exactly one summary.
func TestProgressFlushingBoundsMongoWrites(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		env      string
	}{
		{name: "default 100ms"},
		{name: "Config 50ms", interval: 50 * time.Millisecond},
		{name: "environment 250ms", env: "250"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("OPTIO_PROGRESS_FLUSH_INTERVAL_MS", tc.env)
			} else {
				t.Setenv("OPTIO_PROGRESS_FLUSH_INTERVAL_MS", "")
			}
			interval := 100 * time.Millisecond
			switch {
			case tc.interval > 0:
				interval = tc.interval
			case tc.env != "":
				ms, _ := strconv.Atoi(tc.env)
				interval = time.Duration(ms) * time.Millisecond
			}
			var calls atomic.Int64
			var took, maxSpan atomic.Int64
			body := func(ctx *adapter.ProcessContext) error {
				// mark notes the time of each pass and span the longest any
				// 11 passes took: an upper bound on how long any 11
				// consecutive reports took (see the check of the log).
				var ring [11]time.Time
				var span time.Duration
				marks := 0
				mark := func() time.Time {
					now := time.Now()
					if marks >= len(ring) {
						span = max(span, now.Sub(ring[marks%len(ring)]))
					}
					ring[marks%len(ring)] = now
					marks++
					return now
				}
				start := time.Now()
				for i := 0; mark().Sub(start) < time.Second; i++ {
					ctx.ReportProgress(float64(i%100), fmt.Sprintf("step %d", i))
					calls.Add(1)
				}
				ctx.ReportProgress(100, "final")
				mark()
				took.Store(int64(time.Since(start)))
				maxSpan.Store(int64(span))
				return nil
			}
			s, writes := monitoredSystem(t, adapter.Config{
				ProgressFlushInterval: tc.interval,
				TaskDefinitions:       staticTasks(adapter.TaskInstance{ProcessID: "chatty", Name: "Chatty", Execute: body}),
			})
			p := s.run("chatty")

			n := writes.n.Load()
			bound := int64(time.Duration(took.Load())/interval) + 3
			t.Logf("%d reports in %s, %d progress writes (bound %d), %d log entries", calls.Load(), time.Duration(took.Load()), n, bound, len(p.Log))
			require.Greater(t, calls.Load(), int64(1000), "a tight loop")
			require.GreaterOrEqual(t, n, int64(2), "progress is written during the run, not only at the end")
			require.LessOrEqual(t, n, bound, "at most one write per flush interval, plus the final one")

			require.Equal(t, 100.0, *p.Progress.Percent, "the final report is written")
			require.Equal(t, "final", *p.Progress.Message)
			lines := logLines(p)
			require.Equal(t, "info: final", lines[len(lines)-2])
			require.Equal(t, "event: State changed to done", lines[len(lines)-1])
			require.GreaterOrEqual(t, findLog(p, "info", " messages dropped)"), 0, "the excess is summarised")
			var info []string
			for _, e := range p.Log {
				if e.Level == "info" {
					info = append(info, e.Message)
				}
			}
			// Past the first 10, a report is logged at once only if the 10
			// before it took more than 100 ms (by the store's clock, to the
			// millisecond), which a body stalled that long can cause (each
			// stall adds at most 12 lines). Without such a stall, the log
			// has the first 10 messages, then per write at most a summary
			// and the message held.
			if span := time.Duration(maxSpan.Load()); span < 98*time.Millisecond {
				require.LessOrEqual(t, int64(len(info)), 10+2*n, "the first 10 messages, then per write at most a summary and the held message")
			} else {
				t.Logf("11 reports took %s; not checking the tight bound", span)
			}
			require.Less(t, int64(len(info)), 12*(n+1), "the log grows with the writes, not with the reports")
			for i := range 10 {
				require.Equal(t, fmt.Sprintf("step %d", i), info[i], "the first 10 reports are logged")
			}
			last, logged, dropped := -1, 0, 0
			for j, m := range info {
				if step, ok := strings.CutPrefix(m, "step "); ok {
					i, err := strconv.Atoi(step)
					require.NoError(t, err)
					require.Greater(t, i, last, "messages are logged in order")
					last = i
					logged++
					continue
				}
				if m == "final" {
					logged++
					continue
				}
				var d int
				_, err := fmt.Sscanf(m, "(%d messages dropped)", &d)
				require.NoError(t, err, "an info line is a message or a summary: %q", m)
				require.Positive(t, d)
				require.Less(t, j+1, len(info), "a summary precedes the message held")
				require.NotContains(t, info[j+1], "dropped", "a summary precedes the message held")
				dropped += d
			}
			require.Equal(t, calls.Load()+1, int64(logged+dropped), "every report is logged or counted as dropped")
		})
	}
}

// TestFinalProgressIsAlwaysWritten: whatever a body reports last, right
// before it returns, is what the document shows, messages and all; a
// percent-only report clears the message; indeterminate is null.
func TestFinalProgressIsAlwaysWritten(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    adapter.TaskFunc
		percent *float64
		message *string
		log     []string
	}{
		{
			name: "burst then return",
			body: func(ctx *adapter.ProcessContext) error {
				ctx.ReportProgress(1, "a")
				ctx.ReportProgress(2, "b")
				ctx.ReportProgress(99, "last")
				return nil
			},
			percent: ptr(99.0), message: ptr("last"), log: []string{"info: a", "info: b", "info: last"},
		},
		{
			name: "percent only clears the message",
			body: func(ctx *adapter.ProcessContext) error {
				ctx.ReportProgress(10, "started")
				time.Sleep(300 * time.Millisecond)
				ctx.ReportProgress(20, "")
				return nil
			},
			percent: ptr(20.0), log: []string{"info: started"},
		},
		{
			name: "indeterminate",
			body: func(ctx *adapter.ProcessContext) error {
				ctx.ReportProgress(50, "")
				ctx.ReportProgress(adapter.Indeterminate, "waiting for the bank")
				return nil
			},
			message: ptr("waiting for the bank"), log: []string{"info: waiting for the bank"},
		},
		{
			name: "clamped",
			body: func(ctx *adapter.ProcessContext) error {
				ctx.ReportProgress(250, "")
				return nil
			},
			percent: ptr(100.0),
		},
		{
			name: "failing body",
			body: func(ctx *adapter.ProcessContext) error {
				ctx.ReportProgress(42, "got this far")
				return fmt.Errorf("then broke")
			},
			percent: ptr(42.0), message: ptr("got this far"), log: []string{"info: got this far"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(adapter.TaskInstance{ProcessID: "p", Name: "P", Execute: tc.body})})
			p, err := s.eng.LaunchAndWait(s.ctx(), "p")
			require.NoError(t, err)
			require.Equal(t, tc.percent, p.Progress.Percent)
			require.Equal(t, tc.message, p.Progress.Message)
			var infos []string
			for _, l := range logLines(p) {
				if strings.HasPrefix(l, "info: ") {
					infos = append(infos, l)
				}
			}
			require.Equal(t, tc.log, infos)
		})
	}
}

// TestPercentOnlyReportsAddNoLogEntries: thousands of percent-only reports
// move progress.percent and add nothing to the log.
func TestPercentOnlyReportsAddNoLogEntries(t *testing.T) {
	s, writes := monitoredSystem(t, adapter.Config{TaskDefinitions: staticTasks(adapter.TaskInstance{ProcessID: "quiet", Name: "Quiet", Execute: func(ctx *adapter.ProcessContext) error {
		for i := range 5000 {
			ctx.ReportProgress(float64(i)/50, "")
		}
		time.Sleep(250 * time.Millisecond)
		ctx.ReportProgress(73.5, "")
		return nil
	}})})
	p := s.run("quiet")
	require.Equal(t, []string{"event: State changed to scheduled", "event: State changed to running", "event: State changed to done"}, logLines(p))
	require.Equal(t, 73.5, *p.Progress.Percent)
	require.Nil(t, p.Progress.Message)
	require.LessOrEqual(t, writes.n.Load(), int64(8))
}

func ptr[T any](v T) *T { return &v }
