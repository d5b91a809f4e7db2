package adapter

import "context"

// RPCFace is a remote face of the engine: a server through which other
// programs call it, such as the optio-engine service over Redis that
// engineservice.Redis (package rpc/engineservice) returns. Set it as
// Config.RPC and the engine drives it, so that it serves exactly while the
// engine does.
type RPCFace interface {
	// Attach is called once by New, after the task definitions are synced
	// and before the workers start: the face readies itself to serve e (it
	// connects, registers its services) but takes no call yet. An error
	// fails New.
	Attach(ctx context.Context, e *Engine) error
	// Start is called by Run: the face starts taking calls. An error is
	// Run's.
	Start(ctx context.Context) error
	// Stop is called first by Shutdown, before the running bodies are
	// cancelled: the face stops taking calls and finishes those in flight,
	// within ctx. Calls it could not finish are left for another engine.
	Stop(ctx context.Context)
	// Close is called last by Shutdown, and by New when it fails after
	// Attach: the face releases its connections.
	Close()
}

// RPCKeyPrefix returns the key prefix of the engine's remote face,
// "{db}/{prefix}": clients of the optio-engine service use it as their
// rpc.ClientOptions.KeyPrefix, and the heartbeat key is RPCKeyPrefix() +
// ":heartbeat".
func (e *Engine) RPCKeyPrefix() string {
	return e.cfg.Mongo.Name() + "/" + e.cfg.Prefix
}

// Config returns the engine's configuration, with New's defaults filled in.
func (e *Engine) Config() Config { return e.cfg }
