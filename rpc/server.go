package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Defaults of ServerOptions, as in the reference servers.
const (
	DefaultClaimIdle         = 60 * time.Second
	DefaultReplyStreamMaxLen = 1024
	DefaultShutdownGrace     = 5 * time.Second
	DefaultMaxDeliveries     = 5
	DefaultHousekeeping      = time.Minute
	DefaultDeadConsumerIdle  = time.Hour
	DefaultConcurrency       = 16
)

// deadLetterMaxLen bounds each dead-letter stream (MAXLEN ~).
const deadLetterMaxLen = 10000

// Fixed by the wire protocol.
const (
	readCount  = 16 // XREADGROUP COUNT
	claimCount = 32 // XAUTOCLAIM COUNT
)

// ServerOptions configures a Server. Only KeyPrefix is required.
type ServerOptions struct {
	// KeyPrefix starts every key, used as given (it may contain '/' and
	// ':'). optio uses "<mongo database>/<prefix>". Required.
	KeyPrefix string
	// InstanceID names this server's consumer, <service>:<InstanceID>, in
	// each service's consumer group. Default: a random UUIDv4. Two servers
	// running at once must not share one.
	InstanceID string
	// ClaimIdle is how long an entry must sit unacknowledged in any
	// consumer's pending list before this server claims and reruns it.
	// Claiming is tried every max(1s, ClaimIdle/4). It should exceed the
	// longest handler run plus the longest wait for a turn (see
	// Service.OrderKey), or such runs are repeated by another server.
	// Default 60s; optio uses 10 minutes.
	ClaimIdle time.Duration
	// ReplyStreamMaxLen bounds each reply stream (MAXLEN ~). Default 1024.
	ReplyStreamMaxLen int64
	// ShutdownGrace is how long Stop waits for running handlers before it
	// cancels their contexts and abandons them. Default 5s; a negative
	// value abandons them at once.
	ShutdownGrace time.Duration
	// Concurrency is how many newly read entries of one service this
	// server holds at once: running, or waiting for their turn behind an
	// earlier call with the same key (see Service.OrderKey). The server
	// reads no more while that many are unfinished, leaving the stream to
	// other servers. Default DefaultConcurrency (16); 1 is the reference
	// behaviour, one entry at a time in stream order, whatever the keys.
	// Reclaimed entries run beside these, one at a time, as in the
	// reference, and in their key's order.
	Concurrency int
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// MaxDeliveries bounds how many times one entry is delivered. An entry
	// still unacknowledged after that many deliveries (its reply cannot be
	// written, say, because reply-to names a key of another type) is not
	// run again: it is acknowledged, logged, and copied to the service's
	// dead-letter stream (DeadLetterStream) for an operator. Default 5. The
	// reference servers redeliver such an entry forever.
	MaxDeliveries int64
	// HousekeepingInterval is how often the server trims each command
	// stream of the entries every consumer group has acknowledged and
	// removes the group's dead consumers (see DeadConsumerIdle). Default 1
	// minute; negative turns housekeeping off. The reference servers never
	// trim and never remove a consumer.
	HousekeepingInterval time.Duration
	// DeadConsumerIdle is how long a consumer of a service's group must
	// have been idle, with nothing pending, before housekeeping removes it
	// as gone. A live server reads at least every second, so it never
	// qualifies. Default 1 hour.
	DeadConsumerIdle time.Duration
}

type serverState int

const (
	stateNew serverState = iota
	stateRunning
	stateStopped
)

// Server serves registered services from their command streams. It is
// safe for concurrent use.
type Server struct {
	rdb  redis.UniversalClient
	opts ServerOptions
	log  *slog.Logger

	mu       sync.Mutex
	state    serverState
	services []*service

	runCtx   context.Context // ends when Stop begins: no more reading
	stopRun  context.CancelFunc
	hardCtx  context.Context // ends when the grace period is over
	stopHard context.CancelFunc
	loops    sync.WaitGroup
	handlers sync.WaitGroup
	running  atomic.Int64 // entries being handled
}

type service struct {
	name     string
	methods  map[string]Method
	order    func(method string, params json.RawMessage) string
	turns    *sequencer
	stream   string
	consumer string
	slots    chan struct{}
	reader   *blockingReader
	inflight sync.Map // entry id -> struct{}: read by this server, not yet finished
}

// NewServer returns a server that uses rdb, which it never closes.
func NewServer(rdb redis.UniversalClient, opts ServerOptions) (*Server, error) {
	if rdb == nil {
		return nil, errors.New("rpc: NewServer: nil redis client")
	}
	if opts.KeyPrefix == "" {
		return nil, errors.New("rpc: NewServer: KeyPrefix is required")
	}
	if opts.InstanceID == "" {
		opts.InstanceID = uuid.NewString()
	}
	if opts.ClaimIdle <= 0 {
		opts.ClaimIdle = DefaultClaimIdle
	}
	if opts.ReplyStreamMaxLen <= 0 {
		opts.ReplyStreamMaxLen = DefaultReplyStreamMaxLen
	}
	if opts.ShutdownGrace < 0 {
		opts.ShutdownGrace = 0
	} else if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxDeliveries <= 0 {
		opts.MaxDeliveries = DefaultMaxDeliveries
	}
	if opts.HousekeepingInterval == 0 {
		opts.HousekeepingInterval = DefaultHousekeeping
	}
	if opts.DeadConsumerIdle <= 0 {
		opts.DeadConsumerIdle = DefaultDeadConsumerIdle
	}
	return &Server{
		rdb:  rdb,
		opts: opts,
		log:  opts.Logger.With("instance", opts.InstanceID),
	}, nil
}

// InstanceID returns the id in this server's consumer names.
func (s *Server) InstanceID() string { return s.opts.InstanceID }

// Register adds a service. It must be called before Start; a service name
// can be registered once.
func (s *Server) Register(svc Service) error {
	if err := svc.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateNew {
		return fmt.Errorf("rpc: register %s: %w", svc.Name, ErrServerStarted)
	}
	for _, other := range s.services {
		if other.name == svc.Name {
			return fmt.Errorf("rpc: service %s registered twice", svc.Name)
		}
	}
	methods := make(map[string]Method, len(svc.Methods))
	for _, m := range svc.Methods {
		methods[m.Name] = m
	}
	s.services = append(s.services, &service{
		name:     svc.Name,
		methods:  methods,
		order:    svc.OrderKey,
		turns:    newSequencer(),
		stream:   CommandStream(s.opts.KeyPrefix, svc.Name),
		consumer: svc.Name + ":" + s.opts.InstanceID,
		slots:    make(chan struct{}, s.opts.Concurrency),
	})
	return nil
}

// Start creates each service's consumer group (if it does not exist yet)
// and starts serving; it does not block. A group created here only sees
// calls added after it: calls sent before any server ever started are never
// answered. Calling Start again does nothing; after Stop it fails.
//
// ctx bounds the group creation only; handlers get a context that keeps
// ctx's values and ends when Stop's grace period is over.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateRunning:
		return nil
	case stateStopped:
		return ErrServerStopped
	}
	for _, svc := range s.services {
		if err := s.createGroup(ctx, svc, "$"); err != nil {
			return fmt.Errorf("rpc: start service %s: %w", svc.name, err)
		}
	}
	for _, svc := range s.services {
		svc.reader = newBlockingReader(s.rdb)
	}
	base := context.WithoutCancel(ctx)
	s.runCtx, s.stopRun = context.WithCancel(base)
	s.hardCtx, s.stopHard = context.WithCancel(base)
	for _, svc := range s.services {
		s.loops.Add(2)
		go s.consume(svc)
		go s.reclaim(svc)
		if s.opts.HousekeepingInterval > 0 {
			s.loops.Add(1)
			go s.housekeep(svc)
		}
	}
	s.state = stateRunning
	s.log.Info("rpc: server started", "prefix", s.opts.KeyPrefix, "services", len(s.services))
	return nil
}

// Stop stops reading new calls, then waits for running handlers, and for
// the calls taken that wait for their turn behind them (see
// Service.OrderKey), until ShutdownGrace has passed or ctx ends, whichever
// is first. Handlers still running then have their contexts cancelled;
// whatever they return is neither answered nor acknowledged, so their
// entries stay pending and another server reclaims them after ClaimIdle.
// Calls whose turn has not come by then, and entries read but not yet
// taken for want of a free slot, are left pending too. The error reports
// the calls that did not finish. Stopping twice does nothing.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateRunning {
		s.state = stateStopped
		s.mu.Unlock()
		return nil
	}
	s.state = stateStopped
	s.mu.Unlock()

	s.stopRun()
	for _, svc := range s.services {
		svc.reader.close()
	}
	drained := make(chan struct{})
	go func() {
		s.loops.Wait()
		s.handlers.Wait()
		close(drained)
	}()
	grace := time.NewTimer(s.opts.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-drained:
		s.stopHard()
		s.log.Info("rpc: server stopped")
		return nil
	case <-grace.C:
	case <-ctx.Done():
	}
	n := s.running.Load()
	s.stopHard()
	s.log.Warn("rpc: server stopped with handlers still running; their entries stay pending", "handlers", n)
	return fmt.Errorf("rpc: stop: %d handler(s) still running after the grace period; their entries stay pending", n)
}

// createGroup runs XGROUP CREATE ... MKSTREAM; an existing group is fine.
func (s *Server) createGroup(ctx context.Context, svc *service, start string) error {
	err := s.rdb.XGroupCreateMkStream(ctx, svc.stream, svc.name, start).Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

// consume is the consumer loop of one service.
func (s *Server) consume(svc *service) {
	defer s.loops.Done()
	defer svc.reader.close()
	log := s.log.With("service", svc.name)
	retry := retrier{log: log, what: "reading " + svc.stream}
	for s.runCtx.Err() == nil {
		// While a call runs alone, whatever this server read now would wait
		// for it: other servers of the group take those calls meanwhile.
		if alone := svc.turns.pendingAlone(); alone != nil {
			select {
			case <-alone:
				continue
			case <-s.runCtx.Done():
				return
			}
		}
		// Holding a free slot before reading keeps this server from taking
		// entries off the stream that other servers could run sooner.
		if !s.acquire(svc) {
			return
		}
		msgs, err := s.read(svc)
		if err != nil {
			svc.release()
			if s.runCtx.Err() != nil {
				return
			}
			if isNoGroup(err) && s.recreateGroup(svc, log) {
				continue
			}
			if !retry.failed(s.runCtx, err) {
				return
			}
			continue
		}
		retry.succeeded()
		if len(msgs) == 0 {
			svc.release()
			continue
		}
		for _, m := range msgs {
			svc.inflight.Store(m.ID, struct{}{})
		}
		for i, m := range msgs {
			if i > 0 && !s.acquire(svc) {
				s.abandon(svc, msgs[i:])
				return
			}
			if s.runCtx.Err() != nil {
				svc.release()
				s.abandon(svc, msgs[i:])
				return
			}
			s.startEntry(svc, m, false, svc.release)
		}
	}
}

func (s *Server) read(svc *service) ([]redis.XMessage, error) {
	streams, err := svc.reader.cmdable().XReadGroup(s.runCtx, &redis.XReadGroupArgs{
		Group:    svc.name,
		Consumer: svc.consumer,
		Streams:  []string{svc.stream, ">"},
		Count:    readCount,
		Block:    blockDuration,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var msgs []redis.XMessage
	for _, st := range streams {
		msgs = append(msgs, st.Messages...)
	}
	return msgs, nil
}

// recreateGroup restores a consumer group that Redis lost, typically by
// restarting without persistence. It starts at the beginning of the stream
// rather than at "$": every entry in a stream that has lost its group was
// written after the loss, by clients still waiting for their replies.
func (s *Server) recreateGroup(svc *service, log *slog.Logger) bool {
	if err := s.createGroup(s.runCtx, svc, "0"); err != nil {
		log.Debug("rpc: recreating consumer group failed", "error", err)
		return false
	}
	log.Warn("rpc: consumer group was missing; recreated it", "stream", svc.stream)
	return true
}

func (s *Server) acquire(svc *service) bool {
	select {
	case svc.slots <- struct{}{}:
		return true
	case <-s.runCtx.Done():
		return false
	}
}

func (svc *service) release() { <-svc.slots }

// abandon forgets entries that were read but will not be started; they stay
// pending for XAUTOCLAIM.
func (s *Server) abandon(svc *service, msgs []redis.XMessage) {
	for _, m := range msgs {
		svc.inflight.Delete(m.ID)
	}
}

// reclaim is the reclaim loop of one service: it claims entries that have
// been pending longer than ClaimIdle, in any consumer, and handles them one
// at a time.
func (s *Server) reclaim(svc *service) {
	defer s.loops.Done()
	log := s.log.With("service", svc.name)
	retry := retrier{log: log, what: "claiming on " + svc.stream}
	interval := max(time.Second, s.opts.ClaimIdle/4)
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-s.runCtx.Done():
			return
		case <-timer.C:
		}
		if !s.reclaimOnce(svc, log, &retry) {
			return
		}
		timer.Reset(interval)
	}
}

// reclaimOnce runs one XAUTOCLAIM from the start of the pending list and
// handles what it claimed. It reports false when the server is stopping.
func (s *Server) reclaimOnce(svc *service, log *slog.Logger, retry *retrier) bool {
	msgs, _, err := s.rdb.XAutoClaim(s.runCtx, &redis.XAutoClaimArgs{
		Stream:   svc.stream,
		Group:    svc.name,
		Consumer: svc.consumer,
		MinIdle:  s.opts.ClaimIdle,
		Start:    "0-0",
		Count:    claimCount,
	}).Result()
	if err != nil {
		if s.runCtx.Err() != nil {
			return false
		}
		if !isNoGroup(err) { // the consumer loop recreates the group
			return retry.failed(s.runCtx, err)
		}
		return true
	}
	retry.succeeded()
	for _, m := range msgs {
		// An entry this server is still running (or has queued) was
		// claimed back to itself, which only resets its idle time.
		if _, busy := svc.inflight.LoadOrStore(m.ID, struct{}{}); busy {
			continue
		}
		if s.overDelivered(svc, m, log) {
			svc.inflight.Delete(m.ID)
			continue
		}
		log.Info("rpc: reclaimed pending entry", "entry", m.ID)
		select {
		case <-s.startEntry(svc, m, true, nil):
		case <-s.runCtx.Done():
			return false
		}
	}
	return true
}

// startEntry handles one entry on a goroutine of its own, once its turn
// has come (see Service.OrderKey); after runs when it is done. reclaimed
// says the entry came from the pending list rather than as new. Entries
// must be started in the order they were taken, which orders their turns.
func (s *Server) startEntry(svc *service, m redis.XMessage, reclaimed bool, after func()) <-chan struct{} {
	log := s.log.With("service", svc.name, "entry", m.ID)
	env, err := parseEntry(m)
	t := svc.turns.enter(svc.orderKey(env, log))
	done := make(chan struct{})
	s.handlers.Add(1)
	s.running.Add(1)
	go func() {
		defer close(done)
		defer s.handlers.Done()
		defer s.running.Add(-1)
		defer svc.inflight.Delete(m.ID)
		if after != nil {
			defer after()
		}
		defer svc.turns.leave(t)
		if !t.wait(s.hardCtx) {
			// Abandoned by Stop before its turn: left pending.
			return
		}
		s.handleEntry(svc, m, reclaimed, env, err, log)
	}()
	return done
}

// errNoEnvelope is parseEntry's error for an entry without an envelope.
var errNoEnvelope = errors.New("entry has no envelope")

// parseEntry parses an entry's envelope.
func parseEntry(m redis.XMessage) (*envelope, error) {
	text, _ := m.Values["envelope"].(string)
	if text == "" {
		return nil, errNoEnvelope
	}
	return parseEnvelope([]byte(text))
}

// handleEntry answers one entry, whose envelope parseEntry returned (env,
// parseErr), and acknowledges it; see the reference's handleEntry. The ack
// comes after the reply; if the reply cannot be written the entry stays
// pending and is retried through XAUTOCLAIM. A request whose id a server
// has recorded within the claim window is handled as seen says.
func (s *Server) handleEntry(svc *service, m redis.XMessage, reclaimed bool, env *envelope, parseErr error, log *slog.Logger) {
	ctx := s.hardCtx
	if errors.Is(parseErr, errNoEnvelope) {
		log.Warn("rpc: entry has no envelope; dropped")
		s.ack(ctx, svc, m.ID, log)
		return
	}
	if parseErr != nil {
		log.Warn("rpc: poison envelope; dropped", "error", parseErr)
		s.ack(ctx, svc, m.ID, log)
		return
	}
	replyTo, _ := m.Values["reply-to"].(string)
	var runKey string
	if env.kind == kindRequest {
		runKey = s.requestKey(svc, env.idKey())
		prior, fresh, err := s.claimRequest(ctx, runKey)
		if err != nil {
			log.Warn("rpc: cannot record the request id; entry left pending", "error", err)
			return
		}
		if !fresh {
			var ok bool
			if runKey, ok = s.answerSeen(ctx, svc, m, reclaimed, runKey, replyTo, prior, log); !ok {
				return
			}
		}
	}
	reply := s.dispatch(ctx, svc, env, log)
	if ctx.Err() != nil {
		// Abandoned by Stop: leave the entry for another server.
		return
	}
	sent := s.sendAndAck(ctx, svc, m.ID, replyTo, reply, log)
	if runKey != "" {
		s.recordAnswer(ctx, runKey, m, reply, sent, log)
	}
}

// answerSeen handles entry m, whose request id's record key holds prior.
// It reports whether the entry is still to be run, and the key to record
// its answer under ("" for none).
func (s *Server) answerSeen(ctx context.Context, svc *service, m redis.XMessage, reclaimed bool, key, replyTo, prior string, log *slog.Logger) (string, bool) {
	action, reply := seen(prior, m, reclaimed)
	switch action {
	case replay:
		log.Info("rpc: request already run and its reply not delivered; writing the recorded reply, not running it again")
		s.sendAndAck(ctx, svc, m.ID, replyTo, reply, log)
	case ackOnly:
		log.Info("rpc: request already answered; acknowledging it, not running it again")
		s.ack(ctx, svc, m.ID, log)
	case leavePending:
		log.Info("rpc: request id is being run by a server; entry left pending, to be run again if that run ends without an answer")
	case runBeside:
		return "", true
	case runAgain:
		if err := s.rdb.Set(ctx, key, requestRunning, s.runningTTL()).Err(); err != nil {
			log.Warn("rpc: cannot record the request id; entry left pending", "error", err)
			return "", false
		}
		return key, true
	}
	return "", false
}

// sendAndAck writes reply (if any) to replyTo (if any), then acknowledges
// the entry. If the reply cannot be written the entry stays pending, to be
// retried through XAUTOCLAIM up to MaxDeliveries times. It reports whether
// the reply (if any) was written.
func (s *Server) sendAndAck(ctx context.Context, svc *service, id, replyTo string, reply []byte, log *slog.Logger) bool {
	if reply != nil && replyTo != "" {
		err := s.rdb.XAdd(ctx, &redis.XAddArgs{
			Stream: replyTo,
			MaxLen: s.opts.ReplyStreamMaxLen,
			Approx: true,
			Values: []any{"type", "rpc", "envelope", string(reply)},
		}).Err()
		if err != nil {
			log.Error("rpc: writing reply failed; entry left pending", "reply_to", replyTo, "error", err)
			return false
		}
	}
	s.ack(ctx, svc, id, log)
	return true
}

func (s *Server) ack(ctx context.Context, svc *service, id string, log *slog.Logger) {
	if err := s.rdb.XAck(ctx, svc.stream, svc.name, id).Err(); err != nil {
		log.Error("rpc: ack failed; entry left pending", "error", err)
	}
}

// dispatch runs the method and returns the reply to send, or nil. A call
// whose service segment names another service than the stream's is a
// method this service does not have: -32601 (the reference servers ignore
// the segment and run the stream's method of that name).
func (s *Server) dispatch(ctx context.Context, svc *service, env *envelope, log *slog.Logger) []byte {
	if env.kind == kindSuccess || env.kind == kindError {
		log.Warn("rpc: response envelope on a command stream; dropped")
		return nil
	}
	log = log.With("method", env.service+"."+env.method)
	m, ok := svc.methods[env.method]
	if env.service != svc.name {
		// The reference servers run it as a method of the stream's service;
		// a call meant for another service must not run here.
		log.Warn("rpc: call for another service on this stream", "stream_service", svc.name)
		ok = false
	}
	if !ok {
		if env.kind == kindNotification {
			log.Warn("rpc: notification for unknown method; dropped")
			return nil
		}
		return s.errorReply(env.id, &Error{Code: CodeMethodNotFound, Message: msgMethodNotFound}, log)
	}
	result, err := callHandler(ctx, m.Handler, env.params)
	if err != nil {
		var rpcErr *Error
		if errors.As(err, &rpcErr) && rpcErr != nil {
			log.Debug("rpc: handler returned an rpc error", "code", rpcErr.Code, "message", rpcErr.Message)
		} else {
			var p *panicError
			if errors.As(err, &p) {
				log.Error("rpc: handler panicked", "panic", p.value, "stack", string(p.stack))
			} else {
				log.Error("rpc: handler failed", "error", err)
			}
			rpcErr = internalError(err)
		}
		if env.kind == kindNotification {
			return nil
		}
		return s.errorReply(env.id, rpcErr, log)
	}
	if env.kind == kindNotification || m.Kind == Notification {
		return nil
	}
	reply, err := encodeSuccess(env.id, result)
	if err != nil {
		log.Error("rpc: handler result cannot be encoded", "error", err)
		return s.errorReply(env.id, &Error{
			Code:    CodeInternalError,
			Message: msgResultValidation,
			Data: errorsData([]FieldError{{
				Type: "value_error", Loc: []any{}, Msg: "Value error, " + err.Error(), Input: nil,
			}}),
		}, log)
	}
	return reply
}

func (s *Server) errorReply(id json.RawMessage, e *Error, log *slog.Logger) []byte {
	reply, err := encodeError(id, e)
	if err != nil {
		// The handler's error data cannot be encoded; the caller still gets
		// an answer instead of a redelivery loop.
		log.Error("rpc: error data cannot be encoded", "code", e.Code, "error", err)
		reply, _ = encodeError(id, internalError(fmt.Errorf("error data of %d %q cannot be encoded: %w", e.Code, e.Message, err)))
	}
	return reply
}

// callHandler runs h, turning a panic into an error.
func callHandler(ctx context.Context, h HandlerFunc, params json.RawMessage) (result any, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: debug.Stack()}
		}
	}()
	return h(ctx, params)
}
