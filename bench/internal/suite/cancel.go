package suite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/optio-temporal/optio/adapter"
)

// CancelOptions shapes CancelLatency.
type CancelOptions struct {
	// N is the number of measured cancels per path. Default 30.
	N int
	// Warmup is the number of unmeasured cancels per path first. Default 3.
	Warmup int
	// Trace adds a timeline of one cancel from the Temporal side.
	Trace bool
}

// CancelTarget is the cancel-to-ShouldContinue()==false target for the p50.
const CancelTarget = 250 * time.Millisecond

// CancelResult is what CancelLatency measured: per path, the time from the
// cancel call to the body seeing ShouldContinue() == false (Turn), and to the
// run having ended with the document cancelled (End).
type CancelResult struct {
	API, Temporal, Bare          Samples
	APIEnd, TemporalEnd, BareEnd Samples
	Result
}

// CancelLatency measures how long a cancel takes to reach a running body.
// The optio body waits on its Context().Done() and records the instant it
// fires, checking that ShouldContinue() is false then. Two optio paths:
// Engine.Cancel, and client.CancelWorkflow (as the Temporal Web UI does),
// which takes the workflow path (RequestCancel local activity, then a
// CancelBody activity on the body's worker-specific queue). The bare
// reference is an activity that heartbeats as optio's body does (same
// heartbeat timeout, interval and worker throttle) and is cancelled with
// client.CancelWorkflow: plain Temporal delivers that through the next
// heartbeat's response. The three paths are interleaved.
func CancelLatency(ctx context.Context, env *Env, opts CancelOptions) (*CancelResult, error) {
	if opts.N <= 0 {
		opts.N = 30
	}
	if opts.Warmup < 0 {
		opts.Warmup = 0
	}
	sd, err := env.newSides(ctx, "cancel")
	if err != nil {
		return nil, err
	}
	defer sd.stop()
	eng, bare := sd.eng, sd.bare

	probes := map[string]*spinProbe{"spin-api": newSpinProbe(), "spin-temporal": newSpinProbe()}
	for id, p := range probes {
		if _, err := eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: id, Name: "Spin", Execute: func(pc *adapter.ProcessContext) error {
			p.started <- struct{}{}
			<-pc.Context().Done()
			t := time.Now()
			if pc.ShouldContinue() {
				return errors.New("context done but ShouldContinue() is true")
			}
			p.turned <- t
			return pc.Context().Err()
		}}, adapter.AdhocOptions{}); err != nil {
			return nil, err
		}
	}
	bareProbe := newSpinProbe()
	bare.acts.probes.Store("spin", bareProbe)

	const patience = time.Minute
	await := func(ch <-chan struct{}) error {
		select {
		case <-ch:
			return nil
		case <-time.After(patience):
			return errors.New("body did not start")
		}
	}
	turned := func(ch <-chan time.Time) (time.Time, error) {
		select {
		case t := <-ch:
			return t, nil
		case <-time.After(patience):
			return time.Time{}, errors.New("body did not see the cancel")
		}
	}
	// optioOnce launches a spinning process, cancels it once its body runs
	// and returns the two latencies.
	optioOnce := func(id string, viaTemporal bool) (turn, end time.Duration, err error) {
		side(ctx, "optio", func(ctx context.Context) {
			p := probes[id]
			p.reset()
			var out adapter.Outcome
			if out, err = eng.Launch(ctx, id); err == nil && !out.OK {
				err = fmt.Errorf("launch %s: %v", id, out.Reason)
			}
			if err != nil {
				return
			}
			if err = await(p.started); err != nil {
				return
			}
			wfID := eng.WorkflowID(id)
			t0 := time.Now()
			if viaTemporal {
				err = env.Temporal.CancelWorkflow(ctx, wfID, "")
			} else if out, err = eng.Cancel(ctx, id); err == nil && !out.OK {
				err = fmt.Errorf("cancel %s: %v", id, out.Reason)
			}
			if err != nil {
				return
			}
			var t1 time.Time
			if t1, err = turned(p.turned); err != nil {
				return
			}
			turn = t1.Sub(t0)
			_ = env.Temporal.GetWorkflow(ctx, wfID, "").GetWithOptions(ctx, nil, client.WorkflowRunGetOptions{DisableFollowingRuns: true})
			end = time.Since(t0)
			var doc *adapter.Process
			if doc, err = eng.GetProcess(ctx, id); err == nil && doc.Status.State != adapter.StateCancelled {
				err = fmt.Errorf("%s ended %s, want cancelled", id, doc.Status.State)
			}
		})
		return turn, end, err
	}
	seq := 0
	bareOnce := func() (turn, end time.Duration, err error) {
		side(ctx, "bare", func(ctx context.Context) {
			bareProbe.reset()
			seq++
			id := fmt.Sprintf("%s/spin-%d", bare.Queue, seq)
			var run client.WorkflowRun
			if run, err = env.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: bare.Queue},
				BareSpinWorkflow, "spin", env.Opts.HeartbeatTimeout); err != nil {
				return
			}
			if err = await(bareProbe.started); err != nil {
				return
			}
			t0 := time.Now()
			if err = env.Temporal.CancelWorkflow(ctx, id, ""); err != nil {
				return
			}
			var t1 time.Time
			if t1, err = turned(bareProbe.turned); err != nil {
				return
			}
			turn = t1.Sub(t0)
			var canceled *temporal.CanceledError
			if gerr := run.Get(ctx, nil); !errors.As(gerr, &canceled) {
				err = fmt.Errorf("bare spin workflow ended with %v, want cancelled", gerr)
			}
			end = time.Since(t0)
		})
		return turn, end, err
	}

	for range opts.Warmup {
		if _, _, err := optioOnce("spin-api", false); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if _, _, err := optioOnce("spin-temporal", true); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if _, _, err := bareOnce(); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	res := &CancelResult{Result: Result{Name: "cancel"}}
	stopProfile := env.Profile("cancel")
	for i := range opts.N {
		steps := []func() error{
			func() error {
				t, e, err := optioOnce("spin-api", false)
				res.API, res.APIEnd = append(res.API, t), append(res.APIEnd, e)
				return err
			},
			func() error {
				t, e, err := optioOnce("spin-temporal", true)
				res.Temporal, res.TemporalEnd = append(res.Temporal, t), append(res.TemporalEnd, e)
				return err
			},
			func() error {
				t, e, err := bareOnce()
				res.Bare, res.BareEnd = append(res.Bare, t), append(res.BareEnd, e)
				return err
			},
		}
		for j := range steps {
			if err := steps[(i+j)%len(steps)](); err != nil {
				stopProfile()
				return nil, err
			}
		}
	}
	stopProfile()

	m := "3 cancel -> ShouldContinue false"
	target := fmt.Sprintf("p50 < %d ms", CancelTarget.Milliseconds())
	bp50, bp99 := ms(res.Bare.Percentile(50)), ms(res.Bare.Percentile(99))
	res.Rows = []Row{
		{Measure: m, Metric: "Engine.Cancel p50 ms", Ours: ms(res.API.Percentile(50)), Bare: bp50, Target: target, Verdict: verdict(res.API.Percentile(50) < CancelTarget)},
		{Measure: m, Metric: "Engine.Cancel p99 ms", Ours: ms(res.API.Percentile(99)), Bare: bp99},
		{Measure: m, Metric: "CancelWorkflow p50 ms", Ours: ms(res.Temporal.Percentile(50)), Bare: bp50, Target: target, Verdict: verdict(res.Temporal.Percentile(50) < CancelTarget)},
		{Measure: m, Metric: "CancelWorkflow p99 ms", Ours: ms(res.Temporal.Percentile(99)), Bare: bp99},
		{Measure: "3 cancel -> run ended", Metric: "Engine.Cancel p50 ms", Ours: ms(res.APIEnd.Percentile(50)), Bare: ms(res.BareEnd.Percentile(50))},
		{Measure: "3 cancel -> run ended", Metric: "CancelWorkflow p50 ms", Ours: ms(res.TemporalEnd.Percentile(50)), Bare: ms(res.BareEnd.Percentile(50))},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  3 cancel: N=%d per path after %d warm-up, interleaved; bare = activity heartbeating every %s with heartbeat timeout %s and worker MaxHeartbeatThrottleInterval %s (as optio's body), cancelled with CancelWorkflow\n",
		opts.N, opts.Warmup, heartbeatInterval(env.Opts.HeartbeatTimeout), env.Opts.HeartbeatTimeout, heartbeatThrottle(env.Opts.HeartbeatTimeout))
	fmt.Fprintf(&b, "    turn min/p50/max ms: Engine.Cancel %.1f/%.1f/%.1f, CancelWorkflow %.1f/%.1f/%.1f, bare %.1f/%.1f/%.1f\n",
		ms(res.API.Percentile(0)), ms(res.API.Percentile(50)), ms(res.API.Percentile(100)),
		ms(res.Temporal.Percentile(0)), ms(res.Temporal.Percentile(50)), ms(res.Temporal.Percentile(100)),
		ms(res.Bare.Percentile(0)), ms(res.Bare.Percentile(50)), ms(res.Bare.Percentile(100)))
	if opts.Trace {
		id := "spin-temporal"
		p := probes[id]
		p.reset()
		if out, err := eng.Launch(ctx, id); err != nil || !out.OK {
			return nil, fmt.Errorf("trace launch: %v %v", err, out.Reason)
		}
		if err := await(p.started); err != nil {
			return nil, err
		}
		wfID := eng.WorkflowID(id)
		t, err := env.traced(ctx, "CancelWorkflow of a running optio body (until the run ended)", func() error {
			if err := env.Temporal.CancelWorkflow(ctx, wfID, ""); err != nil {
				return err
			}
			if _, err := turned(p.turned); err != nil {
				return err
			}
			_ = env.Temporal.GetWorkflow(ctx, wfID, "").GetWithOptions(ctx, nil, client.WorkflowRunGetOptions{DisableFollowingRuns: true})
			return nil
		}, func() []wfRef { return []wfRef{{"", wfID, ""}} })
		if err != nil {
			return nil, err
		}
		b.WriteString(t)
	}
	b.WriteString(sd.logsSince(env))
	res.Details = b.String()
	return res, nil
}
