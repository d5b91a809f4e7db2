package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger adapts an slog.Logger to the Temporal server's log.Logger.
// The server logs a great deal at info level and some warnings on every
// normal shutdown, so it gets its own minimum level, raised during Stop.
type serverLogger struct {
	log   *slog.Logger
	level *slog.LevelVar
	tags  []tag.Tag
	// fatal keeps the first Fatal message, shared by every With copy, so
	// that a start that hit one fails instead of limping on.
	fatal *atomic.Pointer[string]
	// failFast, while set, makes Fatal panic as well. It is set while the
	// server is built, which runs on the starting goroutine: a Fatal there
	// (a port it could not bind) leaves a nil the server later panics on in
	// a goroutine of its own, where nothing can recover it.
	failFast *atomic.Bool
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

func (l serverLogger) Debug(msg string, tags ...tag.Tag) { l.emit(slog.LevelDebug, msg, tags) }
func (l serverLogger) Info(msg string, tags ...tag.Tag)  { l.emit(slog.LevelInfo, msg, tags) }
func (l serverLogger) Warn(msg string, tags ...tag.Tag)  { l.emit(slog.LevelWarn, msg, tags) }
func (l serverLogger) Error(msg string, tags ...tag.Tag) { l.emit(slog.LevelError, msg, tags) }

// DPanic, Panic and Fatal are logged as errors: an embedded server must not
// take the host process down. Fatal is also remembered, and panics while
// failFast is set; see StartTemporal.
func (l serverLogger) DPanic(msg string, tags ...tag.Tag) { l.emit(slog.LevelError, msg, tags) }
func (l serverLogger) Panic(msg string, tags ...tag.Tag)  { l.emit(slog.LevelError, msg, tags) }
func (l serverLogger) Fatal(msg string, tags ...tag.Tag) {
	l.emit(slog.LevelError, msg, tags)
	if l.fatal != nil {
		text := msg
		for _, t := range tags {
			text += fmt.Sprintf(" %s=%v", t.Key(), t.Value())
		}
		l.fatal.CompareAndSwap(nil, &text)
		if l.failFast != nil && l.failFast.Load() {
			panic(errors.New(text))
		}
	}
}

// With returns a logger that prepends tags to every entry.
func (l serverLogger) With(tags ...tag.Tag) log.Logger {
	all := make([]tag.Tag, 0, len(l.tags)+len(tags))
	all = append(all, l.tags...)
	all = append(all, tags...)
	return serverLogger{log: l.log, level: l.level, tags: all, fatal: l.fatal, failFast: l.failFast}
}

func (l serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if level < l.level.Level() || !l.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(l.tags)+len(tags))
	for _, t := range l.tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	l.log.LogAttrs(ctx, level, msg, attrs...)
}

// minLevel wraps a handler so that records below level are dropped; used to
// quieten chatty embedded servers without touching the caller's logger.
type minLevel struct {
	slog.Handler
	level slog.Leveler
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(attrs), level: h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), level: h.level}
}

func withMinLevel(l *slog.Logger, level slog.Leveler) *slog.Logger {
	return slog.New(minLevel{Handler: l.Handler(), level: level})
}

func orDefault(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
