package telemetry

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"

	"github.com/optio-temporal/optio/adapter"
)

// Metrics holds a Prometheus registry with optio's metrics and the Temporal
// SDK's. It implements adapter.Metrics.
type Metrics struct {
	reg      *prometheus.Registry
	provider *sdkmetric.MeterProvider
	sdk      client.MetricsHandler

	runsStarted prometheus.Counter
	runsEnded   *prometheus.CounterVec
	runDuration *prometheus.HistogramVec
	bodies      prometheus.Gauge
	mirrorWrite *prometheus.HistogramVec
	rpcCalls    *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	flushes     *prometheus.CounterVec
	flushWrite  prometheus.Histogram
}

var _ adapter.Metrics = (*Metrics)(nil)

// NewMetrics creates the registry and the metrics in it, and the Go runtime's
// and the process's collectors.
func NewMetrics() (*Metrics, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("metrics: OpenTelemetry Prometheus exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	m := &Metrics{
		reg:      reg,
		provider: provider,
		sdk:      temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{Meter: provider.Meter("temporal-sdk-go")}),
		runsStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "optio_process_runs_started_total", Help: "Process runs that started their body.",
		}),
		runsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optio_process_runs_ended_total", Help: "Process runs that ended, by final state.",
		}, []string{"state"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "optio_process_run_duration_seconds", Help: "How long process runs ran, from running to their end, by final state.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 12), // 10 ms to about 12 hours
		}, []string{"state"}),
		bodies: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "optio_active_bodies", Help: "Process bodies running in this worker.",
		}),
		mirrorWrite: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "optio_mirror_write_duration_seconds", Help: "Latency of the process workflows' writes to the Mongo mirror, by operation and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14), // 1 ms to 8 s
		}, []string{"op", "outcome"}),
		rpcCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optio_rpc_calls_total", Help: "Calls of the optio-engine RPC service, by method and outcome (ok, error).",
		}, []string{"method", "outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optio_launch_refusals_total", Help: "Launches refused, by the contract's reason (not-found, not-launchable, launch-blocked, no-resume-support, shutting-down).",
		}, []string{"reason"}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "optio_progress_flushes_total", Help: "Writes of bodies' buffered progress to Mongo, by outcome (ok, error).",
		}, []string{"outcome"}),
		flushWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "optio_progress_flush_duration_seconds", Help: "Latency of the Mongo writes of bodies' buffered progress.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14), // 1 ms to 8 s
		}),
	}
	for _, c := range []prometheus.Collector{
		m.runsStarted, m.runsEnded, m.runDuration, m.bodies, m.mirrorWrite, m.rpcCalls,
		m.refusals, m.flushes, m.flushWrite,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return m, nil
}

// Registry returns the registry /metrics serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// TemporalHandler returns the metrics handler for client.Options.MetricsHandler:
// the SDK's client and worker metrics land in Registry.
func (m *Metrics) TemporalHandler() client.MetricsHandler { return m.sdk }

// RunStarted implements adapter.Metrics.
func (m *Metrics) RunStarted() { m.runsStarted.Inc() }

// RunEnded implements adapter.Metrics.
func (m *Metrics) RunEnded(state adapter.State, ran time.Duration) {
	m.runsEnded.WithLabelValues(string(state)).Inc()
	m.runDuration.WithLabelValues(string(state)).Observe(ran.Seconds())
}

// BodyStarted implements adapter.Metrics.
func (m *Metrics) BodyStarted() { m.bodies.Inc() }

// BodyEnded implements adapter.Metrics.
func (m *Metrics) BodyEnded() { m.bodies.Dec() }

// MirrorWrite implements adapter.Metrics.
func (m *Metrics) MirrorWrite(op string, took time.Duration, err error) {
	m.mirrorWrite.WithLabelValues(op, outcomeOf(err)).Observe(took.Seconds())
}

// LaunchRefused implements adapter.Metrics.
func (m *Metrics) LaunchRefused(reason adapter.Reason) {
	m.refusals.WithLabelValues(string(reason)).Inc()
}

// ProgressFlush implements adapter.Metrics.
func (m *Metrics) ProgressFlush(took time.Duration, err error) {
	m.flushes.WithLabelValues(outcomeOf(err)).Inc()
	m.flushWrite.Observe(took.Seconds())
}

func outcomeOf(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// RPCCall implements adapter.Metrics.
func (m *Metrics) RPCCall(method, outcome string) { m.rpcCalls.WithLabelValues(method, outcome).Inc() }
