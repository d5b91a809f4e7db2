package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/internal/redisserver"
	"github.com/optio-temporal/optio/internal/testenv"
)

// The worker serves Prometheus metrics that move as demo processes run, and
// /readyz follows a real redis-server going away and coming back.
func TestMetricsAndReadiness(t *testing.T) {
	if !redisserver.Available() {
		t.Skip("redis-server is not on PATH")
	}
	rs, err := redisserver.Start(context.Background(), redisserver.Options{Logger: testenv.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rs.Stop() })

	cfg := freePorts(t, "-redis-url", rs.URL())
	// The second demo-progress is refused (not-launchable: the first is
	// scheduled or running), and so is a process that does not exist.
	cfg.Launch = []string{"demo-quick", "demo-failing", "demo-progress", "demo-progress", "no-such-process"}
	base := startRun(t, context.Background(), cfg).awaitOutput(t, regexp.MustCompile(`Metrics\s+(http://127\.0\.0\.1:\d+)/metrics`))

	hc := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		resp, err := hc.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	// value reads one sample of a scrape, 0 when absent.
	value := func(scrape, sample string) float64 {
		for _, line := range strings.Split(scrape, "\n") {
			if rest, ok := strings.CutPrefix(line, sample+" "); ok {
				v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
				require.NoError(t, err, line)
				return v
			}
		}
		return 0
	}
	code, _ := get("/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Eventually(t, func() bool { c, _ := get("/readyz"); return c == http.StatusOK }, 30*time.Second, 100*time.Millisecond)

	// demo-quick ends done and demo-failing failed at once; demo-progress
	// runs ten seconds, so its body is active meanwhile.
	var scrape string
	require.Eventually(t, func() bool {
		_, scrape = get("/metrics")
		return value(scrape, `optio_process_runs_ended_total{state="done"}`) >= 1 &&
			value(scrape, `optio_process_runs_ended_total{state="failed"}`) >= 1 &&
			value(scrape, `optio_active_bodies`) >= 1 &&
			value(scrape, `optio_progress_flushes_total{outcome="ok"}`) >= 1
	}, 30*time.Second, 100*time.Millisecond, "counters did not move")
	require.Equal(t, 1.0, value(scrape, `optio_launch_refusals_total{reason="not-launchable"}`), scrape)
	require.Equal(t, 1.0, value(scrape, `optio_launch_refusals_total{reason="not-found"}`), scrape)
	require.Equal(t, value(scrape, `optio_progress_flushes_total{outcome="ok"}`)+value(scrape, `optio_progress_flushes_total{outcome="error"}`),
		value(scrape, `optio_progress_flush_duration_seconds_count`), "every flush has its latency")
	require.Greater(t, value(scrape, `optio_progress_flush_duration_seconds_sum`), 0.0)
	require.GreaterOrEqual(t, value(scrape, "optio_process_runs_started_total"), 3.0)
	require.GreaterOrEqual(t, value(scrape, `optio_process_run_duration_seconds_count{state="done"}`), 1.0)
	require.Greater(t, value(scrape, `optio_mirror_write_duration_seconds_count{op="optio.StartRun",outcome="ok"}`), 0.0, scrape)
	require.Contains(t, scrape, "temporal_", "the SDK's metrics are missing")
	require.Contains(t, scrape, `temporal_activity_execution_latency_seconds_count{activity_type="optio.Body"`)
	t.Logf("scrape (optio's part):\n%s", grepLines(scrape, "optio_"))

	// Redis goes away: /readyz turns 503 within a few seconds, naming it;
	// Redis comes back: 200 again.
	require.NoError(t, rs.Kill())
	began := time.Now()
	var body string
	require.Eventually(t, func() bool {
		c, b := get("/readyz")
		body = b
		return c == http.StatusServiceUnavailable
	}, 10*time.Second, 100*time.Millisecond)
	t.Logf("/readyz 503 after %s:\n%s", time.Since(began).Round(time.Millisecond), body)
	require.Contains(t, body, "redis: ")
	require.Contains(t, body, "mongo: ok")
	require.NoError(t, rs.Restart(context.Background()))
	began = time.Now()
	require.Eventually(t, func() bool { c, _ := get("/readyz"); return c == http.StatusOK }, 10*time.Second, 100*time.Millisecond)
	t.Logf("/readyz 200 again %s after the restart", time.Since(began).Round(time.Millisecond))
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) && !strings.Contains(l, "_bucket{") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
