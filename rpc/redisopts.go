package rpc

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/optio-temporal/optio/internal/tlsprobe"
)

// RedisTLS secures a rediss:// connection beyond what its URL says.
type RedisTLS struct {
	// CAFile is a PEM file of the CA certificates the server's certificate
	// must chain to. Default: the system's roots. Only for rediss:// URLs.
	CAFile string
}

// ErrInvalidRedisConfig is returned by RedisOptions for a URL or a CA file
// it cannot use.
var ErrInvalidRedisConfig = errors.New("invalid Redis settings")

// Why a Redis refused or failed a connection; a *RedisError matches one of
// them with errors.Is.
var (
	// ErrRedisAuth: the server refused the user and password (WRONGPASS),
	// asked for a password the URL lacks (NOAUTH), or refused the user a
	// command (NOPERM).
	ErrRedisAuth = errors.New("the Redis server refused the credentials")
	// ErrRedisTLS: the TLS handshake failed, or one side speaks TLS and the
	// other does not.
	ErrRedisTLS = errors.New("the TLS handshake with the Redis server failed")
	// ErrRedisUnreachable: the server did not answer.
	ErrRedisUnreachable = errors.New("the Redis server did not answer")
)

// RedisOptions parses a Redis URL into go-redis options:
// redis://[user:password@]host:port/db, or rediss:// for TLS, verified
// against tlsCfg.CAFile when it is set (the system's roots otherwise). The
// user and password are those of a Redis ACL user; a password alone
// (redis://:password@host) is the default user's. A CA file with a
// redis:// URL is refused rather than silently ignored.
func RedisOptions(url string, tlsCfg RedisTLS) (*redis.Options, error) {
	opts, err := redis.ParseURL(url)
	var uerr *neturl.Error
	if errors.As(err, &uerr) {
		// Its text repeats the URL, password and all.
		err = uerr.Err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: not a Redis URL (want redis://[user:password@]host:port/db, or rediss:// for TLS): %v", ErrInvalidRedisConfig, err)
	}
	if tlsCfg.CAFile == "" {
		return opts, nil
	}
	if opts.TLSConfig == nil {
		return nil, fmt.Errorf("%w: a TLS CA file is given, so the URL must start with rediss://", ErrInvalidRedisConfig)
	}
	pem, err := os.ReadFile(tlsCfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%w: TLS CA file: %v", ErrInvalidRedisConfig, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: TLS CA file %s holds no PEM certificate", ErrInvalidRedisConfig, tlsCfg.CAFile)
	}
	opts.TLSConfig.RootCAs = roots
	return opts, nil
}

// RedisError is why PingRedis failed. It matches its Kind (ErrRedisAuth,
// ErrRedisTLS or ErrRedisUnreachable) with errors.Is and unwraps to the
// client's error.
type RedisError struct {
	Addr string
	Kind error
	Err  error
}

// Error names the server, the kind of failure and the client's error.
func (e *RedisError) Error() string {
	return fmt.Sprintf("Redis at %s: %v: %v", e.Addr, e.Kind, e.Err)
}

// Unwrap returns Kind and Err.
func (e *RedisError) Unwrap() []error { return []error{e.Kind, e.Err} }

// PingRedis sends PING over a new connection made with rdb's options, once,
// without go-redis's retries, so that a wrong password, a failed TLS
// handshake or an absent server shows at start as one *RedisError, before
// a server or client built on rdb retries it in a loop. ctx bounds it.
func PingRedis(ctx context.Context, rdb *redis.Client) error {
	opts := *rdb.Options()
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	opts.PoolSize = 1
	once := redis.NewClient(&opts)
	defer once.Close()
	err := once.Ping(ctx).Err()
	if err == nil {
		return nil
	}
	kind := classifyRedis(err)
	if kind == ErrRedisUnreachable {
		// The PING may have used all of ctx; the probes have their own
		// short bound.
		if perr := explainRedisTLS(context.WithoutCancel(ctx), &opts); perr != nil {
			kind, err = ErrRedisTLS, fmt.Errorf("%w (%w)", perr, err)
		}
	}
	return &RedisError{Addr: opts.Addr, Kind: kind, Err: err}
}

// explainRedisTLS looks for a TLS mismatch behind a PING that failed for no
// reason the client could tell. A plaintext Redis never answers a TLS
// ClientHello (it waits for the end of an inline command), so a TLS client
// of one sees only a timeout; an inline PING tells.
func explainRedisTLS(ctx context.Context, opts *redis.Options) error {
	if opts.TLSConfig != nil && answersPlaintextPing(ctx, opts.Addr) {
		return errors.New("the server speaks plaintext, not TLS: use a redis:// URL")
	}
	err := tlsprobe.Explain(ctx, opts.Addr, opts.TLSConfig)
	if errors.Is(err, tlsprobe.ErrServerSpeaksTLS) {
		return fmt.Errorf("%w: use a rediss:// URL", err)
	}
	return err
}

// answersPlaintextPing reports whether addr answers an inline PING in
// plaintext, with +PONG or with an error (a server that wants a login).
func answersPlaintextPing(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, tlsprobe.Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-"))
}

func classifyRedis(err error) error {
	msg := err.Error()
	for _, prefix := range []string{"WRONGPASS", "NOAUTH", "NOPERM"} {
		if strings.HasPrefix(msg, prefix) {
			return ErrRedisAuth
		}
	}
	if tlsprobe.IsFailure(msg) {
		return ErrRedisTLS
	}
	return ErrRedisUnreachable
}
