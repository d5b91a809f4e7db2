package tests

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/demo"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/internal/workerproc"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// lowHistoryLimits make Temporal's history wall visible at a small scale: a
// run is terminated past 150 events and told to continue as new from 50
// (the defaults are 51,200 and 4,096).
var lowHistoryLimits = map[string]any{
	"limit.historyCount.error":                150,
	"limit.historyCount.suggestContinueAsNew": 50,
}

// demoTasks runs the demo task set in a worker process, demo-fanout sized
// as in the test process.
var demoTasks = workerproc.Register("demo", func(map[string]string) workerproc.Tasks {
	return workerproc.Tasks{Definitions: sizedDemos(demo.Tasks())}
})

// envFanoutChildren sets how many children demo-fanout runs in these tests.
// The default keeps .ci/run well inside its time on two cores (the children
// workflow still rolls over dozens of times under the lowered limit);
// OPTIO_TEST_FANOUT_CHILDREN=2000 runs the demo at its real size.
const envFanoutChildren = "OPTIO_TEST_FANOUT_CHILDREN"

func fanoutChildren() int {
	if n, err := strconv.Atoi(os.Getenv(envFanoutChildren)); err == nil && n > 0 {
		return n
	}
	return 400
}

// sizedDemos sets demo-fanout's size to fanoutChildren, 100 at a time.
func sizedDemos(tasks []adapter.TaskInstance) []adapter.TaskInstance {
	for i := range tasks {
		if tasks[i].ProcessID == demo.FanoutID {
			tasks[i].Params = map[string]any{demo.ParamItems: fanoutChildren(), demo.ParamConcurrency: 100}
		}
	}
	return tasks
}

func sizedDefinitions(ctx context.Context, services, filter map[string]any) ([]adapter.TaskInstance, error) {
	tasks, err := demo.Definitions(ctx, services, filter)
	return sizedDemos(tasks), err
}

// limitsSystem is an engine with the demo tasks on a Temporal server of its
// own with lowHistoryLimits.
type limitsSystem struct {
	t        *testing.T
	temporal testenv.Temporal
	mongo    testenv.Mongo
	eng      *adapter.Engine
	ctx      context.Context
}

func newLimitsSystem(t *testing.T, disableWorker bool) *limitsSystem {
	t.Helper()
	ls := &limitsSystem{t: t, temporal: testenv.NewTemporalWith(t, lowHistoryLimits), mongo: testenv.NewMongo(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	t.Cleanup(cancel)
	ls.ctx = ctx
	ls.eng = ls.engine(disableWorker)
	return ls
}

func (ls *limitsSystem) engine(disableWorker bool) *adapter.Engine {
	eng, err := adapter.New(ls.ctx, adapter.Config{
		Temporal: ls.temporal.Client, Mongo: ls.mongo.DB, Logger: testenv.Logger(ls.t),
		TaskDefinitions: sizedDefinitions, DisableWorker: disableWorker,
		// Generous: 2,000 child workflows keep the test's server busy, and a
		// heartbeat answered late must not count as a lost worker.
		BodyHeartbeatTimeout: 30 * time.Second,
	})
	require.NoError(ls.t, err)
	ls.t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = eng.Shutdown(sctx)
	})
	return eng
}

func (ls *limitsSystem) launch(id string) {
	ls.t.Helper()
	out, err := ls.eng.Launch(ls.ctx, id)
	require.NoError(ls.t, err)
	require.True(ls.t, out.OK, "launch %s: %v", id, out.Reason)
}

// waitEnd waits for a process to reach a terminal state and returns it.
func (ls *limitsSystem) waitEnd(id string, within time.Duration) *adapter.Process {
	ls.t.Helper()
	var p *adapter.Process
	ended := assert.Eventually(ls.t, func() bool {
		var err error
		p, err = ls.eng.GetProcess(ls.ctx, id)
		return err == nil && p.Status.State.End()
	}, within, 100*time.Millisecond, "%s never ended", id)
	if !ended {
		ls.dump(id)
		ls.t.FailNow()
	}
	return p
}

// dump logs what a process that never ended left behind: its active
// children and the last events of its workflows.
func (ls *limitsSystem) dump(id string) {
	all, _ := ls.eng.Store().List(ls.ctx, mirror.Query{})
	for _, p := range all {
		if p.Status.State.Active() {
			ls.t.Logf("active: %s %s", p.ProcessID, p.Status.State)
		}
	}
	for _, wf := range []string{ls.eng.WorkflowID(id), ls.eng.WorkflowID(id) + "#children"} {
		it := ls.temporal.Client.GetWorkflowHistory(ls.ctx, wf, "", false, 0)
		var lines []string
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				lines = append(lines, err.Error())
				break
			}
			lines = append(lines, fmt.Sprintf("%d %s %.300v", ev.GetEventId(), ev.GetEventType(), ev.GetAttributes()))
		}
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		ls.t.Logf("%s:\n%s", wf, strings.Join(lines, "\n"))
	}
}

// children returns the documents of a process's children.
func (ls *limitsSystem) children(p *adapter.Process) []mirror.Process {
	ls.t.Helper()
	kids, err := ls.eng.Store().List(ls.ctx, mirror.Query{ParentID: &p.ID})
	require.NoError(ls.t, err)
	return kids
}

// runs returns every workflow run of the test's server: how many the server
// terminated, and the longest history.
func (ls *limitsSystem) runs() (terminated []string, longest int64, rolled int) {
	ls.t.Helper()
	var token []byte
	for {
		resp, err := ls.temporal.Client.ListWorkflow(ls.ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: ls.temporal.Namespace, NextPageToken: token, PageSize: 1000,
		})
		require.NoError(ls.t, err)
		for _, ex := range resp.GetExecutions() {
			longest = max(longest, ex.GetHistoryLength())
			switch ex.GetStatus() {
			case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
				terminated = append(terminated, ex.GetExecution().GetWorkflowId())
			case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
				rolled++
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return terminated, longest, rolled
		}
	}
}

// assertChildrenEnded checks that every child of p ended in want.
func (ls *limitsSystem) assertChildrenEnded(p *adapter.Process, n int, want func(mirror.Process) bool) {
	ls.t.Helper()
	kids := ls.children(p)
	require.Len(ls.t, kids, n, "children of %s", p.ProcessID)
	for _, k := range kids {
		require.True(ls.t, k.Status.State.End(), "child %s is %s", k.ProcessID, k.Status.State)
		assert.True(ls.t, want(k), "child %s ended %s (%v)", k.ProcessID, k.Status.State, k.Status.Error)
	}
}

func isDone(k mirror.Process) bool { return k.Status.State == mirror.Done }

// With the server's history limit at 150 events, the demos whose histories
// used to grow with their duration (a marathon of progress reports) and with
// their children (a group of hundreds, 20 in parallel, 3 in
// sequence) all end as they should: the children workflows roll over, the
// process workflows stay small, and the server terminates nothing.
func TestDemosWithinLoweredHistoryLimits(t *testing.T) {
	skipUnderRace(t)
	ls := newLimitsSystem(t, false)
	ids := []string{demo.ChildrenID, demo.ParallelID, demo.MarathonID, demo.FanoutID}
	for _, id := range ids {
		ls.launch(id)
	}
	ends := map[string]*adapter.Process{}
	for _, id := range ids {
		ends[id] = ls.waitEnd(id, 8*time.Minute)
		if ends[id].Status.State != adapter.StateDone {
			ls.logFailedChildren(ends[id])
		}
		require.Equal(t, adapter.StateDone, ends[id].Status.State, "%s: %s\nlog:\n%s", id, errText(ends[id]), lastLog(ends[id], 15))
	}
	ls.assertChildrenEnded(ends[demo.ChildrenID], 3, isDone)
	ls.assertChildrenEnded(ends[demo.ParallelID], 20, func(k mirror.Process) bool {
		// One item fails on purpose; the group survives it.
		return k.Status.State == mirror.Done || k.Status.State == mirror.Failed
	})
	ls.assertChildrenEnded(ends[demo.FanoutID], fanoutChildren(), isDone)
	marathon := ends[demo.MarathonID]
	assert.Equal(t, 100.0, *marathon.Progress.Percent)

	terminated, longest, rolled := ls.runs()
	t.Logf("longest history %d events, %d roll-overs", longest, rolled)
	assert.Empty(t, terminated, "runs terminated by the server")
	assert.LessOrEqual(t, longest, int64(150))
	assert.Positive(t, rolled, "the children workflows rolled over")

	// The fan-out's children workflow runs replay, and those that rolled
	// over with children still open let them end first. (Those that ended
	// while their log loop waited cancelled its timer; how many did depends
	// on timing, so it is only logged.)
	runs := ls.historyRuns(ls.eng.WorkflowID(demo.FanoutID + workflows.ChildrenIDSuffix))
	replayer := newReplayer()
	drained, stoppedTimer, failed := 0, 0, 0
	for i, h := range runs {
		require.NoError(t, replayHistory(replayer, h), "replay run %d of %d", i+1, len(runs))
		for _, ev := range h.Events {
			if a := ev.GetMarkerRecordedEventAttributes(); a != nil && a.GetMarkerName() == "Version" {
				p := a.GetDetails()["change-id"].GetPayloads()
				switch {
				case len(p) == 0:
				case strings.Contains(string(p[0].GetData()), "optio.children-drain-before-roll"):
					drained++
				case strings.Contains(string(p[0].GetData()), "optio.children-spawn-log-timer"):
					stoppedTimer++
				}
			}
			if ev.GetWorkflowTaskFailedEventAttributes() != nil {
				failed++
			}
		}
	}
	t.Logf("fan-out children workflow: %d runs, %d drained before rolling over, %d cancelled their log loop's timer, %d failed workflow tasks", len(runs), drained, stoppedTimer, failed)
	assert.Positive(t, drained, "runs that let their children end before rolling over")
}

// historyRuns returns the histories of every run of workflow id, first to
// last, following continue-as-new back from the latest.
func (ls *limitsSystem) historyRuns(id string) []*historypb.History {
	ls.t.Helper()
	var out []*historypb.History
	for runID := ""; ; {
		h := &historypb.History{}
		it := ls.temporal.Client.GetWorkflowHistory(ls.ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(ls.t, err)
			h.Events = append(h.Events, ev)
		}
		require.NotEmpty(ls.t, h.Events, "history of %s run %q", id, runID)
		out = append([]*historypb.History{h}, out...)
		if runID = h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId(); runID == "" {
			return out
		}
	}
}

// A worker process killed in the middle of demo-fanout: its body is re-run
// on the surviving worker, the group completes, and no child that had ended
// runs again (its document keeps its one run), all under the lowered limit.
func TestFanoutSurvivesAKilledWorkerWithinLoweredHistoryLimits(t *testing.T) {
	skipUnderRace(t)
	ls := newLimitsSystem(t, true)
	victim := workerproc.Start(t, workerproc.Config{
		HostPort: ls.temporal.HostPort, Namespace: ls.temporal.Namespace,
		MongoURI: ls.mongo.URI, Database: ls.mongo.Name,
		TaskSet: demoTasks, BodyHeartbeatTimeout: 30 * time.Second,
	})
	ls.launch(demo.FanoutID)
	root, err := ls.eng.GetProcess(ls.ctx, demo.FanoutID)
	require.NoError(t, err)

	// Kill the victim once a good share of the children has ended.
	procs := ls.mongo.DB.Collection("optio_processes")
	doneFilter := bson.D{{Key: "parentId", Value: root.ID}, {Key: "status.state", Value: mirror.Done}}
	require.Eventually(t, func() bool {
		n, err := procs.CountDocuments(ls.ctx, doneFilter)
		return err == nil && n >= int64(fanoutChildren()/5)
	}, 5*time.Minute, 50*time.Millisecond, "the victim never got far into the fan-out")
	survivor := ls.engine(false)
	victim.Kill()
	var before []mirror.Process
	cur, err := procs.Find(ls.ctx, doneFilter)
	require.NoError(t, err)
	require.NoError(t, cur.All(ls.ctx, &before))
	t.Logf("killed the worker with %d children done", len(before))

	var p *adapter.Process
	require.Eventually(t, func() bool {
		p, err = survivor.GetProcess(ls.ctx, demo.FanoutID)
		return err == nil && p.Status.State.End()
	}, 8*time.Minute, 200*time.Millisecond, "demo-fanout never ended")
	if p.Status.State != adapter.StateDone {
		// Say how the first children that did not end done ended.
		n := 0
		for _, k := range ls.children(p) {
			if k.Status.State != mirror.Done && n < 5 {
				n++
				t.Logf("child %s ended %s (%s), log:\n%s", k.ProcessID, k.Status.State, errText(&k), formatLog(&k))
			}
		}
	}
	require.Equal(t, adapter.StateDone, p.Status.State, "%s\nlog:\n%s", errText(p), lastLog(p, 15))
	ls.assertChildrenEnded(p, fanoutChildren(), isDone)

	after := map[string]mirror.Process{}
	for _, k := range ls.children(p) {
		after[k.ProcessID] = k
	}
	for _, k := range before {
		a := after[k.ProcessID]
		assert.Equal(t, k.Status.DoneAt, a.Status.DoneAt, "child %s ended again", k.ProcessID)
		assert.Equal(t, 1, countLog(a, "State changed to running"), "child %s ran again", k.ProcessID)
	}
	assert.GreaterOrEqual(t, findLog(p, "warning", "Worker running the body was lost"), 0, "log:\n%s", formatLog(p))
	terminated, longest, rolled := ls.runs()
	t.Logf("longest history %d events, %d roll-overs", longest, rolled)
	assert.Empty(t, terminated, "runs terminated by the server")
}

// Cancelling demo-fanout half-way, from the API and from the Temporal side
// (the Web UI's Cancel), ends the parent cancelled and leaves no child
// active, under the lowered limit.
func TestCancelFanoutWithinLoweredHistoryLimits(t *testing.T) {
	skipUnderRace(t)
	for _, from := range []string{"api", "temporal"} {
		t.Run(from, func(t *testing.T) {
			ls := newLimitsSystem(t, false)
			ls.launch(demo.FanoutID)
			root, err := ls.eng.GetProcess(ls.ctx, demo.FanoutID)
			require.NoError(t, err)
			procs := ls.mongo.DB.Collection("optio_processes")
			require.Eventually(t, func() bool {
				n, err := procs.CountDocuments(ls.ctx, bson.D{{Key: "parentId", Value: root.ID}, {Key: "status.state", Value: mirror.Done}})
				return err == nil && n >= int64(fanoutChildren()/8)
			}, 5*time.Minute, 50*time.Millisecond, "the fan-out never got going")
			if from == "api" {
				out, err := ls.eng.Cancel(ls.ctx, demo.FanoutID)
				require.NoError(t, err)
				require.True(t, out.OK, "%v", out.Reason)
			} else {
				require.NoError(t, ls.temporal.Client.CancelWorkflow(ls.ctx, ls.eng.WorkflowID(demo.FanoutID), ""))
			}
			p := ls.waitEnd(demo.FanoutID, 3*time.Minute)
			require.Equal(t, adapter.StateCancelled, p.Status.State, "%s\nlog:\n%s", errText(p), lastLog(p, 15))
			kids := ls.children(p)
			require.Less(t, len(kids), fanoutChildren(), "the fan-out was cut short")
			for _, k := range kids {
				require.True(t, k.Status.State.End(), "child %s left %s", k.ProcessID, k.Status.State)
			}
			terminated, _, _ := ls.runs()
			assert.Empty(t, terminated, "runs terminated by the server")
		})
	}
}

func countLog(p mirror.Process, text string) int {
	n := 0
	for _, l := range p.Log {
		if strings.Contains(l.Message, text) {
			n++
		}
	}
	return n
}

func errText(p *adapter.Process) string {
	if p.Status.Error == nil {
		return "(no error)"
	}
	return *p.Status.Error
}

// lastLog formats the last n log entries of a process.
func lastLog(p *adapter.Process, n int) string {
	lines := logLines(p)
	return "  " + strings.Join(lines[max(0, len(lines)-n):], "\n  ")
}

// skipUnderRace skips the tests that run demo-fanout's hundreds of child
// workflows: a race-instrumented server takes too long for them. .ci/run
// runs them in a build without the race detector.
func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("hundreds of child workflows take too long on a race-instrumented server; .ci/run runs this test without -race")
	}
}

// logFailedChildren logs the errors of a few children of p that did not end
// done.
func (ls *limitsSystem) logFailedChildren(p *adapter.Process) {
	n := 0
	for _, k := range ls.children(p) {
		if k.Status.State != mirror.Done && n < 5 {
			n++
			ls.t.Logf("child %s %s: %s\n%s", k.ProcessID, k.Status.State, errText(&k), lastLog(&k, 6))
		}
	}
}
