package engineservice

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// The errors optio-core raises where the contract has no reason keep its
// exception names in the -32603 data.
func TestRPCErrorNames(t *testing.T) {
	for _, tt := range []struct {
		err  error
		name string
	}{
		{fmt.Errorf("%w: group cancel requires a non-empty metadata filter", adapter.ErrInvalidInput), "ValueError"},
		{fmt.Errorf("group cancel and wait: %w: 1 process(es) did not reach a terminal state", adapter.ErrStillActive), "TimeoutError"},
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
	_, err := outcomeResult("launch", "p1", adapter.Outcome{Reason: adapter.ReasonShuttingDown})
	var pe *pyError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "ValidationError", pe.ErrorName())
	require.ErrorContains(t, err, "shutting down")

	res, err := outcomeResult("cancel", "p1", adapter.Outcome{Reason: adapter.ReasonNotCancellable})
	require.NoError(t, err)
	require.Equal(t, engineapi.ReasonResult{Reason: adapter.ReasonNotCancellable}, res)

	var rpcErr *rpc.Error
	require.ErrorAs(t, engineapi.CheckProcessID(""), &rpcErr)
	require.Equal(t, rpc.CodeInvalidParams, rpcErr.Code)
	require.NoError(t, engineapi.CheckProcessID("p"))
}

// A face that no engine attached serves nothing and says so.
func TestUnattachedFace(t *testing.T) {
	f := Redis("redis://127.0.0.1:1/0")
	require.Nil(t, f.Server())
	require.Error(t, f.Start(context.Background()))
	f.Stop(context.Background())
	f.Close()
	select {
	case <-f.Ready():
		t.Fatal("an unattached face is not ready")
	default:
	}
}
