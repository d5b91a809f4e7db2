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
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/bench/internal/netdelay"
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
	// Latencies are round trips added between Redis and everyone who talks
	// to it (the engine's RPC face and the bench's clients), through a
	// netdelay.Proxy: one setting each, whose phases all run before the
	// next setting's. 0 connects them directly. Default one setting, 0.
	Latencies []time.Duration
	// MongoLatencies are round trips added between the engine and Mongo,
	// through a netdelay.Dialer: one per entry of Latencies, or a single one
	// for every setting. Default 0 (direct).
	MongoLatencies []time.Duration
	// TemporalLatencies are round trips added between the engine (its
	// client and its workers) and the Temporal frontend, through a
	// netdelay.Proxy: one per entry of Latencies, or a single one for every
	// setting. Default 0 (direct).
	TemporalLatencies []time.Duration
}

// rpcLatency is one setting of RPCConcurrency: the round trips added to
// Redis, to Mongo and to Temporal.
type rpcLatency struct{ redis, mongo, temporal time.Duration }

// settings pairs Latencies with MongoLatencies and TemporalLatencies.
func (o RPCOptions) settings() ([]rpcLatency, error) {
	redis := o.Latencies
	if len(redis) == 0 {
		redis = []time.Duration{0}
	}
	mongo, err := perSetting("Mongo", o.MongoLatencies, len(redis))
	if err != nil {
		return nil, err
	}
	temporal, err := perSetting("Temporal", o.TemporalLatencies, len(redis))
	if err != nil {
		return nil, err
	}
	out := make([]rpcLatency, len(redis))
	for i, r := range redis {
		l := rpcLatency{redis: r, mongo: mongo[min(i, len(mongo)-1)], temporal: temporal[min(i, len(temporal)-1)]}
		if l.redis < 0 || l.mongo < 0 || l.temporal < 0 {
			return nil, fmt.Errorf("rpc: negative latency (Redis %v, Mongo %v, Temporal %v)", l.redis, l.mongo, l.temporal)
		}
		out[i] = l
	}
	return out, nil
}

// perSetting checks that a hop's latencies are one for every setting or one
// per setting (n of them); none means 0.
func perSetting(hop string, rtts []time.Duration, n int) ([]time.Duration, error) {
	switch len(rtts) {
	case 0:
		return []time.Duration{0}, nil
	case 1, n:
		return rtts, nil
	}
	return nil, fmt.Errorf("rpc: %d %s latencies for %d Redis latencies: give one, or one per Redis latency", len(rtts), hop, n)
}

// hops lists the setting's hops in the order the labels name them.
func (l rpcLatency) hops() []rpcHop {
	return []rpcHop{{"Redis", l.redis}, {"Mongo", l.mongo}, {"Temporal", l.temporal}}
}

// rpcHop is one hop of a setting and the round trip added to it.
type rpcHop struct {
	name string
	rtt  time.Duration
}

// label names the setting in the table's measure column: "loopback",
// "Redis RTT 1ms", "Redis+Temporal RTT 2ms", "Redis RTT 1ms, Mongo 2ms".
func (l rpcLatency) label() string {
	var delayed []rpcHop
	for _, h := range l.hops() {
		if h.rtt > 0 {
			delayed = append(delayed, h)
		}
	}
	if len(delayed) == 0 {
		return "loopback"
	}
	names := make([]string, len(delayed))
	same := true
	for i, h := range delayed {
		names[i] = h.name
		same = same && h.rtt == delayed[0].rtt
	}
	if same {
		return strings.Join(names, "+") + " RTT " + delayed[0].rtt.String()
	}
	label := delayed[0].name + " RTT " + delayed[0].rtt.String()
	for _, h := range delayed[1:] {
		label += ", " + h.name + " " + h.rtt.String()
	}
	return label
}

// slug is the label as part of a file name: "loopback",
// "redis-temporal-rtt-2ms", "redis-rtt-1ms--mongo-500us".
func (l rpcLatency) slug() string {
	return strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' {
			return r
		}
		return '-'
	}, strings.ToLower(strings.ReplaceAll(l.label(), "µ", "u"))), "-")
}

// describe says in a sentence what the setting simulates.
func (l rpcLatency) describe() string {
	if l == (rpcLatency{}) {
		return "no latency added: every hop is a bare loopback"
	}
	who := map[string]string{"Redis": "the engine's face and the clients", "Mongo": "the engine", "Temporal": "the engine's client and workers"}
	parts := make([]string, 0, 3)
	for _, h := range l.hops() {
		if h.rtt == 0 {
			parts = append(parts, h.name+" direct (no latency added)")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s round trip %v simulated (%s through a proxy that holds every chunk %v each way)", h.name, h.rtt, who[h.name], h.rtt/2))
	}
	return strings.Join(parts, "; ")
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
// one starts. It starts its own redis-server, and runs all that once per
// latency setting (RPCOptions.Latencies), each on an engine and database
// of its own, with the setting named in every row.
func RPCConcurrency(ctx context.Context, env *Env, opts RPCOptions) (*Result, error) {
	if opts.Processes <= 0 {
		opts.Processes = 96
	}
	if opts.Clients <= 0 {
		opts.Clients = 16
	}
	settings, err := opts.settings()
	if err != nil {
		return nil, err
	}
	if !redisserver.Available() {
		return nil, errors.New("rpc: needs a redis-server binary on PATH")
	}
	rsrv, err := redisserver.Start(ctx, redisserver.Options{Logger: env.log})
	if err != nil {
		return nil, err
	}
	defer func() { _ = rsrv.Stop() }()

	res := &Result{Name: "rpc"}
	var d strings.Builder
	fmt.Fprintf(&d, "rpc: %d processes per phase; the engine's server runs up to %d calls at once (rpc.DefaultConcurrency)\n",
		opts.Processes, rpc.DefaultConcurrency)
	for _, l := range settings {
		rows, err := rpcSetting(ctx, env, rsrv, opts, l, &d)
		if err != nil {
			return nil, fmt.Errorf("rpc, %s: %w", l.label(), err)
		}
		res.Rows = append(res.Rows, rows...)
	}
	res.Details = d.String()
	return res, nil
}

// rpcSetting runs both kinds of call, serial then concurrent, with the
// latency l added, on an engine of its own; it writes its details to d.
func rpcSetting(ctx context.Context, env *Env, rsrv *redisserver.Server, opts RPCOptions, l rpcLatency, d *strings.Builder) ([]Row, error) {
	fmt.Fprintf(d, "%s: %s\n", l.label(), l.describe())
	redisAddr := rsrv.Addr()
	var proxies []rpcProxy
	if l.redis > 0 {
		p, err := netdelay.Start(rsrv.Addr(), l.redis)
		if err != nil {
			return nil, err
		}
		defer func() { _ = p.Close() }()
		proxies = append(proxies, rpcProxy{"Redis", l.redis, p.Stats})
		redisAddr = p.Addr()
	}
	db := env.freshDB("rpc")
	if l.mongo > 0 {
		dialer := netdelay.NewDialer(l.mongo)
		defer func() { _ = dialer.Close() }()
		proxies = append(proxies, rpcProxy{"Mongo", l.mongo, dialer.Stats})
		mc, err := mongo.Connect(options.Client().ApplyURI(env.MongoURL).SetDialer(dialer).
			SetServerSelectionTimeout(10 * time.Minute).SetMonitor(env.mon.commandMonitor()))
		if err != nil {
			return nil, fmt.Errorf("connect to Mongo through the delay: %w", err)
		}
		defer func() { _ = mc.Disconnect(context.WithoutCancel(ctx)) }()
		db = mc.Database(db.Name())
	}

	tc := env.Temporal
	if l.temporal > 0 {
		p, err := netdelay.Start(env.TemporalAddress, l.temporal)
		if err != nil {
			return nil, err
		}
		defer func() { _ = p.Close() }()
		proxies = append(proxies, rpcProxy{"Temporal", l.temporal, p.Stats})
		if tc, err = env.dialTemporal(ctx, p.Addr()); err != nil {
			return nil, fmt.Errorf("connect to Temporal through the delay: %w", err)
		}
		defer tc.Close()
	}

	face := engineservice.Redis("redis://" + redisAddr + "/0")
	eng, err := env.newEngineOn(ctx, tc, db, face)
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

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 4 * opts.Clients})
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
	for _, m := range []struct {
		measure string
		slug    string // names its profiles
		ids     [2][]string
		rounds  int
		steps   []rpcStep
	}{
		// The cheap call first: one Mongo read, no Temporal.
		{"R rpc idle cancel, " + l.label(), "idle-cancel", [2][]string{ids["idle"], ids["idle"]}, 20, idleCancel},
		{"R rpc launch+cancel, " + l.label(), "launch-cancel", [2][]string{ids["serial"], ids["concurrent"]}, 1, launchCancel},
	} {
		held0 := heldSoFar(proxies)
		profile := "rpc-" + m.slug + "-" + l.slug()
		serial, err := rpcPhase(ctx, env, profile+"-1-client", eng, clients[:1], m.ids[0], m.rounds, m.steps)
		if err != nil {
			return nil, err
		}
		held1 := heldSoFar(proxies)
		conc, err := rpcPhase(ctx, env, fmt.Sprintf("%s-%d-clients", profile, opts.Clients), eng, clients, m.ids[1], m.rounds, m.steps)
		if err != nil {
			return nil, err
		}
		serial.held = heldDuring(proxies, held0, held1)
		conc.held = heldDuring(proxies, held1, heldSoFar(proxies))
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
			fmt.Fprintf(d, "  %s, %s: %d calls in %.2f s, %d unexpected answers or failures%s; CPU %.2f ms per call (whole process); runs ended %.2f s after the last call%s\n",
				m.measure, ph.name, ph.r.calls, ph.r.wall.Seconds(), ph.r.failed, ph.r.firstFailure(), ms(ph.r.cpu)/float64(max(ph.r.calls, 1)), ph.r.settle.Seconds(), ph.r.held)
			fmt.Fprintf(d, "    Temporal calls per call (long polls included):\n%s    Mongo commands per call:\n%s",
				ph.r.temporal.Format(ph.r.calls), ph.r.mongo.Format(ph.r.calls))
			if ph.r.profile != "" {
				fmt.Fprintf(d, "    CPU profile of the timed part: %s\n", ph.r.profile)
			}
		}
	}
	for _, p := range proxies {
		st := p.stats()
		rows = append(rows, Row{Measure: "R rpc proxy, " + l.label(), Metric: fmt.Sprintf("%s hold ms, asked %.2f", p.name, ms(p.rtt/2)),
			Ours: ms(st.MeanHold), Bare: math.NaN()})
		fmt.Fprintf(d, "  %s proxy: %s\n", p.name, proxyStats(st, p.rtt))
	}
	return rows, nil
}

// heldSoFar snapshots the proxies' counters.
func heldSoFar(proxies []rpcProxy) []netdelay.Stats {
	out := make([]netdelay.Stats, len(proxies))
	for i, p := range proxies {
		out[i] = p.stats()
	}
	return out
}

// heldDuring says how long each proxy held a chunk on average between two
// snapshots: the delay a phase really got, which the timer stretches most
// when the phase keeps the machine busy.
func heldDuring(proxies []rpcProxy, from, to []netdelay.Stats) string {
	var b strings.Builder
	for i, p := range proxies {
		if n := to[i].Chunks - from[i].Chunks; n > 0 {
			fmt.Fprintf(&b, "; %s held each chunk %v on average (asked %v)",
				p.name, ((to[i].Held - from[i].Held) / time.Duration(n)).Round(time.Microsecond), p.rtt/2)
		}
	}
	return b.String()
}

// rpcProxy is a delay of one setting, for its report.
type rpcProxy struct {
	name  string
	rtt   time.Duration
	stats func() netdelay.Stats
}

// proxyStats says what a proxy carried and how long it held each chunk,
// which is the round trip really added: a hold is a timer, and under a
// millisecond or on a busy machine it lasts longer than asked.
func proxyStats(s netdelay.Stats, rtt time.Duration) string {
	return fmt.Sprintf("%d connections, %d chunks, %.1f MB; each chunk held %v on average against %v asked, so each round trip gained about %v, not %v",
		s.Conns, s.Chunks, float64(s.Bytes)/1e6, s.MeanHold.Round(time.Microsecond), rtt/2, (2 * s.MeanHold).Round(10*time.Microsecond), rtt)
}

// rpcStep is one call a client makes on each of its processes, and the
// answer expected: "ok" for {ok: true}, else the reason of {ok: false}.
type rpcStep struct{ method, want string }

type rpcPhaseResult struct {
	calls, failed int
	failure       string
	wall, cpu     time.Duration
	settle        time.Duration
	held          string // how long the proxies held a chunk, if any
	lat           map[string]Samples
	// temporal and mongo are the calls and commands of the timed part.
	temporal, mongo Counts
	profile         string // the timed part's CPU profile, if any
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
func rpcPhase(ctx context.Context, env *Env, profile string, eng *adapter.Engine, clients []*rpc.Client, ids []string, rounds int, steps []rpcStep) (*rpcPhaseResult, error) {
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
	t0, m0 := env.Counters()
	stopProfile := env.Profile(profile)
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
	res.profile = stopProfile()
	t1, m1 := env.Counters()
	res.temporal, res.mongo = t1.Sub(t0), m1.Sub(m0)
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
