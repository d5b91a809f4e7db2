// Command worker runs optio's worker: the engine with the demo task set.
//
// With no configuration it starts dev mode: an in-process Temporal server
// with its Web UI, an embedded MongoDB-wire server and Redis, on 127.0.0.1
// (Temporal 7233, Web UI 8233, Mongo 27017, Redis 6379), with data in
// ./.optio-dev so that history survives a restart, and prints the URLs to
// open. Given -temporal-address, -mongo-url or -redis-url (or TEMPORAL_ADDRESS,
// MONGO_URL, REDIS_URL), it uses that service instead of the embedded one;
// with all three it is a production worker. Run with -h for every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/devstack"
	"github.com/optio-temporal/optio/internal/telemetry"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/temporalconn"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	// go-redis prints its connection-pool failures straight to stderr;
	// through the logger they stay out of a one-line start-up error.
	redis.SetLogger(redisLog{logger})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, logger); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// run brings up the services cfg asks for (embedded or external), hands them
// to the engine and, once ctx is cancelled, shuts everything down. What to
// open in a browser is printed to out.
func run(ctx context.Context, cfg config, out io.Writer, logger *slog.Logger) (err error) {
	began := time.Now()

	var stack *devstack.Stack
	if cfg.devMode() {
		// What the embedded servers write under -data-dir is the owner's
		// alone.
		restrictNewFiles()
		stack, err = startStack(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer func() {
			t0 := time.Now()
			err = errors.Join(err, stack.Stop())
			logger.Info("dev stack stopped", "took", time.Since(t0).Round(time.Millisecond))
		}()
	}

	temporalAddress, redisURL, mongoURL := cfg.TemporalAddress, cfg.RedisURL, cfg.MongoURL
	if t := stack.Temporal(); t != nil {
		temporalAddress = t.HostPort()
	}
	if r := stack.Redis(); r != nil {
		redisURL = r.URL()
	}
	if m := stack.Mongo(); m != nil {
		mongoURL = m.URL()
	}

	var metrics *telemetry.Metrics
	var health *telemetry.Server
	if cfg.MetricsAddr != "" {
		if metrics, err = telemetry.NewMetrics(); err != nil {
			return err
		}
		if health, err = telemetry.Listen(cfg.MetricsAddr, metrics, logger); err != nil {
			return fmt.Errorf("%w: pass -metrics-addr with another address, or off", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = health.Close(sctx)
		}()
	}
	identity := workerIdentity()
	copts := client.Options{
		HostPort:  temporalAddress,
		Namespace: cfg.Namespace,
		Identity:  identity,
		Logger:    sdklog.NewStructuredLogger(logger.With("component", "temporal-sdk")),
	}
	if metrics != nil {
		copts.MetricsHandler = metrics.TemporalHandler()
	}
	tracing, err := startTracing(ctx, logger)
	if err != nil {
		return err
	}
	if tracing != nil {
		defer stopTracing(tracing, logger)
		copts.Interceptors = append(copts.Interceptors, tracing.Interceptor())
	}
	tc, err := temporalconn.Dial(ctx, copts, cfg.TemporalConn)
	if err != nil {
		return err
	}
	defer tc.Close()

	mc, err := mongo.Connect(options.Client().ApplyURI(mongoURL))
	if err != nil {
		return fmt.Errorf("connect to MongoDB: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = mc.Disconnect(dctx)
	}()
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = mc.Ping(pctx, nil)
	cancel()
	if err != nil {
		return fmt.Errorf("connect to MongoDB: %w", err)
	}

	// Every service is checked before the engine syncs anything or joins
	// the shared task queue, so a bad one fails in one line with nothing
	// written.
	if err := checkTemporal(ctx, tc, cfg.Namespace, temporalAddress); err != nil {
		return err
	}
	redisTLS := rpc.RedisTLS{CAFile: cfg.RedisTLSCA}
	if err := checkRedis(ctx, redisURL, redisTLS); err != nil {
		return err
	}

	metricsAddr := ""
	if health != nil {
		metricsAddr = health.Addr()
	}
	printBanner(out, cfg, stack, temporalAddress, metricsAddr, time.Since(began))

	deps := engineDeps{
		Temporal:  tc,
		Namespace: cfg.Namespace,
		Mongo:     mc.Database(cfg.DB),
		RedisURL:  redisURL,
		RedisTLS:  redisTLS,
		Prefix:    cfg.Prefix,
		DB:        cfg.DB,
		Launch:    cfg.Launch,
		Logger:    logger,

		CreateSearchAttributes: cfg.CreateSearchAttributes,
	}
	if health != nil {
		rdb, err := newHealthRedis(redisURL, redisTLS)
		if err != nil {
			return err
		}
		defer rdb.Close()
		deps.Metrics = metrics
		deps.Ready = func(eng *adapter.Engine) {
			health.AddChecks(readinessChecks(tc, mc, rdb, eng.TaskQueue(), identity)...)
		}
	}
	err = runEngine(ctx, deps)
	if ctx.Err() != nil {
		// Interrupted: whatever failed on the way down (a start-up cut
		// short, say) is the interruption's doing, not an error.
		if err != nil {
			logger.Info("interrupted", "while", err)
		}
		return nil
	}
	return err
}

// startStack starts the embedded counterparts of the services cfg does not
// name. A busy port becomes one line naming the flag that moves the part.
func startStack(ctx context.Context, cfg config, logger *slog.Logger) (*devstack.Stack, error) {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("-data-dir %q: %w", cfg.DataDir, err)
	}
	sc := devstack.Config{DataDir: dataDir, Logger: logger}
	if cfg.TemporalAddress == "" {
		sc.Temporal = &devstack.TemporalConfig{
			Port: cfg.DevTemporalPort,
			// Runs a developer left behind stay visible for a week.
			Retention:     7 * 24 * time.Hour,
			DynamicConfig: cfg.DevDynamicConfig,
		}
		if cfg.Namespace != devstack.DefaultNamespace {
			sc.Temporal.Namespaces = []string{cfg.Namespace}
		}
		sc.UI = &devstack.UIConfig{Port: cfg.DevUIPort, Namespace: cfg.Namespace}
	}
	if cfg.MongoURL == "" {
		sc.Mongo = &devstack.MongoConfig{Port: cfg.DevMongoPort}
	}
	if cfg.RedisURL == "" {
		sc.Redis = &devstack.RedisConfig{Port: cfg.DevRedisPort}
	}
	stack, err := devstack.Start(ctx, sc)
	var held *devstack.DataDirInUseError
	if errors.As(err, &held) {
		who := "another process"
		if held.PID > 0 {
			who = fmt.Sprintf("process %d (another worker?)", held.PID)
		}
		return nil, fmt.Errorf("data directory %s is in use by %s: stop it, or pass -data-dir with another directory", held.Dir, who)
	}
	var busy *devstack.PortInUseError
	if errors.As(err, &busy) {
		return nil, fmt.Errorf("%s port %d on %s is already in use: pass -%s with another port (0 picks a free one), or stop what is using it",
			partTitle(busy.Part), busy.Port, busy.Host, portFlags[busy.Part])
	}
	if err != nil {
		return nil, fmt.Errorf("start the dev stack: %w", err)
	}
	return stack, nil
}

func partTitle(part string) string {
	switch part {
	case devstack.PartTemporal:
		return "Temporal"
	case devstack.PartUI:
		return "Temporal Web UI"
	case devstack.PartMongo:
		return "MongoDB"
	case devstack.PartRedis:
		return "Redis"
	}
	return part
}

// printBanner tells the user where everything is.
func printBanner(out io.Writer, cfg config, stack *devstack.Stack, temporalAddress, metricsAddr string, took time.Duration) {
	mode := "production mode"
	if stack != nil {
		mode = "dev mode"
	}
	fmt.Fprintf(out, "\noptio worker (%s) is up in %s\n\n", mode, took.Round(time.Millisecond))
	if ui := stack.UI(); ui != nil {
		fmt.Fprintf(out, "  Temporal Web UI   %s/namespaces/%s/workflows\n", ui.URL(), cfg.Namespace)
	}
	fmt.Fprintf(out, "  Temporal          %s (namespace %s)%s\n", temporalAddress, cfg.Namespace, embedded(stack.Temporal() != nil))
	if stack.Temporal() != nil && len(cfg.DevDynamicConfig) > 0 {
		fmt.Fprintf(out, "  Dynamic config    %s\n", formatDynamicConfig(cfg.DevDynamicConfig))
	}
	if m := stack.Mongo(); m != nil {
		fmt.Fprintf(out, "  MongoDB           %s (database %s, collection %s_processes) [embedded FerretDB]\n", m.URL(), cfg.DB, cfg.Prefix)
	} else {
		fmt.Fprintf(out, "  MongoDB           database %s, collection %s_processes\n", cfg.DB, cfg.Prefix)
	}
	if r := stack.Redis(); r != nil {
		kind := "[redis-server]"
		if r.Embedded() {
			kind = "[embedded miniredis, nothing kept on disk]"
		}
		fmt.Fprintf(out, "  Redis             %s %s\n", r.URL(), kind)
	}
	if stack != nil {
		fmt.Fprintf(out, "  Data              %s\n", cfg.DataDir)
	}
	if metricsAddr != "" {
		fmt.Fprintf(out, "  Metrics           http://%s/metrics (health: /healthz, /readyz)\n", metricsAddr)
	}
	fmt.Fprintf(out, "\nPress Ctrl+C to stop.\n\n")
}

// formatDynamicConfig lists overrides as KEY=VALUE, sorted by key, with
// strings quoted so that "150" does not pass for the integer 150.
func formatDynamicConfig(dc map[string]any) string {
	pairs := make([]string, 0, len(dc))
	for _, k := range slices.Sorted(maps.Keys(dc)) {
		if s, ok := dc[k].(string); ok {
			pairs = append(pairs, fmt.Sprintf("%s=%q", k, s))
		} else {
			pairs = append(pairs, fmt.Sprintf("%s=%v", k, dc[k]))
		}
	}
	return strings.Join(pairs, " ")
}

func embedded(yes bool) string {
	if yes {
		return " [embedded]"
	}
	return ""
}
