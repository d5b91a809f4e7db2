package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/internal/devstack"
)

// envRunWorker makes the test binary run the worker's main (see TestMain).
const envRunWorker = "OPTIO_WORKER_TEST_RUN_MAIN"

// workerProcess is the worker binary's main running in a process of its own.
type workerProcess struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	up     chan struct{}
	exited chan struct{}
	err    error
}

func startWorkerProcess(t *testing.T, args ...string) *workerProcess {
	t.Helper()
	return startWorkerProcessEnv(t, nil, args...)
}

// startWorkerProcessEnv is startWorkerProcess with env (KEY=VALUE) added to
// the process's environment.
func startWorkerProcessEnv(t *testing.T, env []string, args ...string) *workerProcess {
	t.Helper()
	w := &workerProcess{up: make(chan struct{}), exited: make(chan struct{})}
	w.cmd = exec.Command(os.Args[0], args...)
	w.cmd.Env = append(append(os.Environ(), envRunWorker+"=1"), env...)
	w.cmd.Stderr = &w.stderr
	out, err := w.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, w.cmd.Start())
	go func() {
		sc := bufio.NewScanner(out)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "is up in") {
				once = true
				close(w.up)
			}
		}
	}()
	go func() { w.err = w.cmd.Wait(); close(w.exited) }()
	t.Cleanup(func() {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.exited:
		case <-time.After(30 * time.Second):
			_ = w.cmd.Process.Kill()
			<-w.exited
		}
	})
	return w
}

// exit waits for the process to exit and returns its exit code.
func (w *workerProcess) exit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-w.exited:
	case <-time.After(within):
		t.Fatalf("the worker did not exit within %s; stderr:\n%s", within, w.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(w.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, w.err)
	return 0
}

var devFreePorts = []string{"-dev-temporal-port=0", "-dev-ui-port=0", "-dev-mongo-port=0", "-dev-redis-port=0", "-metrics-addr=127.0.0.1:0", "-log-level=error"}

// Hardening, point 1: a second worker on a data directory a worker is using
// exits at once with one line naming the directory and the process holding
// it; the directory and everything in it are the owner's only.
func TestHardeningDataDirLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first := startWorkerProcess(t, append([]string{"-data-dir", dir}, devFreePorts...)...)
	select {
	case <-first.up:
	case <-first.exited:
		t.Fatalf("the first worker exited: %v\n%s", first.err, first.stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("the first worker never came up:\n%s", first.stderr.String())
	}

	began := time.Now()
	second := startWorkerProcess(t, append([]string{"-data-dir", dir}, devFreePorts...)...)
	code := second.exit(t, 20*time.Second)
	took := time.Since(began)
	msg := second.stderr.String()
	t.Logf("second worker exited %d after %s: %q", code, took.Round(time.Millisecond), msg)
	require.Equal(t, 1, code)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(msg), "\n")+1, "one line: %q", msg)
	require.Contains(t, msg, dir)
	require.Contains(t, msg, "process "+strconv.Itoa(first.cmd.Process.Pid))
	select {
	case <-first.exited:
		t.Fatalf("the first worker died: %s", first.stderr.String())
	default:
	}

	info, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o700), info.Mode().Perm(), "data directory")
	var files int
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files++
		require.Zero(t, fi.Mode().Perm()&0o077, "%s is %v", path, fi.Mode().Perm())
		return nil
	}))
	t.Logf("%d files and directories under the data directory, none readable by group or others", files)
}

// Hardening, point 5: with a malformed or unreachable Redis URL the worker
// exits with one line about Redis before it syncs anything into Mongo or
// Temporal.
func TestHardeningRedisCheckedFirst(t *testing.T) {
	stack, err := devstack.Start(context.Background(), devstack.Config{
		Temporal: &devstack.TemporalConfig{}, Mongo: &devstack.MongoConfig{},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = stack.Stop() })
	mc, err := mongo.Connect(options.Client().ApplyURI(stack.Mongo().URL()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = mc.Disconnect(context.Background()) })

	for i, tt := range []struct {
		name, url, want string
	}{
		{"unreachable", "redis://127.0.0.1:1/0", "-redis-url: Redis at 127.0.0.1:1: the Redis server did not answer"},
		{"malformed", "http://127.0.0.1:6379", "-redis-url: invalid Redis settings: not a Redis URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := "hardening_redis_" + strconv.Itoa(i)
			w := startWorkerProcess(t, "-temporal-address", stack.Temporal().HostPort(), "-mongo-url", stack.Mongo().URL(),
				"-db", db, "-redis-url", tt.url, "-log-level=error")
			began := time.Now()
			code := w.exit(t, 30*time.Second)
			msg := w.stderr.String()
			t.Logf("exited %d after %s: %q", code, time.Since(began).Round(time.Millisecond), msg)
			require.Equal(t, 1, code)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(msg), "\n")+1, "one line: %q", msg)
			require.Contains(t, msg, tt.want)
			n, err := mc.Database(db).Collection("optio_processes").CountDocuments(context.Background(), bson.D{})
			require.NoError(t, err)
			require.Zero(t, n, "no task was synced into Mongo")
		})
	}
}
