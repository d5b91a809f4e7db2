package adapter

import "context"

// rpcFacade serves the engine over Redis: the clamator RPC server with the
// optio-engine service, and the liveness heartbeat. Its methods are no-ops on
// a nil facade (an engine without Redis).
type rpcFacade struct{}

// newRPCFacade connects to Config.RedisURL and registers the optio-engine
// service; nothing is consumed before start.
func newRPCFacade(ctx context.Context, e *Engine) (*rpcFacade, error) {
	return nil, nil
}

// start begins consuming commands and refreshing the heartbeat.
func (f *rpcFacade) start(ctx context.Context) error { return nil }

// stop stops consuming commands, draining in-flight handlers.
func (f *rpcFacade) stop(ctx context.Context) {}

// close releases the Redis connection.
func (f *rpcFacade) close() {}
