// Package rpc speaks clamator 0.1.9, JSON-RPC 2.0 over Redis Streams, as a
// server and as a client. It is wire-compatible with the Python and
// TypeScript clamator packages: a Go server can replace optio-core's Python
// server without its clients noticing, and a Go client can call services
// written in either language.
//
// # The wire
//
// Every key starts with a key prefix that is used as given; optio uses
// "<mongo database>/<prefix>", such as "optio-demo/optio". A service named
// "optio-engine" reads its calls from the stream
// "<keyPrefix>:cmds:optio-engine" through the consumer group
// "optio-engine"; each server is the consumer
// "optio-engine:<instance id>" in that group. A client reads its answers
// from its own stream, "<keyPrefix>:replies:<client instance id>".
//
// A call is a stream entry with the fields type ("rpc"), envelope (the
// JSON-RPC request) and reply-to (the client's reply stream); a
// notification has no reply-to and no id. The server answers by adding
// type and envelope to the reply-to stream, trimmed to about 1024 entries,
// and then acknowledges the call's entry. Entries that cannot be read
// (no envelope, bad JSON, a batch, an invalid envelope) are acknowledged
// and dropped without a reply, as the reference servers do.
//
// # Serving
//
// A Service is a name and its methods. A method is a Request (it answers)
// or a Notification (it never answers, even when called with an id), and
// its handler receives the raw params:
//
//	srv, err := rpc.NewServer(rdb, rpc.ServerOptions{KeyPrefix: "optio-demo/optio"})
//	err = srv.Register(rpc.Service{Name: "arith", Methods: []rpc.Method{
//		{Name: "add", Handler: rpc.Typed(func(ctx context.Context, p AddParams) (Sum, error) {
//			return Sum{Sum: p.A + p.B}, nil
//		})},
//		{Name: "ping", Kind: rpc.Notification, Handler: rpc.TypedNotification(ping)},
//	}})
//	err = srv.Start(ctx)
//	defer srv.Stop(ctx)
//
// Typed decodes params as strictly as the Python server's generated models
// (unknown keys, missing keys and wrong JSON types are -32602 Invalid
// params, with pydantic-style details: type, loc, msg, input, ctx and url);
// see DecodeParams for the rules and the rpc struct tag. Results are encoded
// in Python's JSON layout, so the replies are byte for byte what optio-core
// writes.
//
// A handler's error decides the reply: an *Error, even wrapped, is sent as
// it is (application errors should use codes such as -32001); anything
// else, a panic included, becomes -32603 Internal error with data
// {"name": ..., "message": ...}. A result that cannot be encoded becomes
// -32603 Result validation failed. An unknown method is -32601 Method not
// found, and so is a method of another service than the stream's
// ("other-svc.launch" on the optio-engine stream). What a -32602 reply
// repeats of the input is clipped to MaxEchoedBytes per piece.
//
// # Delivery
//
// Delivery is at least once. An entry is acknowledged only after its reply
// is written. A server claims entries that another consumer (or itself) has
// left unacknowledged for ServerOptions.ClaimIdle and runs them again, so a
// call whose server died is answered by another one, and handlers must be
// idempotent. Two bounds keep that from repeating without end: a
// redelivered entry is not run again once a server has run it (see
// RequestKey: it is acknowledged, or gets the recorded reply when its reply
// could not be written, or waits while its id is marked running), and an
// entry delivered ServerOptions.MaxDeliveries times is acknowledged, logged
// and copied to DeadLetterStream for an operator. A new entry that reuses a
// request id is a new call, run as clamator runs it.
// Housekeeping (ServerOptions.HousekeepingInterval) trims each command
// stream of what every consumer group has acknowledged and removes
// consumers that are gone with nothing pending.
//
// # Order and concurrency
//
// A server runs up to ServerOptions.Concurrency (default 16) calls of a
// service at once. Service.OrderKey says which calls must not overtake one
// another: it maps a call's method and params to a key, and calls with the
// same key run one after another in stream order, while calls with
// different keys run side by side. optio's engine keys a launch or a cancel
// by its process id, so calls on one process keep their order and calls on
// different processes do not wait for each other; a call keyed OrderAll
// (a group cancel, say) runs alone. StreamOrder, or Concurrency 1, gives
// the reference servers' behaviour: one call at a time, in stream order.
//
// Stop stops reading, lets running handlers finish within
// ServerOptions.ShutdownGrace and leaves the rest pending for other servers.
// The server and client ride out Redis outages: their loops log the error,
// back off, and resume when Redis is back, recreating a consumer group that
// a restarted Redis lost.
//
// # Calling
//
// A Client sends calls and waits for the answers on its reply stream:
//
//	c, err := rpc.NewClient(rdb, rpc.ClientOptions{KeyPrefix: "optio-demo/optio"})
//	defer c.Close()
//	var sum Sum
//	err = c.Call(ctx, "arith", "add", AddParams{A: 2, B: 3}, &sum)
//
// An error reply comes back as an *Error (use errors.As); a call with no
// reply in time fails with ErrCallTimeout, one cut short by Close with
// ErrTransportStopped.
//
// # Differences from the reference servers
//
// The wire format is the same. A call for another service on a stream is
// -32601, not run as the stream's method; -32602 data is clipped; request
// ids are run once within the claim window; deliveries are bounded; command
// streams are trimmed and dead consumers removed (the reference servers do
// none of these). Stop stops reading before it drains.
// Loops back off up to a second instead of retrying every 100 ms. A server
// recreates a consumer group that Redis lost instead of failing until
// restarted; it recreates it at the start of the stream, because every
// entry there was written after the loss. A server does not rerun an entry
// it is still running when the entry outlives ClaimIdle. Method names
// follow the TypeScript rule, ^[a-z][a-zA-Z0-9]*$ (no hyphens).
package rpc
