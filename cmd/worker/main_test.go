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
	out := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, out, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	uiURL := regexp.MustCompile(`Temporal Web UI\s+(http://127\.0\.0\.1:\d+)/namespaces/default/workflows`)
	var base string
	require.Eventually(t, func() bool {
		if m := uiURL.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			return true
		}
		select {
		case err := <-done:
			t.Fatalf("run returned before it was up: %v\n%s", err, out.String())
		default:
		}
		return false
	}, 60*time.Second, 20*time.Millisecond, "no Web UI URL printed:\n%s", out)
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

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
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
