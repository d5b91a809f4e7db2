package temporalconn

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// TestEscapeResourceIDsRewritesOnlyItsHeader: the interceptor hands the
// next step the resource header escaped, in whichever way the SDK set it,
// and every other header, and a context that needs no escape, unchanged.
func TestEscapeResourceIDsRewritesOnlyItsHeader(t *testing.T) {
	var seen metadata.MD
	var seenCtx context.Context
	next := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		seenCtx = ctx
		seen, _ = metadata.FromOutgoingContext(ctx)
		return nil
	}
	call := func(ctx context.Context) {
		t.Helper()
		require.NoError(t, escapeResourceIDs(ctx, "/m", nil, nil, nil, next))
	}

	base := metadata.NewOutgoingContext(context.Background(), metadata.Pairs("temporal-namespace", "ns", "other", "ü"))
	call(metadata.AppendToOutgoingContext(base, ResourceIDHeader, "workflow:münchen"))
	require.Equal(t, []string{"workflow:m%C3%BCnchen"}, seen.Get(ResourceIDHeader))
	require.Equal(t, []string{"ns"}, seen.Get("temporal-namespace"))
	require.Equal(t, []string{"ü"}, seen.Get("other"), "only the resource header is touched")

	call(metadata.NewOutgoingContext(context.Background(), metadata.Pairs(ResourceIDHeader, "schedule:täglich")))
	require.Equal(t, []string{"schedule:t%C3%A4glich"}, seen.Get(ResourceIDHeader))

	plain := metadata.AppendToOutgoingContext(base, ResourceIDHeader, "workflow:100%")
	call(plain)
	require.Equal(t, plain, seenCtx, "a context with nothing to escape passes as it is, even a %")

	call(context.Background())
	require.Equal(t, context.Background(), seenCtx)
}

// BenchmarkEscapeResourceIDs is the option's cost on a call, with the
// headers the SDK sets on one (nothing to escape, and an ID to escape).
func BenchmarkEscapeResourceIDs(b *testing.B) {
	next := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	base := metadata.NewOutgoingContext(context.Background(), metadata.Pairs(
		"client-name", "temporal-go", "client-version", "1.50.0", "supported-server-versions", ">=1.0.0 <2.0.0"))
	for name, id := range map[string]string{"printable": "workflow:db/optio:import-eu", "escaped": "workflow:db/optio:import-münchen"} {
		ctx := metadata.AppendToOutgoingContext(base, "temporal-namespace", "default", ResourceIDHeader, id)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = escapeResourceIDs(ctx, "/m", nil, nil, nil, next)
			}
		})
	}
}
