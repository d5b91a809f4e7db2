// Package workerproc runs an optio engine worker in a second operating-system
// process, for tests that need a worker they can kill (SIGKILL) in the middle
// of a body: the test binary re-executes itself, and the copy runs an engine
// instead of the tests.
//
// # Setup
//
// The worker process runs the test binary's own code, so the tasks it holds
// are Go values registered by name, in package-level variables (they are
// initialised before any init function runs), and MaybeRun is called before
// the tests start, from an init function or from TestMain:
//
//	var slowTasks = workerproc.Register("slow", func(params map[string]string) workerproc.Tasks {
//		return workerproc.Tasks{Definitions: []adapter.TaskInstance{...}}
//	})
//
//	func init() { workerproc.MaybeRun() } // in the worker process: runs the engine, never returns
//
// Calling it from init leaves TestMain free for whatever else the package
// needs.
//
// # In a test
//
//	env := testenv.New(t)
//	w := workerproc.Start(t, workerproc.Config{
//		HostPort: env.Temporal.HostPort, Namespace: env.Temporal.Namespace,
//		MongoURI: env.Mongo.URI, Database: env.Mongo.Name,
//		TaskSet:  slowTasks,
//	})
//	... // the worker's engine is up: its workers poll, its ad-hoc tasks exist
//	w.Kill() // SIGKILL, as a crashed machine
//
// Start returns once the worker's engine is initialised. The worker process
// exits by itself when the test process goes away (its stdin closes), and is
// killed on the test's cleanup if it is still running. Its log lines (slog,
// level from OPTIO_TEST_LOG_LEVEL, default warn) appear in the test's output.
package workerproc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/rpc/engineservice"
	"github.com/optio-temporal/optio/temporalconn"
)

// EnvConfig is the environment variable that carries a worker process's
// Config (as JSON). Its presence is what makes MaybeRun run a worker.
const EnvConfig = "OPTIO_WORKERPROC_CONFIG"

// readyLine is what a worker process prints on stdout once its engine is up.
const readyLine = "workerproc: ready"

// Tasks is what a worker process holds.
type Tasks struct {
	// Definitions are returned by the engine's task generator
	// (Config.TaskDefinitions of the worker's engine).
	Definitions []adapter.TaskInstance
	// Adhoc are defined with AdhocDefine once the engine is up, so their
	// execute functions live in the worker process only.
	Adhoc []AdhocTask
}

// AdhocTask is an ad-hoc process a worker process defines at start-up.
type AdhocTask struct {
	Task    adapter.TaskInstance
	Options adapter.AdhocOptions
}

// TaskSet builds the tasks of a worker process; params are Config.Params.
type TaskSet func(params map[string]string) Tasks

var (
	setsMu sync.Mutex
	sets   = map[string]TaskSet{}
)

// Register makes a task set available to worker processes under name, and
// returns name, so that it can initialise a package-level variable. Call it
// before MaybeRun runs, so that the test process and its worker processes
// register the same sets.
func Register(name string, set TaskSet) string {
	setsMu.Lock()
	defer setsMu.Unlock()
	if _, dup := sets[name]; dup {
		panic(fmt.Sprintf("workerproc: task set %q registered twice", name))
	}
	sets[name] = set
	return name
}

func lookup(name string) (TaskSet, bool) {
	setsMu.Lock()
	defer setsMu.Unlock()
	s, ok := sets[name]
	return s, ok
}

// Config describes a worker process.
type Config struct {
	// HostPort and Namespace of the Temporal server (testenv.Temporal).
	HostPort  string
	Namespace string
	// MongoURI and Database (testenv.Mongo.URI and .Name).
	MongoURI string
	Database string
	// RedisURL, when set, makes the worker's engine serve the optio-engine
	// RPC service there too, beside the test's own engine.
	RedisURL string
	// Prefix of the engine; default "optio".
	Prefix string
	// TaskQueue of the engine; default the engine's default.
	TaskQueue string
	// TaskSet names the registered task set the worker holds. Required.
	TaskSet string
	// Params reach the task set's builder.
	Params map[string]string
	// BodyHeartbeatTimeout, ReconcileInterval, ProgressFlushInterval and
	// CancelGrace are passed to the worker's adapter.Config; zero keeps the
	// engine's default.
	BodyHeartbeatTimeout  time.Duration
	ReconcileInterval     time.Duration
	ProgressFlushInterval time.Duration
	CancelGrace           time.Duration
}

// Proc is a running worker process.
type Proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
	err    error
	once   sync.Once
}

// Start starts a worker process and waits, up to a minute, until its engine is
// up. It fails the test if the worker cannot start. The process is killed on
// the test's cleanup.
func Start(t testing.TB, cfg Config) *Proc {
	t.Helper()
	if cfg.TaskSet == "" {
		t.Fatalf("workerproc: Config.TaskSet is required")
	}
	if _, ok := lookup(cfg.TaskSet); !ok {
		t.Fatalf("workerproc: task set %q is not registered (register it in a package-level variable)", cfg.TaskSet)
	}
	blob, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("workerproc: encode config: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), EnvConfig+"="+string(blob))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("workerproc: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("workerproc: %v", err)
	}
	out := testenv.Output(t)
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("workerproc: start %s: %v", os.Args[0], err)
	}
	p := &Proc{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			if !signalled && sc.Text() == readyLine {
				signalled = true
				close(ready)
				continue
			}
			fmt.Fprintf(out, "[worker %d] %s\n", cmd.Process.Pid, sc.Text())
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.Kill)
	select {
	case <-ready:
	case <-p.exited:
		t.Fatalf("workerproc: worker process exited before it was ready: %v", p.err)
	case <-time.After(time.Minute):
		p.Kill()
		t.Fatalf("workerproc: worker process not ready after a minute")
	}
	return p
}

// Pid returns the worker's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Kill kills the worker with SIGKILL, as a machine that dies, and waits for it
// to be gone. It is idempotent.
func (p *Proc) Kill() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		_ = p.stdin.Close()
	})
}

// Stop shuts the worker down gracefully (its engine's Shutdown) and waits up
// to timeout for it to exit, then kills it.
func (p *Proc) Stop(timeout time.Duration) {
	_ = p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(timeout):
	}
	p.Kill()
}

// Exited is closed when the worker process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is the worker's exit error (nil for status 0) once Exited is closed.
func (p *Proc) Err() error {
	select {
	case <-p.exited:
		return p.err
	default:
		return nil
	}
}

// MaybeRun runs the worker and exits the process when this process was
// started by Start; otherwise it returns at once. Call it from an init
// function or first thing in TestMain, after the Register calls.
func MaybeRun() {
	blob := os.Getenv(EnvConfig)
	if blob == "" {
		return
	}
	if err := run(blob); err != nil {
		fmt.Fprintln(os.Stderr, "workerproc:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func run(blob string) error {
	var cfg Config
	if err := json.Unmarshal([]byte(blob), &cfg); err != nil {
		return fmt.Errorf("decode %s: %w", EnvConfig, err)
	}
	set, ok := lookup(cfg.TaskSet)
	if !ok {
		return fmt.Errorf("task set %q is not registered in the worker process", cfg.TaskSet)
	}
	tasks := set(cfg.Params)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})).With("pid", os.Getpid())

	// Stdin closes when the test process exits or calls Stop.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	// As cmd/worker connects (temporalconn.Dial adds EscapeResourceIDs).
	tc, err := temporalconn.Dial(ctx, client.Options{HostPort: cfg.HostPort, Namespace: cfg.Namespace, Logger: sdklog.NewStructuredLogger(log)}, temporalconn.Config{})
	if err != nil {
		return err
	}
	defer tc.Close()
	mc, err := mongo.Connect(options.Client().ApplyURI(cfg.MongoURI).SetTimeout(30 * time.Second))
	if err != nil {
		return fmt.Errorf("connect to Mongo at %s: %w", cfg.MongoURI, err)
	}
	defer func() { _ = mc.Disconnect(context.Background()) }()

	defs := tasks.Definitions
	var face adapter.RPCFace
	if cfg.RedisURL != "" {
		face = engineservice.Redis(cfg.RedisURL)
	}
	eng, err := adapter.New(ctx, adapter.Config{
		Temporal:              tc,
		Namespace:             cfg.Namespace,
		Mongo:                 mc.Database(cfg.Database),
		Prefix:                cfg.Prefix,
		TaskQueue:             cfg.TaskQueue,
		RPC:                   face,
		Logger:                log,
		BodyHeartbeatTimeout:  cfg.BodyHeartbeatTimeout,
		ReconcileInterval:     cfg.ReconcileInterval,
		ProgressFlushInterval: cfg.ProgressFlushInterval,
		CancelGrace:           cfg.CancelGrace,
		TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
			return defs, nil
		},
	})
	if err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	for _, a := range tasks.Adhoc {
		if _, err := eng.AdhocDefine(ctx, a.Task, a.Options); err != nil {
			_ = eng.Shutdown(context.Background())
			return fmt.Errorf("define ad-hoc task %q: %w", a.Task.ProcessID, err)
		}
	}
	fmt.Println(readyLine)
	return eng.Run(ctx)
}

func logLevel() slog.Level {
	var l slog.Level
	v := os.Getenv("OPTIO_TEST_LOG_LEVEL")
	if v == "" || l.UnmarshalText([]byte(v)) != nil {
		return slog.LevelWarn
	}
	return l
}
