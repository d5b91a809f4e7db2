package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// DefaultCallTimeout is the default of ClientOptions.Timeout.
const DefaultCallTimeout = 30 * time.Second

// ErrProtocol is returned by a call whose reply is not a valid JSON-RPC
// response.
var ErrProtocol = errors.New("rpc: invalid reply envelope")

// ClientOptions configures a Client. Only KeyPrefix is required.
type ClientOptions struct {
	// KeyPrefix is the servers' key prefix, used as given. Required.
	KeyPrefix string
	// InstanceID names the client's reply stream,
	// <KeyPrefix>:replies:<InstanceID>. Default: a random UUIDv4.
	InstanceID string
	// Timeout bounds a call whose context has no deadline. Default 30s.
	Timeout time.Duration
	// Logger receives the client's logs. Default slog.Default().
	Logger *slog.Logger
}

// Client calls services over their command streams and reads the answers
// from a reply stream of its own. It is safe for concurrent use.
type Client struct {
	rdb         redis.UniversalClient
	opts        ClientOptions
	log         *slog.Logger
	replyStream string
	reader      *blockingReader
	ctx         context.Context
	cancel      context.CancelFunc
	done        chan struct{}

	mu      sync.Mutex
	closed  bool
	pending map[string]chan *envelope // by request id; closed by Close
}

// NewClient returns a client that uses rdb, which it never closes, and
// starts reading its reply stream.
func NewClient(rdb redis.UniversalClient, opts ClientOptions) (*Client, error) {
	if rdb == nil {
		return nil, errors.New("rpc: NewClient: nil redis client")
	}
	if opts.KeyPrefix == "" {
		return nil, errors.New("rpc: NewClient: KeyPrefix is required")
	}
	if opts.InstanceID == "" {
		opts.InstanceID = uuid.NewString()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultCallTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Client{
		rdb:         rdb,
		opts:        opts,
		replyStream: ReplyStream(opts.KeyPrefix, opts.InstanceID),
		reader:      newBlockingReader(rdb),
		done:        make(chan struct{}),
		pending:     map[string]chan *envelope{},
	}
	c.log = opts.Logger.With("reply_stream", c.replyStream)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.readReplies()
	return c, nil
}

// ReplyStream returns the stream this client reads its replies from.
func (c *Client) ReplyStream() string { return c.replyStream }

// Call calls service.method with params and decodes the result into result
// (a pointer, or nil to discard it). Params are JSON-encoded; nil params are
// sent as {}.
//
// The call waits until ctx's deadline, or for the client's Timeout when ctx
// has none. It returns an *Error for an error reply, an error wrapping
// ErrCallTimeout when no reply came in time (the server may still run the
// call), ErrTransportStopped when the client is closed, and a wrapped Redis
// error when the request could not be written.
func (c *Client) Call(ctx context.Context, service, method string, params, result any) error {
	if err := checkNames(service, method); err != nil {
		return err
	}
	id := uuid.NewString()
	body, err := encodeRequest(service, method, params, id)
	if err != nil {
		return fmt.Errorf("rpc: call %s.%s: encode params: %w", service, method, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}

	// Registered before the XADD so that no reply can arrive unclaimed.
	ch := make(chan *envelope, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("rpc: call %s.%s: %w", service, method, ErrTransportStopped)
	}
	c.pending[id] = ch
	c.mu.Unlock()
	defer c.forget(id)

	err = c.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: CommandStream(c.opts.KeyPrefix, service),
		Values: []any{"type", "rpc", "envelope", string(body), "reply-to", c.replyStream},
	}).Err()
	if err != nil {
		return fmt.Errorf("rpc: call %s.%s: %w: %w", service, method, ErrSendFailed, err)
	}

	select {
	case env, ok := <-ch:
		switch {
		case !ok:
			return fmt.Errorf("rpc: call %s.%s: %w", service, method, ErrTransportStopped)
		case env.kind == kindError:
			return env.err
		case env.kind != kindSuccess:
			return fmt.Errorf("rpc: call %s.%s: %w", service, method, ErrProtocol)
		case result == nil:
			return nil
		}
		if err := json.Unmarshal(env.result, result); err != nil {
			return fmt.Errorf("rpc: call %s.%s: decode result: %w", service, method, err)
		}
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("rpc: call %s.%s: %w (%w)", service, method, ErrCallTimeout, ctx.Err())
		}
		return fmt.Errorf("rpc: call %s.%s: %w", service, method, ctx.Err())
	}
}

// Notify sends a notification: the method runs, nothing is answered, and
// Notify returns once the entry is written.
func (c *Client) Notify(ctx context.Context, service, method string, params any) error {
	if err := checkNames(service, method); err != nil {
		return err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("rpc: notify %s.%s: %w", service, method, ErrTransportStopped)
	}
	body, err := encodeRequest(service, method, params, "")
	if err != nil {
		return fmt.Errorf("rpc: notify %s.%s: encode params: %w", service, method, err)
	}
	err = c.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: CommandStream(c.opts.KeyPrefix, service),
		Values: []any{"type", "rpc", "envelope", string(body)},
	}).Err()
	if err != nil {
		return fmt.Errorf("rpc: notify %s.%s: %w: %w", service, method, ErrSendFailed, err)
	}
	return nil
}

// Close stops reading replies, fails pending calls with
// ErrTransportStopped and deletes the reply stream. Closing twice does
// nothing.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()

	c.cancel()
	c.reader.close()
	for _, ch := range pending {
		close(ch)
	}
	<-c.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.rdb.Del(ctx, c.replyStream).Err(); err != nil {
		return fmt.Errorf("rpc: close: delete reply stream: %w", err)
	}
	return nil
}

func (c *Client) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, id)
}

// readReplies is the reply loop: XREAD BLOCK 1000 from 0-0, so that a reply
// written before the first read is not missed.
func (c *Client) readReplies() {
	defer close(c.done)
	defer c.reader.close()
	retry := retrier{log: c.log, what: "reading replies"}
	lastID := "0-0"
	for c.ctx.Err() == nil {
		streams, err := c.reader.cmdable().XRead(c.ctx, &redis.XReadArgs{
			Streams: []string{c.replyStream, lastID},
			Block:   blockDuration,
		}).Result()
		if errors.Is(err, redis.Nil) {
			retry.succeeded()
			continue
		}
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			retry.failed(c.ctx, err)
			continue
		}
		retry.succeeded()
		for _, st := range streams {
			for _, m := range st.Messages {
				lastID = m.ID
				c.deliver(m)
			}
		}
	}
}

func (c *Client) deliver(m redis.XMessage) {
	text, _ := m.Values["envelope"].(string)
	if text == "" {
		return
	}
	env, err := parseEnvelope([]byte(text))
	if err != nil {
		// Fail the call the reply was meant for, if its id can be read.
		var probe struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal([]byte(text), &probe) != nil || len(probe.ID) == 0 {
			c.log.Warn("rpc: unreadable reply; dropped", "entry", m.ID, "error", err)
			return
		}
		env = &envelope{id: probe.ID}
	}
	if env.id == nil {
		return
	}
	c.mu.Lock()
	ch, ok := c.pending[env.idKey()]
	delete(c.pending, env.idKey())
	c.mu.Unlock()
	if ok {
		ch <- env
	}
}

func checkNames(service, method string) error {
	if !serviceRE.MatchString(service) {
		return fmt.Errorf("rpc: service name %q does not match %s", service, serviceRE)
	}
	if !methodRE.MatchString(method) {
		return fmt.Errorf("rpc: method name %q does not match %s", method, methodRE)
	}
	return nil
}
