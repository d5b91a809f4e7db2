package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/optio-temporal/optio/internal/devstack/leakcheck"
)

func TestMain(m *testing.M) {
	if os.Getenv(envRunWorker) != "" {
		// A worker process started by startWorkerProcess: the test binary
		// runs the worker's main with the arguments it was given.
		main()
		os.Exit(0)
	}
	code := m.Run()
	if code == 0 {
		if err := leakcheck.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// freePorts is the dev config of a test: every part on a free port, data in
// a temporary directory, and the flags in more.
func freePorts(t *testing.T, more ...string) config {
	cfg, err := parseConfig(append([]string{
		"-dev-temporal-port=0", "-dev-ui-port=0", "-dev-mongo-port=0", "-dev-redis-port=0",
		"-data-dir", t.TempDir(), "-metrics-addr", "127.0.0.1:0",
	}, more...), func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	return cfg
}

func TestRunDevModeServesUILaunchesAndStopsOnCancel(t *testing.T) {
	// 3 MiB instead of the default 2: harmless, and the namespace's
	// description shows it.
	cfg := freePorts(t, "-dev-dynamic-config", "limit.blobSize.error=3145728")
	cfg.Launch = []string{"demo-quick"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := startRun(t, ctx, cfg)
	base := w.awaitOutput(t, webUIURL)
	out := w.out
	require.Contains(t, out.String(), "redis://127.0.0.1:")
	require.Regexp(t, `(?m)^  Dynamic config    limit\.blobSize\.error=3145728$`, out.String())
	temporalAddress := regexp.MustCompile(`Temporal\s+(127\.0\.0\.1:\d+) \(namespace default\) \[embedded\]`).FindStringSubmatch(out.String())
	require.NotNil(t, temporalAddress, out.String())
	tc, err := client.Dial(client.Options{HostPort: temporalAddress[1], Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	require.NoError(t, err)
	ns, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	tc.Close()
	require.NoError(t, err)
	require.EqualValues(t, 3145728, ns.GetNamespaceInfo().GetLimits().GetBlobSizeLimitError(), "-dev-dynamic-config did not reach the server")
	mongoURL := regexp.MustCompile(`mongodb://127\.0\.0\.1:\d+/`).FindString(out.String())
	require.NotEmpty(t, mongoURL)

	// The engine is up once the demo tasks are in the process collection.
	mc, err := mongo.Connect(options.Client().ApplyURI(mongoURL))
	require.NoError(t, err)
	defer func() { _ = mc.Disconnect(context.Background()) }()
	procs := mc.Database(cfg.DB).Collection(cfg.Prefix + "_processes")
	require.Eventually(t, func() bool {
		n, err := procs.CountDocuments(ctx, bson.D{{Key: "processId", Value: bson.D{{Key: "$in", Value: []string{"demo-quick", "demo-progress", "demo-failing", "demo-nightly"}}}}})
		return err == nil && n == 4
	}, 60*time.Second, 50*time.Millisecond, "the demo tasks never reached Mongo")
	require.Eventually(t, func() bool {
		var doc struct {
			Status struct {
				State string `bson:"state"`
			} `bson:"status"`
		}
		err := procs.FindOne(ctx, bson.D{{Key: "processId", Value: "demo-quick"}}).Decode(&doc)
		return err == nil && doc.Status.State == "done"
	}, 60*time.Second, 50*time.Millisecond, "-launch demo-quick did not run it to done")

	for _, path := range []string{"/", "/namespaces/default/workflows"} {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
		resp, err := client.Get(base + path)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}

	require.NoError(t, w.stop(t))
	_, err = net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
	require.Error(t, err, "the Web UI still answers after shutdown")
}

func TestRunPortInUseNamesTheFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port

	for _, tc := range []struct {
		flag string
		set  func(*config)
	}{
		{"-dev-temporal-port", func(c *config) { c.DevTemporalPort = busy }},
		{"-dev-ui-port", func(c *config) { c.DevUIPort = busy }},
		{"-dev-mongo-port", func(c *config) { c.DevMongoPort = busy }},
		{"-dev-redis-port", func(c *config) { c.DevRedisPort = busy }},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			cfg := freePorts(t)
			tc.set(&cfg)
			err := run(context.Background(), cfg, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
			require.Error(t, err)
			msg := err.Error()
			require.NotContains(t, msg, "\n", "the error should be one line")
			require.Contains(t, msg, fmt.Sprintf("port %d", busy))
			require.Contains(t, msg, "already in use")
			require.Contains(t, msg, "pass "+tc.flag+" ")
		})
	}
}

// webUIURL finds the Web UI's base URL in the worker's banner.
var webUIURL = regexp.MustCompile(`Temporal Web UI\s+(http://127\.0\.0\.1:\d+)/namespaces/default/workflows`)

// worker is a run of the worker that startRun started.
type worker struct {
	out      *lockedBuffer
	cancel   context.CancelFunc
	exited   chan struct{} // closed when run returned, with err set
	err      error
	stopOnce sync.Once
	stuck    bool
}

// startRun runs the worker with cfg in the background, under a context
// derived from parent (a test that ties other things to the run's lifetime
// passes their context), writing its output to the returned worker's out.
// t.Cleanup stops it.
func startRun(t *testing.T, parent context.Context, cfg config) *worker {
	t.Helper()
	ctx, cancel := context.WithCancel(parent)
	w := &worker{out: &lockedBuffer{}, cancel: cancel, exited: make(chan struct{})}
	go func() {
		defer close(w.exited)
		w.err = run(ctx, cfg, w.out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	t.Cleanup(func() { _ = w.stop(t) })
	return w
}

// awaitOutput waits up to 60 s for the worker to print a match of re and
// returns its first group. The test fails if run returns first.
func (w *worker) awaitOutput(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := re.FindStringSubmatch(w.out.String()); m != nil {
			return m[1]
		}
		select {
		case <-w.exited:
			t.Fatalf("run returned before it printed %s: %v\n%s", re, w.err, w.out)
		case <-deadline:
			t.Fatalf("run did not print %s within 60 s:\n%s", re, w.out)
		case <-tick.C:
		}
	}
}

// stop cancels the run and returns what run returned. The test fails if
// run does not return within 30 s. Stopping again returns the same.
func (w *worker) stop(t *testing.T) error {
	t.Helper()
	w.stopOnce.Do(func() {
		w.cancel()
		select {
		case <-w.exited:
		case <-time.After(30 * time.Second):
			w.stuck = true
		}
	})
	if w.stuck {
		t.Fatal("run did not return within 30 s of its context's end")
	}
	return w.err
}

// lockedBuffer is an io.Writer that run writes to while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
