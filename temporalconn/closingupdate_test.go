package temporalconn_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/temporalconn"
)

// updateAttempt is one UpdateWorkflowExecution call as it left the client.
type updateAttempt struct {
	sdkRetry bool  // the SDK's own retry sent it (its attempt header is set)
	err      error // the server's answer
}

// updateWire records the update calls a client sends, below every retry.
type updateWire struct {
	mu       sync.Mutex
	attempts []updateAttempt
	sent     chan struct{} // closed at the first update sent
}

func (w *updateWire) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if method != workflowservice.WorkflowService_UpdateWorkflowExecution_FullMethodName {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	w.mu.Lock()
	if len(w.attempts) == 0 {
		close(w.sent)
	}
	w.mu.Unlock()
	err := invoker(ctx, method, req, reply, cc, opts...)
	w.mu.Lock()
	w.attempts = append(w.attempts, updateAttempt{sdkRetry: len(md.Get("x-retry-attempt")) > 0, err: err})
	w.mu.Unlock()
	return err
}

func (w *updateWire) seen() []updateAttempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]updateAttempt(nil), w.attempts...)
}

// TestRetryClosingUpdatesReachesTheNewRun: an update that reaches a
// workflow while the task continuing it as new is still on the worker is
// turned away ("workflow is closing"); a client from Dial sends it again
// itself and it is answered by the new run, without the SDK's retry (which
// would wait 320-480 ms first).
func TestRetryClosingUpdatesReachesTheNewRun(t *testing.T) {
	tp := testenv.NewTemporal(t)
	wire := &updateWire{sent: make(chan struct{})}
	c, err := temporalconn.Dial(t.Context(), client.Options{
		HostPort:          tp.HostPort,
		Namespace:         tp.Namespace,
		Logger:            sdklog.NewStructuredLogger(testenv.Logger(t)),
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(wire.intercept)}},
	}, temporalconn.Config{})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	// The first run, told to roll, holds the workflow task that continues
	// it as new until the test lets it go; each run answers the update
	// "run" with its number.
	holding, release := make(chan struct{}), make(chan struct{})
	rolling := func(ctx workflow.Context, run int) error {
		if err := workflow.SetUpdateHandler(ctx, "run", func(workflow.Context) (int, error) { return run, nil }); err != nil {
			return err
		}
		if run > 0 {
			workflow.GetSignalChannel(ctx, "stop").Receive(ctx, nil)
			return nil
		}
		workflow.GetSignalChannel(ctx, "roll").Receive(ctx, nil)
		close(holding)
		select {
		case <-release:
		case <-time.After(30 * time.Second):
		}
		return workflow.NewContinueAsNewError(ctx, "rolling", run+1)
	}
	queue := "closing-" + uuid.NewString()
	w := worker.New(c, queue, worker.Options{DeadlockDetectionTimeout: time.Minute})
	w.RegisterWorkflowWithOptions(rolling, workflow.RegisterOptions{Name: "rolling"})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	id := "closing-" + uuid.NewString()
	_, err = c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: id, TaskQueue: queue}, "rolling", 0)
	require.NoError(t, err)
	require.NoError(t, c.SignalWorkflow(t.Context(), id, "", "roll", nil))
	<-holding

	answered := make(chan error, 1)
	var run int
	go func() {
		h, err := c.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
			WorkflowID: id, UpdateName: "run", WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err == nil {
			err = h.Get(context.Background(), &run)
		}
		answered <- err
	}()
	<-wire.sent
	time.Sleep(500 * time.Millisecond) // the update reaches the server while the first run's task is held
	close(release)
	require.NoError(t, <-answered)
	require.Equal(t, 1, run, "the new run answered")
	require.NoError(t, c.SignalWorkflow(t.Context(), id, "", "stop", nil))

	attempts := wire.seen()
	require.GreaterOrEqual(t, len(attempts), 2, "the update was sent again: %+v", attempts)
	var re *serviceerror.ResourceExhausted
	require.ErrorAs(t, serviceerror.FromStatus(status.Convert(attempts[0].err)), &re, "the first send met the closing run: %v", attempts[0].err)
	require.Equal(t, enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW, re.Cause)
	require.ErrorContains(t, attempts[0].err, "workflow is closing")
	require.NoError(t, attempts[len(attempts)-1].err)
	for i, a := range attempts {
		require.False(t, a.sdkRetry, "attempt %d came from the SDK's retry, not RetryClosingUpdates", i)
	}
}
