// Package telemetry is cmd/worker's operational face: one HTTP listener with
// Prometheus metrics (/metrics: the Temporal SDK's worker metrics and optio's
// own), liveness (/healthz) and readiness (/readyz: every dependency
// reachable), and OpenTelemetry tracing (Tracing) configured by the standard
// OTEL_EXPORTER_OTLP_* variables. Each Metrics has its own Prometheus
// registry and each Tracing its own tracer provider; nothing is registered
// globally.
//
// optio's metrics:
//
//	optio_process_runs_started_total             runs that started their body (launches that ran)
//	optio_process_runs_ended_total{state}        runs that ended, by final state (done, failed, cancelled)
//	optio_process_run_duration_seconds{state}    how long those runs ran (histogram)
//	optio_active_bodies                          bodies running in this worker
//	optio_mirror_write_duration_seconds{op,outcome}  latency of the workflow's Mongo writes (histogram)
//	optio_rpc_calls_total{method,outcome}        optio-engine RPC calls, outcome ok or error
//	optio_launch_refusals_total{reason}          launches refused, by the contract's reason
//	optio_progress_flushes_total{outcome}        writes of bodies' buffered progress to Mongo
//	optio_progress_flush_duration_seconds        latency of those writes (histogram)
//
// The Temporal SDK's metrics (temporal_*) come through the SDK's
// OpenTelemetry metrics handler and the OpenTelemetry Prometheus exporter.
package telemetry
