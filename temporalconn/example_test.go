package temporalconn_test

import (
	"log"

	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/optio-temporal/optio/temporalconn"
)

// A client dialled without Dial takes EscapeResourceIDs among its dial
// options; an engine given it runs processIds such as "import-münchen".
// Without it the engine refuses them with adapter.ErrInvalidInput.
func ExampleEscapeResourceIDs() {
	c, err := client.Dial(client.Options{
		HostPort:  "temporal.internal:7233",
		Namespace: "default",
		ConnectionOptions: client.ConnectionOptions{
			DialOptions: []grpc.DialOption{temporalconn.EscapeResourceIDs()},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// eng, err := adapter.New(ctx, adapter.Config{Temporal: c, ...})
}

// A client dialled without Dial takes the options Dial adds in the order
// Dial gives them: RetryClosingUpdates before the application's own
// interceptors (so they see each update it sends again), EscapeResourceIDs
// after them.
func ExampleRetryClosingUpdates() {
	var audit grpc.UnaryClientInterceptor // the application's, if any
	opts := []grpc.DialOption{temporalconn.RetryClosingUpdates()}
	if audit != nil {
		opts = append(opts, grpc.WithChainUnaryInterceptor(audit))
	}
	opts = append(opts, temporalconn.EscapeResourceIDs())
	c, err := client.Dial(client.Options{
		HostPort:          "temporal.internal:7233",
		Namespace:         "default",
		ConnectionOptions: client.ConnectionOptions{DialOptions: opts},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// eng, err := adapter.New(ctx, adapter.Config{Temporal: c, ...})
}
