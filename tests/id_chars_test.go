package tests

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/temporalconn"
)

// beyondASCII are processIds that optio-core takes and that Temporal's SDK
// cannot put in its gRPC header unescaped.
var beyondASCII = []string{"import-münchen", "🚀", "日本語/タスク", "tab\there", "line\nbreak", "nul\x00byte"}

// TestProcessIDsBeyondASCII: optio-core takes any processId. With a client
// dialled with temporalconn.EscapeResourceIDs (the test's, as
// temporalconn.Dial gives cmd/worker's), processIds outside printable ASCII
// run as any other: ad hoc, cancelled, as children and group members, as
// declared tasks, and as a cron task fired by its Schedule; their workflows
// carry the processId unchanged. A Schedule's ID is escaped (the server
// runs it on its own SDK worker, whose calls cannot carry such IDs): a
// resync finds its processId in its memo, or by undoing the escape when
// the memo is unreadable, and two tasks whose Schedule IDs would meet are
// refused. One that is not valid UTF-8 is refused, since Temporal's IDs
// are protobuf strings. An engine on a client without the option refuses
// them all at once with a clear ErrInvalidInput, writing nothing, instead
// of failing their runs; one that could not learn which client it has asks
// again at the next such ID.
func TestProcessIDsBeyondASCII(t *testing.T) {
	gen := newGenerator()
	s := newSystem(t, adapter.Config{TaskDefinitions: gen.generate})
	define := func(t *testing.T, processID string, body adapter.TaskFunc) {
		t.Helper()
		_, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: processID, Name: "Ad hoc " + processID, Execute: body}, adapter.AdhocOptions{})
		require.NoError(t, err)
	}
	inTemporal := func(t *testing.T, processID string) {
		t.Helper()
		desc, err := s.temporal().DescribeWorkflowExecution(s.ctx(), s.eng.WorkflowID(processID), "")
		require.NoError(t, err, "workflow of %q", processID)
		require.Equal(t, s.eng.WorkflowID(processID), desc.GetWorkflowExecutionInfo().GetExecution().GetWorkflowId())
	}

	t.Run("ad hoc", func(t *testing.T) {
		for _, id := range beyondASCII {
			define(t, id, quick)
			p := s.run(id)
			require.Equal(t, id, p.ProcessID)
			inTemporal(t, id)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		const id = "lange-übung"
		define(t, id, func(pc *adapter.ProcessContext) error {
			<-pc.Context().Done()
			return pc.Context().Err()
		})
		s.launch(id)
		s.waitState(id, adapter.StateRunning)
		out, err := s.eng.Cancel(s.ctx(), id)
		require.NoError(t, err)
		require.True(t, out.OK, "cancel: %s", out.Reason)
		s.requireEnd(id, adapter.StateCancelled)
	})

	t.Run("children", func(t *testing.T) {
		define(t, "eltern-ä", func(pc *adapter.ProcessContext) error {
			if _, err := pc.RunChild(adapter.ChildSpec{ProcessID: "kind-ö", Name: "Kind", Execute: quick}); err != nil {
				return err
			}
			g := pc.ParallelGroup(adapter.GroupOptions{})
			for _, id := range []string{"🚀/1", "🚀/2"} {
				if err := g.Spawn(adapter.ChildSpec{ProcessID: id, Name: "Rakete", Execute: quick}); err != nil {
					return err
				}
			}
			_, err := g.Wait()
			return err
		})
		s.run("eltern-ä")
		for _, id := range []string{"kind-ö", "🚀/1", "🚀/2"} {
			require.Equal(t, adapter.StateDone, s.get(id).Status.State, id)
			inTemporal(t, id)
		}
	})

	t.Run("declared, and a cron task", func(t *testing.T) {
		const declared, cron = "deklariert-ß", "täglich"
		plain := adapter.TaskInstance{ProcessID: declared, Name: "Deklariert", Execute: quick}
		gen.set(plain)
		_, err := s.eng.Resync(s.ctx(), false, nil)
		require.NoError(t, err)
		s.run(declared)
		inTemporal(t, declared)

		// An engine that will know the Schedule by its listing only.
		other := s.startEngine(adapter.Config{TaskDefinitions: gen.generate, DisableWorker: true})
		gen.set(plain, adapter.TaskInstance{ProcessID: cron, Name: "Täglich", Execute: quick, Schedule: "0 9 * * *", Metadata: map[string]any{"team": "b"}})
		_, err = s.eng.Resync(s.ctx(), false, nil)
		require.NoError(t, err)
		id := s.eng.ScheduleID(cron)
		require.Equal(t, s.eng.WorkflowID("t%C3%A4glich"), id, "the Schedule's ID is escaped")
		sched := s.temporal().ScheduleClient().GetHandle(s.ctx(), id)
		desc, err := sched.Describe(s.ctx())
		require.NoError(t, err)
		require.Equal(t, s.eng.WorkflowID(cron)+":cron", desc.Schedule.Action.(*client.ScheduleWorkflowAction).ID, "its runs' IDs are not")
		require.NoError(t, sched.Trigger(s.ctx(), client.ScheduleTriggerOptions{}))
		s.requireEnd(cron, adapter.StateDone)

		// A filtered resync on the other engine leaves the Schedule while
		// its task is out of the resync's scope and removes it once in it:
		// the engine knows the Schedule's processId from its memo, not by
		// undoing the escape.
		eventually(t, "the Schedule listed", func() bool { return slices.Contains(s.scheduleIDs(id), id) })
		gen.set(plain)
		resyncsKeepThenRemove(t, other, sched)
	})

	t.Run("a Schedule whose memo the engine cannot read", func(t *testing.T) {
		// Written through a client whose data converter compresses every
		// payload, the memo is not JSON the engine can read back; the
		// engine then knows the Schedule's processId by undoing its ID's
		// escape.
		zipped, err := client.Dial(client.Options{
			HostPort: s.env.Temporal.HostPort, Namespace: s.env.Temporal.Namespace,
			DataConverter:     converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), converter.NewZlibCodec(converter.ZlibCodecOptions{AlwaysEncode: true})),
			ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{temporalconn.EscapeResourceIDs()}},
		})
		require.NoError(t, err)
		t.Cleanup(zipped.Close)
		const cron = "wöchentlich"
		plain := adapter.TaskInstance{ProcessID: "codec-plain", Name: "Plain", Execute: quick}
		gen2 := newGenerator(plain)
		writer := s.startEngine(adapter.Config{Prefix: "codec", Temporal: zipped, TaskDefinitions: gen2.generate, DisableWorker: true})
		t.Cleanup(func() { _ = writer.Shutdown(s.ctx()) })
		reader := s.startEngine(adapter.Config{Prefix: "codec", TaskDefinitions: gen2.generate, DisableWorker: true})
		t.Cleanup(func() { _ = reader.Shutdown(s.ctx()) })
		gen2.set(plain, adapter.TaskInstance{ProcessID: cron, Name: "Wöchentlich", Execute: quick, Schedule: "0 9 * * 1", Metadata: map[string]any{"team": "b"}})
		_, err = writer.Resync(s.ctx(), false, nil)
		require.NoError(t, err)
		id := reader.ScheduleID(cron)
		eventually(t, "the Schedule listed", func() bool { return slices.Contains(s.scheduleIDs(id), id) })
		sched := zipped.ScheduleClient().GetHandle(s.ctx(), id) // its action's input is compressed too

		gen2.set(plain)
		resyncsKeepThenRemove(t, reader, sched)
	})

	t.Run("two cron tasks, one Schedule ID", func(t *testing.T) {
		gen.set(
			adapter.TaskInstance{ProcessID: "münchen", Name: "M1", Execute: quick, Schedule: "0 9 * * *"},
			adapter.TaskInstance{ProcessID: "m%C3%BCnchen", Name: "M2", Execute: quick, Schedule: "0 9 * * *"},
		)
		_, err := s.eng.Resync(s.ctx(), false, nil)
		require.True(t, errors.Is(err, adapter.ErrInvalidInput), "want ErrInvalidInput, got %v", err)
		require.ErrorContains(t, err, "make the same Schedule ID")
		require.True(t, s.gone("münchen"))
		require.True(t, s.gone("m%C3%BCnchen"))
	})

	t.Run("a cron task at the ID limit, escaped", func(t *testing.T) {
		// Each "ü" takes 2 bytes in the runs' IDs and 6 in the Schedule's:
		// the Schedule's workflow ("temporal-sys-scheduler:" and its ID)
		// binds first.
		room := 1000 - len("temporal-sys-scheduler:") - len(s.eng.WorkflowID(""))
		fit := "f" + strings.Repeat("x", (room-1)%6) + strings.Repeat("ü", (room-1)/6)
		over := fit + "x"
		require.Len(t, s.eng.ScheduleID(fit), 1000-len("temporal-sys-scheduler:"))
		gen.set(adapter.TaskInstance{ProcessID: over, Name: "Over", Execute: quick, Schedule: "0 9 * * *"})
		_, err := s.eng.Resync(s.ctx(), false, nil)
		require.True(t, errors.Is(err, adapter.ErrInvalidInput), "want ErrInvalidInput, got %v", err)
		require.ErrorContains(t, err, "the ID of its Schedule's workflow, escaped, would be 1001 bytes")
		require.True(t, s.gone(over))

		gen.set(adapter.TaskInstance{ProcessID: fit, Name: "Fit", Execute: quick, Schedule: "0 9 * * *"})
		_, err = s.eng.Resync(s.ctx(), false, nil)
		require.NoError(t, err)
		require.NoError(t, s.temporal().ScheduleClient().GetHandle(s.ctx(), s.eng.ScheduleID(fit)).Trigger(s.ctx(), client.ScheduleTriggerOptions{}))
		s.requireEnd(fit, adapter.StateDone)
	})

	t.Run("not UTF-8", func(t *testing.T) {
		const bad = "a\xffb"
		_, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: bad, Name: "Bad", Execute: quick}, adapter.AdhocOptions{})
		require.True(t, errors.Is(err, adapter.ErrInvalidInput), "want ErrInvalidInput, got %v", err)
		require.ErrorContains(t, err, "not valid UTF-8")
		require.True(t, s.gone(bad))
	})

	t.Run("a client without the escape", func(t *testing.T) {
		plain := s.startEngine(adapter.Config{Prefix: "plain", Temporal: s.env.Temporal.DialPlain(t)})
		t.Cleanup(func() { _ = plain.Shutdown(s.ctx()) })
		for _, id := range beyondASCII {
			_, err := plain.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: id, Name: "Plain", Execute: quick}, adapter.AdhocOptions{})
			require.True(t, errors.Is(err, adapter.ErrInvalidInput), "%q: want ErrInvalidInput, got %v", id, err)
			require.ErrorContains(t, err, "temporalconn.EscapeResourceIDs")
			_, err = plain.GetProcess(s.ctx(), id)
			require.ErrorIs(t, err, adapter.ReasonNotFound, "%q: nothing written", id)
		}
		// printable ASCII runs as before on that client.
		_, err := plain.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: "plain-ascii", Name: "Plain", Execute: quick}, adapter.AdhocOptions{})
		require.NoError(t, err)
		p, err := plain.LaunchAndWait(s.ctx(), "plain-ascii")
		require.NoError(t, err)
		require.Equal(t, adapter.StateDone, p.Status.State)

		// A document another engine wrote: refused without being claimed.
		var doc bson.M
		coll := s.env.Mongo.DB.Collection("plain_processes")
		require.NoError(t, coll.FindOne(s.ctx(), bson.M{"processId": "plain-ascii"}).Decode(&doc))
		doc["_id"], doc["processId"] = bson.NewObjectID(), "münchen"
		doc["status"] = bson.M{"state": "idle"}
		_, err = coll.InsertOne(s.ctx(), doc)
		require.NoError(t, err)
		_, err = plain.Launch(s.ctx(), "münchen")
		require.ErrorIs(t, err, adapter.ErrInvalidInput)
		got, err := plain.GetProcess(s.ctx(), "münchen")
		require.NoError(t, err)
		require.Equal(t, adapter.StateIdle, got.Status.State)
	})
	t.Run("a probe that fails", func(t *testing.T) {
		// The engine's first two probes fail, with an error the SDK does not
		// retry (it retries Unavailable itself): the one at New and the one
		// the first processId beyond ASCII makes, which is refused with the
		// probe's error; the next asks again and runs.
		var fails atomic.Int32
		fails.Store(2)
		flaky := s.env.Temporal.DialIntercepted(t, func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if strings.HasSuffix(method, "/DescribeWorkflowExecution") && fails.Add(-1) >= 0 {
				return status.Error(codes.Internal, "connection reset by peer")
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		})
		eng := s.startEngine(adapter.Config{Prefix: "flaky", Temporal: flaky, DisableWorker: true})
		t.Cleanup(func() { _ = eng.Shutdown(s.ctx()) })
		_, err := eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: "erst-ü", Name: "First", Execute: quick}, adapter.AdhocOptions{})
		require.ErrorContains(t, err, "could not learn whether the Temporal client sends workflow IDs outside printable ASCII")
		require.ErrorContains(t, err, "connection reset by peer")
		require.False(t, errors.Is(err, adapter.ErrInvalidInput), "not the input's fault: %v", err)
		_, err = eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: "dann-ü", Name: "Then", Execute: quick}, adapter.AdhocOptions{})
		require.NoError(t, err)
		_, err = eng.GetProcess(s.ctx(), "dann-ü")
		require.NoError(t, err)
		_, err = eng.GetProcess(s.ctx(), "erst-ü")
		require.ErrorIs(t, err, adapter.ReasonNotFound)
	})
}

// TestProcessIDsBeyondASCIIOverRPC: optio's API sends such a processId over
// Redis as JSON; the engine launches, cancels and dismisses it as any other.
func TestProcessIDsBeyondASCIIOverRPC(t *testing.T) {
	t.Parallel()
	const id = "import-münchen 🚀"
	tasks := &rpcTasks{}
	tasks.extra.Store(&[]adapter.TaskInstance{{ProcessID: id, Name: "Import München", Execute: rpcUntilCancelled}})
	h := newRPCHarness(t, rpcHarnessOptions{tasks: tasks})

	launched := rpcProcessOf(t, h.call("launch", launchArgs(id)))
	require.Equal(t, id, launched["processId"])
	h.waitState(id, adapter.StateRunning)
	rpcProcessOf(t, h.call("cancel", map[string]any{"processId": id}))
	h.waitState(id, adapter.StateCancelled)
	rpcProcessOf(t, h.call("dismiss", map[string]any{"processId": id}))
	require.Equal(t, adapter.StateIdle, h.get(id).Status.State)
}

// resyncsKeepThenRemove: eng's generator no longer returns the cron task
// of sched, whose metadata is {team: b}. A resync filtered on team a leaves
// sched, out of its scope; one filtered on team b removes it.
func resyncsKeepThenRemove(t *testing.T, eng *adapter.Engine, sched client.ScheduleHandle) {
	t.Helper()
	ctx := t.Context()
	_, err := eng.Resync(ctx, false, map[string]any{"team": "a"})
	require.NoError(t, err)
	_, err = sched.Describe(ctx)
	require.NoError(t, err, "out of the resync's scope: kept")
	_, err = eng.Resync(ctx, false, map[string]any{"team": "b"})
	require.NoError(t, err)
	_, err = sched.Describe(ctx)
	var notFound *serviceerror.NotFound
	require.True(t, errors.As(err, &notFound), "in the resync's scope: removed, got %v", err)
}
