package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/optio-temporal/optio/rpc"
)

// How optio-core runs its Redis face: calls left unacknowledged this long by
// a dead engine are rerun by another (groupCancelAndWait can take minutes),
// and the liveness key optio-api's discovery checks lives 15 s and is
// refreshed every 5 s.
const (
	rpcClaimIdle         = 10 * time.Minute
	rpcHeartbeatTTL      = 15 * time.Second
	rpcHeartbeatInterval = 5 * time.Second
)

// rpcFacade serves the engine over Redis: the clamator RPC server with the
// optio-engine service, and the liveness heartbeat. Its methods are no-ops on
// a nil facade (an engine without Redis).
type rpcFacade struct {
	e         *Engine
	rdb       *redis.Client
	srv       *rpc.Server
	keyPrefix string

	// ready is closed once the server reads its streams.
	ready     chan struct{}
	readyOnce sync.Once

	mu            sync.Mutex
	stopHeartbeat context.CancelFunc
	heartbeatDone chan struct{}
}

// newRPCFacade connects to Config.RedisURL and registers the optio-engine
// service; nothing is consumed before start.
func newRPCFacade(ctx context.Context, e *Engine) (*rpcFacade, error) {
	opts, err := rpc.RedisOptions(e.cfg.RedisURL, e.cfg.RedisTLS)
	if err != nil {
		return nil, fmt.Errorf("%w: RedisURL: %v", ErrInvalidConfig, err)
	}
	f := &rpcFacade{
		e:         e,
		rdb:       redis.NewClient(opts),
		keyPrefix: e.cfg.Mongo.Name() + "/" + e.cfg.Prefix,
		ready:     make(chan struct{}),
	}
	f.srv, err = rpc.NewServer(f.rdb, rpc.ServerOptions{
		KeyPrefix:     f.keyPrefix,
		ClaimIdle:     rpcClaimIdle,
		ShutdownGrace: e.cfg.CancelGrace,
		Logger:        e.log,
	})
	if err == nil {
		err = f.srv.Register(withRPCMetrics(engineService{e}.service(), e.cfg.Metrics))
	}
	if err != nil {
		_ = f.rdb.Close()
		return nil, fmt.Errorf("RPC server: %w", err)
	}
	return f, nil
}

// RPCServer returns the engine's clamator RPC server, which serves the
// optio-engine service under the key prefix "{db}/{prefix}" once Run starts
// it. Applications register their own services on it before calling Run,
// so that one Redis connection and one worker pool serve them all:
//
//	eng.RPCServer().Register(rpc.Service{Name: "reports", Methods: ...})
//	eng.Run(ctx)
//
// Each engine handles its optio-engine calls one at a time, in stream order,
// as optio-core does; engines sharing a Redis, database and prefix share the
// consumer group and so form a worker pool. A call left unanswered by an
// engine that died is rerun by another after 10 minutes (optio-core's claim
// threshold, which a long groupCancelAndWait must not reach).
//
// It returns nil when Config.RedisURL is empty.
func (e *Engine) RPCServer() *rpc.Server {
	if e.facade == nil {
		return nil
	}
	return e.facade.srv
}

// RPCReady returns a channel that is closed once Run serves over Redis: the
// consumer groups exist, so calls sent from then on are answered (a call
// sent to a stream before any engine ever served it never is), and the
// heartbeat is written. It returns nil when Config.RedisURL is empty.
func (e *Engine) RPCReady() <-chan struct{} {
	if e.facade == nil {
		return nil
	}
	return e.facade.ready
}

// RPCKeyPrefix returns the key prefix of the engine's Redis keys,
// "{db}/{prefix}": clients of the optio-engine service use it as their
// rpc.ClientOptions.KeyPrefix, and the heartbeat key is RPCKeyPrefix() +
// ":heartbeat".
func (e *Engine) RPCKeyPrefix() string {
	return e.cfg.Mongo.Name() + "/" + e.cfg.Prefix
}

// HeartbeatKey returns the Redis key a running engine refreshes every 5 s
// with a 15 s expiry, "{db}/{prefix}:heartbeat"; optio-api counts an
// engine as live while it exists.
func HeartbeatKey(keyPrefix string) string { return keyPrefix + ":heartbeat" }

// start begins consuming commands and refreshing the heartbeat.
func (f *rpcFacade) start(ctx context.Context) error {
	if f == nil {
		return nil
	}
	if err := f.srv.Start(ctx); err != nil {
		return fmt.Errorf("start RPC server: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopHeartbeat != nil {
		return nil
	}
	hbCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.stopHeartbeat = cancel
	f.heartbeatDone = make(chan struct{})
	f.beat(hbCtx)
	go f.heartbeat(hbCtx)
	f.readyOnce.Do(func() { close(f.ready) })
	return nil
}

// heartbeat refreshes the liveness key until ctx ends. A failed refresh
// (Redis down) is logged and retried at the next tick.
func (f *rpcFacade) heartbeat(ctx context.Context) {
	defer close(f.heartbeatDone)
	t := time.NewTicker(rpcHeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.beat(ctx)
		}
	}
}

func (f *rpcFacade) beat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, rpcHeartbeatInterval)
	defer cancel()
	if err := f.rdb.Set(ctx, HeartbeatKey(f.keyPrefix), 1, rpcHeartbeatTTL).Err(); err != nil && ctx.Err() == nil {
		f.e.log.Warn("heartbeat to Redis failed", "key", HeartbeatKey(f.keyPrefix), "error", err)
	}
}

// stop stops consuming commands, draining in-flight handlers for up to
// Config.CancelGrace, and stops the heartbeat. The heartbeat key is left to
// expire: other engines of the pool may still be refreshing it.
func (f *rpcFacade) stop(ctx context.Context) {
	if f == nil {
		return
	}
	f.mu.Lock()
	if f.stopHeartbeat != nil {
		f.stopHeartbeat()
		<-f.heartbeatDone
	}
	f.mu.Unlock()
	if err := f.srv.Stop(ctx); err != nil {
		f.e.log.Warn("RPC server stopped with calls unfinished; another engine reruns them", "error", err)
	}
}

// close releases the Redis connection.
func (f *rpcFacade) close() {
	if f == nil {
		return
	}
	_ = f.rdb.Close()
}

// withRPCMetrics reports every call of svc's methods to m (nil: none).
func withRPCMetrics(svc rpc.Service, m Metrics) rpc.Service {
	if m == nil {
		return svc
	}
	methods := make([]rpc.Method, len(svc.Methods))
	for i, meth := range svc.Methods {
		name, next := meth.Name, meth.Handler
		meth.Handler = func(ctx context.Context, params json.RawMessage) (any, error) {
			res, err := next(ctx, params)
			outcome := "ok"
			if err != nil {
				outcome = "error"
			}
			m.RPCCall(name, outcome)
			return res, err
		}
		methods[i] = meth
	}
	svc.Methods = methods
	return svc
}
