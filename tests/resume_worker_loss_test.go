package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/demo"
	"github.com/optio-temporal/optio/internal/workerproc"
)

// The resume tests run demo-resumable itself, with its 40 steps shortened.
const (
	resumeSteps      = 40
	resumeStepMillis = 120
)

// resumableDemo is demo-resumable with stepMillis-long steps.
func resumableDemo(stepMillis int) adapter.TaskInstance {
	for _, t := range demo.Tasks() {
		if t.ProcessID == demo.ResumableID {
			t.Params = map[string]any{demo.ParamSteps: resumeSteps, demo.ParamStepMillis: stepMillis}
			return t
		}
	}
	panic("demo-resumable is missing from the demo tasks")
}

var resumeWorkerTasks = workerproc.Register("resume-worker", func(map[string]string) workerproc.Tasks {
	return workerproc.Tasks{Definitions: []adapter.TaskInstance{resumableDemo(resumeStepMillis)}}
})

// savedStep reads the step demo-resumable's checkpoint holds in Mongo
// ({prefix}_checkpoints), -1 when it has none.
func savedStep(t *testing.T, db *mongo.Database, prefix string, docID bson.ObjectID) int {
	t.Helper()
	var rec struct {
		Data string `bson:"data"`
	}
	err := db.Collection(prefix+"_checkpoints").FindOne(context.Background(), bson.D{{Key: "_id", Value: docID}}).Decode(&rec)
	if errors.Is(err, mongo.ErrNoDocuments) || (err == nil && rec.Data == "") {
		return -1
	}
	require.NoError(t, err)
	var point struct {
		Done int `json:"done"`
	}
	require.NoError(t, json.Unmarshal([]byte(rec.Data), &point))
	return point.Done
}

var resumedFrom = regexp.MustCompile(`^Resumed \((.+)\): continuing from step (\d+)/(\d+)$`)

// requireContinued checks the log of a demo-resumable run that was
// interrupted: the first "Resumed" entry is of the given kind and continues
// after at least atLeast steps; no step before it is logged after it (nor
// twice); each step from it on is logged after it. It returns the step the
// run continued from. A later interruption (a loaded machine can make the
// surviving worker miss its heartbeats too) may add "Resumed" entries of the
// same kind, each after a logged interruption; between two of them no step
// is logged twice.
func requireContinued(t *testing.T, p *adapter.Process, kind adapter.RunKind, atLeast int) int {
	t.Helper()
	type resume struct{ at, from int }
	var resumes []resume
	for i, e := range p.Log {
		if m := resumedFrom.FindStringSubmatch(e.Message); m != nil {
			require.Equal(t, "info", string(e.Level))
			require.Equal(t, kind.String(), m[1], "log:\n%s", formatLog(p))
			require.Equal(t, strconv.Itoa(resumeSteps), m[3])
			resumes = append(resumes, resume{at: i, from: atoi(t, m[2])})
		}
	}
	require.NotEmpty(t, resumes, "no Resumed entry; log:\n%s", formatLog(p))
	for k := 1; k < len(resumes); k++ {
		interrupted := false
		for _, e := range p.Log[resumes[k-1].at:resumes[k].at] {
			interrupted = interrupted || e.Level == "warning" && strings.Contains(e.Message, "re-running the body")
		}
		require.True(t, interrupted, "a further re-run with no interruption logged before it; log:\n%s", formatLog(p))
	}
	from := resumes[0].from
	require.Greater(t, from-1, atLeast-1, "continued from step %d, but step %d was saved before; log:\n%s", from, atLeast, formatLog(p))
	segment := func(i int) int { // 0 before the first resume, k after the k-th
		k := 0
		for _, r := range resumes {
			if i > r.at {
				k++
			}
		}
		return k
	}
	for j := 1; j <= resumeSteps; j++ {
		per := map[int]int{}
		for i, e := range p.Log {
			if e.Message == fmt.Sprintf("Step %d/%d", j, resumeSteps) {
				per[segment(i)]++
			}
		}
		after := 0
		for k, c := range per {
			require.LessOrEqual(t, c, 1, "step %d logged %d times in one run; log:\n%s", j, c, formatLog(p))
			if k > 0 {
				after += c
			}
		}
		if j < from {
			// Not repeated. Its log line may be missing: log lines are
			// buffered like progress, and the kill can take the last
			// flush's worth with it while the checkpoint got through.
			require.Zero(t, after, "step %d (before the checkpoint) repeated after the resume; log:\n%s", j, formatLog(p))
		} else {
			require.NotZero(t, after, "step %d: not logged after the resume; log:\n%s", j, formatLog(p))
		}
	}
	return from
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// TestResumeAfterWorkerKilled: demo-resumable runs in a worker process that
// is killed (SIGKILL) mid-run. A live engine re-runs the body, which reads
// the checkpoint saved before the kill: it says so in its first log entry,
// does not repeat the steps before it, and ends done. The document carries
// the resume fields, and the finished run leaves no saved state.
func TestResumeAfterWorkerKilled(t *testing.T) {
	t.Parallel()
	s := newSystem(t, adapter.Config{DisableWorker: true, BodyHeartbeatTimeout: lostBodyHeartbeat})
	w := workerproc.Start(t, workerproc.Config{
		HostPort: s.env.Temporal.HostPort, Namespace: s.env.Temporal.Namespace,
		MongoURI: s.env.Mongo.URI, Database: s.env.Mongo.Name,
		TaskSet:              resumeWorkerTasks,
		BodyHeartbeatTimeout: lostBodyHeartbeat,
	})
	id := demo.ResumableID
	fresh := s.get(id)
	require.True(t, *fresh.SupportsResume)
	require.False(t, *fresh.HasSavedState)
	require.False(t, *fresh.AutoResumeScheduled)

	require.True(t, s.launch(id).OK)
	var saved int
	eventually(t, "a checkpoint past step 8", func() bool {
		saved = savedStep(t, s.env.Mongo.DB, "optio", fresh.ID)
		return saved >= 8
	})
	require.True(t, *s.get(id).HasSavedState, "a saved checkpoint marks hasSavedState")
	s.startEngine(adapter.Config{
		TaskDefinitions:      staticTasks(resumableDemo(resumeStepMillis)),
		BodyHeartbeatTimeout: lostBodyHeartbeat,
	})
	w.Kill()
	killedAt := time.Now()

	p := s.waitState(id, adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
	require.Equal(t, adapter.StateDone, p.Status.State, "log:\n%s", formatLog(p))
	from := requireContinued(t, p, adapter.RerunAfterLostWorker, saved)
	t.Logf("checkpoint seen before the kill: step %d; re-run continued from step %d, done %.1fs after the kill",
		saved, from, time.Since(killedAt).Seconds())
	require.False(t, *p.HasSavedState, "the finished demo cleared its saved state")
	require.Equal(t, -1, savedStep(t, s.env.Mongo.DB, "optio", p.ID))
}

// TestResumeFromLastHeartbeat: the checkpoint also rides on the body's
// heartbeats, and Temporal keeps the last ones it received from a lost
// activity. Here the Mongo copy is deleted after the worker is killed: the
// re-run still continues from a checkpoint, the one in the lost body's last
// heartbeat (at or before the one in Mongo), and repeats no step before it.
func TestResumeFromLastHeartbeat(t *testing.T) {
	t.Parallel()
	s := newSystem(t, adapter.Config{DisableWorker: true, BodyHeartbeatTimeout: lostBodyHeartbeat})
	w := workerproc.Start(t, workerproc.Config{
		HostPort: s.env.Temporal.HostPort, Namespace: s.env.Temporal.Namespace,
		MongoURI: s.env.Mongo.URI, Database: s.env.Mongo.Name,
		TaskSet:              resumeWorkerTasks,
		BodyHeartbeatTimeout: lostBodyHeartbeat,
	})
	id := demo.ResumableID
	doc := s.get(id)
	require.True(t, s.launch(id).OK)
	var saved int
	eventually(t, "a checkpoint past step 14", func() bool {
		saved = savedStep(t, s.env.Mongo.DB, "optio", doc.ID)
		return saved >= 14
	})
	w.Kill()
	res, err := s.env.Mongo.DB.Collection("optio_checkpoints").DeleteOne(s.ctx(), bson.D{{Key: "_id", Value: doc.ID}})
	require.NoError(t, err)
	require.EqualValues(t, 1, res.DeletedCount)
	s.startEngine(adapter.Config{
		TaskDefinitions:      staticTasks(resumableDemo(resumeStepMillis)),
		BodyHeartbeatTimeout: lostBodyHeartbeat,
	})

	p := s.waitState(id, adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
	require.Equal(t, adapter.StateDone, p.Status.State, "log:\n%s", formatLog(p))
	from := requireContinued(t, p, adapter.RerunAfterLostWorker, 1)
	require.LessOrEqual(t, from-1, saved, "the heartbeat's checkpoint is no later than Mongo's")
	t.Logf("Mongo had step %d before the kill (deleted after it); the re-run continued from step %d, from the last heartbeat", saved, from)
}
