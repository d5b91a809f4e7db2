package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/demo"
	"github.com/optio-temporal/optio/internal/devstack"
	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/internal/testenv"
)

// envResumeStack carries a stackProc's config; its presence makes the test
// binary run a whole dev stack (file-backed Temporal and Mongo-wire server,
// and an engine with demo-resumable) instead of the tests.
const envResumeStack = "OPTIO_RESUME_STACK"

// stackConfig is what a stack process runs.
type stackConfig struct {
	DataDir      string
	TemporalPort int
	MongoPort    int
	// Launch launches demo-resumable once the engine is up.
	Launch bool
}

const stackReady = "resume-stack: ready"

func init() {
	blob := os.Getenv(envResumeStack)
	if blob == "" {
		return
	}
	if err := runResumeStack(blob); err != nil {
		fmt.Fprintln(os.Stderr, "resume-stack:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runResumeStack is the stack process: the dev stack on cfg's data
// directory and ports, with an engine running demo-resumable, until its
// stdin closes (or it is killed).
func runResumeStack(blob string) error {
	var cfg stackConfig
	if err := json.Unmarshal([]byte(blob), &cfg); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{
		DataDir: cfg.DataDir, Logger: log,
		Temporal: &devstack.TemporalConfig{Port: cfg.TemporalPort},
		Mongo:    &devstack.MongoConfig{Port: cfg.MongoPort},
	})
	if err != nil {
		return err
	}
	defer func() { _ = stack.Stop() }()
	tc, err := client.Dial(client.Options{HostPort: stack.Temporal().HostPort(), Namespace: stack.Temporal().Namespace(), Logger: sdklog.NewStructuredLogger(log)})
	if err != nil {
		return err
	}
	defer tc.Close()
	mc, err := mongo.Connect(options.Client().ApplyURI(stack.Mongo().URL()))
	if err != nil {
		return err
	}
	defer func() { _ = mc.Disconnect(context.Background()) }()
	eng, err := adapter.New(ctx, adapter.Config{
		Temporal: tc, Mongo: mc.Database("optio_demo"), Logger: log,
		BodyHeartbeatTimeout: lostBodyHeartbeat,
		TaskDefinitions:      staticTasks(resumableDemo(resumeStepMillis)),
	})
	if err != nil {
		return err
	}
	if cfg.Launch {
		if out, err := eng.Launch(ctx, demo.ResumableID); err != nil || !out.OK {
			return fmt.Errorf("launch: %v %v", out.Reason, err)
		}
	}
	fmt.Println(stackReady)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return eng.Run(ctx)
}

// startStackProc starts a stack process and waits until its engine is up.
func startStackProc(t *testing.T, cfg stackConfig) (kill func()) {
	t.Helper()
	blob, err := json.Marshal(cfg)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), envResumeStack+"="+string(blob))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = testenv.Output(t)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	killed := false
	kill = func() {
		if !killed {
			killed = true
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			_ = stdin.Close()
		}
	}
	t.Cleanup(kill)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == stackReady {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatal("stack process exited before it was ready")
	case <-time.After(2 * time.Minute):
		t.Fatal("stack process not ready after two minutes")
	}
	return kill
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestResumeAfterDevStackKilled: the whole dev stack (Temporal server,
// Mongo-wire server and engine, in one operating-system process) is killed
// with SIGKILL while demo-resumable runs, then started again on the same
// data directory. The body is re-run from its last checkpoint, without
// repeating the steps before it, and ends done.
func TestResumeAfterDevStackKilled(t *testing.T) {
	cfg := stackConfig{DataDir: t.TempDir(), TemporalPort: freeTCPPort(t), MongoPort: freeTCPPort(t), Launch: true}
	kill := startStackProc(t, cfg)

	mc, err := mongo.Connect(options.Client().ApplyURI(fmt.Sprintf("mongodb://127.0.0.1:%d/", cfg.MongoPort)).SetTimeout(10 * time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { _ = mc.Disconnect(context.Background()) })
	db := mc.Database("optio_demo")
	store := docstore.NewStore(db, "optio")
	get := func() *adapter.Process {
		p, err := store.ByProcessID(context.Background(), demo.ResumableID)
		if err != nil {
			return nil
		}
		return p
	}
	var saved int
	eventually(t, "a checkpoint past step 8", func() bool {
		p := get()
		saved = -1
		if p != nil {
			saved = savedStep(t, db, "optio", p.ID)
		}
		return saved >= 8
	})
	kill()
	killedAt := time.Now()

	cfg.Launch = false
	startStackProc(t, cfg)
	restarted := time.Since(killedAt)
	var p *adapter.Process
	require.Eventually(t, func() bool {
		p = get()
		return p != nil && p.Status.State.End()
	}, 2*time.Minute, 100*time.Millisecond, "demo-resumable never ended after the restart")
	require.Equal(t, adapter.StateDone, p.Status.State, "log:\n%s", formatLog(p))
	from := requireContinued(t, p, adapter.RerunAfterLostWorker, saved)
	t.Logf("checkpoint seen before the kill: step %d; stack up again %.1fs after the kill; re-run continued from step %d; done %.1fs after the kill",
		saved, restarted.Seconds(), from, time.Since(killedAt).Seconds())
}
