// Package engineservice serves an adapter.Engine over clamator RPC on Redis:
// the optio-engine service ([Register]), the liveness heartbeat optio-api's
// discovery reads, and a [Face] that plugs both into the engine's life, as
// optio-core's init(redis_url=...) does:
//
//	face := engineservice.Redis("redis://127.0.0.1:6379/0")
//	eng, err := adapter.New(ctx, adapter.Config{Temporal: tc, Mongo: db, RPC: face})
//	...
//	eng.Run(ctx) // serves RPC until shutdown; Shutdown stops serving first
//
// Clients speak the contract of package
// [github.com/optio-temporal/optio/rpc/engineapi], which links neither this
// package nor the engine. The service sits on the engine's public API only,
// as any application's own service would.
package engineservice
