package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/grpc"

	"github.com/optio-temporal/optio/internal/devstack"
	"github.com/optio-temporal/optio/internal/redisserver"
	"github.com/optio-temporal/optio/temporalconn"
)

// Environment variables read by this package.
const (
	// EnvMongoURL names a real MongoDB to use instead of embedded FerretDB.
	EnvMongoURL = "OPTIO_TEST_MONGO_URL"
	// EnvRequireRealRedis set to "1" fails tests that would otherwise fall
	// back to the embedded Redis.
	EnvRequireRealRedis = "OPTIO_TEST_REQUIRE_REAL_REDIS"
	// EnvLogLevel sets the level of [Logger]: debug, info, warn or error.
	EnvLogLevel = "OPTIO_TEST_LOG_LEVEL"
)

// Env is everything [New] gives a test.
type Env struct {
	Temporal Temporal
	Mongo    Mongo
	// RedisURL is a redis:// URL of the shared Redis server.
	RedisURL string
}

// Temporal is a Temporal client and the address of its server.
type Temporal struct {
	// Client is connected to Namespace; it is closed on cleanup.
	Client client.Client
	// HostPort is the server's frontend address, for client.Options.HostPort.
	HostPort string
	// Namespace is the namespace Client uses ("default").
	Namespace string
}

// Mongo is a database of the test's own.
type Mongo struct {
	// Client is connected to the server; it is disconnected on cleanup.
	Client *mongo.Client
	// DB is the test's database; it is dropped on cleanup.
	DB *mongo.Database
	// URI is the server's connection string (without the database).
	URI string
	// Name is DB's name.
	Name string
}

// New gives the test a Temporal client, a fresh Mongo database and a Redis
// URL, starting the shared servers on first use.
func New(t testing.TB) *Env {
	t.Helper()
	return &Env{
		Temporal: NewTemporal(t),
		Mongo:    NewMongo(t),
		RedisURL: RedisURL(t),
	}
}

// NewTemporal gives the test a client of the shared Temporal server.
func NewTemporal(t testing.TB) Temporal {
	t.Helper()
	srv, err := shared.temporal()
	if err != nil {
		t.Fatalf("testenv: start Temporal: %v", err)
	}
	return dialTemporal(t, srv)
}

// NewTemporalWith starts a Temporal server for this test alone, with
// dynamicConfig overriding or adding to the dev server's dynamic config (keys
// as in Temporal's dynamicconfig package, for example
// "limit.historyCount.error": 20), and gives the test a client of it. The
// server is in memory, has namespace "default" and is stopped on cleanup.
// Starting one takes about half a second, so use it only for settings the
// shared server of [NewTemporal] must not have.
func NewTemporalWith(t testing.TB, dynamicConfig map[string]any) Temporal {
	t.Helper()
	srv, err := devstack.StartTemporal(context.Background(), devstack.TemporalConfig{
		Logger:        Logger(t),
		DynamicConfig: dynamicConfig,
	})
	if err != nil {
		t.Fatalf("testenv: start Temporal: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("testenv: stop Temporal: %v", err)
		}
	})
	return dialTemporal(t, srv)
}

// dialTemporal connects a client to srv, with the interceptors
// temporalconn.Dial adds, closed on cleanup.
func dialTemporal(t testing.TB, srv *devstack.Temporal) Temporal {
	t.Helper()
	tp := Temporal{HostPort: srv.HostPort(), Namespace: srv.Namespace()}
	tp.Client = tp.dial(t, temporalconn.RetryClosingUpdates(), temporalconn.EscapeResourceIDs())
	return tp
}

// DialIntercepted connects another client to the same server and namespace,
// closed on cleanup, whose calls go through intercept: a test's way to
// watch, hold or lose particular calls of an engine.
func (tp Temporal) DialIntercepted(t testing.TB, intercept grpc.UnaryClientInterceptor) client.Client {
	t.Helper()
	return tp.dial(t, temporalconn.RetryClosingUpdates(), grpc.WithChainUnaryInterceptor(intercept), temporalconn.EscapeResourceIDs())
}

// DialPlain connects another client to the same server and namespace,
// closed on cleanup, as client.Dial does with no dial options: without
// temporalconn.EscapeResourceIDs, which Client has.
func (tp Temporal) DialPlain(t testing.TB) client.Client {
	t.Helper()
	return tp.dial(t)
}

// dial connects a client with the test's logger and opts, closed on
// cleanup.
func (tp Temporal) dial(t testing.TB, opts ...grpc.DialOption) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:          tp.HostPort,
		Namespace:         tp.Namespace,
		Logger:            sdklog.NewStructuredLogger(Logger(t)),
		ConnectionOptions: client.ConnectionOptions{DialOptions: opts},
	})
	if err != nil {
		t.Fatalf("testenv: connect to Temporal at %s: %v", tp.HostPort, err)
	}
	t.Cleanup(c.Close)
	return c
}

// NewMongo gives the test a fresh database, dropped on cleanup.
func NewMongo(t testing.TB) Mongo {
	t.Helper()
	uri := os.Getenv(EnvMongoURL)
	if uri == "" {
		srv, err := shared.mongo()
		if err != nil {
			t.Fatalf("testenv: start Mongo: %v", err)
		}
		uri = srv.URL()
	}
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second))
	if err != nil {
		t.Fatalf("testenv: connect to Mongo at %s: %v", uri, err)
	}
	name := DatabaseName(t)
	db := c.Database(name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
		if err := c.Disconnect(ctx); err != nil {
			t.Errorf("testenv: disconnect from Mongo: %v", err)
		}
	})
	return Mongo{Client: c, DB: db, URI: uri, Name: name}
}

// RedisURL returns the URL of the shared Redis server: a real redis-server
// when one is installed, otherwise (unless OPTIO_TEST_REQUIRE_REAL_REDIS=1)
// the embedded one, with a notice in the test log.
func RedisURL(t testing.TB) string {
	t.Helper()
	requireRealRedis(t)
	srv, err := shared.redis()
	if err != nil {
		t.Fatalf("testenv: start Redis: %v", err)
	}
	if srv.Embedded() {
		t.Log("testenv: redis-server is not on PATH; using the embedded Redis (miniredis). Install redis-server to test against the real thing.")
	}
	return srv.URL()
}

// NewRedis starts a Redis server for this test alone, stopped on cleanup;
// for tests that kill or restart Redis. Server() of the result is nil when
// it is the embedded fallback.
func NewRedis(t testing.TB) *devstack.Redis {
	t.Helper()
	requireRealRedis(t)
	r, err := devstack.StartRedis(context.Background(), devstack.RedisConfig{Logger: Logger(t)})
	if err != nil {
		t.Fatalf("testenv: start Redis: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("testenv: stop Redis: %v", err)
		}
	})
	if r.Embedded() {
		t.Log("testenv: redis-server is not on PATH; using the embedded Redis (miniredis).")
	}
	return r
}

func requireRealRedis(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvRequireRealRedis) == "1" && !redisserver.Available() {
		t.Fatalf("testenv: %s=1 but redis-server is not on PATH (install the redis-server package)", EnvRequireRealRedis)
	}
}

// TaskQueue returns a Temporal task queue name no other test uses.
func TaskQueue(t testing.TB) string {
	return "test-" + slug(t.Name(), 60) + "-" + randomHex(4)
}

// DatabaseName returns a Mongo database name no other test uses, made from
// the test's name. New and NewMongo use it; it is exported for tests that
// need a second database.
func DatabaseName(t testing.TB) string {
	// MongoDB allows 63 bytes and FerretDB letters, digits, '_' and '-'.
	return "t_" + slug(t.Name(), 40) + "_" + randomHex(4)
}

// slug keeps letters and digits of s, lower-cased, and turns every other run
// of characters into one '_', up to max bytes.
func slug(s string, max int) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
		if b.Len() >= max {
			break
		}
	}
	return strings.TrimRight(b.String(), "_")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Logger returns a logger that writes to the test's output until the test
// (with its cleanups) is over and drops everything after, so a goroutine
// that logs late cannot fail the test binary.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(Output(t), &slog.HandlerOptions{Level: logLevel()}))
}

// Output returns a writer to the test's output that drops everything written
// once the test's cleanups have run; safe for concurrent use. Call it early:
// its cleanup runs after the ones registered later.
func Output(t testing.TB) io.Writer {
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.close)
	return w
}

type testWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv(EnvLogLevel))); err != nil || os.Getenv(EnvLogLevel) == "" {
		return slog.LevelWarn
	}
	return l
}

// Main runs the tests of a package and stops the shared servers before the
// test binary exits. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without the exit: it runs the tests, stops the shared servers
// and returns the exit code, for a TestMain that has more to do after.
func Run(m *testing.M) int {
	code := m.Run()
	if err := shared.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// shared holds the servers of this test binary. It is the one piece of
// package state, because a server shared by tests cannot belong to any one
// of them.
var shared servers

type servers struct {
	mu sync.Mutex
	t  *devstack.Temporal
	m  *devstack.Mongo
	r  *devstack.Redis
	// A failed start is remembered, so that every test reports it instead
	// of trying again.
	tErr, mErr, rErr error
}

func (s *servers) temporal() (*devstack.Temporal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t == nil && s.tErr == nil {
		s.t, s.tErr = devstack.StartTemporal(context.Background(), devstack.TemporalConfig{Logger: sharedLogger()})
	}
	return s.t, s.tErr
}

func (s *servers) mongo() (*devstack.Mongo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil && s.mErr == nil {
		s.m, s.mErr = devstack.StartMongo(context.Background(), devstack.MongoConfig{Logger: sharedLogger()})
	}
	return s.m, s.mErr
}

func (s *servers) redis() (*devstack.Redis, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r == nil && s.rErr == nil {
		s.r, s.rErr = devstack.StartRedis(context.Background(), devstack.RedisConfig{Logger: sharedLogger()})
	}
	return s.r, s.rErr
}

// sharedLogger is the shared servers' logger: they outlive every test, so
// they log to stderr, at the level of [Logger].
func sharedLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
}

func (s *servers) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Stop())
	}
	if s.m != nil {
		errs = append(errs, s.m.Stop())
	}
	if s.t != nil {
		errs = append(errs, s.t.Stop())
	}
	s.t, s.m, s.r = nil, nil, nil
	return errors.Join(errs...)
}
