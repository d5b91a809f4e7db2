package suite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/redisserver"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
	"github.com/optio-temporal/optio/rpc/engineservice"
)

// RPCOptions shapes RPCConcurrency.
type RPCOptions struct {
	// Processes is how many processes each phase launches and cancels.
	// Default 96.
	Processes int
	// Clients is how many clients call at once in the concurrent phase.
	// Default 16.
	Clients int
}

// RPCConcurrencyTarget is the least ratio of the concurrent phase's call
// rate to the serial phase's (issue 15).
const RPCConcurrencyTarget = 4.0

// RPCConcurrency measures the engine's optio-engine service over Redis with
// one client calling at a time against Clients clients calling at once, on
// distinct ad-hoc processes, each owned by one client, and reports each
// phase's calls per second, their ratio (target RPCConcurrencyTarget) and
// p50/p99 per method. Two kinds of calls: the cheap one, cancel of an idle
// process (one Mongo read, answered not-cancellable), 20 rounds over the
// processes; and launch then cancel of a process whose body waits for its
// cancel (Temporal start and cancel, Mongo writes), once per process, on
// fresh processes for each phase; the runs of a phase end before the next
// one starts. It starts its own redis-server.
func RPCConcurrency(ctx context.Context, env *Env, opts RPCOptions) (*Result, error) {
	if opts.Processes <= 0 {
		opts.Processes = 96
	}
	if opts.Clients <= 0 {
		opts.Clients = 16
	}
	if !redisserver.Available() {
		return nil, errors.New("rpc: needs a redis-server binary on PATH")
	}
	rsrv, err := redisserver.Start(ctx, redisserver.Options{Logger: env.log})
	if err != nil {
		return nil, err
	}
	defer func() { _ = rsrv.Stop() }()

	face := engineservice.Redis(rsrv.URL())
	eng, err := env.newEngine(ctx, "rpc", face)
	if err != nil {
		return nil, err
	}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = eng.Run(ctx)
	}()
	defer func() {
		StopEngine(eng)
		<-ran
	}()
	select {
	case <-face.Ready():
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	ids := map[string][]string{}
	for _, phase := range []string{"idle", "serial", "concurrent"} {
		for i := range opts.Processes {
			id := fmt.Sprintf("rpc-%s-%d", phase, i)
			if _, err := eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: id, Name: "Wait", Execute: func(pc *adapter.ProcessContext) error {
				<-pc.Context().Done()
				return pc.Context().Err()
			}}, adapter.AdhocOptions{}); err != nil {
				return nil, err
			}
			ids[phase] = append(ids[phase], id)
		}
	}

	rdb := redis.NewClient(&redis.Options{Addr: rsrv.Addr(), PoolSize: 4 * opts.Clients})
	defer rdb.Close()
	clients := make([]*rpc.Client, opts.Clients)
	for i := range clients {
		c, err := rpc.NewClient(rdb, rpc.ClientOptions{KeyPrefix: eng.RPCKeyPrefix(), Logger: env.log})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		clients[i] = c
	}
	// Warm the path: the service answers not-found without touching Temporal.
	for range 5 {
		var out map[string]any
		if err := clients[0].Call(ctx, engineapi.Service, "cancel", map[string]any{"processId": "rpc-warm"}, &out); err != nil {
			return nil, fmt.Errorf("rpc warm-up: %w", err)
		}
	}

	launchCancel := []rpcStep{{"launch", "ok"}, {"cancel", "ok"}}
	idleCancel := []rpcStep{{"cancel", string(adapter.ReasonNotCancellable)}}
	one, many := "1 client", fmt.Sprintf("%d clients", opts.Clients)
	var rows []Row
	var d strings.Builder
	fmt.Fprintf(&d, "rpc: %d processes per phase; the engine's server runs up to %d calls at once (rpc.DefaultConcurrency)\n",
		opts.Processes, rpc.DefaultConcurrency)
	for _, m := range []struct {
		measure string
		ids     [2][]string
		rounds  int
		steps   []rpcStep
	}{
		// The cheap call first: one Mongo read, no Temporal.
		{"R rpc cancel of idle processes", [2][]string{ids["idle"], ids["idle"]}, 20, idleCancel},
		{"R rpc launch+cancel", [2][]string{ids["serial"], ids["concurrent"]}, 1, launchCancel},
	} {
		serial, err := rpcPhase(ctx, eng, clients[:1], m.ids[0], m.rounds, m.steps)
		if err != nil {
			return nil, err
		}
		conc, err := rpcPhase(ctx, eng, clients, m.ids[1], m.rounds, m.steps)
		if err != nil {
			return nil, err
		}
		ratio := conc.rate() / serial.rate()
		rows = append(rows,
			Row{Measure: m.measure, Metric: one + ": calls/s", Ours: serial.rate(), Bare: math.NaN()},
			Row{Measure: m.measure, Metric: many + ": calls/s", Ours: conc.rate(), Bare: math.NaN()},
			Row{Measure: m.measure, Metric: many + " / 1 client, rate", Ours: ratio, Bare: math.NaN(),
				Target: fmt.Sprintf(">= %.0fx", RPCConcurrencyTarget), Verdict: verdict(ratio >= RPCConcurrencyTarget && serial.failed+conc.failed == 0)})
		for _, ph := range []struct {
			name string
			r    *rpcPhaseResult
		}{{one, serial}, {many, conc}} {
			for _, st := range m.steps {
				lat := ph.r.lat[st.method]
				rows = append(rows,
					Row{Measure: m.measure, Metric: ph.name + ": " + st.method + " p50 ms", Ours: ms(lat.Percentile(50)), Bare: math.NaN()},
					Row{Measure: m.measure, Metric: ph.name + ": " + st.method + " p99 ms", Ours: ms(lat.Percentile(99)), Bare: math.NaN()})
			}
			fmt.Fprintf(&d, "  %s, %s: %d calls in %.2f s, %d unexpected answers or failures%s; CPU %.2f ms per call (whole process); runs ended %.2f s after the last call\n",
				m.measure, ph.name, ph.r.calls, ph.r.wall.Seconds(), ph.r.failed, ph.r.firstFailure(), ms(ph.r.cpu)/float64(max(ph.r.calls, 1)), ph.r.settle.Seconds())
		}
	}
	return &Result{Name: "rpc", Rows: rows, Details: d.String()}, nil
}

// rpcStep is one call a client makes on each of its processes, and the
// answer expected: "ok" for {ok: true}, else the reason of {ok: false}.
type rpcStep struct{ method, want string }

type rpcPhaseResult struct {
	calls, failed int
	failure       string
	wall, cpu     time.Duration
	settle        time.Duration
	lat           map[string]Samples
}

func (r *rpcPhaseResult) rate() float64 { return float64(r.calls) / r.wall.Seconds() }

func (r *rpcPhaseResult) firstFailure() string {
	if r.failure == "" {
		return ""
	}
	return " (first: " + r.failure + ")"
}

// rpcPhase has the clients share ids out round-robin, each making the steps
// on each of its processes in turn, rounds times over, and then waits for
// every run to end (not timed).
func rpcPhase(ctx context.Context, eng *adapter.Engine, clients []*rpc.Client, ids []string, rounds int, steps []rpcStep) (*rpcPhaseResult, error) {
	res := &rpcPhaseResult{lat: map[string]Samples{}}
	var mu sync.Mutex
	record := func(method string, d time.Duration, failure string) {
		mu.Lock()
		defer mu.Unlock()
		res.calls++
		res.lat[method] = append(res.lat[method], d)
		if failure != "" {
			res.failed++
			if res.failure == "" {
				res.failure = failure
			}
		}
	}
	call := func(c *rpc.Client, st rpcStep, id string) {
		params := map[string]any{"processId": id}
		if st.method == "launch" {
			params["sessionId"] = nil // a required key of launch
		}
		start := time.Now()
		var out map[string]any
		err := c.Call(ctx, engineapi.Service, st.method, params, &out)
		d := time.Since(start)
		switch {
		case err != nil:
			record(st.method, d, fmt.Sprintf("%s %s: %v", st.method, id, err))
		case st.want == "ok" && out["ok"] != true, st.want != "ok" && out["reason"] != st.want:
			record(st.method, d, fmt.Sprintf("%s %s: %v", st.method, id, out))
		default:
			record(st.method, d, "")
		}
	}
	cpu0, start := cpuTime(), time.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for range rounds {
				for j := i; j < len(ids); j += len(clients) {
					for _, st := range steps {
						call(c, st, ids[j])
					}
				}
			}
		})
	}
	wg.Wait()
	res.wall, res.cpu = time.Since(start), cpuTime()-cpu0
	settled := time.Now()
	for _, id := range ids {
		for {
			p, err := eng.GetProcess(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("rpc: read %s: %w", id, err)
			}
			if p.Status.State.Launchable() {
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	res.settle = time.Since(settled)
	return res, nil
}
