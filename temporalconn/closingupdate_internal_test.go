package temporalconn

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestRetryClosingUpdatesLeavesTheRest: only an update turned away as
// BUSY_WORKFLOW is sent again, at most five more times, and not once its
// context has ended; every other answer passes at the first attempt.
func TestRetryClosingUpdatesLeavesTheRest(t *testing.T) {
	closing := serviceerror.ToStatus(&serviceerror.ResourceExhausted{
		Cause:   enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW,
		Scope:   enumspb.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE,
		Message: "workflow operation can not be applied because workflow is closing",
	}).Err()
	limited := serviceerror.ToStatus(&serviceerror.ResourceExhausted{
		Cause:   enumspb.RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT,
		Message: "limit on concurrent in-flight updates",
	}).Err()
	update := workflowservice.WorkflowService_UpdateWorkflowExecution_FullMethodName
	calls := func(ctx context.Context, method string, answers ...error) (int, error) {
		n := 0
		err := retryClosingUpdates(ctx, method, nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			n++
			return answers[min(n, len(answers))-1]
		})
		return n, err
	}

	n, err := calls(t.Context(), update, closing, closing, nil)
	require.NoError(t, err)
	require.Equal(t, 3, n, "sent again until answered")

	n, err = calls(t.Context(), update, closing)
	require.Equal(t, closing, err, "after the last pause the SDK's retry takes over")
	require.Equal(t, 1+len(closingRetryPauses), n)

	for name, answer := range map[string]error{"concurrent limit": limited, "unavailable": status.Error(codes.Unavailable, "down"), "not found": status.Error(codes.NotFound, "gone")} {
		n, err = calls(t.Context(), update, answer, nil)
		require.Equal(t, answer, err, name)
		require.Equal(t, 1, n, name)
	}

	n, err = calls(t.Context(), workflowservice.WorkflowService_SignalWorkflowExecution_FullMethodName, closing, nil)
	require.Equal(t, closing, err, "a signal is the SDK's to retry")
	require.Equal(t, 1, n)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	n, err = calls(ctx, update, closing, nil)
	require.Equal(t, closing, err, "an ended call is not sent again")
	require.Equal(t, 1, n)
}
