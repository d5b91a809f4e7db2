package temporalconn

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
)

// closingRetryPauses are the pauses before RetryClosingUpdates sends an
// update again: 155 ms in all, more than a new run usually takes to come
// (in the bench's groups of 1,000 a new run took its first update 13-63 ms
// after it started) and less than the SDK's first retry alone.
var closingRetryPauses = [...]time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}

// RetryClosingUpdates returns a dial option that resends an update the
// server turned away because its workflow was closing, after 5, 10, 20, 40
// and 80 ms, before the SDK's own retry sees the error.
//
// A workflow that continues as new turns away the updates that reach it
// while the worker completes that workflow task ("workflow operation can
// not be applied because workflow is closing", ResourceExhausted with
// cause BUSY_WORKFLOW); sent again they reach the new run. The SDK retries
// them too, but as it retries any ResourceExhausted error: its first retry
// comes 400 ms later, give or take 20%, while the new run is usually there
// within a few milliseconds. An optio group's children workflow continues
// as new every few hundred children, with its spawner's updates in flight.
//
// Other calls and other errors pass as they are, as does the error after
// the last pause: the SDK's retry takes over from there. Dial adds it; a
// client dialled otherwise takes it in
// client.Options.ConnectionOptions.DialOptions, before any interceptor that
// should see every attempt.
func RetryClosingUpdates() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(retryClosingUpdates)
}

func retryClosingUpdates(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if method != workflowservice.WorkflowService_UpdateWorkflowExecution_FullMethodName {
		return err
	}
	for _, pause := range closingRetryPauses {
		if !workflowClosing(err) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		err = invoker(ctx, method, req, reply, cc, opts...)
	}
	return err
}

// workflowClosing reports whether err is the server's answer to a call on
// a workflow busy closing its run: ResourceExhausted with cause
// BUSY_WORKFLOW.
func workflowClosing(err error) bool {
	if err == nil {
		return false
	}
	st := grpcStatus(err)
	if st == nil {
		return false
	}
	var re *serviceerror.ResourceExhausted
	return errors.As(serviceerror.FromStatus(st), &re) && re.Cause == enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW
}
