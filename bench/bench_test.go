package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/optio-temporal/optio/bench/internal/suite"
)

// The benchmarks share one environment (in-process Temporal and FerretDB,
// or the servers named by OPTIO_BENCH_TEMPORAL_ADDRESS and
// OPTIO_BENCH_MONGO_URL), started on first use and stopped by TestMain.
// Each benchmark run measures optio and bare Temporal side by side, b.N
// operations per side, and reports both and their ratio; ns/op is
// suppressed because one iteration holds one operation of each side.
//
//	go test ./bench -run '^$' -bench . -benchtime 100x
//	go test ./bench -run '^$' -bench Cancel -benchtime 30x
var shared struct {
	once sync.Once
	env  *suite.Env
	err  error
}

// envRunMain makes the test binary run the bench's main instead of the
// tests: TestServersApart's child process, started as -servers-apart starts
// it (this program, with -serve).
const envRunMain = "OPTIO_BENCH_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		return
	}
	code := m.Run()
	if shared.env != nil {
		if err := shared.env.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: close:", err)
		}
	}
	os.Exit(code)
}

func benchEnv(b *testing.B) *suite.Env {
	b.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.env, shared.err = suite.NewEnv(ctx, suite.EnvOptions{
			TemporalAddress: os.Getenv("OPTIO_BENCH_TEMPORAL_ADDRESS"),
			MongoURL:        os.Getenv("OPTIO_BENCH_MONGO_URL"),
		})
	})
	if shared.err != nil {
		b.Fatalf("bench environment: %v", shared.err)
	}
	return shared.env
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkLaunchToDone is measurement 1: LaunchAndWait of a trivial task
// against ExecuteWorkflow + Get of a one-activity workflow.
func BenchmarkLaunchToDone(b *testing.B) {
	env := benchEnv(b)
	res, err := suite.LaunchLatency(b.Context(), env, suite.LatencyOptions{N: b.N, Warmup: 5})
	if err != nil {
		b.Fatal(err)
	}
	o50, b50 := msOf(res.Optio.Percentile(50)), msOf(res.Bare.Percentile(50))
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(o50, "optio-p50-ms/op")
	b.ReportMetric(b50, "bare-p50-ms/op")
	b.ReportMetric(msOf(res.Optio.Percentile(99)), "optio-p99-ms/op")
	b.ReportMetric(msOf(res.Bare.Percentile(99)), "bare-p99-ms/op")
	b.ReportMetric(o50/b50, "p50-ratio")
	if o50 > suite.LatencyTarget*b50 {
		b.Logf("target missed: optio p50 %.1f ms > %.1f x bare p50 %.1f ms", o50, suite.LatencyTarget, b50)
	}
}

// BenchmarkCancel is measurement 3: cancel to ShouldContinue() == false,
// through Engine.Cancel and through client.CancelWorkflow, against an
// activity cancelled through its heartbeats.
func BenchmarkCancel(b *testing.B) {
	env := benchEnv(b)
	res, err := suite.CancelLatency(b.Context(), env, suite.CancelOptions{N: b.N, Warmup: 1})
	if err != nil {
		b.Fatal(err)
	}
	api, tmp, bare := msOf(res.API.Percentile(50)), msOf(res.Temporal.Percentile(50)), msOf(res.Bare.Percentile(50))
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(api, "api-p50-ms/op")
	b.ReportMetric(tmp, "temporal-p50-ms/op")
	b.ReportMetric(bare, "bare-p50-ms/op")
	b.ReportMetric(msOf(res.API.Percentile(99)), "api-p99-ms/op")
	b.ReportMetric(msOf(res.Temporal.Percentile(99)), "temporal-p99-ms/op")
	b.ReportMetric(api/bare, "api-ratio")
	b.ReportMetric(tmp/bare, "temporal-ratio")
	target := msOf(suite.CancelTarget)
	if api >= target || tmp >= target {
		b.Logf("target missed: p50 must be under %.0f ms (Engine.Cancel %.1f, CancelWorkflow %.1f)", target, api, tmp)
	}
}
