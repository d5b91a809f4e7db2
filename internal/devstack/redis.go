package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/alicebob/miniredis/v2"

	"github.com/optio-temporal/optio/internal/redisserver"
)

// RedisConfig configures [StartRedis].
type RedisConfig struct {
	// Host is the address the server binds to. Default [DefaultHost].
	Host string
	// Port is the TCP port. 0 picks a free port.
	Port int
	// Dir, when set, makes a real redis-server keep an append-only file
	// there, so streams survive a restart. The embedded server keeps
	// nothing on disk.
	Dir string
	// Embedded selects the embedded server even when redis-server is on
	// PATH.
	Embedded bool
	// NoEmbedded makes StartRedis fail instead of falling back to the
	// embedded server when redis-server is not on PATH.
	NoEmbedded bool
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
}

// ErrNoRedisServer is returned by StartRedis with NoEmbedded set when no
// redis-server binary is on PATH.
var ErrNoRedisServer = errors.New("redis: redis-server is not on PATH")

// Redis is a Redis server for the dev stack: a real redis-server child
// process when one is installed, otherwise miniredis, an in-process server
// that implements the stream commands optio's RPC uses.
type Redis struct {
	real *redisserver.Server
	mini *miniredis.Miniredis
	addr string

	stopOnce sync.Once
	stopErr  error
}

// StartRedis starts a Redis server and returns once it answers. A Port
// already in use gives a *PortInUseError.
func StartRedis(ctx context.Context, cfg RedisConfig) (*Redis, error) {
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	logger := orDefault(cfg.Logger).With("part", PartRedis)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Port != 0 {
		if err := checkPortFree(PartRedis, cfg.Host, cfg.Port); err != nil {
			return nil, err
		}
	}

	if !cfg.Embedded && redisserver.Available() {
		if cfg.Dir != "" {
			if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
				return nil, fmt.Errorf("redis: data dir: %w", err)
			}
		}
		srv, err := redisserver.Start(ctx, redisserver.Options{
			Host: cfg.Host, Port: cfg.Port, Dir: cfg.Dir, Logger: logger,
			// A redis-server that dies alone comes back on the same port
			// with the same data, so RPC recovers within seconds.
			Supervise: true,
		})
		if err != nil {
			if cfg.Port != 0 && strings.Contains(err.Error(), "already in use") {
				return nil, &PortInUseError{Part: PartRedis, Host: cfg.Host, Port: cfg.Port}
			}
			return nil, fmt.Errorf("redis: %w", err)
		}
		return &Redis{real: srv, addr: srv.Addr()}, nil
	}
	if !cfg.Embedded && cfg.NoEmbedded {
		return nil, ErrNoRedisServer
	}

	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(hostPort(cfg.Host, cfg.Port)); err != nil {
		if isAddrInUse(err) {
			return nil, &PortInUseError{Part: PartRedis, Host: cfg.Host, Port: cfg.Port}
		}
		return nil, fmt.Errorf("redis: start embedded server: %w", err)
	}
	if !cfg.Embedded {
		logger.Info("redis-server is not on PATH; using the embedded Redis (miniredis), which keeps nothing on disk")
	}
	return &Redis{mini: m, addr: m.Addr()}, nil
}

// Addr returns the server's "host:port".
func (r *Redis) Addr() string { return r.addr }

// URL returns a redis:// URL for database 0.
func (r *Redis) URL() string { return "redis://" + r.addr + "/0" }

// Embedded reports whether this is the in-process miniredis rather than a
// real redis-server.
func (r *Redis) Embedded() bool { return r.mini != nil }

// Server returns the redis-server child process, or nil for the embedded
// server; tests use it to kill and restart Redis.
func (r *Redis) Server() *redisserver.Server { return r.real }

// Stop stops the server (a real one gets SIGTERM, then SIGKILL if it hangs).
// Calling it again does nothing and returns the first call's result.
func (r *Redis) Stop() error {
	r.stopOnce.Do(func() {
		if r.real != nil {
			r.stopErr = r.real.Stop()
			return
		}
		r.mini.Close()
	})
	return r.stopErr
}
