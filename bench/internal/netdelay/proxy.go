// Package netdelay puts a network's round trip between two processes that
// talk over the loopback: a TCP proxy that holds every chunk it forwards
// for half a given round-trip time, in each direction, so that one request
// and its response cost that round trip more than they would directly.
//
// The bench uses it to measure what overlapping calls gains when each call
// waits on the network, as it does when Redis and Mongo run on other hosts:
// over a bare loopback a call only computes, and on a small machine running
// calls side by side gains little more than the cores it has.
//
//	p, err := netdelay.Start("127.0.0.1:6379", time.Millisecond)
//	if err != nil { ... }
//	defer p.Close()
//	rdb := redis.NewClient(&redis.Options{Addr: p.Addr()})
//
// What the proxy holds is a chunk as one read returned it; it keeps their
// order on each connection and writes each no sooner than its hold is over,
// and each connection has its own goroutines, so a slow one holds up no
// other. A hold is a timer, so on an idle Linux host a hold under a
// millisecond tends to last about a millisecond (the Go runtime sleeps in
// whole milliseconds when it has nothing else to do); [Proxy.Stats] says
// how long chunks were actually held.
package netdelay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// chunkSize is the most one read takes from a connection.
	chunkSize = 32 << 10
	// queued is how many chunks a direction holds before it stops reading
	// (back-pressure on the sender, as a full network buffer would be).
	queued = 256
	// dialTimeout bounds the connection to the target.
	dialTimeout = 10 * time.Second
)

// Proxy accepts TCP connections on a loopback port and forwards each to its
// target, holding every chunk for half its round-trip time each way. Close
// it when done.
type Proxy struct {
	target string
	rtt    time.Duration
	ln     net.Listener

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted, chunks, bytes, heldNanos atomic.Int64
}

// Stats says what a Proxy forwarded and how long it held it.
type Stats struct {
	// Conns is how many connections it has accepted.
	Conns int64
	// Chunks and Bytes count what it forwarded, both directions together.
	Chunks, Bytes int64
	// Held is the time from each chunk's read to the end of its write,
	// summed over the chunks: per chunk, half the round trip asked for plus
	// the timer's lateness and the write.
	Held time.Duration
	// MeanHold is Held per chunk.
	MeanHold time.Duration
}

// Start listens on 127.0.0.1 (a free port) and forwards each connection to
// target ("host:port"). rtt is the round trip added: each direction holds
// a chunk rtt/2. A zero rtt forwards at once.
func Start(target string, rtt time.Duration) (*Proxy, error) {
	if rtt < 0 {
		return nil, fmt.Errorf("netdelay: negative round trip %v", rtt)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netdelay: listen: %w", err)
	}
	p := &Proxy{target: target, rtt: rtt, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the "host:port" clients dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the "host:port" the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// RTT is the round trip the proxy adds.
func (p *Proxy) RTT() time.Duration { return p.rtt }

// Stats returns what the proxy has forwarded so far.
func (p *Proxy) Stats() Stats {
	s := Stats{Conns: p.accepted.Load(), Chunks: p.chunks.Load(), Bytes: p.bytes.Load(), Held: time.Duration(p.heldNanos.Load())}
	if s.Chunks > 0 {
		s.MeanHold = s.Held / time.Duration(s.Chunks)
	}
	return s
}

// Close stops accepting, closes every connection in both directions and
// waits for the proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.serve(c)
	}
}

// track records c so that Close can close it; false once closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// serve forwards one client connection to a connection of its own to the
// target, both ways, until both directions end.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		_ = client.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	server, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil || !p.track(server) {
		if server != nil {
			_ = server.Close()
		}
		_ = client.Close()
		return
	}
	var both sync.WaitGroup
	both.Go(func() { p.pipe(client, server) })
	both.Go(func() { p.pipe(server, client) })
	both.Wait()
	_ = client.Close()
	_ = server.Close()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// chunk is what one read returned and when it may be written.
type chunk struct {
	data     []byte
	read, at time.Time
}

// pipe forwards src to dst, each chunk rtt/2 after its read, in order. When
// src ends it half-closes dst, so the other direction carries on; when a
// write fails it closes both, which ends the other direction too.
func (p *Proxy) pipe(src, dst net.Conn) {
	hold := p.rtt / 2
	q := make(chan chunk, queued)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			if n > 0 {
				now := time.Now()
				q <- chunk{data: buf[:n], read: now, at: now.Add(hold)}
			}
			if err != nil {
				return
			}
		}
	}()
	var failed bool
	for c := range q {
		if failed {
			continue // drain, so the reader is not stuck on a full queue
		}
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(c.data); err != nil {
			failed = true
			_ = src.Close()
			_ = dst.Close()
			continue
		}
		p.chunks.Add(1)
		p.bytes.Add(int64(len(c.data)))
		p.heldNanos.Add(int64(time.Since(c.read)))
	}
	if failed {
		return
	}
	if tc, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
		return
	}
	_ = dst.Close()
}

// Dialer dials every address through a Proxy of its own, started on first
// use, for a client that learns its servers' addresses as it goes (the
// Mongo driver, from a replica set's members): every connection it makes
// is delayed, not only those to the address it was given. Its DialContext
// fits the Mongo driver's options.ContextDialer. Close it when done.
type Dialer struct {
	rtt     time.Duration
	mu      sync.Mutex
	proxies map[string]*Proxy
	closed  bool
}

// NewDialer returns a Dialer that adds rtt to every connection's round trip.
func NewDialer(rtt time.Duration) *Dialer {
	return &Dialer{rtt: rtt, proxies: map[string]*Proxy{}}
}

// errClosed is what a closed Dialer answers.
var errClosed = errors.New("netdelay: dialer closed")

// DialContext connects to address through its proxy.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, fmt.Errorf("netdelay: cannot delay %s connections", network)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errClosed
	}
	p, ok := d.proxies[address]
	if !ok {
		var err error
		if p, err = Start(address, d.rtt); err != nil {
			d.mu.Unlock()
			return nil, err
		}
		d.proxies[address] = p
	}
	d.mu.Unlock()
	return (&net.Dialer{}).DialContext(ctx, "tcp", p.Addr())
}

// Stats sums the Stats of the Dialer's proxies.
func (d *Dialer) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	var s Stats
	for _, p := range d.proxies {
		s.Conns += p.accepted.Load()
		s.Chunks += p.chunks.Load()
		s.Bytes += p.bytes.Load()
		s.Held += time.Duration(p.heldNanos.Load())
	}
	if s.Chunks > 0 {
		s.MeanHold = s.Held / time.Duration(s.Chunks)
	}
	return s
}

// Close closes every proxy the Dialer started.
func (d *Dialer) Close() error {
	d.mu.Lock()
	d.closed = true
	ps := d.proxies
	d.proxies = map[string]*Proxy{}
	d.mu.Unlock()
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}
