package workerproc_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/internal/workerproc"
)

var pidTasks = workerproc.Register("pid", func(params map[string]string) workerproc.Tasks {
	report := func(ctx *adapter.ProcessContext) error {
		ctx.ReportProgress(100, "pid "+strconv.Itoa(os.Getpid())+" "+params["greeting"])
		return nil
	}
	return workerproc.Tasks{
		Definitions: []adapter.TaskInstance{{ProcessID: "defined", Name: "Defined", Execute: report}},
		Adhoc:       []workerproc.AdhocTask{{Task: adapter.TaskInstance{ProcessID: "adhoc", Name: "Ad-hoc", Execute: report}}},
	}
})

func init() { workerproc.MaybeRun() }

func TestMain(m *testing.M) { testenv.Main(m) }

// TestBodiesRunInTheWorkerProcess launches through a client-only engine, so
// the only worker that can run the bodies is the worker process.
func TestBodiesRunInTheWorkerProcess(t *testing.T) {
	env := testenv.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := workerproc.Start(t, workerproc.Config{
		HostPort: env.Temporal.HostPort, Namespace: env.Temporal.Namespace,
		MongoURI: env.Mongo.URI, Database: env.Mongo.Name,
		TaskSet: pidTasks, Params: map[string]string{"greeting": "hello"},
	})
	client, err := adapter.New(ctx, adapter.Config{
		Temporal: env.Temporal.Client, Mongo: env.Mongo.DB, DisableWorker: true, Logger: testenv.Logger(t),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Shutdown(context.Background()) })

	for _, id := range []string{"defined", "adhoc"} {
		p, err := client.LaunchAndWait(ctx, id)
		require.NoError(t, err, id)
		require.Equal(t, adapter.StateDone, p.Status.State, id)
		require.Equal(t, "pid "+strconv.Itoa(w.Pid())+" hello", *p.Progress.Message, id)
	}

	w.Kill()
	select {
	case <-w.Exited():
	default:
		t.Fatal("Kill returned before the worker exited")
	}
}

// TestStopShutsTheWorkerDownGracefully: Stop closes the worker's stdin, its
// engine shuts down and the process exits by itself, with status 0.
func TestStopShutsTheWorkerDownGracefully(t *testing.T) {
	env := testenv.New(t)
	w := workerproc.Start(t, workerproc.Config{
		HostPort: env.Temporal.HostPort, Namespace: env.Temporal.Namespace,
		MongoURI: env.Mongo.URI, Database: env.Mongo.Name,
		TaskSet: pidTasks,
	})
	start := time.Now()
	w.Stop(30 * time.Second)
	require.Less(t, time.Since(start), 30*time.Second, "exited before the kill")
	require.NoError(t, w.Err())
}
