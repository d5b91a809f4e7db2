// Package engineapi is the optio-engine contract as it travels over clamator
// RPC: the service name, the params and results of every method, the
// metadata filter and its validation, the process
// document as the service sends it, the heartbeat key that says an engine is
// serving, and a typed Client.
//
// It is what a program that drives engines from outside needs (optioctl,
// a dashboard's backend), and it links neither the Temporal SDK nor the
// engine: the engine's side of the contract, package
// [github.com/optio-temporal/optio/rpc/engineservice], serves an
// adapter.Engine with these types.
//
// A client finds the engines of a database and prefix at the key prefix
// "{db}/{prefix}" ([KeyPrefix]); the heartbeat key ([HeartbeatKey]) exists
// while at least one of them runs, which [Live] asks:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	if live, err := engineapi.Live(ctx, rdb, engineapi.KeyPrefix("app", "optio")); err == nil && !live { ... }
//	rc, err := rpc.NewClient(rdb, rpc.ClientOptions{KeyPrefix: engineapi.KeyPrefix("app", "optio")})
//	...
//	c := engineapi.NewClient(rc)
//	doc, err := c.Launch(ctx, engineapi.LaunchParams{ProcessID: "nightly"})
//	if errors.Is(err, mirror.ReasonNotFound) { ... }
//
// The contract's failure reasons are [mirror.Reason]'s constants: the engine
// (package adapter) returns the same values, so they are listed once.
//
// The wire form of every type here is optio-core's, byte for byte; see
// docs/reference/clamator-wire.md.
package engineapi
