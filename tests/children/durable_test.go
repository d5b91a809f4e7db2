package children

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/internal/workerproc"
)

func init() { workerproc.MaybeRun() }

// durableTasks is a parent running five sequential children. Every child body
// records its execution in the executions collection; in the "victim" role
// the third child blocks, so the test can kill that worker mid-child.
var durableTasks = workerproc.Register("durable-children", func(params map[string]string) workerproc.Tasks {
	return workerproc.Tasks{Definitions: durableDefinitions(params)}
})

func durableDefinitions(params map[string]string) []adapter.TaskInstance {
	var executions *mongo.Collection
	connect := func() *mongo.Collection {
		if executions == nil {
			c, err := mongo.Connect(options.Client().ApplyURI(params["mongo"]))
			if err != nil {
				panic(err)
			}
			executions = c.Database(params["db"]).Collection("executions")
		}
		return executions
	}
	child := func(pc *adapter.ProcessContext) error {
		if _, err := connect().InsertOne(context.WithoutCancel(pc.Context()), bson.D{
			{Key: "child", Value: pc.ProcessID()}, {Key: "pid", Value: os.Getpid()},
		}); err != nil {
			return err
		}
		if params["role"] == "victim" && pc.ProcessID() == "durable/3" {
			select {} // killed here
		}
		return nil
	}
	return []adapter.TaskInstance{{ProcessID: "durable", Name: "Durable", Execute: func(pc *adapter.ProcessContext) error {
		for i := 1; i <= 5; i++ {
			if _, err := pc.RunChild(adapter.ChildSpec{ProcessID: fmt.Sprintf("durable/%d", i), Name: fmt.Sprintf("Child %d", i), Execute: child}); err != nil {
				return err
			}
		}
		return nil
	}}}
}

// Kill the worker process while the parent is on its third of five sequential
// children: the body is re-run on the surviving worker, the first two
// children are not run again (their recorded results are returned), the third
// is re-run there, and the process ends done.
func TestDurableChildrenSurviveWorkerLoss(t *testing.T) {
	env := testenv.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	params := map[string]string{"mongo": env.Mongo.URI, "db": env.Mongo.Name}
	victimParams := map[string]string{"role": "victim"}
	for k, v := range params {
		victimParams[k] = v
	}
	victim := workerproc.Start(t, workerproc.Config{
		HostPort: env.Temporal.HostPort, Namespace: env.Temporal.Namespace,
		MongoURI: env.Mongo.URI, Database: env.Mongo.Name,
		TaskSet: durableTasks, Params: victimParams,
		BodyHeartbeatTimeout: 2 * time.Second, ReconcileInterval: -1,
	})
	config := func(disableWorker bool) adapter.Config {
		return adapter.Config{
			Temporal: env.Temporal.Client, Mongo: env.Mongo.DB, Logger: testenv.Logger(t),
			DisableWorker: disableWorker, BodyHeartbeatTimeout: 2 * time.Second, ReconcileInterval: -1,
			TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
				return durableDefinitions(params), nil
			},
		}
	}
	launcher, err := adapter.New(ctx, config(true))
	require.NoError(t, err)
	t.Cleanup(func() { _ = launcher.Shutdown(context.Background()) })
	out, err := launcher.Launch(ctx, "durable")
	require.NoError(t, err)
	require.True(t, out.OK)

	executions := env.Mongo.DB.Collection("executions")
	count := func(child string) int64 {
		n, err := executions.CountDocuments(ctx, bson.D{{Key: "child", Value: child}})
		require.NoError(t, err)
		return n
	}
	require.Eventually(t, func() bool { return count("durable/3") == 1 }, 60*time.Second, 50*time.Millisecond, "the victim never reached the third child")

	survivor, err := adapter.New(ctx, config(false))
	require.NoError(t, err)
	t.Cleanup(func() { _ = survivor.Shutdown(context.Background()) })
	victim.Kill()

	var p *adapter.Process
	require.Eventually(t, func() bool {
		p, err = survivor.GetProcess(ctx, "durable")
		return err == nil && p.Status.State.End()
	}, 90*time.Second, 100*time.Millisecond, "the parent never ended")
	require.Equal(t, adapter.StateDone, p.Status.State, "error: %v", p.Status.Error)

	assert.EqualValues(t, 1, count("durable/1"), "child 1 ran once")
	assert.EqualValues(t, 1, count("durable/2"), "child 2 ran once")
	assert.EqualValues(t, 2, count("durable/3"), "child 3 ran on the victim, then again on the survivor")
	assert.EqualValues(t, 1, count("durable/4"))
	assert.EqualValues(t, 1, count("durable/5"))
	var lost bool
	for _, l := range p.Log {
		if l.Level == "warning" && l.Message == "Worker running the body was lost (heartbeat timeout); re-running the body on a live worker" {
			lost = true
		}
	}
	assert.True(t, lost, "the parent's log says the body was re-run")
	kids := (&harness{t: t, eng: survivor, ctx: ctx}).children(p)
	require.Len(t, kids, 5)
	for i, k := range kids {
		assert.Equal(t, fmt.Sprintf("durable/%d", i+1), k.ProcessID)
		assert.Equal(t, adapter.StateDone, k.Status.State)
		assert.Equal(t, i, k.Order)
	}
}
