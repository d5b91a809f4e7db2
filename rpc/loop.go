package rpc

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Backoff bounds for loops that hit Redis errors. The reference loops retry
// after a fixed 100 ms; doubling up to a second keeps an outage from
// flooding the log while still noticing a restarted Redis quickly.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = time.Second
)

// blockDuration is the BLOCK argument of XREADGROUP and XREAD.
const blockDuration = time.Second

// CommandStream returns the stream a service reads its calls from:
// <keyPrefix>:cmds:<service>.
func CommandStream(keyPrefix, service string) string {
	return keyPrefix + ":cmds:" + service
}

// ReplyStream returns the stream a client reads its replies from:
// <keyPrefix>:replies:<instanceID>.
func ReplyStream(keyPrefix, instanceID string) string {
	return keyPrefix + ":replies:" + instanceID
}

// retrier sleeps between failed attempts of a loop and logs the first
// failure and the recovery, not every attempt in between.
type retrier struct {
	log     *slog.Logger
	what    string
	delay   time.Duration
	failing bool
}

// failed logs err and sleeps; it reports false if ctx ended first.
func (r *retrier) failed(ctx context.Context, err error) bool {
	if r.failing {
		r.log.Debug("rpc: "+r.what+" still failing", "error", err)
	} else {
		r.log.Warn("rpc: "+r.what+" failed; retrying", "error", err)
		r.failing = true
	}
	r.delay = min(max(2*r.delay, minBackoff), maxBackoff)
	t := time.NewTimer(r.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (r *retrier) succeeded() {
	if r.failing {
		r.log.Info("rpc: " + r.what + " recovered")
	}
	r.failing = false
	r.delay = 0
}

func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

// blockingReader runs the blocking reads of one loop (XREADGROUP or XREAD
// with BLOCK) on a connection of its own, as the TypeScript reference does,
// so that stopping can close that connection and end a read at once instead
// of waiting out its BLOCK. The connection comes from a one-connection
// client cloned from the caller's *redis.Client. Other clients (cluster,
// ring) share their pool, and stopping then waits for the read to time out.
type blockingReader struct {
	shared redis.UniversalClient
	own    *redis.Client // nil when reading on the shared pool
	once   sync.Once
}

func newBlockingReader(rdb redis.UniversalClient) *blockingReader {
	r := &blockingReader{shared: rdb}
	if c, ok := rdb.(*redis.Client); ok {
		opt := *c.Options()
		opt.PoolSize = 1
		opt.MinIdleConns = 0
		opt.MaxIdleConns = 1
		// A fresh config rather than the original's: go-redis updates that
		// one in place when the server lacks maintenance notifications, and
		// a single reading connection has no use for them.
		opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		r.own = redis.NewClient(&opt)
	}
	return r
}

// cmdable returns what to issue reads on.
func (r *blockingReader) cmdable() redis.Cmdable {
	if r.own != nil {
		return r.own
	}
	return r.shared
}

// close ends a read in progress and any later one. The caller has already
// cancelled the reading loop's context, so the loop takes the resulting
// error as the signal to stop.
func (r *blockingReader) close() {
	r.once.Do(func() {
		if r.own != nil {
			_ = r.own.Close()
		}
	})
}
