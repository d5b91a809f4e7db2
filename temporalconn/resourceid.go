package temporalconn

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/optio-temporal/optio/internal/headersafe"
)

// ResourceIDHeader is the gRPC header in which the SDK names the workflow,
// Schedule or task queue a call is about ("workflow:{id}"), for proxies
// that route by it. The server reads the IDs from the request itself.
const ResourceIDHeader = "temporal-resource-id"

// EscapeResourceIDs returns a dial option that lets workflow and Schedule
// IDs outside printable ASCII (an optio processId such as "import-münchen")
// reach the server. The SDK copies every such ID into ResourceIDHeader,
// and gRPC refuses a header value with any other character before the
// call leaves the client ("header key "temporal-resource-id" contains
// value with non-printable ASCII characters"); the option percent-escapes
// those values (each byte outside 0x20-0x7e, and "%" itself, as %XX),
// so the call goes out. Values that need no escape pass unchanged. The
// request keeps the real ID, which is what the server stores and shows.
//
// Dial adds it; a client dialled otherwise takes it in
// client.Options.ConnectionOptions.DialOptions. An engine whose client
// lacks it refuses such processIds (adapter.ErrInvalidInput) instead.
func EscapeResourceIDs() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(escapeResourceIDs)
}

func escapeResourceIDs(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if md, ok := metadata.FromOutgoingContext(ctx); ok {
		if vs := md.Get(ResourceIDHeader); needsEscape(vs) {
			esc := make([]string, len(vs))
			for i, v := range vs {
				esc[i] = escapeHeader(v)
			}
			md.Set(ResourceIDHeader, esc...) // md is FromOutgoingContext's copy
			ctx = metadata.NewOutgoingContext(ctx, md)
		}
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// needsEscape reports whether a value in vs has a byte a header cannot carry.
func needsEscape(vs []string) bool {
	for _, v := range vs {
		if !headersafe.Printable(v) {
			return true
		}
	}
	return false
}

// escapeHeader escapes v (headersafe.Escape) when it has such a byte;
// otherwise it returns v.
func escapeHeader(v string) string {
	if headersafe.Printable(v) {
		return v
	}
	return headersafe.Escape(v)
}
