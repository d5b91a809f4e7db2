package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// app holds what a command connects to; connections are opened on first use.
type app struct {
	ctx    context.Context
	g      globals
	stdout io.Writer
	stderr io.Writer
	// tty says stdout is a terminal, where watch redraws in place.
	tty bool

	rdb    *redis.Client
	rc     *rpc.Client
	client *engineapi.Client
	mongo  *mongo.Client
	store  *docstore.Store
}

// refusedError is a contract failure reason (or a watched process that did
// not end done): exit code 1.
type refusedError struct {
	what   string
	reason string
}

func (e *refusedError) Error() string { return e.what + ": " + e.reason }

// replyError is an RPC error reply: exit code 1.
type replyError struct {
	method string
	err    *rpc.Error
}

func (e *replyError) Error() string {
	msg := fmt.Sprintf("%s: the engine answered error %d %s", e.method, e.err.Code, e.err.Message)
	if data, ok := e.err.Data.(json.RawMessage); ok && len(data) > 0 {
		msg += ": " + string(data)
	}
	return msg
}

// transportError is a connection problem or a missing answer: exit code 3.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func transportf(format string, args ...any) error {
	return &transportError{fmt.Errorf(format, args...)}
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, tty bool) int {
	inv, err := parseArgs(args, getenv, stderr)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "optioctl: %v\nRun 'optioctl -h' for usage.\n", err)
		return exitUsage
	}
	a := &app{ctx: ctx, g: inv.globals, stdout: stdout, stderr: stderr, tty: tty}
	defer a.close()
	err = inv.cmd.run(a, inv)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "optioctl: %v\n", err)
	var usage *usageError
	var refused *refusedError
	var reply *replyError
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return exitInterrupted
	case errors.As(err, &usage):
		return exitUsage
	case errors.As(err, &refused), errors.As(err, &reply):
		return exitRefused
	}
	return exitTransport
}

func (a *app) close() {
	if a.rc != nil {
		_ = a.rc.Close()
	}
	if a.rdb != nil {
		_ = a.rdb.Close()
	}
	if a.mongo != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.mongo.Disconnect(ctx)
	}
}

func (a *app) keyPrefix() string { return engineapi.KeyPrefix(a.g.DB, a.g.Prefix) }

// engine connects to Redis and checks that an engine is serving the key
// prefix: a call sent where no engine has ever served would wait for the
// whole timeout and then never be answered.
func (a *app) engine() (*engineapi.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	opts, err := rpc.RedisOptions(a.g.RedisURL, rpc.RedisTLS{CAFile: a.g.RedisTLSCA})
	if err != nil {
		return nil, usagef("--redis-url: %v", err)
	}
	opts.DialTimeout = min(a.g.Timeout, 5*time.Second)
	opts.MaxRetries = 1
	a.rdb = redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(a.ctx, a.g.Timeout)
	defer cancel()
	if err := rpc.PingRedis(ctx, a.rdb); err != nil {
		return nil, &transportError{err}
	}
	live, err := engineapi.Live(ctx, a.rdb, a.keyPrefix())
	if err != nil {
		return nil, transportf("Redis at %s: %v", opts.Addr, err)
	}
	if !live {
		return nil, transportf("no optio engine is serving %q: its heartbeat key %q is missing (check --db and --prefix, and that an engine with Redis is running)", a.keyPrefix(), engineapi.HeartbeatKey(a.keyPrefix()))
	}
	a.rc, err = rpc.NewClient(a.rdb, rpc.ClientOptions{
		KeyPrefix: a.keyPrefix(),
		Timeout:   a.g.Timeout,
		Logger:    slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return nil, transportf("RPC client: %v", err)
	}
	a.client = engineapi.NewClient(a.rc)
	return a.client, nil
}

// call runs one call of method through the engine's client within the
// timeout, and sorts its error: a failure reason is a refusedError (what
// names the request) whose {"ok": false, "reason": ...} result --json
// prints, an error reply a replyError, anything else a transportError.
func (a *app) call(method, what string, do func(context.Context, *engineapi.Client) error) error {
	c, err := a.engine()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.g.Timeout)
	defer cancel()
	err = do(ctx, c)
	var reason mirror.Reason
	var rpcErr *rpc.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &reason):
		if a.g.JSON {
			_ = a.printResult(engineapi.ReasonResult{Reason: reason})
		}
		return &refusedError{what: what, reason: string(reason)}
	case errors.As(err, &rpcErr):
		return &replyError{method: method, err: rpcErr}
	case errors.Is(err, rpc.ErrCallTimeout):
		return transportf("%s: no answer from an engine within %s", method, a.g.Timeout)
	}
	return transportf("%s: %v", method, err)
}

// mirror connects to Mongo.
func (a *app) mirror() (*docstore.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	client, err := mongo.Connect(options.Client().ApplyURI(a.g.MongoURL).
		SetServerSelectionTimeout(a.g.Timeout).SetConnectTimeout(a.g.Timeout))
	if err != nil {
		return nil, usagef("--mongo-url: %v", err)
	}
	a.mongo = client
	ctx, cancel := context.WithTimeout(a.ctx, a.g.Timeout)
	defer cancel()
	if err := client.Ping(ctx, nil); err != nil {
		return nil, transportf("cannot reach MongoDB: %v", err)
	}
	a.store = docstore.NewStore(client.Database(a.g.DB), a.g.Prefix)
	return a.store, nil
}

// resolve finds a process by processId or _id.
func (a *app) resolve(id string) (*mirror.Process, error) {
	store, err := a.mirror()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.g.Timeout)
	defer cancel()
	p, err := store.Resolve(ctx, id)
	if errors.Is(err, mirror.ErrNotFound) {
		return nil, &refusedError{what: id, reason: string(mirror.ReasonNotFound)}
	}
	if err != nil {
		return nil, transportf("read %q: %v", id, err)
	}
	return p, nil
}

// printResult writes a result of the contract (one of engineapi's result
// types) as printJSON does, with '<', '>' and '&' left as the engine sent
// them.
func (a *app) printResult(v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return transportf("unreadable result: %v", err)
	}
	a.printJSON(b.Bytes())
	return nil
}

// printJSON writes JSON text compactly on one line.
func (a *app) printJSON(raw []byte) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		b.Reset()
		b.Write(raw)
	}
	b.WriteByte('\n')
	_, _ = a.stdout.Write(b.Bytes())
}
