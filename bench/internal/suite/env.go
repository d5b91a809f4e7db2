package suite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/pprof"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"google.golang.org/grpc"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/devstack"
	"github.com/optio-temporal/optio/temporalconn"
)

// SideLabel is the pprof label key the bench sets on the goroutines of each
// side: "optio" (the engine's workers and the calls that drive it), "bare"
// (the bare worker and its driver) and "clients" (the shared Temporal and
// Mongo client connections). The embedded servers carry devstack's own
// label, devstack.GoroutineLabel ("temporal" or "mongo").
const SideLabel = "bench.side"

// EnvOptions configures NewEnv.
type EnvOptions struct {
	// TemporalAddress is a Temporal frontend "host:port" to use instead of
	// starting an in-process server.
	TemporalAddress string
	// Namespace is the Temporal namespace. Default "default".
	Namespace string
	// MongoURL is a mongodb:// URL to use instead of starting FerretDB.
	MongoURL string
	// HeartbeatTimeout is the body heartbeat timeout of optio
	// (Config.BodyHeartbeatTimeout) and of the bare heartbeating activity.
	// Default 10 s, the engine's default.
	HeartbeatTimeout time.Duration
	// ProgressFlushInterval is the engine's Config.ProgressFlushInterval.
	// Default 100 ms, the engine's default.
	ProgressFlushInterval time.Duration
	// Logger, when set, receives the warnings and errors of the engine, the
	// SDK and the servers. They are counted either way, and each
	// measurement's details list them.
	Logger *slog.Logger
	// ServerLogLevel is the least severe log of the in-process Temporal
	// server that reaches Logger (default warnings).
	ServerLogLevel slog.Level
	// ProfileDir, when set, receives a CPU profile per measurement and side
	// (see Env.Profile).
	ProfileDir string
	// NoCompression turns off the gzip compression of the Temporal
	// client's requests (the SDK's default), for both sides.
	NoCompression bool
}

// Env is what every measurement runs on: one Temporal client and one Mongo
// client, both instrumented, on servers started here or given.
type Env struct {
	Opts     EnvOptions
	Temporal client.Client
	Mongo    *mongo.Client
	// TemporalAddress and MongoURL say where the servers are.
	TemporalAddress string
	MongoURL        string
	// Embedded is true when the servers run in this process.
	Embedded bool

	log     *slog.Logger
	logs    *logCounter
	mon     *monitor
	tsrv    *devstack.Temporal
	msrv    *devstack.Mongo
	dbNames []string
}

// NewEnv starts (or connects to) Temporal and Mongo and returns an Env.
// Close it when done.
func NewEnv(ctx context.Context, opts EnvOptions) (env *Env, err error) {
	if opts.Namespace == "" {
		opts.Namespace = devstack.DefaultNamespace
	}
	if opts.ServerLogLevel == 0 {
		opts.ServerLogLevel = slog.LevelWarn
	}
	if opts.HeartbeatTimeout <= 0 {
		opts.HeartbeatTimeout = 10 * time.Second
	}
	if opts.ProgressFlushInterval <= 0 {
		opts.ProgressFlushInterval = 100 * time.Millisecond
	}
	var fwd slog.Handler
	if opts.Logger != nil {
		fwd = opts.Logger.Handler()
	}
	logs := newLogCounter(fwd, min(opts.ServerLogLevel, slog.LevelWarn))
	env = &Env{Opts: opts, log: slog.New(logs), logs: logs, mon: newMonitor()}
	defer func() {
		if err != nil {
			env.Close()
		}
	}()
	if opts.TemporalAddress == "" {
		// devstack labels the server's goroutines itself.
		if env.tsrv, err = devstack.StartTemporal(ctx, devstack.TemporalConfig{Logger: env.log, LogLevel: &opts.ServerLogLevel}); err != nil {
			return nil, err
		}
		env.TemporalAddress, env.Embedded = env.tsrv.HostPort(), true
	} else {
		env.TemporalAddress = opts.TemporalAddress
	}
	if opts.MongoURL == "" {
		// FerretDB's listener and connection goroutines inherit the label.
		pprof.Do(ctx, pprof.Labels(devstack.GoroutineLabel, devstack.PartMongo), func(ctx context.Context) {
			env.msrv, err = devstack.StartMongo(ctx, devstack.MongoConfig{Logger: env.log})
		})
		if err != nil {
			return nil, err
		}
		env.MongoURL, env.Embedded = env.msrv.URL(), true
	} else {
		env.MongoURL = opts.MongoURL
	}
	pprof.Do(ctx, pprof.Labels(SideLabel, "clients"), func(ctx context.Context) {
		if env.Temporal, err = env.dialTemporal(ctx, env.TemporalAddress); err != nil {
			return
		}
		// The driver's defaults (pool of 100), but no 30 s cap on waiting
		// for a connection: under 500 concurrent launches on FerretDB the
		// queue for one is long, and the bench measures it rather than fail.
		env.Mongo, err = mongo.Connect(options.Client().ApplyURI(env.MongoURL).
			SetServerSelectionTimeout(10 * time.Minute).SetMonitor(env.mon.commandMonitor()))
		if err != nil {
			err = fmt.Errorf("connect to Mongo at %s: %w", env.MongoURL, err)
		}
	})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// dialTemporal connects a Temporal client to the frontend at hostPort, its
// calls counted by the monitor, through temporalconn.Dial as cmd/worker
// connects (the bare worker shares the client, and so what Dial adds: the
// check of every call's headers by temporalconn.EscapeResourceIDs).
func (env *Env) dialTemporal(ctx context.Context, hostPort string) (client.Client, error) {
	return temporalconn.Dial(ctx, client.Options{
		HostPort:  hostPort,
		Namespace: env.Opts.Namespace,
		Logger:    sdklog.NewStructuredLogger(env.log),
		ConnectionOptions: client.ConnectionOptions{
			DialOptions:     []grpc.DialOption{grpc.WithChainUnaryInterceptor(env.mon.unary)},
			GrpcCompression: compression(env.Opts.NoCompression),
		},
	}, temporalconn.Config{})
}

// Close drops the databases the measurements created, closes the clients and
// stops the servers this Env started.
func (env *Env) Close() error {
	var errs []error
	if env.Mongo != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for _, name := range env.dbNames {
			if err := env.Mongo.Database(name).Drop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("drop database %s: %w", name, err))
			}
		}
		errs = append(errs, env.Mongo.Disconnect(ctx))
		cancel()
	}
	if env.Temporal != nil {
		env.Temporal.Close()
	}
	if env.msrv != nil {
		errs = append(errs, env.msrv.Stop())
	}
	if env.tsrv != nil {
		errs = append(errs, env.tsrv.Stop())
	}
	return errors.Join(errs...)
}

// Counters returns the Temporal call and Mongo command counters so far.
func (env *Env) Counters() (temporalCalls, mongoCommands Counts) { return env.mon.snapshot() }

// freshDB returns a database no measurement has used; Close drops it.
func (env *Env) freshDB(measure string) *mongo.Database {
	name := "bench_" + measure + "_" + randomHex(4)
	env.dbNames = append(env.dbNames, name)
	return env.Mongo.Database(name)
}

// NewEngine starts an optio engine on a fresh database, with its workers'
// goroutines labelled SideLabel=optio. ReconcileInterval is -1 (off).
func (env *Env) NewEngine(ctx context.Context, measure string) (*adapter.Engine, error) {
	return env.newEngine(ctx, measure, nil)
}

// newEngine is NewEngine with an RPC face (nil for none).
func (env *Env) newEngine(ctx context.Context, measure string, face adapter.RPCFace) (*adapter.Engine, error) {
	return env.newEngineOn(ctx, env.Temporal, env.freshDB(measure), face)
}

// newEngineOn is newEngine through a given Temporal client and on a given
// database, which Close drops if it came from freshDB.
func (env *Env) newEngineOn(ctx context.Context, tc client.Client, db *mongo.Database, face adapter.RPCFace) (*adapter.Engine, error) {
	var eng *adapter.Engine
	var err error
	pprof.Do(ctx, pprof.Labels(SideLabel, "optio"), func(ctx context.Context) {
		eng, err = adapter.New(ctx, adapter.Config{
			Temporal:              tc,
			Namespace:             env.Opts.Namespace,
			Mongo:                 db,
			Logger:                env.log,
			RPC:                   face,
			ReconcileInterval:     -1,
			BodyHeartbeatTimeout:  env.Opts.HeartbeatTimeout,
			ProgressFlushInterval: env.Opts.ProgressFlushInterval,
		})
	})
	return eng, err
}

// StopEngine shuts an engine down.
func StopEngine(eng *adapter.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = eng.Shutdown(ctx)
}

// sides is what a measurement compares: an optio engine on a fresh
// database and a bare worker on a queue of its own, with the warning and
// error counts at their start.
type sides struct {
	eng   *adapter.Engine
	bare  *Bare
	logs0 map[string]int
}

// newSides starts both sides of a measurement; stop ends them.
func (env *Env) newSides(ctx context.Context, measure string) (*sides, error) {
	eng, err := env.NewEngine(ctx, measure)
	if err != nil {
		return nil, err
	}
	bare, err := env.NewBare(ctx)
	if err != nil {
		StopEngine(eng)
		return nil, err
	}
	return &sides{eng: eng, bare: bare, logs0: env.logs.snapshot()}, nil
}

func (s *sides) stop() {
	s.bare.Stop()
	StopEngine(s.eng)
}

// logsSince lists the warnings and errors logged since the sides started.
func (s *sides) logsSince(env *Env) string { return logsSince(env.logs.snapshot(), s.logs0) }

// heartbeatInterval is how often optio's body heartbeats for a given timeout
// (adapter's heartbeatInterval); the bare heartbeating activity uses it too.
func heartbeatInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/4, 100*time.Millisecond), 5*time.Second)
}

// heartbeatThrottle is the MaxHeartbeatThrottleInterval optio's body worker
// uses; the bare worker uses it too.
func heartbeatThrottle(timeout time.Duration) time.Duration {
	return max(timeout/3, 100*time.Millisecond)
}

// Bare is a bare-Temporal worker in this process: one task queue, the bare
// workflows and activities, the same worker options as optio's body worker.
type Bare struct {
	Queue string
	w     worker.Worker
	acts  *bareActivities
}

// NewBare starts a bare worker on a task queue of its own, with its
// goroutines labelled SideLabel=bare.
func (env *Env) NewBare(ctx context.Context) (*Bare, error) {
	b := &Bare{Queue: "bench-bare-" + randomHex(4), acts: &bareActivities{}}
	var err error
	pprof.Do(ctx, pprof.Labels(SideLabel, "bare"), func(context.Context) {
		b.w = worker.New(env.Temporal, b.Queue, worker.Options{
			WorkerStopTimeout:            5 * time.Second,
			MaxHeartbeatThrottleInterval: heartbeatThrottle(env.Opts.HeartbeatTimeout),
		})
		registerBare(b.w, b.acts)
		err = b.w.Start()
	})
	if err != nil {
		return nil, fmt.Errorf("start bare worker: %w", err)
	}
	return b, nil
}

// Stop stops the bare worker.
func (b *Bare) Stop() { b.w.Stop() }

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = io.ReadFull(rand.Reader, buf)
	return hex.EncodeToString(buf)
}

// timedSide runs f as one side ("optio" or "bare") of a measurement that
// does ops operations, under the side's pprof label and with a CPU profile
// named after the measurement and side. The side starts on a quiet process:
// it first waits until the servers have finished what the work before it
// left them (the visibility queue, above all, lags the runs by seconds
// under load), so no side pays for the other's. Its wall time ends with f;
// its CPU time also counts that tail, the work f left behind, up to the
// point where the process goes quiet again.
func (env *Env) timedSide(ctx context.Context, measure, name string, m *meter, ops int, f func(context.Context)) time.Duration {
	settle(ctx)
	stop := env.Profile(measure + "-" + name)
	var wall time.Duration
	side(ctx, name, func(ctx context.Context) {
		m.start()
		f(ctx)
		wall = m.stop(ops)
		m.cpu += settle(ctx)
	})
	if path := stop(); path != "" {
		split, err := readCPUSplit(path)
		if err != nil {
			env.log.Warn("read profile", "error", err)
		}
		m.profiled = split
	}
	return wall
}

// The quiet constants say how the bench tells that the process has finished a side's
// work: its CPU use stays below quietCores for quietWindows windows of
// quietWindow in a row. The engine's and the servers' idle background (the
// lease's beat, the workers' polls, the servers' own timers) stay well
// under it here.
const (
	quietCores   = 0.15
	quietWindow  = 250 * time.Millisecond
	quietWindows = 3
	// quietMax is the longest settle waits: a process that never goes
	// quiet (a loaded machine) is measured anyway.
	quietMax = time.Minute
)

// settle waits until the process is quiet (see quietCores) and returns the
// CPU time it used before the quiet windows began.
func settle(ctx context.Context) time.Duration {
	c0 := cpuTime()
	deadline := time.Now().Add(quietMax)
	var quiet int
	var busy time.Duration
	last := c0
	for quiet < quietWindows && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return cpuTime() - c0
		case <-time.After(quietWindow):
		}
		now := cpuTime()
		if float64(now-last) < quietCores*float64(quietWindow) {
			quiet++
		} else {
			quiet = 0
			busy = now - c0
		}
		last = now
	}
	return busy
}

// inOrder runs the optio side and then the bare one, or bare first, and
// stops at the first error.
func inOrder(bareFirst bool, optio, bare func() error) error {
	first, second := optio, bare
	if bareFirst {
		first, second = bare, optio
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

// side runs f with the pprof label of a side on the calling goroutine (and
// on every goroutine f starts).
func side(ctx context.Context, name string, f func(context.Context)) {
	pprof.Do(ctx, pprof.Labels(SideLabel, name), f)
}

// compression is the client's gRPC compression: the SDK's default (gzip),
// or none.
func compression(none bool) client.GrpcCompression {
	if none {
		return &client.GrpcCompressionNone{}
	}
	return nil
}
