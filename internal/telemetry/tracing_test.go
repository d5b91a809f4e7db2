package telemetry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/telemetry"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
	"github.com/optio-temporal/optio/rpc/engineservice"
)

// userWork is the span a task body starts from its context, as user code
// would.
func userWork(pc *adapter.ProcessContext) {
	tracer := trace.SpanFromContext(pc.Context()).TracerProvider().Tracer("task")
	_, span := tracer.Start(pc.Context(), "user-work "+pc.ProcessID())
	time.Sleep(10 * time.Millisecond)
	span.End()
}

// tracedEngine is an engine whose Temporal client traces into spans, with
// the task "traced": a parent with one sequential child and a parallel
// group of two, each body starting a span of its own.
func tracedEngine(t *testing.T, face adapter.RPCFace) (*adapter.Engine, *telemetry.Tracing, *tracetest.InMemoryExporter) {
	env := testenv.New(t)
	spans := tracetest.NewInMemoryExporter()
	tracing, err := telemetry.NewTracing(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = tracing.Shutdown(context.Background()) })
	tc, err := client.NewClientFromExisting(env.Temporal.Client, client.Options{
		Interceptors: []interceptor.ClientInterceptor{tracing.Interceptor()},
		Logger:       sdklog.NewStructuredLogger(testenv.Logger(t)),
	})
	require.NoError(t, err)
	t.Cleanup(tc.Close)

	child := func(pc *adapter.ProcessContext) error { userWork(pc); return nil }
	parent := func(pc *adapter.ProcessContext) error {
		userWork(pc)
		if _, err := pc.RunChild(adapter.ChildSpec{ProcessID: "traced/seq", Name: "Sequential", Execute: child}); err != nil {
			return err
		}
		group := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 2})
		for _, id := range []string{"traced/p1", "traced/p2"} {
			if err := group.Spawn(adapter.ChildSpec{ProcessID: id, Name: "Parallel", Execute: child}); err != nil {
				return err
			}
		}
		_, err := group.Wait()
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := adapter.New(ctx, adapter.Config{
		Temporal: tc,
		Mongo:    env.Mongo.DB,
		RPC:      face,
		Logger:   testenv.Logger(t),
		TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
			return []adapter.TaskInstance{{ProcessID: "traced", Name: "Traced", Execute: parent}}, nil
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = eng.Shutdown(context.Background()) })
	return eng, tracing, spans
}

// A launch made within a span, the process workflow it starts, the body
// (inline local activity and body activity), the spans the body starts from its context and the workflows
// and activities of its children (one sequential, two in a parallel group)
// are one trace.
func TestTracingOneTraceFromLaunchToChildren(t *testing.T) {
	eng, tracing, spans := tracedEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	launchCtx, root := tracing.TracerProvider().Tracer("test").Start(ctx, "launch")
	p, err := eng.LaunchAndWait(launchCtx, "traced")
	root.End()
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, p.Status.State)
	traceID := root.SpanContext().TraceID()

	// names lists the names of the trace's spans, sorted; count counts
	// those with a name (or, for a name ending in a space, a prefix).
	names := func() []string {
		var out []string
		for _, s := range spans.GetSpans() {
			if s.SpanContext.TraceID() == traceID {
				out = append(out, s.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	count := func(got []string, name string) int {
		n := 0
		for _, g := range got {
			if g == name || strings.HasSuffix(name, " ") && strings.HasPrefix(g, name) {
				n++
			}
		}
		return n
	}
	want := map[string]int{
		"launch":                           1,
		"StartWorkflow:optio.Process":      1,
		"RunWorkflow:optio.Process":        4, // the parent and its three children
		"StartChildWorkflow:optio.Process": 3,
		// Every body starts inline, in a local activity of its run's first
		// workflow task; the parent's, which waits for its children, goes on
		// in a body activity.
		"RunActivity:optio.BodyInline": 4,
		"RunActivity:optio.Body":       1,
		"user-work ":                   4,
	}
	var got []string
	require.Eventually(t, func() bool {
		got = names()
		for name, n := range want {
			if count(got, name) < n {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "spans of the trace: %v", func() []string { return names() }())
	t.Logf("%d spans in the launch's trace: %s", len(got), strings.Join(got, ", "))

	// Every span the engine and the bodies made is in the launch's trace,
	// and each body's own span is a child of the span of the local
	// activity that started it inline.
	activitySpans := map[trace.SpanID]string{}
	for _, s := range spans.GetSpans() {
		require.Equal(t, traceID, s.SpanContext.TraceID(), "span %q is in another trace", s.Name)
		if s.Name == "RunActivity:optio.BodyInline" {
			activitySpans[s.SpanContext.SpanID()] = s.Name
		}
	}
	for _, s := range spans.GetSpans() {
		if strings.HasPrefix(s.Name, "user-work ") {
			_, ok := activitySpans[s.Parent.SpanID()]
			require.True(t, ok, "span %q's parent is not the span of the local activity that started its body", s.Name)
		}
	}
	require.Equal(t, 4, len(activitySpans), fmt.Sprint(got))
}

// Tracing is off unless an OTLP endpoint variable is set, and an unknown
// protocol is refused with the variable's name.
func TestTracingFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		on   string // the exporter TracingFromEnv reports; "" for off
		err  string
	}{
		{name: "nothing set", env: map[string]string{}},
		{name: "only headers", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=b"}},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, on: "OTLP http/protobuf to http://collector:4318"},
		{name: "traces endpoint over grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, on: "OTLP grpc to http://collector:4317"},
		{name: "traces protocol wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, on: "OTLP grpc to http://c:4317"},
		{name: "sdk disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}},
		{name: "exporter none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}},
		{name: "json refused", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, err: `OTEL_EXPORTER_OTLP_PROTOCOL="http/json": want grpc or http/protobuf`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
				"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER"} {
				t.Setenv(k, tc.env[k])
			}
			tr, err := telemetry.TracingFromEnv(context.Background())
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			if tc.on == "" {
				require.Nil(t, tr)
				return
			}
			require.NotNil(t, tr)
			require.Equal(t, tc.on, tr.String())
			require.NoError(t, tr.Shutdown(context.Background()))
		})
	}
}

// With OTEL_EXPORTER_OTLP_ENDPOINT naming an OTLP/HTTP receiver, spans
// reach it.
func TestTracingFromEnvExportsOverHTTP(t *testing.T) {
	got := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type") + " " + r.Header.Get("X-Tenant")
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(srv.Close)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "X-Tenant=optio")
	tr, err := telemetry.TracingFromEnv(context.Background())
	require.NoError(t, err)
	require.NotNil(t, tr)
	_, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "one")
	span.End()
	require.NoError(t, tr.Shutdown(context.Background()))
	select {
	case req := <-got:
		require.Equal(t, "POST /v1/traces application/x-protobuf optio", req)
	case <-time.After(10 * time.Second):
		t.Fatal("no spans reached the receiver")
	}
}

// A launch over the optio-engine RPC, whose wire format carries no trace
// context, starts a trace at the worker that holds the whole run too.
func TestTracingRPCLaunchIsOneTrace(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	face := engineservice.Redis(redisURL)
	eng, _, spans := tracedEngine(t, face)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() { _ = eng.Run(ctx) }()
	select {
	case <-face.Ready():
	case <-ctx.Done():
		t.Fatal("the RPC server did not start")
	}
	opts, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	rc, err := rpc.NewClient(rdb, rpc.ClientOptions{KeyPrefix: eng.RPCKeyPrefix(), Logger: testenv.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close() })
	require.NoError(t, rc.Call(ctx, engineapi.Service, "launch", map[string]any{"processId": "traced", "resume": false, "sessionId": nil}, nil))

	// The run's trace is the one of its StartWorkflow span, which has no
	// parent; the four bodies' spans are in it.
	var traceID trace.TraceID
	require.Eventually(t, func() bool {
		p, err := eng.GetProcess(ctx, "traced")
		if err != nil || p.Status.State != adapter.StateDone {
			return false
		}
		bodies := 0
		for _, s := range spans.GetSpans() {
			if s.Name == "StartWorkflow:optio.Process" && !s.Parent.IsValid() {
				traceID = s.SpanContext.TraceID()
			}
		}
		for _, s := range spans.GetSpans() {
			if strings.HasPrefix(s.Name, "user-work ") && s.SpanContext.TraceID() == traceID {
				bodies++
			}
		}
		return bodies == 4
	}, 30*time.Second, 50*time.Millisecond, "the RPC launch's trace lacks the bodies' spans")
	for _, s := range spans.GetSpans() {
		require.Equal(t, traceID, s.SpanContext.TraceID(), "span %q is in another trace", s.Name)
	}
}
