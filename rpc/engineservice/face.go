package engineservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/tick"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// How optio-core runs its Redis face: calls left unacknowledged this long by
// a dead engine are rerun by another (groupCancelAndWait can take minutes),
// and the liveness key optio-api's discovery checks lives 15 s and is
// refreshed every 5 s.
const (
	claimIdle         = 10 * time.Minute
	heartbeatTTL      = 15 * time.Second
	heartbeatInterval = 5 * time.Second
)

// Face serves an engine over Redis, as optio-core's init(redis_url=...)
// does: a clamator RPC server with the optio-engine service, and the
// liveness heartbeat. It is an adapter.RPCFace: put it in
// adapter.Config.RPC and the engine drives it (New connects, Run serves,
// Shutdown stops serving before it drains the bodies).
//
// A Face serves one engine.
type Face struct {
	url string
	tls rpc.RedisTLS

	// ready is closed once the server reads its streams.
	ready     chan struct{}
	readyOnce sync.Once

	mu      sync.Mutex
	eng     *adapter.Engine
	rdb     *redis.Client
	srv     *rpc.Server
	log     *slog.Logger
	grace   time.Duration
	serving *Serving
}

// Redis returns a face that serves over the Redis at url:
// redis://[user:password@]host:port/db, or rediss:// for TLS verified
// against the system's roots. A bad URL fails adapter.New with
// adapter.ErrInvalidConfig.
func Redis(url string) *Face {
	return RedisWithTLS(url, rpc.RedisTLS{})
}

// RedisWithTLS is Redis for a rediss:// url whose server certificate is
// verified as tlsCfg says (a CA file of its own, for instance).
func RedisWithTLS(url string, tlsCfg rpc.RedisTLS) *Face {
	return &Face{url: url, tls: tlsCfg, ready: make(chan struct{})}
}

// Attach implements adapter.RPCFace: it connects to Redis and registers the
// optio-engine service of e; nothing is consumed before Start.
func (f *Face) Attach(_ context.Context, e *adapter.Engine) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.eng != nil {
		return fmt.Errorf("%w: RPC face already serves an engine", adapter.ErrInvalidConfig)
	}
	opts, err := rpc.RedisOptions(f.url, f.tls)
	if err != nil {
		return fmt.Errorf("%w: Redis URL: %v", adapter.ErrInvalidConfig, err)
	}
	cfg := e.Config()
	log := cfg.Logger.With("component", "optio-rpc", "keyPrefix", e.RPCKeyPrefix())
	rdb := redis.NewClient(opts)
	srv, err := rpc.NewServer(rdb, rpc.ServerOptions{
		KeyPrefix:     e.RPCKeyPrefix(),
		ClaimIdle:     claimIdle,
		ShutdownGrace: cfg.CancelGrace,
		Logger:        log,
	})
	if err == nil {
		err = Register(srv, e)
	}
	if err != nil {
		_ = rdb.Close()
		return fmt.Errorf("RPC server: %w", err)
	}
	f.eng, f.rdb, f.srv, f.log, f.grace = e, rdb, srv, log, cfg.CancelGrace
	return nil
}

// Server returns the clamator RPC server, which serves the optio-engine
// service under the key prefix "{db}/{prefix}" once Run starts it; nil
// before adapter.New. Applications register their own services on it before
// calling Run, so that one Redis connection and one worker pool serve them
// all:
//
//	face := engineservice.Redis(url)
//	eng, err := adapter.New(ctx, adapter.Config{..., RPC: face})
//	face.Server().Register(rpc.Service{Name: "reports", Methods: ...})
//	eng.Run(ctx)
//
// Each engine handles up to rpc.DefaultConcurrency optio-engine calls at
// once: calls on one process keep their stream order, and the group calls
// (groupCancel, groupCancelAndWait, blockLaunches, unblockLaunches, resync)
// run alone, so no call overtakes one optio-core would have run first (see
// engineOrderKey). Engines sharing a Redis, database and prefix share the
// consumer group and so form a worker pool. A call left unanswered by an
// engine that died is rerun by another after 10 minutes (optio-core's claim
// threshold, which a long groupCancelAndWait must not reach).
func (f *Face) Server() *rpc.Server {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.srv
}

// Ready returns a channel that is closed once Run serves over Redis: the
// consumer groups exist, so calls sent from then on are answered (a call
// sent to a stream before any engine ever served it never is), and the
// heartbeat is written.
func (f *Face) Ready() <-chan struct{} { return f.ready }

// Start implements adapter.RPCFace: it begins consuming commands and
// refreshing the heartbeat. Starting a started face does nothing.
func (f *Face) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv == nil {
		return errors.New("RPC face started before adapter.New attached it")
	}
	if f.serving != nil {
		return nil
	}
	s, err := Serve(ctx, f.rdb, f.srv, f.eng.RPCKeyPrefix(), f.log)
	if err != nil {
		return err
	}
	f.serving = s
	f.readyOnce.Do(func() { close(f.ready) })
	return nil
}

// Stop implements adapter.RPCFace: it stops consuming commands, draining
// in-flight handlers for up to the engine's CancelGrace, and stops the
// heartbeat.
func (f *Face) Stop(ctx context.Context) {
	f.mu.Lock()
	s := f.serving
	f.mu.Unlock()
	if s == nil {
		return
	}
	if err := s.Stop(ctx); err != nil {
		f.log.Warn("RPC server stopped with calls unfinished; another engine reruns them", "error", err)
	}
}

// Close implements adapter.RPCFace: it releases the Redis connection.
func (f *Face) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rdb != nil {
		_ = f.rdb.Close()
	}
}

// Serving is a server started by Serve, with its heartbeat.
type Serving struct {
	srv           *rpc.Server
	stopHeartbeat context.CancelFunc
	heartbeatDone chan struct{}
	stopOnce      sync.Once
	stopErr       error
}

// Serve starts srv and the liveness heartbeat of the engines at keyPrefix
// (the key [engineapi.HeartbeatKey] names, refreshed every 5 s with a 15 s
// expiry) for a program that runs its own rpc.Server, on which it called
// Register:
//
//	srv, _ := rpc.NewServer(rdb, rpc.ServerOptions{KeyPrefix: eng.RPCKeyPrefix()})
//	engineservice.Register(srv, eng)
//	serving, err := engineservice.Serve(ctx, rdb, srv, eng.RPCKeyPrefix(), logger)
//	...
//	serving.Stop(ctx) // before eng.Shutdown
//
// A failed refresh (Redis down) is logged to log and retried at the next
// tick; a nil log is slog.Default(). The heartbeat runs until Stop,
// whatever becomes of ctx.
func Serve(ctx context.Context, rdb *redis.Client, srv *rpc.Server, keyPrefix string, log *slog.Logger) (*Serving, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := srv.Start(ctx); err != nil {
		return nil, fmt.Errorf("start RPC server: %w", err)
	}
	hbCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Serving{srv: srv, stopHeartbeat: cancel, heartbeatDone: make(chan struct{})}
	hb := heartbeat{rdb: rdb, key: engineapi.HeartbeatKey(keyPrefix), log: log}
	hb.beat(hbCtx)
	go func() {
		defer close(s.heartbeatDone)
		hb.run(hbCtx)
	}()
	return s, nil
}

// Stop stops the heartbeat, then the server, which drains its in-flight
// handlers for up to its ShutdownGrace (or until ctx ends). The heartbeat
// key is left to expire: other engines of the pool may still be refreshing
// it. Stop is idempotent.
func (s *Serving) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.stopHeartbeat()
		<-s.heartbeatDone
		s.stopErr = s.srv.Stop(ctx)
	})
	return s.stopErr
}

// heartbeat refreshes the liveness key.
type heartbeat struct {
	rdb *redis.Client
	key string
	log *slog.Logger
}

// run refreshes the key every heartbeatInterval until ctx ends.
func (h heartbeat) run(ctx context.Context) {
	tick.Every(ctx, heartbeatInterval, func() { h.beat(ctx) })
}

func (h heartbeat) beat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, heartbeatInterval)
	defer cancel()
	if err := h.rdb.Set(ctx, h.key, 1, heartbeatTTL).Err(); err != nil && ctx.Err() == nil {
		h.log.Warn("heartbeat to Redis failed", "key", h.key, "error", err)
	}
}
