package netdelay

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hangGuard bounds each wait of these tests, so that a proxy that blocks
// fails them instead of hanging them; it is no timing claim.
const hangGuard = 30 * time.Second

// startEcho starts a TCP server that writes back what it reads on each
// connection and half-closes when the client does. Its cleanup closes the
// connections still open.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range open {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(open, c)
					mu.Unlock()
					_ = c.Close()
				}()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			})
		}
	})
	return ln.Addr().String()
}

func startProxy(t *testing.T, target string, rtt time.Duration) *Proxy {
	t.Helper()
	p, err := Start(target, rtt)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, hangGuard)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(hangGuard)))
	return c
}

// roundTrip writes msg and reads it back, and returns how long that took.
func roundTrip(t *testing.T, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	start := time.Now()
	_, err := c.Write(msg)
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	d := time.Since(start)
	require.Equal(t, msg, got)
	return d
}

func TestRoundTripCostsAtLeastTheRTT(t *testing.T) {
	echo := startEcho(t)
	for _, rtt := range []time.Duration{0, 2 * time.Millisecond, 40 * time.Millisecond} {
		t.Run(rtt.String(), func(t *testing.T) {
			p := startProxy(t, echo, rtt)
			require.Equal(t, rtt, p.RTT())
			c := dial(t, p.Addr())
			for i := range 5 {
				d := roundTrip(t, c, fmt.Appendf(nil, "ping %d", i))
				require.GreaterOrEqual(t, d, rtt, "round trip %d", i)
			}
			// The proxy counts a chunk once written, maybe after it was read.
			require.Eventually(t, func() bool { return p.Stats().Chunks == 10 }, hangGuard, 10*time.Millisecond,
				"5 requests and 5 answers, one chunk each")
			st := p.Stats()
			require.EqualValues(t, 1, st.Conns)
			require.GreaterOrEqual(t, st.MeanHold, rtt/2)
		})
	}
}

// A stream larger than a chunk and than the queue comes back byte for byte
// in order, written in pieces while it is read.
func TestOrderIsKept(t *testing.T) {
	p := startProxy(t, startEcho(t), time.Millisecond)
	c := dial(t, p.Addr())
	want := make([]byte, 4<<20)
	_, _ = rand.Read(want)
	written := make(chan error, 1)
	go func() {
		for off := 0; off < len(want); off += 1000 {
			if _, err := c.Write(want[off:min(off+1000, len(want))]); err != nil {
				written <- err
				return
			}
		}
		written <- c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.NoError(t, <-written)
	require.True(t, bytes.Equal(want, got), "got %d bytes back of %d, not the same", len(got), len(want))
	require.Eventually(t, func() bool { return p.Stats().Bytes == int64(len(want)*2) }, hangGuard, 10*time.Millisecond)
}

// Many connections at once each get their own bytes back, each round trip
// costing at least the RTT.
func TestManyConnectionsAtOnce(t *testing.T) {
	const conns, trips, rtt = 64, 5, 10 * time.Millisecond
	p := startProxy(t, startEcho(t), rtt)
	var wg sync.WaitGroup
	errs := make(chan error, conns*trips)
	for i := range conns {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", p.Addr(), hangGuard)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(hangGuard))
			for j := range trips {
				msg := fmt.Appendf(nil, "conn %d trip %d", i, j)
				start := time.Now()
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil {
					errs <- err
					return
				}
				if d := time.Since(start); d < rtt {
					errs <- fmt.Errorf("conn %d trip %d: round trip %v, under the RTT %v", i, j, d, rtt)
				}
				if !bytes.Equal(msg, got) {
					errs <- fmt.Errorf("conn %d trip %d: sent %q, got %q", i, j, msg, got)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.EqualValues(t, conns, p.Stats().Conns)
}

// A connection whose client stops reading fills the proxy's queues and
// stalls, and the proxy's other connections to the same target carry on.
func TestStalledConnectionBlocksNoOther(t *testing.T) {
	p := startProxy(t, startEcho(t), time.Millisecond)
	stalled := dial(t, p.Addr())
	const pieces = 256
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		buf := make([]byte, 1<<20)
		for range pieces { // far more than the socket buffers and queues hold
			if _, err := stalled.Write(buf); err != nil {
				return
			}
		}
	}()
	// Wait for the flow to stop: the echo is blocked on its answers, which
	// nobody reads, and the proxy's queues are full.
	last := int64(-1)
	require.Eventually(t, func() bool {
		b := p.Stats().Bytes
		done := b > 0 && b == last
		last = b
		return done
	}, hangGuard, 300*time.Millisecond)

	c := dial(t, p.Addr())
	for i := range 5 {
		roundTrip(t, c, fmt.Appendf(nil, "still here %d", i))
	}
	select {
	case <-pushed:
		t.Fatalf("the proxy took %d MB that nobody read: it did not stall", pieces)
	default:
	}
}

func TestNegativeRTT(t *testing.T) {
	_, err := Start("127.0.0.1:1", -time.Millisecond)
	require.Error(t, err)
}

// The Dialer routes each address through a proxy of its own.
func TestDialer(t *testing.T) {
	const rtt = 20 * time.Millisecond
	a, b := startEcho(t), startEcho(t)
	d := NewDialer(rtt)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	for _, addr := range []string{a, b, a} {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		c, err := d.DialContext(ctx, "tcp", addr)
		cancel()
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(hangGuard)))
		require.GreaterOrEqual(t, roundTrip(t, c, []byte("hello")), rtt)
	}
	require.Len(t, d.proxies, 2)
	require.Eventually(t, func() bool { return d.Stats().Chunks == 6 }, hangGuard, 10*time.Millisecond)
	require.EqualValues(t, 3, d.Stats().Conns)
	require.GreaterOrEqual(t, d.Stats().MeanHold, rtt/2)
	_, err := d.DialContext(context.Background(), "unix", "/tmp/x")
	require.Error(t, err)
}

// Closing the proxy ends the connections it carries.
func TestCloseEndsConnections(t *testing.T) {
	p, err := Start(startEcho(t), time.Millisecond)
	require.NoError(t, err)
	c := dial(t, p.Addr())
	roundTrip(t, c, []byte("before"))
	require.NoError(t, p.Close())
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
}
