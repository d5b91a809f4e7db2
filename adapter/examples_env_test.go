package adapter_test

// The plumbing of the examples: the servers they run on and small waits.
// Nothing here is part of the API the examples teach.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/devstack"
)

// exampleTimeout bounds every wait of an example. A passing example never
// waits that long; a hung one fails with a readable panic instead of the
// test binary's timeout.
const exampleTimeout = 30 * time.Second

// exampleServers are the Temporal server and the MongoDB-wire server every
// example of this test binary shares: starting Temporal costs about half a
// second, and each example gets a database, task queue and workflow IDs of
// its own anyway. They start on first use and end with the test binary: the
// package has no TestMain to stop them in (the test binary has at most one,
// and the package's other tests may want it). Nothing outlives the binary:
// Temporal keeps its state in memory, and FerretDB's data directory is
// emptied and removed at the end of every example (see exampleStack).
var exampleServers struct {
	once     sync.Once
	err      error
	temporal *devstack.Temporal
	mongo    *devstack.Mongo
}

// exampleLogger is the logger of the engines and servers of the examples:
// warnings and errors only, to stderr, so that the examples' standard output
// is only what they print. OPTIO_EXAMPLE_LOG_LEVEL=debug shows everything.
func exampleLogger() *slog.Logger {
	return newExampleLogger(slog.LevelWarn)
}

// temporalClientLogger is quieter still: the SDK logs every body that
// returns an error as an error, and some examples fail bodies on purpose.
func temporalClientLogger() *slog.Logger {
	return newExampleLogger(slog.LevelError + 4)
}

func newExampleLogger(level slog.Level) *slog.Logger {
	if os.Getenv("OPTIO_EXAMPLE_LOG_LEVEL") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func startExampleServers() error {
	exampleServers.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s := &exampleServers
		if s.temporal, s.err = devstack.StartTemporal(ctx, devstack.TemporalConfig{Logger: exampleLogger()}); s.err != nil {
			return
		}
		if s.mongo, s.err = devstack.StartMongo(ctx, devstack.MongoConfig{Logger: exampleLogger()}); s.err != nil {
			_ = s.temporal.Stop()
		}
	})
	return exampleServers.err
}

// exampleStack gives an example a Temporal client and a database of its own
// on the shared servers, and a func that drops the database and closes the
// clients.
func exampleStack() (client.Client, *mongo.Database, func()) {
	if err := startExampleServers(); err != nil {
		panic(fmt.Sprintf("start the example servers: %v", err))
	}
	tc, err := client.Dial(client.Options{
		HostPort:  exampleServers.temporal.HostPort(),
		Namespace: exampleServers.temporal.Namespace(),
		Logger:    sdklog.NewStructuredLogger(temporalClientLogger()),
	})
	if err != nil {
		panic(fmt.Sprintf("connect to Temporal: %v", err))
	}
	// FerretDB keeps one SQLite file per database in this directory, which
	// the previous example removed once it was empty.
	dataDir := exampleServers.mongo.Dir()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		panic(fmt.Sprintf("create the Mongo data directory: %v", err))
	}
	mc, err := mongo.Connect(options.Client().ApplyURI(exampleServers.mongo.URL()).SetTimeout(exampleTimeout))
	if err != nil {
		panic(fmt.Sprintf("connect to Mongo: %v", err))
	}
	db := mc.Database("example_" + randomHex(4))
	return tc, db, func() {
		ctx, cancel := context.WithTimeout(context.Background(), exampleTimeout)
		defer cancel()
		deleteSchedules(ctx, tc, db.Name()+"/")
		if err := db.Drop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "example: drop database:", err)
		}
		_ = mc.Disconnect(ctx)
		tc.Close()
		// Dropping the database deleted its file. Remove (not RemoveAll)
		// only takes an empty directory, so nothing FerretDB still keeps
		// there is lost; the directory does not outlive the test binary.
		_ = os.Remove(dataDir)
	}
}

// deleteSchedules deletes the Temporal Schedules whose ID starts with
// prefix: engines leave their cron schedules behind when they shut down, as
// a restarted engine expects to find them.
func deleteSchedules(ctx context.Context, tc client.Client, prefix string) {
	it, err := tc.ScheduleClient().List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return
	}
	for it.HasNext() {
		s, err := it.Next()
		if err != nil {
			return
		}
		if strings.HasPrefix(s.ID, prefix) {
			_ = tc.ScheduleClient().GetHandle(ctx, s.ID).Delete(ctx)
		}
	}
}

// newExampleEngine starts an engine that manages tasks, on a database of its
// own, and returns it with a func that shuts it down and drops the database.
func newExampleEngine(tasks ...adapter.TaskInstance) (*adapter.Engine, func()) {
	return newExampleEngineWith(adapter.Config{
		TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
			return tasks, nil
		},
	})
}

// newExampleEngineWith is newExampleEngine for an example that needs more of
// the Config (see startExampleEngine).
func newExampleEngineWith(cfg adapter.Config) (*adapter.Engine, func()) {
	eng, _, stop, err := startExampleEngine(cfg)
	if err != nil {
		panic(fmt.Sprintf("start the engine: %v", err))
	}
	return eng, stop
}

// startExampleEngine starts an engine on the shared servers and a database
// of its own, and returns it with that database and the function that shuts
// it down and drops the database. Temporal, Mongo and Logger are filled in;
// the reconciler is off (the examples never terminate a workflow behind the
// engine's back) and a shutdown waits at most two seconds for cancelled
// bodies, unless cfg says otherwise.
func startExampleEngine(cfg adapter.Config) (*adapter.Engine, *mongo.Database, func(), error) {
	tc, db, closeStack := exampleStack()
	cfg.Temporal, cfg.Mongo, cfg.Logger = tc, db, exampleLogger()
	if cfg.ReconcileInterval == 0 {
		cfg.ReconcileInterval = -1
	}
	if cfg.CancelGrace == 0 {
		cfg.CancelGrace = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), exampleTimeout)
	defer cancel()
	eng, err := adapter.New(ctx, cfg)
	if err != nil {
		closeStack()
		return nil, nil, nil, err
	}
	return eng, db, func() {
		ctx, cancel := context.WithTimeout(context.Background(), exampleTimeout)
		defer cancel()
		if err := eng.Shutdown(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "example: engine shutdown:", err)
		}
		closeStack()
	}, nil
}

// waitFor polls the process until cond holds and returns it. It panics after
// exampleTimeout, with the state and log the process is stuck in.
func waitFor(eng *adapter.Engine, id string, cond func(*adapter.Process) bool) *adapter.Process {
	ctx := context.Background()
	deadline := time.Now().Add(exampleTimeout)
	for {
		p, err := eng.GetProcess(ctx, id)
		if err == nil && cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			if p != nil {
				panic(fmt.Sprintf("process %q: condition not met in %s; state %s, log %v", id, exampleTimeout, p.Status.State, logMessages(p)))
			}
			panic(fmt.Sprintf("process %q: condition not met in %s: %v", id, exampleTimeout, err))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitState waits until the process is in one of the states.
func waitState(eng *adapter.Engine, id string, states ...adapter.State) *adapter.Process {
	return waitFor(eng, id, func(p *adapter.Process) bool { return slices.Contains(states, p.Status.State) })
}

// waitEnded waits until the process is done, failed or cancelled.
func waitEnded(eng *adapter.Engine, id string) *adapter.Process {
	return waitFor(eng, id, func(p *adapter.Process) bool { return p.Status.State.End() })
}

// logMessages returns the messages of a process's log, without their
// timestamps and levels, which differ from run to run.
func logMessages(p *adapter.Process) []string {
	out := make([]string, len(p.Log))
	for i, e := range p.Log {
		out[i] = e.Message
	}
	return out
}

// printLog prints a process's log messages, one per line.
func printLog(p *adapter.Process) {
	for _, m := range logMessages(p) {
		fmt.Println("  " + m)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
