// Package temporalconn connects a Temporal client to a secured frontend:
// TLS against a private CA, mutual TLS with a client certificate, or a
// Temporal Cloud API key. It fills the SDK's client.Options from a few
// file names and a key, the settings the `temporal` CLI takes as
// --tls-ca-path, --tls-cert-path, --tls-key-path, --tls-server-name and
// --api-key, and its Dial turns a failed handshake or refused credentials
// into one typed error at start rather than a stream of retries later.
// Dial also adds EscapeResourceIDs, which lets processIds outside
// printable ASCII through the SDK's gRPC headers, and RetryClosingUpdates,
// which resends at once an update that met a run continuing as new.
//
// An engine takes the client it returns:
//
//	tc, err := temporalconn.Dial(ctx, client.Options{
//		HostPort:  "my-ns.a1b2c.tmprl.cloud:7233",
//		Namespace: "my-ns.a1b2c",
//	}, temporalconn.Config{APIKey: os.Getenv("TEMPORAL_API_KEY")})
//	if err != nil {
//		return err // e.g. connect to Temporal at ...: the server refused the credentials: ...
//	}
//	defer tc.Close()
//	eng, err := adapter.New(ctx, adapter.Config{Temporal: tc, ...})
package temporalconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/optio-temporal/optio/internal/tlsprobe"
)

// DefaultDialTimeout bounds Dial when its context has no deadline.
const DefaultDialTimeout = 10 * time.Second

// Config says how to secure the connection. The zero Config is plaintext.
type Config struct {
	// TLS turns TLS on, verifying the server against the system's roots.
	// Any other field turns it on too.
	TLS bool
	// CAFile is a PEM file of the CA certificates that the server's
	// certificate must chain to. Default: the system's roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and key presented
	// for mutual TLS; both or neither.
	CertFile, KeyFile string
	// ServerName is the name the server's certificate must carry, when it
	// differs from the host of client.Options.HostPort (connecting by IP
	// address, or through a proxy).
	ServerName string
	// APIKey is sent on every call as "Authorization: Bearer <key>", as
	// Temporal Cloud expects (client.NewAPIKeyStaticCredentials).
	APIKey string
}

// Enabled reports whether c asks for TLS.
func (c Config) Enabled() bool {
	return c.TLS || c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != "" || c.APIKey != ""
}

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalidConfig: a file is missing or holds no certificate, a
	// certificate comes without its key, or the options already carry
	// what Config would set.
	ErrInvalidConfig = errors.New("invalid Temporal connection settings")
	// ErrTLS: the TLS handshake failed (a server certificate the CA does
	// not vouch for, a wrong server name, a client certificate missing or
	// refused, a plaintext server).
	ErrTLS = errors.New("the TLS handshake failed")
	// ErrCredentials: the server refused the API key or the client
	// certificate's identity.
	ErrCredentials = errors.New("the server refused the credentials")
	// ErrUnreachable: the server did not answer.
	ErrUnreachable = errors.New("the server did not answer")
)

// DialError is why Dial could not connect. It matches its Kind with
// errors.Is (ErrTLS, ErrCredentials or ErrUnreachable) and unwraps to the
// SDK's error.
type DialError struct {
	HostPort string
	Kind     error
	Err      error
}

// Error names the frontend, the kind of failure and its detail.
func (e *DialError) Error() string {
	return fmt.Sprintf("connect to Temporal at %s: %v: %s", e.HostPort, e.Kind, detail(e.Err))
}

// Unwrap returns Kind and Err.
func (e *DialError) Unwrap() []error { return []error{e.Kind, e.Err} }

// Apply sets opts.ConnectionOptions.TLS and, with an APIKey,
// opts.Credentials. A plaintext Config leaves opts as it is. Files are read
// now: a bad one is an ErrInvalidConfig naming it.
func (c Config) Apply(opts *client.Options) error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return fmt.Errorf("%w: a client certificate needs both a certificate file and a key file (got certificate %q, key %q)", ErrInvalidConfig, c.CertFile, c.KeyFile)
	}
	if !c.Enabled() {
		return nil
	}
	if opts.ConnectionOptions.TLS != nil || opts.ConnectionOptions.TLSDisabled {
		return fmt.Errorf("%w: client.Options.ConnectionOptions already sets TLS", ErrInvalidConfig)
	}
	if c.APIKey != "" && opts.Credentials != nil {
		return fmt.Errorf("%w: client.Options.Credentials is already set", ErrInvalidConfig)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return fmt.Errorf("%w: TLS CA file: %v", ErrInvalidConfig, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%w: TLS CA file %s holds no PEM certificate", ErrInvalidConfig, c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return fmt.Errorf("%w: TLS client certificate %s with key %s: %v", ErrInvalidConfig, c.CertFile, c.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	opts.ConnectionOptions.TLS = tc
	if c.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(c.APIKey)
	}
	return nil
}

// Dial applies c to opts, adds RetryClosingUpdates and EscapeResourceIDs,
// and connects, asking the server for its system info as
// client.DialContext does. It returns an ErrInvalidConfig error or a
// *DialError; it gives up after DefaultDialTimeout unless ctx ends first.
func Dial(ctx context.Context, opts client.Options, c Config) (client.Client, error) {
	if err := c.Apply(&opts); err != nil {
		return nil, err
	}
	// RetryClosingUpdates first, so that the caller's interceptors see each
	// update it sends again.
	opts.ConnectionOptions.DialOptions = slices.Concat([]grpc.DialOption{RetryClosingUpdates()}, opts.ConnectionOptions.DialOptions, []grpc.DialOption{EscapeResourceIDs()})
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultDialTimeout)
		defer cancel()
	}
	hostPort := opts.HostPort
	if hostPort == "" {
		hostPort = client.DefaultHostPort
	}
	tc, err := client.DialContext(ctx, opts)
	if err == nil {
		return tc, nil
	}
	kind := Classify(err)
	if kind == ErrUnreachable {
		if perr := explainTLS(ctx, hostPort, opts.ConnectionOptions.TLS); perr != nil {
			kind, err = ErrTLS, &probeError{probe: perr, dial: err}
		}
	}
	return nil, &DialError{HostPort: hostPort, Kind: kind, Err: err}
}

// explainTLS looks for a TLS reason behind a dial that failed for no reason
// gRPC could tell.
func explainTLS(ctx context.Context, hostPort string, tc *tls.Config) error {
	if tc != nil {
		tc = tc.Clone()
		tc.NextProtos = []string{"h2"}
	}
	err := tlsprobe.Explain(ctx, hostPort, tc)
	if errors.Is(err, tlsprobe.ErrServerSpeaksTLS) {
		return fmt.Errorf("%w: configure TLS", err)
	}
	return err
}

// probeError is a dial failure that explainTLS explained.
type probeError struct{ probe, dial error }

func (e *probeError) Error() string   { return e.probe.Error() + " (" + e.dial.Error() + ")" }
func (e *probeError) Unwrap() []error { return []error{e.probe, e.dial} }

// Classify names the cause of an error from a Temporal call: ErrTLS,
// ErrCredentials, or else ErrUnreachable.
func Classify(err error) error {
	if st := grpcStatus(err); st != nil && (st.Code() == codes.Unauthenticated || st.Code() == codes.PermissionDenied) {
		return ErrCredentials
	}
	if tlsprobe.IsFailure(err.Error()) {
		return ErrTLS
	}
	return ErrUnreachable
}

// grpcStatus is the gRPC status in err's chain, as the SDK's service errors
// or gRPC carry it; nil when there is none.
func grpcStatus(err error) *status.Status {
	var se serviceerror.ServiceError
	if errors.As(err, &se) {
		return se.Status()
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return st
	}
	return nil
}

// detail is err's own message: the SDK and gRPC wrap a handshake error in
// prefixes that say nothing more.
func detail(err error) string {
	var pe *probeError
	if errors.As(err, &pe) {
		return pe.probe.Error()
	}
	msg := err.Error()
	if st := grpcStatus(err); st != nil && st.Message() != "" {
		msg = st.Message()
	}
	msg = strings.TrimPrefix(msg, "failed reaching server: ")
	msg = strings.TrimPrefix(msg, "connection error: desc = ")
	msg = strings.Trim(msg, `"`)
	msg = strings.TrimPrefix(msg, "transport: authentication handshake failed: ")
	return strings.TrimPrefix(msg, "error reading server preface: ")
}
