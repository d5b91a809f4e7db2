// Package tlsprobe explains a connection that failed for a TLS reason the
// client library reported only as a broken connection: a server that speaks
// TLS to a plaintext client, or (in TLS 1.3, where the server checks the
// client's certificate after the client considers the handshake done) a
// client certificate the server refused.
package tlsprobe

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"time"
)

// Timeout bounds a probe when ctx allows longer.
const Timeout = 2 * time.Second

// ErrServerSpeaksTLS is Explain's answer for a plaintext client of a TLS
// server.
var ErrServerSpeaksTLS = errors.New("the server speaks TLS and this client does not")

// IsFailure reports whether msg, an error's text, tells of a TLS failure:
// Go's crypto/tls and crypto/x509 prefix their errors so.
func IsFailure(msg string) bool {
	return strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:") ||
		strings.Contains(msg, "authentication handshake failed")
}

// Explain connects to addr again to find a TLS reason for a failure. With
// cfg, it shakes hands and waits up to Timeout for the server's verdict on
// the client's certificate; without cfg (a plaintext client), it checks
// whether the server speaks TLS, and sends nothing over that connection.
// It returns the TLS failure, or nil when it saw none.
func Explain(ctx context.Context, addr string, cfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if cfg == nil {
		conn, err := (&tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil
		}
		_ = conn.Close()
		return ErrServerSpeaksTLS
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil
		}
		cfg.ServerName = host
	}
	conn, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
	if err != nil {
		if IsFailure(err.Error()) {
			return err
		}
		return nil
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	if _, err := conn.Read(make([]byte, 1)); err != nil && IsFailure(err.Error()) {
		return err
	}
	return nil
}
