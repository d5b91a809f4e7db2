package testenv

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func double(_ context.Context, n int) (int, error) { return 2 * n, nil }

func doubleWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out int
	err := workflow.ExecuteActivity(ctx, double, n).Get(ctx, &out)
	return out, err
}

func TestNewGivesWorkingServers(t *testing.T) {
	env := New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	queue := TaskQueue(t)
	w := worker.New(env.Temporal.Client, queue, worker.Options{})
	w.RegisterWorkflow(doubleWorkflow)
	w.RegisterActivity(double)
	require.NoError(t, w.Start())
	defer w.Stop()
	run, err := env.Temporal.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, doubleWorkflow, 21)
	require.NoError(t, err)
	var got int
	require.NoError(t, run.Get(ctx, &got))
	require.Equal(t, 42, got)
	require.Equal(t, "default", env.Temporal.Namespace)

	coll := env.Mongo.DB.Collection("optio_processes")
	_, err = coll.InsertOne(ctx, bson.D{{Key: "processId", Value: "a"}})
	require.NoError(t, err)
	n, err := coll.CountDocuments(ctx, bson.D{})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	opts, err := redis.ParseURL(env.RedisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	require.NoError(t, rdb.Ping(ctx).Err())
}

// sleepyWorkflow sleeps a millisecond n times; each sleep adds five events
// to its history.
func sleepyWorkflow(ctx workflow.Context, n int) error {
	for range n {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func TestNewTemporalWithAppliesDynamicConfigToItsServerOnly(t *testing.T) {
	own := NewTemporalWith(t, map[string]any{
		"limit.historyCount.error": 20,
		// The server checks the error limit only past the warning limit.
		"limit.blobSize.warn":  512,
		"limit.blobSize.error": 1024,
	})
	require.Equal(t, "default", own.Namespace)
	require.NotEqual(t, NewTemporal(t).HostPort, own.HostPort)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("a workflow past 20 events is terminated", func(t *testing.T) {
		queue := TaskQueue(t)
		w := worker.New(own.Client, queue, worker.Options{})
		w.RegisterWorkflow(sleepyWorkflow)
		require.NoError(t, w.Start())
		defer w.Stop()
		// 30 sleeps would make about 150 events: far past 20, far below the
		// default limit of 51,200.
		run, err := own.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, sleepyWorkflow, 30)
		require.NoError(t, err)
		var terminated *temporal.TerminatedError
		require.ErrorAs(t, run.Get(ctx, nil), &terminated)

		events := own.Client.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
		require.True(t, events.HasNext())
		last, err := events.Next()
		require.NoError(t, err)
		require.Equal(t, "Workflow history count exceeds limit.", last.GetWorkflowExecutionTerminatedEventAttributes().GetReason())
	})

	t.Run("an input over 1 KiB is refused, by this server only", func(t *testing.T) {
		// Nothing polls the queue: the server takes or refuses the start
		// on its own.
		opts := client.StartWorkflowOptions{TaskQueue: TaskQueue(t)}
		big := strings.Repeat("x", 4096)
		_, err := own.Client.ExecuteWorkflow(ctx, opts, "unpolled", big)
		require.ErrorContains(t, err, "Blob data size exceeds limit")
		_, err = own.Client.ExecuteWorkflow(ctx, opts, "unpolled", "small")
		require.NoError(t, err)

		shared := NewTemporal(t)
		run, err := shared.Client.ExecuteWorkflow(ctx, opts, "unpolled", big)
		require.NoError(t, err)
		require.NoError(t, shared.Client.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "test over"))
	})
}

func TestMongoDatabaseIsFreshAndDroppedOnCleanup(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		m := NewMongo(t)
		name = m.Name
		_, err := m.DB.Collection("c").InsertOne(context.Background(), bson.D{{Key: "k", Value: 1}})
		require.NoError(t, err)
		other := NewMongo(t)
		require.NotEqual(t, m.Name, other.Name)
	})
	m := NewMongo(t)
	names, err := m.Client.ListDatabaseNames(context.Background(), bson.D{})
	require.NoError(t, err)
	require.False(t, slices.Contains(names, name), "database %s survived its test: %v", name, names)
}

func TestNamesAreUniqueAndValid(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	for _, name := range []string{"TestX", "Test/with spaces/and-ÜNICODE", strings.Repeat("Long", 40)} {
		t.Run(name, func(t *testing.T) {
			a, b := DatabaseName(t), DatabaseName(t)
			require.NotEqual(t, a, b)
			require.Regexp(t, valid, a)
			q1, q2 := TaskQueue(t), TaskQueue(t)
			require.NotEqual(t, q1, q2)
			require.LessOrEqual(t, len(q1), 100)
		})
	}
}

func TestSlug(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"TestFoo", "testfoo"},
		{"TestFoo/sub_case", "testfoo_sub_case"},
		{"a--b  c", "a_b_c"},
		{"//x//", "x"},
		{"abcdef", "abc"},
	} {
		max := 60
		if tc.in == "abcdef" {
			max = 3
		}
		require.Equal(t, tc.want, slug(tc.in, max), tc.in)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and stops
// the calling function, so a test can check that a helper would fail its
// test.
type fatalRecorder struct {
	testing.TB
	msg string
}

type fatalStop struct{}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
	panic(fatalStop{})
}

func (f *fatalRecorder) Helper() {}

func runRecorded(tb testing.TB, fn func(testing.TB)) (msg string) {
	rec := &fatalRecorder{TB: tb}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatalStop); !ok {
				panic(r)
			}
			msg = rec.msg
		}
	}()
	fn(rec)
	return ""
}

func TestRedisWithoutRedisServer(t *testing.T) {
	// An empty PATH hides redis-server.
	t.Setenv("PATH", t.TempDir())

	t.Run("falls back to the embedded server", func(t *testing.T) {
		t.Setenv(EnvRequireRealRedis, "")
		r := NewRedis(t)
		require.True(t, r.Embedded())
		opts, err := redis.ParseURL(r.URL())
		require.NoError(t, err)
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		require.NoError(t, rdb.Ping(context.Background()).Err())
	})
	t.Run("fails when real Redis is required", func(t *testing.T) {
		t.Setenv(EnvRequireRealRedis, "1")
		msg := runRecorded(t, func(tb testing.TB) { NewRedis(tb) })
		require.Contains(t, msg, "redis-server is not on PATH")
		msg = runRecorded(t, func(tb testing.TB) { RedisURL(tb) })
		require.Contains(t, msg, "redis-server is not on PATH")
	})
}

const (
	envWorkerHostPort  = "OPTIO_TESTENV_WORKER_HOSTPORT"
	envWorkerNamespace = "OPTIO_TESTENV_WORKER_NAMESPACE"
	envWorkerQueue     = "OPTIO_TESTENV_WORKER_QUEUE"
)

// TestSecondProcessWorker runs a worker in another process (this test
// binary, re-run as TestWorkerProcess) against the shared server, using only
// the HostPort and Namespace testenv reports.
func TestSecondProcessWorker(t *testing.T) {
	tmp := NewTemporal(t)
	queue := TaskQueue(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestWorkerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envWorkerHostPort+"="+tmp.HostPort,
		envWorkerNamespace+"="+tmp.Namespace,
		envWorkerQueue+"="+queue,
	)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	run, err := tmp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, doubleWorkflow, 5)
	require.NoError(t, err)
	var got int
	require.NoError(t, run.Get(ctx, &got))
	require.Equal(t, 10, got)
}

// TestWorkerProcess is the other process of TestSecondProcessWorker; it is
// skipped in a normal run.
func TestWorkerProcess(t *testing.T) {
	hostPort := os.Getenv(envWorkerHostPort)
	if hostPort == "" {
		t.Skip("runs only as the helper process of TestSecondProcessWorker")
	}
	c, err := client.Dial(client.Options{
		HostPort: hostPort, Namespace: os.Getenv(envWorkerNamespace),
		Logger: sdklog.NewStructuredLogger(Logger(t)),
	})
	require.NoError(t, err)
	defer c.Close()
	w := worker.New(c, os.Getenv(envWorkerQueue), worker.Options{})
	w.RegisterWorkflow(doubleWorkflow)
	w.RegisterActivity(double)
	// Runs until the parent kills it.
	require.NoError(t, w.Run(worker.InterruptCh()))
}
