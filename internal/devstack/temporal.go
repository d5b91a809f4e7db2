package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/primitives/timestamp"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/optio-temporal/optio/workflows"
)

// DefaultNamespace is registered on every Temporal this package starts.
const DefaultNamespace = "default"

// GoroutineLabel is the pprof label key set on every goroutine an embedded
// server starts; its value is the part (for example [PartTemporal]).
const GoroutineLabel = "optio.devstack"

// TemporalDBFile is the SQLite file a file-backed Temporal keeps in its
// DataDir.
const TemporalDBFile = "temporal.db"

const (
	clusterName = "active"
	// clusterID is fixed so that a file-backed server finds the cluster
	// metadata it wrote on its first start.
	clusterID = "6f0e6c1e-0b1d-4f55-9a50-6f7074696f00"
)

// TemporalConfig configures [StartTemporal].
type TemporalConfig struct {
	// Host is the address the frontend and the internal services bind to.
	// Default [DefaultHost].
	Host string
	// Port is the frontend's gRPC port. 0 picks a free port.
	Port int
	// DataDir, when set, keeps the server's state in DataDir/temporal.db, so
	// workflows, their histories and schedules survive a restart. Empty
	// keeps them in a scratch file under the system's temporary directory,
	// written without sync and removed at Stop (tests, benchmarks).
	DataDir string
	// Namespaces are registered besides [DefaultNamespace].
	Namespaces []string
	// Retention is how long closed workflows are kept, for namespaces this
	// start creates (existing ones keep theirs). Default 24h.
	Retention time.Duration
	// DynamicConfig overrides or adds dynamic config values, by key (for
	// example "history.timerProcessorMaxTimeShift": time.Second).
	DynamicConfig map[string]any
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// LogLevel is the least severe server log that reaches Logger. The
	// server is chatty; the default is slog.LevelWarn.
	LogLevel *slog.Level
	// TLS, when set, serves the frontend over TLS (or mutual TLS); nil
	// serves plaintext.
	TLS *TemporalTLS
	// APIKey, when set, makes the frontend refuse (PermissionDenied) every
	// call whose authorization header is not "Bearer " + APIKey, which is
	// how Temporal Cloud reads an API key. Calls without the header pass:
	// the server's own system workers send none. For tests of clients that
	// send keys.
	APIKey string

	// pickPort, when set, replaces freePort for the internal ports; part
	// is "http" or a service name. Tests use it to hand the server a port
	// that is taken.
	pickPort func(host, part string) (int, error)
}

// Temporal is an in-process Temporal server (frontend, history, matching and
// worker services) on SQLite.
type Temporal struct {
	server    temporal.Server
	hostPort  string
	namespace string
	logLevel  *slog.LevelVar
	tls       *TemporalTLS
	// scratch holds the database of a server started without a DataDir.
	scratch *scratchDir
	// pins keeps SQLite's allocator mappings while the server runs.
	pins *allocatorPins

	stopOnce sync.Once
	stopErr  error
}

// quiet is a log level above every level the server uses.
const quiet = slog.LevelError + 4

// StartTemporal starts a Temporal server and returns once its frontend
// accepts calls. A Port already in use gives a *PortInUseError.
func StartTemporal(ctx context.Context, cfg TemporalConfig) (*Temporal, error) {
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 24 * time.Hour
	}
	logger := orDefault(cfg.Logger).With("part", PartTemporal)
	level := &slog.LevelVar{}
	level.Set(slog.LevelWarn)
	if cfg.LogLevel != nil {
		level.Set(*cfg.LogLevel)
	}

	if cfg.Port != 0 {
		if err := checkPortFree(PartTemporal, cfg.Host, cfg.Port); err != nil {
			return nil, err
		}
	}

	pins := pinAllocator()
	sqlCfg, scratch, err := prepareSQLite(cfg)
	if err != nil {
		pins.release()
		return nil, err
	}
	t, err := startTemporalWithRetries(ctx, cfg, sqlCfg, logger, level)
	if err != nil {
		pins.release()
		if rerr := scratch.remove(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, err
	}
	t.scratch, t.pins = scratch, pins
	return t, nil
}

// startTemporalWithRetries starts the server on sqlCfg, picking new ports when one is
// taken before the server binds it.
func startTemporalWithRetries(ctx context.Context, cfg TemporalConfig, sqlCfg *config.SQL, logger *slog.Logger, level *slog.LevelVar) (*Temporal, error) {
	// The internal services' ports (and Port, when 0) are picked free, but
	// another process can take one before the server binds it; such a clash
	// gets a few tries with new picks.
	var lastErr error
	for range 3 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t, err := startTemporalOnce(cfg, sqlCfg, logger, level)
		if err == nil {
			return t, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
		if cfg.Port != 0 {
			if perr := checkPortFree(PartTemporal, cfg.Host, cfg.Port); perr != nil {
				return nil, perr
			}
		}
		lastErr = err
	}
	return nil, lastErr
}

func startTemporalOnce(cfg TemporalConfig, sqlCfg *config.SQL, logger *slog.Logger, level *slog.LevelVar) (*Temporal, error) {
	// The frontend's HTTP API is on a free port too: without it the server
	// warns at every start that Nexus is unavailable.
	pick := cfg.pickPort
	if pick == nil {
		pick = func(host, _ string) (int, error) { return freePort(host) }
	}
	httpPort, err := pick(cfg.Host, "http")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PartTemporal, err)
	}
	ports := make(map[primitives.ServiceName]int, 4)
	for _, svc := range []primitives.ServiceName{
		primitives.FrontendService, primitives.HistoryService,
		primitives.MatchingService, primitives.WorkerService,
	} {
		port := 0
		if svc == primitives.FrontendService {
			port = cfg.Port
		}
		if port == 0 {
			p, err := pick(cfg.Host, string(svc))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", PartTemporal, err)
			}
			port = p
		}
		ports[svc] = port
	}
	frontend := hostPort(cfg.Host, ports[primitives.FrontendService])

	conf := serverConfig(cfg.Host, frontend, ports, httpPort, sqlCfg)
	if cfg.TLS != nil {
		conf.Global.TLS = cfg.TLS.rootTLS()
	}
	slogger := serverLogger{log: logger, level: level, fatal: &atomic.Pointer[string]{}, failFast: &atomic.Bool{}}
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("%s: authorizer: %w", PartTemporal, err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, slogger)
	if err != nil {
		return nil, fmt.Errorf("%s: claim mapper: %w", PartTemporal, err)
	}
	if cfg.APIKey != "" {
		claimMapper = apiKeyClaimMapper{want: "Bearer " + cfg.APIKey}
	}
	hosts := make(map[primitives.ServiceName]static.Hosts, len(ports))
	for svc, port := range ports {
		hosts[svc] = static.SingleLocalHost(hostPort(cfg.Host, port))
	}

	var srv temporal.Server
	// Every goroutine the server starts, directly or not, inherits this
	// label; leak checks use it to tell the server's goroutines (some of which
	// it never stops) from everyone else's, and profiles show it too.
	pprof.Do(context.Background(), pprof.Labels(GoroutineLabel, PartTemporal), func(context.Context) {
		// The server calls Fatal where it expects the process to exit (a
		// port it cannot bind, say) and may then panic on what it failed
		// to build; during start both become this function's error.
		defer func() {
			slogger.failFast.Store(false)
			if r := recover(); r != nil {
				err = fmt.Errorf("%s: server panicked while starting on %s: %v%s", PartTemporal, frontend, r, fatalSuffix(slogger))
				level.Set(quiet)
				if srv != nil {
					_ = srv.Stop()
				}
			}
		}()
		slogger.failFast.Store(true)
		srv, err = temporal.NewServer(
			temporal.WithConfig(conf),
			temporal.ForServices(temporal.DefaultServices),
			temporal.WithStaticHosts(hosts),
			temporal.WithLogger(slogger),
			temporal.WithAuthorizer(authorizer),
			temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
			temporal.WithDynamicConfigClient(dynamicConfig(cfg.DynamicConfig)),
		)
		slogger.failFast.Store(false)
		if err != nil {
			err = fmt.Errorf("%s: create server: %w", PartTemporal, err)
			return
		}
		err = srv.Start()
		if err == nil && slogger.fatal.Load() != nil {
			err = errors.New("fatal error logged")
		}
		if err != nil {
			level.Set(quiet)
			_ = srv.Stop()
			err = fmt.Errorf("%s: start server on %s: %w%s", PartTemporal, frontend, err, fatalSuffix(slogger))
		}
	})
	if err != nil {
		return nil, err
	}
	t := &Temporal{
		server:    srv,
		hostPort:  frontend,
		namespace: DefaultNamespace,
		logLevel:  level,
		tls:       cfg.TLS,
	}
	if err := t.registerSearchAttributes(append([]string{DefaultNamespace}, cfg.Namespaces...)); err != nil {
		_ = t.Stop()
		return nil, err
	}
	return t, nil
}

// registerSearchAttributes adds optio's search attributes to the namespaces
// that lack them (those a file-backed server created before they existed),
// and waits until the server applies them.
func (t *Temporal) registerSearchAttributes(namespaces []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	creds := insecure.NewCredentials()
	if t.tls != nil {
		tc, err := t.tls.clientConfig()
		if err != nil {
			return fmt.Errorf("%s: search attributes: %w", PartTemporal, err)
		}
		creds = credentials.NewTLS(tc)
	}
	conn, err := grpc.NewClient(t.hostPort, grpc.WithTransportCredentials(creds))
	if err != nil {
		return fmt.Errorf("%s: search attributes: %w", PartTemporal, err)
	}
	defer func() { _ = conn.Close() }()
	ops := operatorservice.NewOperatorServiceClient(conn)
	added := false
	for _, ns := range namespaces {
		list, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		if err != nil {
			return fmt.Errorf("%s: list search attributes of %s: %w", PartTemporal, ns, err)
		}
		missing := workflows.MissingSearchAttributes(list.GetCustomAttributes())
		if len(missing) == 0 {
			continue
		}
		types := workflows.SearchAttributeTypes()
		req := &operatorservice.AddSearchAttributesRequest{Namespace: ns, SearchAttributes: map[string]enumspb.IndexedValueType{}}
		for _, n := range missing {
			req.SearchAttributes[n] = types[n]
		}
		if _, err := ops.AddSearchAttributes(ctx, req); err != nil {
			return fmt.Errorf("%s: add search attributes %v to %s: %w", PartTemporal, missing, ns, err)
		}
		added = true
	}
	if added {
		// Every service's namespace registry refreshes on its own
		// (system.namespaceCacheRefreshInterval, 2 s by default).
		time.Sleep(2500 * time.Millisecond)
	}
	return nil
}

// fatalSuffix quotes the first Fatal the server logged, if any.
func fatalSuffix(l serverLogger) string {
	if msg := l.fatal.Load(); msg != nil {
		return " (" + *msg + ")"
	}
	return ""
}

// HostPort returns the frontend's "host:port", for client.Options.HostPort.
func (t *Temporal) HostPort() string { return t.hostPort }

// Namespace returns [DefaultNamespace], the namespace clients should use.
func (t *Temporal) Namespace() string { return t.namespace }

// Stop stops the server. Calling it again does nothing and returns the
// first call's result.
func (t *Temporal) Stop() error {
	t.stopOnce.Do(func() {
		// The server routinely logs warnings and errors while it shuts down
		// (polls interrupted, shards closing); they would only alarm a
		// reader, and a failed stop is returned anyway.
		t.logLevel.Set(quiet)
		pprof.Do(context.Background(), pprof.Labels(GoroutineLabel, PartTemporal), func(context.Context) {
			t.stopErr = t.server.Stop()
		})
		t.stopErr = errors.Join(t.stopErr, t.scratch.remove())
		t.pins.release()
	})
	return t.stopErr
}

// prepareSQLite returns the persistence config and makes sure the database
// has its schema and namespaces; scratch is the directory to remove when
// the server stops (nil with a DataDir). The SQLite plugin keeps each
// database open for the life of the process, so its connection goroutines
// carry the server's label too.
func prepareSQLite(cfg TemporalConfig) (sqlCfg *config.SQL, scratch *scratchDir, err error) {
	pprof.Do(context.Background(), pprof.Labels(GoroutineLabel, PartTemporal), func(context.Context) {
		sqlCfg, scratch, err = prepareSQLiteUnlabeled(cfg)
	})
	return sqlCfg, scratch, err
}

func prepareSQLiteUnlabeled(cfg TemporalConfig) (*config.SQL, *scratchDir, error) {
	dir := cfg.DataDir
	// WAL keeps a dev server's writes cheap; NORMAL sync is safe against a
	// crash of the process, which is what dev mode meets. A scratch
	// database is thrown away with its process, so it need not sync at all.
	sync := "normal"
	var scratch *scratchDir
	if dir == "" {
		var err error
		if scratch, err = newScratchDir(); err != nil {
			return nil, nil, err
		}
		dir, sync = scratch.path(), "off"
	}
	sqlCfg, err := openSQLite(cfg, dir, sync)
	if err != nil {
		return nil, nil, errors.Join(err, scratch.remove())
	}
	return sqlCfg, scratch, nil
}

func openSQLite(cfg TemporalConfig, dir, sync string) (*config.SQL, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: data dir: %w", PartTemporal, err)
	}
	file := filepath.Join(dir, TemporalDBFile)
	sqlCfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: file,
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  sync,
			"busy_timeout": "5000",
		},
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
			_ = os.Remove(file)
			return nil, fmt.Errorf("%s: create schema in %s: %w", PartTemporal, file, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", PartTemporal, err)
	}

	names := append([]string{DefaultNamespace}, cfg.Namespaces...)
	seen := make(map[string]bool, len(names))
	var nsConfigs []*sqliteschema.NamespaceConfig
	for _, name := range names {
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		// A new namespace gets optio's search attributes from the start;
		// an existing one gets them after the server starts.
		ns, err := sqliteschema.NewNamespaceConfig(clusterName, name, false, workflows.SearchAttributeTypes())
		if err != nil {
			return nil, fmt.Errorf("%s: namespace %q: %w", PartTemporal, name, err)
		}
		ns.Detail.Config.Retention = timestamp.DurationPtr(cfg.Retention)
		nsConfigs = append(nsConfigs, ns)
	}
	if err := sqliteschema.CreateNamespaces(sqlCfg, nsConfigs...); err != nil {
		return nil, fmt.Errorf("%s: register namespaces: %w", PartTemporal, err)
	}
	if err := trimVisibilityIndexes(context.Background(), file); err != nil {
		// The server runs the same on the schema's full set, only slower.
		orDefault(cfg.Logger).With("part", PartTemporal).Warn("visibility indexes left as they are", "file", file, "error", err)
	}
	return sqlCfg, nil
}

func serverConfig(host, frontend string, ports map[primitives.ServiceName]int, httpPort int, sqlCfg *config.SQL) *config.Config {
	const store = "sqlite-default"
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = host
	conf.Persistence.DefaultStore = store
	conf.Persistence.VisibilityStore = store
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{store: {SQL: sqlCfg}}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontend,
				HTTPAddress:            hostPort(host, httpPort),
				ClusterID:              clusterID,
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = make(map[string]config.Service, len(ports))
	for svc, port := range ports {
		var s config.Service
		s.RPC.GRPCPort = port
		s.RPC.BindOnIP = host
		if svc == primitives.FrontendService {
			s.RPC.HTTPPort = httpPort
		}
		conf.Services[string(svc)] = s
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend
	return &conf
}

// dynamicConfig is the dynamic config of a dev/test server: the features
// optio relies on are switched on explicitly (whatever a server version's
// defaults are), and the knobs that trade throughput for latency are set for
// one user on one machine.
func dynamicConfig(overrides map[string]any) dynamicconfig.StaticClient {
	dc := dynamicconfig.StaticClient{
		// Workflow Updates carry child-spawn requests from a body to its workflow.
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():              true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecutionAsyncAccepted.Key(): true,
		// Cron tasks are Temporal Schedules, run by the worker service's scheduler.
		dynamicconfig.FrontendEnableSchedules.Key(): true,
		dynamicconfig.WorkerEnableScheduler.Key():   true,
		// One task queue partition: with the default four, a task can land in
		// a partition nobody polls and wait to be forwarded.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
		// Nexus endpoints are visible as soon as they are created, as in the
		// Temporal CLI's dev server; the persistence limits go up because
		// that cache is bypassed. Search attributes are not forced the same
		// way (the CLI's dev server does): that made every workflow start,
		// upsert and visibility write read the namespace and the cluster
		// metadata from SQLite, some 2.5 ms of CPU per process. Namespaces
		// the server creates have optio's attributes from the start, and
		// attributes added later apply within the namespace registry's
		// refresh (registerSearchAttributes and the engine's search
		// attribute check wait for it).
		dynamicconfig.ForceNexusEndpointRefreshOnRead.Key():              true,
		dynamicconfig.FrontendPersistenceMaxQPS.Key():                    10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():                     45000,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 1000,
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8192,
		// Timers fire close to their deadline instead of up to a second late.
		dynamicconfig.TimerProcessorMaxTimeShift.Key(): 10 * time.Millisecond,
		// A shard loads its new transfer tasks (a workflow task to hand to
		// a worker, a child to start, a cancel to deliver) at most this many
		// times a second. Temporal's default, 20, is per shard of a cluster
		// of hundreds; on this server's single shard it held each such hop
		// of every run for up to 50 ms: a workflow task waited about 40 ms
		// between scheduled and started, and a workflow with one activity
		// took 100 ms from start to result instead of 20
		// (BenchmarkTemporalWorkflowTaskDispatch). At 200 a hop waits 5 ms
		// at most, and a busy server still loads its tasks in batches.
		dynamicconfig.TransferProcessorMaxPollRPS.Key(): 200,
		// A task queue of the history service (transfer, timer,
		// visibility, outbound) forgets its completed tasks, and deletes
		// them from SQLite, only at its checkpoint, by default every 30 s.
		// Until then it tracks them with the pending ones, and it walks all
		// of them each time new tasks arrive (to split its slice at the new
		// range). A cluster's hundreds of shards each track a few; this
		// server's single shard tracked every task of the last 30 s, so
		// the walk grew with the load and run after run: measurement 5 of
		// the bench spent 4 s more of the server's CPU in that walk in its
		// fifth run than in its first. At 1 s a walk covers at most a
		// second's tasks; the checkpoint itself is a few map walks and,
		// when tasks completed, one range delete.
		dynamicconfig.TransferProcessorUpdateAckInterval.Key():   time.Second,
		dynamicconfig.TimerProcessorUpdateAckInterval.Key():      time.Second,
		dynamicconfig.VisibilityProcessorUpdateAckInterval.Key(): time.Second,
		dynamicconfig.OutboundProcessorUpdateAckInterval.Key():   time.Second,
		// A client waiting for a run to close (the SDK's WorkflowRun.Get:
		// a LaunchAndWait of a run expected on another engine, a
		// cancel-and-wait; a wait for a run expected on its own engine
		// fetches it only once it has closed, see adapter/closewatch.go)
		// long-polls the history service, which wakes it on a
		// notification of the close.
		// The server hands those notifications to each waiter through a
		// buffer of one and drops any that finds it full, so when a run
		// closes within milliseconds of an earlier change, the waiter can
		// miss the close and learns of it only when its poll expires. Seen
		// here once runs got fast: about 1 run in 500 ended 20 s late,
		// Temporal's default expiry. The waiter polls again after 5 s.
		dynamicconfig.HistoryLongPollExpirationInterval.Key(): 5 * time.Second,
		// The scanners garbage-collect task queues and history branches of
		// long-lived clusters. A dev server does not need them, and their
		// system workers are never stopped by the server's Stop.
		dynamicconfig.TaskQueueScannerEnabled.Key(): false,
		dynamicconfig.HistoryScannerEnabled.Key():   false,
		// External payloads (payloads the SDK keeps in outside storage) are
		// not used here. With the feature on, every write of new history
		// events walks their payloads to sum the external ones, and in
		// server v1.32.1 that walk writes each payload list back while a
		// gRPC handler may be marshalling the same cached event: a data
		// race the race detector reported in CI (cmd/worker's browser test,
		// on an activity timeout), and CPU spent for nothing.
		dynamicconfig.ExternalPayloadsEnabled.Key(): false,
	}
	for k, v := range overrides {
		dc[dynamicconfig.MakeKey(k)] = v
	}
	return dc
}
