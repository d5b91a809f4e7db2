package rpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/optio-temporal/optio/internal/tick"
)

// DeadLetterStream returns the stream where a server puts the entries of a
// service it gave up on after ServerOptions.MaxDeliveries deliveries:
// <keyPrefix>:dead:<service>. Each entry there has the fields entry (the
// command entry's id), deliveries, and the original type, envelope and
// reply-to. The stream is capped at about 10,000 entries.
func DeadLetterStream(keyPrefix, service string) string {
	return keyPrefix + ":dead:" + service
}

// RequestKey returns the key a server keeps for a request id of a service,
// <keyPrefix>:request:<service>:<id>, so that a redelivered entry is not run
// twice: "running" while a server runs it, then "done:" for the claim window
// once its reply is written, or "done:", a digest of its envelope and the
// reply when the reply could not be written, for as long as the entry may be
// redelivered. A new entry that reuses an id is a new call and is run, as
// clamator runs it, unless it repeats, byte for byte, a request whose reply
// could not be written: that one gets the recorded reply. An id longer than
// 128 bytes is replaced by its SHA-256 in hex.
func RequestKey(keyPrefix, service, id string) string {
	if len(id) > 128 {
		sum := sha256.Sum256([]byte(id))
		id = hex.EncodeToString(sum[:])
	}
	return keyPrefix + ":request:" + service + ":" + id
}

const (
	requestRunning = "running"
	requestDone    = "done:"
	// digestLen is the length of the envelope digest recorded with an
	// unsent reply, in hex digits.
	digestLen = 16
)

func (s *Server) requestKey(svc *service, id string) string {
	return RequestKey(s.opts.KeyPrefix, svc.name, id)
}

// runningTTL is how long a request id stays marked as running. It ends
// before the entry can be reclaimed (ClaimIdle after its delivery), so that
// a call whose server died mid-run is run again by the server that claims
// it, as before.
func (s *Server) runningTTL() time.Duration { return s.opts.ClaimIdle * 9 / 10 }

// claimWindow is how long after its delivery an entry can be reclaimed:
// ClaimIdle, plus up to one interval of the reclaim loop.
func (s *Server) claimWindow() time.Duration {
	return s.opts.ClaimIdle + max(time.Second, s.opts.ClaimIdle/4)
}

// unsentTTL is how long the reply of a request whose reply could not be
// written is kept: until its entry has used up its deliveries, so that each
// redelivery writes the reply again instead of running the request.
func (s *Server) unsentTTL() time.Duration {
	return time.Duration(s.opts.MaxDeliveries+1) * s.claimWindow()
}

// claimRequest marks the request id key as running. fresh is false when
// the key was already there, and prior is then its value.
func (s *Server) claimRequest(ctx context.Context, key string) (prior string, fresh bool, err error) {
	ok, err := s.rdb.SetNX(ctx, key, requestRunning, s.runningTTL()).Result()
	if err != nil || ok {
		return "", ok, err
	}
	prior, err = s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		// Expired between the two calls: the id is free again.
		return s.claimRequest(ctx, key)
	}
	return prior, false, err
}

// envelopeDigest identifies an entry's envelope in a recorded reply.
func envelopeDigest(m redis.XMessage) string {
	text, _ := m.Values["envelope"].(string)
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])[:digestLen]
}

// recordAnswer marks a request id as run for the claim window. A reply
// that could not be written is kept with it, longer (see unsentTTL), after
// the digest of the envelope it answers; one that was written is not (the
// caller has it), which keeps the keys small.
func (s *Server) recordAnswer(ctx context.Context, key string, m redis.XMessage, reply []byte, sent bool, log *slog.Logger) {
	value, ttl := requestDone, s.claimWindow()
	if !sent {
		value, ttl = requestDone+envelopeDigest(m)+string(reply), s.unsentTTL()
	}
	if err := s.rdb.Set(ctx, key, value, ttl).Err(); err != nil {
		log.Warn("rpc: cannot record the reply of a request; a redelivery would run it again", "error", err)
	}
}

// seenAction is what a server does with an entry whose request id it has
// seen within the claim window.
type seenAction int

const (
	// runAgain runs the entry and records it under the id: a new call
	// that reuses the id of one that has ended.
	runAgain seenAction = iota
	// runBeside runs the entry and leaves the id's record to the call in
	// flight: a new call that reuses the id of one still running.
	runBeside
	// replay writes the recorded reply again, without running.
	replay
	// ackOnly acknowledges the entry: it was answered, and only its
	// acknowledgement was lost.
	ackOnly
	// leavePending leaves the entry pending: a server still runs it, or
	// died running it, and a later claim, once the record has expired,
	// runs it again.
	leavePending
)

// seen decides what to do with entry m of request id's prior record;
// reclaimed says whether m came from the pending list (a redelivery) or
// was read as new. It returns the recorded reply for replay.
func seen(prior string, m redis.XMessage, reclaimed bool) (seenAction, []byte) {
	rest, done := strings.CutPrefix(prior, requestDone)
	switch {
	case !done: // running
		if reclaimed {
			return leavePending, nil
		}
		return runBeside, nil
	case rest == "": // answered
		if reclaimed {
			return ackOnly, nil
		}
		return runAgain, nil
	}
	digest, reply := recordedReply(rest)
	if digest == "" || digest == envelopeDigest(m) {
		return replay, reply
	}
	if reclaimed {
		return runBeside, nil
	}
	return runAgain, nil
}

// recordedReply splits an unsent reply's record into the digest of the
// envelope it answers and the reply; a record without a digest (from a
// server before digests) gives "".
func recordedReply(rest string) (digest string, reply []byte) {
	if len(rest) > digestLen && rest[digestLen] == '{' {
		if _, err := hex.DecodeString(rest[:digestLen]); err == nil {
			return rest[:digestLen], []byte(rest[digestLen:])
		}
	}
	return "", []byte(rest)
}

// overDelivered reports whether a reclaimed entry has been delivered more
// than MaxDeliveries times; such an entry is copied to the dead-letter
// stream and acknowledged instead of run. A failure to tell leaves the
// entry to be run (and counted) as before.
func (s *Server) overDelivered(svc *service, m redis.XMessage, log *slog.Logger) bool {
	ctx := s.runCtx
	pend, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: svc.stream, Group: svc.name, Start: m.ID, End: m.ID, Count: 1,
	}).Result()
	if err != nil || len(pend) == 0 || pend[0].RetryCount <= s.opts.MaxDeliveries {
		return false
	}
	n := pend[0].RetryCount
	values := []any{"entry", m.ID, "deliveries", strconv.FormatInt(n-1, 10)}
	for _, k := range []string{"type", "envelope", "reply-to"} {
		if v, ok := m.Values[k].(string); ok {
			values = append(values, k, v)
		}
	}
	dead := DeadLetterStream(s.opts.KeyPrefix, svc.name)
	if err := s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: dead, MaxLen: deadLetterMaxLen, Approx: true, Values: values,
	}).Err(); err != nil {
		log.Error("rpc: cannot move an over-delivered entry to the dead-letter stream; left pending", "entry", m.ID, "error", err)
		return true
	}
	s.ack(ctx, svc, m.ID, log)
	log.Error("rpc: entry delivered too often without being acknowledged; moved to the dead-letter stream, not run again",
		"entry", m.ID, "deliveries", n-1, "dead_letter_stream", dead, "reply_to", m.Values["reply-to"])
	return true
}

// housekeep is the housekeeping loop of one service.
func (s *Server) housekeep(svc *service) {
	defer s.loops.Done()
	log := s.log.With("service", svc.name)
	tick.Every(s.runCtx, s.opts.HousekeepingInterval, func() {
		if err := s.housekeepOnce(s.runCtx, svc, log); err != nil && s.runCtx.Err() == nil {
			log.Debug("rpc: housekeeping failed; trying again later", "stream", svc.stream, "error", err)
		}
	})
}

// housekeepOnce trims the command stream up to the oldest entry some group
// still needs (its oldest pending entry, or else its last delivered one)
// and removes the consumers of this service's group that have been idle for
// DeadConsumerIdle with nothing pending.
func (s *Server) housekeepOnce(ctx context.Context, svc *service, log *slog.Logger) error {
	groups, err := s.rdb.XInfoGroups(ctx, svc.stream).Result()
	if err != nil {
		return err
	}
	keep := ""
	for _, g := range groups {
		bound := g.LastDeliveredID
		if g.Pending > 0 {
			p, err := s.rdb.XPending(ctx, svc.stream, g.Name).Result()
			if err != nil {
				return err
			}
			if p.Count > 0 && p.Lower != "" {
				bound = p.Lower
			}
		}
		if keep == "" || idBefore(bound, keep) {
			keep = bound
		}
	}
	if keep != "" && keep != "0-0" {
		n, err := s.rdb.XTrimMinID(ctx, svc.stream, keep).Result()
		if err != nil {
			return err
		}
		if n > 0 {
			log.Debug("rpc: trimmed acknowledged entries", "stream", svc.stream, "removed", n)
		}
	}
	consumers, err := s.rdb.XInfoConsumers(ctx, svc.stream, svc.name).Result()
	if err != nil {
		return err
	}
	for _, c := range consumers {
		if c.Name == svc.consumer || c.Pending > 0 || c.Idle < s.opts.DeadConsumerIdle {
			continue
		}
		if err := s.rdb.XGroupDelConsumer(ctx, svc.stream, svc.name, c.Name).Err(); err != nil {
			return err
		}
		log.Info("rpc: removed a dead consumer", "stream", svc.stream, "consumer", c.Name, "idle", c.Idle.Round(time.Second))
	}
	return nil
}

// idBefore reports whether stream entry id a comes before b.
func idBefore(a, b string) bool {
	am, as := splitID(a)
	bm, bs := splitID(b)
	if am != bm {
		return am < bm
	}
	return as < bs
}

func splitID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	q, _ := strconv.ParseUint(seq, 10, 64)
	return m, q
}
