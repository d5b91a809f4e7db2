package adapter

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/rpc"
)

// The errors optio-core raises where the contract has no reason keep its
// exception names in the -32603 data.
func TestRPCErrorNames(t *testing.T) {
	for _, tt := range []struct {
		err  error
		name string
	}{
		{fmt.Errorf("%w: group cancel requires a non-empty metadata filter", ErrInvalidInput), "ValueError"},
		{fmt.Errorf("group cancel and wait: %w: 1 process(es) did not reach a terminal state", errStillActive), "TimeoutError"},
	} {
		var pe *pyError
		require.ErrorAs(t, wireError(tt.err), &pe)
		require.Equal(t, tt.name, pe.ErrorName())
		require.Equal(t, tt.err.Error(), pe.Error())
		require.ErrorIs(t, pe, tt.err)
	}
	other := errors.New("mongo is down")
	require.Same(t, other, wireError(other))

	// shutting-down is not one of the contract's reasons: optio-core's
	// result model rejects it.
	_, err := outcomeResult("launch", "p1", failOutcome(ReasonShuttingDown))
	var pe *pyError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "ValidationError", pe.ErrorName())
	require.ErrorContains(t, err, "shutting down")

	res, err := outcomeResult("cancel", "p1", failOutcome(ReasonNotCancellable))
	require.NoError(t, err)
	require.Equal(t, reasonResult{Reason: ReasonNotCancellable}, res)

	var rpcErr *rpc.Error
	require.ErrorAs(t, checkProcessID(""), &rpcErr)
	require.Equal(t, rpc.CodeInvalidParams, rpcErr.Code)
	require.NoError(t, checkProcessID("p"))
}

// An engine without Redis has a nil facade, whose methods do nothing.
func TestNilRPCFacade(t *testing.T) {
	var f *rpcFacade
	require.NoError(t, f.start(context.Background()))
	f.stop(context.Background())
	f.close()
	require.Nil(t, (&Engine{}).RPCServer())
	require.Nil(t, (&Engine{}).RPCReady())
}
