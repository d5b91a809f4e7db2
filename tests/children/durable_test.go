package children

import (
	"context"
	"fmt"
	"os"
	"slices"
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

// groupTasks is a parent running a group of groupSize children, at most 20
// at once; in the "victim" role child groupVictim blocks, so the test can
// kill that worker with the group's later children spawned.
var groupTasks = workerproc.Register("durable-group", func(params map[string]string) workerproc.Tasks {
	return workerproc.Tasks{Definitions: groupDefinitions(params)}
})

const groupSize, groupVictim = 150, 135

func groupDefinitions(params map[string]string) []adapter.TaskInstance {
	child := func(pc *adapter.ProcessContext) error {
		if params["role"] == "victim" && pc.ProcessID() == fmt.Sprintf("group/%03d", groupVictim) {
			select {} // killed here
		}
		return nil
	}
	return []adapter.TaskInstance{{ProcessID: "group", Name: "Group", Execute: func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 20})
		for i := range groupSize {
			if err := g.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("group/%03d", i), Name: fmt.Sprintf("Child %03d", i), Execute: child}); err != nil {
				return err
			}
		}
		_, err := g.Wait()
		return err
	}}}
}

// Kill the worker process running a group's children workflow past its
// hundredth child, whose "Spawned child" entries that workflow writes apart
// from the inserts: the workflow goes on from its history on the surviving
// worker, and the parent's log says "Spawned child" once per child, none
// lost with the victim and none written twice, before the parent's end.
func TestDurableGroupSpawnLogSurvivesWorkerLoss(t *testing.T) {
	env := testenv.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	victim, launcher, newSurvivor := launchOnVictim(t, ctx, env, groupTasks, nil, groupDefinitions(nil), "group")

	// Killed as soon as the group's last child is spawned, when its entry
	// is most likely still to be written.
	last := fmt.Sprintf("group/%03d", groupSize-1)
	require.Eventually(t, func() bool {
		_, err := launcher.GetProcess(ctx, last)
		return err == nil
	}, 90*time.Second, 2*time.Millisecond, "the group's last child was never spawned")
	victim.Kill()
	if p, err := launcher.GetProcess(ctx, "group"); err == nil {
		t.Logf("%d entries of %d written when the victim was killed", len(spawnedNames(p)), groupSize)
	}
	survivor := newSurvivor()

	var p *adapter.Process
	var err error
	require.Eventually(t, func() bool {
		p, err = survivor.GetProcess(ctx, "group")
		return err == nil && p.Status.State.End()
	}, 90*time.Second, 100*time.Millisecond, "the parent never ended")
	require.Equal(t, adapter.StateDone, p.Status.State, "error: %v", p.Status.Error)
	// Once each: sorted, the names are the children's, each once.
	assert.Equal(t, numberedNames("Child %03d", groupSize), slices.Sorted(slices.Values(spawnedNames(p))))
	assert.Equal(t, "State changed to done", p.Log[len(p.Log)-1].Message)
}

// launchOnVictim starts a worker process with taskSet in the "victim" role
// (params added) and launches processID from an engine that runs no worker.
// newSurvivor starts an engine that runs a worker with defs, stopped on
// cleanup as the launcher is.
func launchOnVictim(t *testing.T, ctx context.Context, env *testenv.Env, taskSet string, params map[string]string, defs []adapter.TaskInstance, processID string) (victim *workerproc.Proc, launcher *adapter.Engine, newSurvivor func() *adapter.Engine) {
	t.Helper()
	victimParams := map[string]string{"role": "victim"}
	for k, v := range params {
		victimParams[k] = v
	}
	victim = workerproc.Start(t, workerproc.Config{
		HostPort: env.Temporal.HostPort, Namespace: env.Temporal.Namespace,
		MongoURI: env.Mongo.URI, Database: env.Mongo.Name,
		TaskSet: taskSet, Params: victimParams,
		BodyHeartbeatTimeout: 2 * time.Second, ReconcileInterval: -1,
	})
	start := func(disableWorker bool) *adapter.Engine {
		eng, err := adapter.New(ctx, adapter.Config{
			Temporal: env.Temporal.Client, Mongo: env.Mongo.DB, Logger: testenv.Logger(t),
			DisableWorker: disableWorker, BodyHeartbeatTimeout: 2 * time.Second, ReconcileInterval: -1,
			TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
				return defs, nil
			},
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = eng.Shutdown(context.Background()) })
		return eng
	}
	launcher = start(true)
	out, err := launcher.Launch(ctx, processID)
	require.NoError(t, err)
	require.True(t, out.OK)
	return victim, launcher, func() *adapter.Engine { return start(false) }
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
	victim, _, newSurvivor := launchOnVictim(t, ctx, env, durableTasks, params, durableDefinitions(params), "durable")

	executions := env.Mongo.DB.Collection("executions")
	count := func(child string) int64 {
		n, err := executions.CountDocuments(ctx, bson.D{{Key: "child", Value: child}})
		require.NoError(t, err)
		return n
	}
	require.Eventually(t, func() bool { return count("durable/3") == 1 }, 60*time.Second, 50*time.Millisecond, "the victim never reached the third child")

	survivor := newSurvivor()
	victim.Kill()

	var p *adapter.Process
	var err error
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
