package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"
)

// Config says which parts [Start] runs and where. A nil part config leaves
// that part out; the zero value of a part config runs it on a free port.
type Config struct {
	// Host is the default bind address of every part. Default [DefaultHost].
	Host string
	// DataDir, when set, is where the parts keep their data: DataDir/temporal,
	// DataDir/mongo and DataDir/redis, unless a part config names its own.
	// Empty keeps Temporal and Mongo in temporary directories. The
	// stack locks DataDir while it runs (see [LockDataDir]): a second stack
	// on it fails with a *DataDirInUseError. DataDir and the directories the
	// parts create in it are readable by the owner only.
	DataDir string
	// Logger is the default logger of every part and receives the start-up
	// summary. Default slog.Default().
	Logger *slog.Logger

	Temporal *TemporalConfig
	// UI requires Temporal; its TemporalHostPort defaults to that server.
	UI    *UIConfig
	Mongo *MongoConfig
	Redis *RedisConfig
}

// Stack is a running set of parts.
type Stack struct {
	temporal *Temporal
	ui       *UI
	mongo    *Mongo
	redis    *Redis
	dataDir  *DataDirLock
	startup  time.Duration

	stopOnce sync.Once
	stopErr  error
}

// Start starts the parts cfg asks for and returns once all of them accept
// connections. Ports given explicitly are checked before anything starts, so
// a busy port fails fast with a *PortInUseError naming the part. If any part
// fails, the ones already started are stopped.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	begin := time.Now()
	logger := orDefault(cfg.Logger)
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	if cfg.UI != nil && cfg.Temporal == nil && cfg.UI.TemporalHostPort == "" {
		return nil, errors.New("devstack: the UI needs Temporal (or UI.TemporalHostPort)")
	}
	tc, uc, mc, rc := copyParts(cfg, logger)
	// The directory first: a second worker on it is told so, not that a
	// port of the first one is taken.
	s := &Stack{}
	if cfg.DataDir != "" {
		lock, err := LockDataDir(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		s.dataDir = lock
	}

	for _, p := range []struct {
		part string
		host string
		port int
		on   bool
	}{
		{PartTemporal, tc.Host, tc.Port, cfg.Temporal != nil},
		{PartUI, uc.Host, uc.Port, cfg.UI != nil},
		{PartMongo, mc.Host, mc.Port, cfg.Mongo != nil},
		{PartRedis, rc.Host, rc.Port, cfg.Redis != nil},
	} {
		if p.on && p.port != 0 {
			if err := checkPortFree(p.part, p.host, p.port); err != nil {
				_ = s.dataDir.Unlock()
				return nil, err
			}
		}
	}

	// Temporal takes most of the start-up time; Mongo and Redis start
	// beside it.
	var (
		wg                  sync.WaitGroup
		tErr, mErr, rErr    error
		tTook, mTook, rTook time.Duration
	)
	timed := func(took *time.Duration, f func()) {
		defer wg.Done()
		t0 := time.Now()
		f()
		*took = time.Since(t0)
	}
	if cfg.Temporal != nil {
		wg.Add(1)
		go timed(&tTook, func() { s.temporal, tErr = StartTemporal(ctx, tc) })
	}
	if cfg.Mongo != nil {
		wg.Add(1)
		go timed(&mTook, func() { s.mongo, mErr = StartMongo(ctx, mc) })
	}
	if cfg.Redis != nil {
		wg.Add(1)
		go timed(&rTook, func() { s.redis, rErr = StartRedis(ctx, rc) })
	}
	wg.Wait()
	if err := errors.Join(tErr, mErr, rErr); err != nil {
		_ = s.Stop()
		return nil, firstPortError(err)
	}

	var uTook time.Duration
	if cfg.UI != nil {
		if uc.TemporalHostPort == "" {
			uc.TemporalHostPort = s.temporal.HostPort()
		}
		t0 := time.Now()
		ui, err := StartUI(ctx, uc)
		if err != nil {
			_ = s.Stop()
			return nil, err
		}
		s.ui = ui
		uTook = time.Since(t0)
	}

	s.startup = time.Since(begin)
	attrs := []any{"took", s.startup.Round(time.Millisecond)}
	if s.temporal != nil {
		attrs = append(attrs, "temporal", s.temporal.HostPort(), "temporal_took", tTook.Round(time.Millisecond))
	}
	if s.ui != nil {
		attrs = append(attrs, "ui", s.ui.URL(), "ui_took", uTook.Round(time.Millisecond))
	}
	if s.mongo != nil {
		attrs = append(attrs, "mongo", s.mongo.URL(), "mongo_took", mTook.Round(time.Millisecond))
	}
	if s.redis != nil {
		attrs = append(attrs, "redis", s.redis.URL(), "redis_embedded", s.redis.Embedded(), "redis_took", rTook.Round(time.Millisecond))
	}
	logger.Info("dev stack started", attrs...)
	return s, nil
}

// copyParts fills in the defaults a part inherits from the stack.
func copyParts(cfg Config, logger *slog.Logger) (TemporalConfig, UIConfig, MongoConfig, RedisConfig) {
	var (
		tc TemporalConfig
		uc UIConfig
		mc MongoConfig
		rc RedisConfig
	)
	if cfg.Temporal != nil {
		tc = *cfg.Temporal
	}
	if cfg.UI != nil {
		uc = *cfg.UI
	}
	if cfg.Mongo != nil {
		mc = *cfg.Mongo
	}
	if cfg.Redis != nil {
		rc = *cfg.Redis
	}
	orHost := func(h string) string {
		if h == "" {
			return cfg.Host
		}
		return h
	}
	orLogger := func(l *slog.Logger) *slog.Logger {
		if l == nil {
			return logger
		}
		return l
	}
	orDir := func(dir, sub string) string {
		if dir == "" && cfg.DataDir != "" {
			return filepath.Join(cfg.DataDir, sub)
		}
		return dir
	}
	tc.Host, tc.Logger, tc.DataDir = orHost(tc.Host), orLogger(tc.Logger), orDir(tc.DataDir, "temporal")
	uc.Host, uc.Logger = orHost(uc.Host), orLogger(uc.Logger)
	mc.Host, mc.Logger, mc.Dir = orHost(mc.Host), orLogger(mc.Logger), orDir(mc.Dir, "mongo")
	rc.Host, rc.Logger, rc.Dir = orHost(rc.Host), orLogger(rc.Logger), orDir(rc.Dir, "redis")
	return tc, uc, mc, rc
}

// firstPortError returns the *PortInUseError in err if there is one, so the
// caller sees the one line that matters, and err otherwise.
func firstPortError(err error) error {
	var pe *PortInUseError
	if errors.As(err, &pe) {
		return pe
	}
	return err
}

// Temporal returns the Temporal server, or nil if the config left it out.
// This and the other part accessors may be called on a nil *Stack, for code
// that runs with or without a dev stack.
func (s *Stack) Temporal() *Temporal {
	if s == nil {
		return nil
	}
	return s.temporal
}

// UI returns the Web UI, or nil if the config left it out.
func (s *Stack) UI() *UI {
	if s == nil {
		return nil
	}
	return s.ui
}

// Mongo returns the Mongo server, or nil if the config left it out.
func (s *Stack) Mongo() *Mongo {
	if s == nil {
		return nil
	}
	return s.mongo
}

// Redis returns the Redis server, or nil if the config left it out.
func (s *Stack) Redis() *Redis {
	if s == nil {
		return nil
	}
	return s.redis
}

// StartupTime is how long Start took.
func (s *Stack) StartupTime() time.Duration { return s.startup }

// Stop stops every part, the UI first and Temporal last, and returns their
// errors joined. Calling it again does nothing and returns the first call's
// result.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.ui != nil {
			errs = append(errs, wrapStop(PartUI, s.ui.Stop()))
		}
		var wg sync.WaitGroup
		var mErr, rErr error
		if s.mongo != nil {
			wg.Add(1)
			go func() { defer wg.Done(); mErr = wrapStop(PartMongo, s.mongo.Stop()) }()
		}
		if s.redis != nil {
			wg.Add(1)
			go func() { defer wg.Done(); rErr = wrapStop(PartRedis, s.redis.Stop()) }()
		}
		if s.temporal != nil {
			errs = append(errs, wrapStop(PartTemporal, s.temporal.Stop()))
		}
		wg.Wait()
		// Released last, once no part writes the directory any more.
		errs = append(errs, s.dataDir.Unlock())
		s.stopErr = errors.Join(append(errs, mErr, rErr)...)
	})
	return s.stopErr
}

func wrapStop(part string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("stop %s: %w", part, err)
}
