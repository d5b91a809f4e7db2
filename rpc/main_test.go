package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/internal/redisserver"
	"github.com/optio-temporal/optio/rpc"
)

// sharedRedis serves every test that does not restart Redis; tests keep
// apart through their key prefixes.
var sharedRedis *redisserver.Server

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if !redisserver.Available() {
		fmt.Fprintln(os.Stderr, "rpc tests need a redis-server binary on PATH")
		return 1
	}
	if os.Getenv("RPC_TEST_LOG") == "" {
		// go-redis logs every failed dial during the outage tests.
		redis.SetLogger(discardRedisLog{})
	}
	srv, err := redisserver.Start(context.Background(), redisserver.Options{Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = srv.Stop() }()
	sharedRedis = srv
	return m.Run()
}

// quietLogger keeps expected warnings (poison entries, outages) out of the
// test output; set RPC_TEST_LOG=1 to see them.
func quietLogger() *slog.Logger {
	if os.Getenv("RPC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

func newRedis(t testing.TB, srv *redisserver.Server) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(srv.URL())
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// testPrefix gives each test its own keys, with the '/' and ':' optio uses.
func testPrefix(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return "rpctest-" + name + "-" + uuid.NewString()[:8] + "/optio"
}

func newServer(t testing.TB, rdb redis.UniversalClient, opts rpc.ServerOptions, services ...rpc.Service) *rpc.Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	srv, err := rpc.NewServer(rdb, opts)
	require.NoError(t, err)
	for _, svc := range services {
		require.NoError(t, srv.Register(svc))
	}
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
	})
	return srv
}

func newClient(t testing.TB, rdb redis.UniversalClient, opts rpc.ClientOptions) *rpc.Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	c, err := rpc.NewClient(rdb, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The arith and notifications contracts of the clamator interop suite,
// plus methods that fail in each way a handler can.

type addParams struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

type sumResult struct {
	Sum float64 `json:"sum"`
}

type slowAddParams struct {
	A       float64 `json:"a"`
	B       float64 `json:"b"`
	SleepMs uint    `json:"sleepMs"`
}

type textParams struct {
	Text string `json:"text"`
}

type launchParams struct {
	ProcessID string  `json:"processId"`
	Resume    *bool   `json:"resume"`
	SessionID *string `json:"sessionId" rpc:"required"`
}

type pingParams struct {
	Tag *string `json:"tag"`
}

// codedError is a handler error with fields, which the -32603 data carries
// like a Python exception's attributes.
type codedError struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

func (e *codedError) Error() string { return "coded failure: " + e.Reason }

// arith counts its handler runs so that tests can see where calls went.
type arith struct {
	handled atomic.Int64
	pinged  atomic.Int64
	// block, when set, is waited on by slowAdd before it answers.
	block chan struct{}
}

func (a *arith) service() rpc.Service {
	return rpc.Service{Name: "arith", Methods: []rpc.Method{
		{Name: "add", Handler: rpc.Typed(func(_ context.Context, p addParams) (sumResult, error) {
			a.handled.Add(1)
			return sumResult{Sum: p.A + p.B}, nil
		})},
		{Name: "slowAdd", Handler: rpc.Typed(func(ctx context.Context, p slowAddParams) (sumResult, error) {
			a.handled.Add(1)
			wait := time.After(time.Duration(p.SleepMs) * time.Millisecond)
			if a.block != nil {
				wait = nil
			}
			select {
			case <-wait:
			case <-a.block:
			case <-ctx.Done():
				return sumResult{}, ctx.Err()
			}
			return sumResult{Sum: p.A + p.B}, nil
		})},
		{Name: "divide", Handler: rpc.Typed(func(_ context.Context, p addParams) (map[string]float64, error) {
			a.handled.Add(1)
			if p.B == 0 {
				return nil, &rpc.Error{Code: -32000, Message: "division by zero"}
			}
			return map[string]float64{"q": p.A / p.B}, nil
		})},
		{Name: "echoText", Handler: rpc.Typed(func(_ context.Context, p textParams) (textParams, error) {
			a.handled.Add(1)
			return p, nil
		})},
		{Name: "launch", Handler: rpc.Typed(func(_ context.Context, p launchParams) (launchParams, error) {
			a.handled.Add(1)
			return p, nil
		})},
		{Name: "boom", Handler: func(context.Context, json.RawMessage) (any, error) {
			a.handled.Add(1)
			return nil, errors.New("boom")
		}},
		{Name: "coded", Handler: func(context.Context, json.RawMessage) (any, error) {
			a.handled.Add(1)
			return nil, fmt.Errorf("wrapped: %w", &codedError{Reason: "r", Count: 2})
		}},
		{Name: "panics", Handler: func(context.Context, json.RawMessage) (any, error) {
			a.handled.Add(1)
			panic("kaboom")
		}},
		{Name: "appError", Handler: func(context.Context, json.RawMessage) (any, error) {
			a.handled.Add(1)
			return nil, fmt.Errorf("context: %w", &rpc.Error{Code: -32001, Message: "not-found", Data: map[string]any{"processId": "p1"}})
		}},
		{Name: "badResult", Handler: func(context.Context, json.RawMessage) (any, error) {
			a.handled.Add(1)
			return map[string]any{"sum": math.NaN()}, nil
		}},
		{Name: "nilError", Handler: func(context.Context, json.RawMessage) (any, error) {
			a.handled.Add(1)
			var e *rpc.Error
			return nil, e
		}},
		{Name: "rawParams", Handler: func(_ context.Context, p json.RawMessage) (any, error) {
			a.handled.Add(1)
			return p, nil
		}},
		{Name: "ping", Kind: rpc.Notification, Handler: rpc.TypedNotification(func(_ context.Context, p pingParams) error {
			a.pinged.Add(1)
			return nil
		})},
	}}
}
