package temporalconn_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/temporalconn"
)

// TestEscapeResourceIDsLetsUnicodeIDsThrough: against the in-process
// server, a call about a workflow whose ID is outside printable ASCII fails
// in a plain client before it leaves (gRPC refuses the SDK's header), and
// reaches the server (which answers that no such workflow exists) from a
// client that Dial connected, and from one given EscapeResourceIDs by hand.
func TestEscapeResourceIDsLetsUnicodeIDsThrough(t *testing.T) {
	tp := testenv.NewTemporal(t)
	ctx := context.Background()
	const id = "import-münchen/🚀\t%"

	_, err := tp.DialPlain(t).DescribeWorkflowExecution(ctx, id, "")
	require.ErrorContains(t, err, "non-printable ASCII")

	dialled, err := temporalconn.Dial(ctx, client.Options{HostPort: tp.HostPort, Namespace: tp.Namespace}, temporalconn.Config{})
	require.NoError(t, err)
	defer dialled.Close()
	byHand, err := client.Dial(client.Options{HostPort: tp.HostPort, Namespace: tp.Namespace,
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{temporalconn.EscapeResourceIDs()}}})
	require.NoError(t, err)
	defer byHand.Close()
	for name, c := range map[string]client.Client{"Dial": dialled, "by hand": byHand} {
		_, err := c.DescribeWorkflowExecution(ctx, id, "")
		var notFound *serviceerror.NotFound
		require.True(t, errors.As(err, &notFound), "%s: want the server's not-found, got %v", name, err)
	}
}
