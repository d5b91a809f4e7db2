package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// MongoConfig configures [StartMongo].
type MongoConfig struct {
	// Host is the address the server binds to. Default [DefaultHost].
	Host string
	// Port is the TCP port. 0 picks a free port.
	Port int
	// Dir holds the SQLite files, one per database, so data survives a
	// restart. Empty uses a temporary directory that Stop removes.
	Dir string
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// LogLevel is the least severe server log that reaches Logger. FerretDB
	// logs every connection at info level and every command it does not
	// implement (such as the driver's endSessions) as a warning with a full
	// message dump; the default is slog.LevelError.
	LogLevel *slog.Level
}

// Mongo is an embedded MongoDB-wire server: FerretDB v1 on its SQLite
// backend. It speaks enough of MongoDB for the official driver and for
// optio's process collection; production uses a real MongoDB.
type Mongo struct {
	addr    string
	dir     string
	tempDir bool
	// pins keeps SQLite's allocator mappings while the server runs.
	pins    *allocatorPins
	cancel  context.CancelFunc
	done    chan struct{}
	indexed chan struct{}

	stopOnce sync.Once
	stopErr  error
}

// StartMongo starts FerretDB and returns once it accepts connections. A Port
// already in use gives a *PortInUseError.
func StartMongo(ctx context.Context, cfg MongoConfig) (*Mongo, error) {
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logger := orDefault(cfg.Logger).With("part", PartMongo)
	level := slog.LevelError
	if cfg.LogLevel != nil {
		level = *cfg.LogLevel
	}

	// FerretDB's own error for a busy port is a wrapped string, and a failed
	// bind leaks its backend; checking first gives a typed error and no leak.
	if cfg.Port != 0 {
		if err := checkPortFree(PartMongo, cfg.Host, cfg.Port); err != nil {
			return nil, err
		}
	}

	m := &Mongo{dir: cfg.Dir, done: make(chan struct{}), indexed: make(chan struct{})}
	if m.dir == "" {
		dir, err := os.MkdirTemp("", "optio-mongo-*")
		if err != nil {
			return nil, fmt.Errorf("mongo: temp dir: %w", err)
		}
		m.dir, m.tempDir = dir, true
	} else if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return nil, fmt.Errorf("mongo: data dir: %w", err)
	}
	abs, err := filepath.Abs(m.dir)
	if err != nil {
		m.removeTemp()
		return nil, fmt.Errorf("mongo: data dir: %w", err)
	}

	m.pins = pinAllocator()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: hostPort(cfg.Host, cfg.Port)},
		Logger:    withMinLevel(logger, level),
		Handler:   "sqlite",
		SQLiteURL: sqliteURL(abs),
	})
	if err != nil {
		m.pins.release()
		m.removeTemp()
		if isAddrInUse(err) || strings.Contains(err.Error(), "address already in use") {
			return nil, &PortInUseError{Part: PartMongo, Host: cfg.Host, Port: cfg.Port}
		}
		return nil, fmt.Errorf("mongo: start FerretDB: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		if err := f.Run(runCtx); err != nil {
			logger.Error("FerretDB stopped", "err", err)
		}
	}()
	go func() {
		defer close(m.indexed)
		x := &idIndexer{dir: abs, log: logger, seen: map[string]fileStamp{}}
		x.run(runCtx, defaultIndexInterval)
	}()

	u, err := url.Parse(f.MongoDBURI())
	if err != nil {
		_ = m.Stop()
		return nil, fmt.Errorf("mongo: parse %q: %w", f.MongoDBURI(), err)
	}
	m.addr = u.Host
	return m, nil
}

// sqliteURL is FerretDB's SQLite URL for the directory dir. Besides
// FerretDB's defaults (WAL, auto_vacuum none):
//   - busy_timeout(60000): a write waits up to a minute for SQLite's single
//     write lock rather than FerretDB's 10 s; under a burst (500 concurrent
//     launches on 2 cores) 10 s was not enough and launches failed with
//     SQLITE_BUSY.
//   - synchronous(normal): in WAL mode a commit no longer waits for fsync;
//     the database stays consistent, and an OS crash (not a process crash)
//     can lose the last commits, which suits a development server.
//   - temp_store(memory): a write statement's sub-journal (FerretDB writes
//     in transactions, so each UPDATE keeps one for its rollback) grows in
//     1 KiB chunks, which pinAllocator keeps mapped, rather than in one
//     64 KiB chunk that the allocator mapped and unmapped per statement.
//   - wal_autocheckpoint(0): FerretDB's connections leave checkpoints to
//     the indexer's pass (see checkpoint).
func sqliteURL(dir string) string {
	return sqliteFileURL(dir+"/", "", "busy_timeout(60000)", "synchronous(normal)", "temp_store(memory)", "wal_autocheckpoint(0)")
}

// sqliteFileURL is the SQLite driver's URL of path, opened in mode ("" for
// SQLite's default, rwc), with pragmas run on each new connection.
func sqliteFileURL(path, mode string, pragmas ...string) string {
	q := url.Values{}
	if mode != "" {
		q.Set("mode", mode)
	}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	return (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String()
}

// Addr returns the server's "host:port".
func (m *Mongo) Addr() string { return m.addr }

// URL returns a mongodb:// connection string for the server.
func (m *Mongo) URL() string { return "mongodb://" + m.addr + "/" }

// Dir returns the directory that holds the server's data.
func (m *Mongo) Dir() string { return m.dir }

// Stop closes the listener and every client connection, closes the SQLite
// databases, and removes the directory if it was a temporary one. Calling
// it again does nothing and returns the first call's result.
func (m *Mongo) Stop() error {
	m.stopOnce.Do(func() {
		m.cancel()
		<-m.done
		<-m.indexed
		m.pins.release()
		m.stopErr = m.removeTemp()
	})
	return m.stopErr
}

func (m *Mongo) removeTemp() error {
	if !m.tempDir {
		return nil
	}
	if err := os.RemoveAll(m.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("mongo: remove %s: %w", m.dir, err)
	}
	return nil
}
