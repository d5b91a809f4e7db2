package telemetry

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// ServiceName is the service.name of the worker's spans unless
// OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) names another.
const ServiceName = "optio-worker"

// The protocols of OTEL_EXPORTER_OTLP_PROTOCOL this worker speaks.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// Tracing sends OpenTelemetry spans of the Temporal SDK's calls, workflows
// and activities: a launch (Engine.Launch, or the optio-engine RPC's launch),
// the process workflow it starts, the body activity and the workflows and
// activities of its children share one trace, because the SDK's tracing
// interceptor carries the span context in every Temporal header.
type Tracing struct {
	provider    *sdktrace.TracerProvider
	interceptor interceptor.Interceptor
	// where says where spans go, for the start-up banner.
	where string
}

// NewTracing traces through provider, which Shutdown shuts down.
func NewTracing(provider *sdktrace.TracerProvider) (*Tracing, error) {
	icpt, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer: provider.Tracer("github.com/optio-temporal/optio"),
	})
	if err != nil {
		return nil, fmt.Errorf("tracing interceptor: %w", err)
	}
	return &Tracing{provider: provider, interceptor: icpt}, nil
}

// TracingFromEnv configures tracing from the standard OpenTelemetry
// environment variables. It returns nil (tracing off) unless
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set,
// or when OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is none.
//
// The protocol is OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
// OTEL_EXPORTER_OTLP_PROTOCOL: grpc or http/protobuf (the specification's
// default). The OTLP exporters read the rest of their settings themselves
// (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE,
// _INSECURE and their _TRACES_ forms); the SDK reads OTEL_TRACES_SAMPLER,
// OTEL_BSP_* and OTEL_RESOURCE_ATTRIBUTES.
func TracingFromEnv(ctx context.Context) (*Tracing, error) {
	getenv := os.Getenv // as the exporters read theirs
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		endpoint = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	if endpoint == "" || strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return nil, nil
	}
	protocol, source := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	if protocol == "" {
		protocol, source = getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), "OTEL_EXPORTER_OTLP_PROTOCOL"
	}
	var (
		exporter sdktrace.SpanExporter
		err      error
	)
	switch protocol {
	case ProtocolGRPC:
		exporter, err = otlptracegrpc.New(ctx)
	case ProtocolHTTP, "":
		protocol = ProtocolHTTP
		exporter, err = otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("tracing: %s=%q: want %s or %s", source, protocol, ProtocolGRPC, ProtocolHTTP)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP %s exporter: %w", protocol, err)
	}
	// Later detectors win: the variables over the default service name.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", ServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	t, err := NewTracing(sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res)))
	if err != nil {
		return nil, err
	}
	t.where = fmt.Sprintf("OTLP %s to %s", protocol, endpoint)
	return t, nil
}

// Interceptor returns the Temporal SDK's tracing interceptor, for
// client.Options.Interceptors: the client's calls start spans in their
// context's trace, and the workers created from the client trace their
// workflows and activities.
func (t *Tracing) Interceptor() interceptor.ClientInterceptor { return t.interceptor }

// TracerProvider returns the provider the spans come from.
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.provider }

// String says where spans go.
func (t *Tracing) String() string { return t.where }

// Shutdown sends the spans still buffered and stops the provider.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }
