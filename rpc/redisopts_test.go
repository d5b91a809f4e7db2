package rpc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/internal/redisserver"
	"github.com/optio-temporal/optio/internal/testcerts"
	"github.com/optio-temporal/optio/rpc"
)

func startRedis(t *testing.T, opts redisserver.Options) *redisserver.Server {
	t.Helper()
	opts.Logger = quietLogger()
	srv, err := redisserver.Start(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func redisCerts(t *testing.T) *testcerts.Set {
	t.Helper()
	c, err := testcerts.Generate(t.TempDir())
	require.NoError(t, err)
	return c
}

// ping connects with what RedisOptions makes of url and tlsCfg, as the
// worker and optioctl do, and returns PingRedis's answer.
func ping(t *testing.T, url string, tlsCfg rpc.RedisTLS) error {
	t.Helper()
	opts, err := rpc.RedisOptions(url, tlsCfg)
	require.NoError(t, err)
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return rpc.PingRedis(ctx, rdb)
}

// An RPC call goes through a rediss:// Redis verified against a CA file,
// and through an ACL user's login.
func TestRedisTLSAndACLServeCalls(t *testing.T) {
	c := redisCerts(t)
	for _, tt := range []struct {
		name string
		opts redisserver.Options
		url  func(*redisserver.Server) string
		tls  rpc.RedisTLS
	}{
		{"TLS", redisserver.Options{TLS: &redisserver.TLS{CertFile: c.ServerCertFile, KeyFile: c.ServerKeyFile, CAFile: c.CAFile}},
			(*redisserver.Server).URL, rpc.RedisTLS{CAFile: c.CAFile}},
		{"ACL user", redisserver.Options{Users: []redisserver.User{{Name: "optio", Password: "pa55"}}},
			func(s *redisserver.Server) string { return "redis://optio:pa55@" + s.Addr() + "/0" }, rpc.RedisTLS{}},
		{"TLS and ACL user", redisserver.Options{
			TLS:   &redisserver.TLS{CertFile: c.ServerCertFile, KeyFile: c.ServerKeyFile, CAFile: c.CAFile},
			Users: []redisserver.User{{Name: "optio", Password: "pa55"}}},
			func(s *redisserver.Server) string { return "rediss://optio:pa55@" + s.Addr() + "/0" }, rpc.RedisTLS{CAFile: c.CAFile}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startRedis(t, tt.opts)
			url := tt.url(srv)
			require.NoError(t, ping(t, url, tt.tls))

			opts, err := rpc.RedisOptions(url, tt.tls)
			require.NoError(t, err)
			rdb := redis.NewClient(opts)
			t.Cleanup(func() { _ = rdb.Close() })
			prefix := testPrefix(t)
			newServer(t, rdb, rpc.ServerOptions{KeyPrefix: prefix}, (&arith{}).service())
			cl := newClient(t, rdb, rpc.ClientOptions{KeyPrefix: prefix, Timeout: 10 * time.Second})
			var sum sumResult
			require.NoError(t, cl.Call(context.Background(), "arith", "add", addParams{A: 2, B: 3}, &sum))
			require.Equal(t, 5.0, sum.Sum)
		})
	}
}

// A wrong password, a missing login, a CA that did not sign the server's
// certificate and a plaintext client of a TLS server each fail the start-up
// PING at once, with one line that names the cause.
func TestRedisTLSAndACLFailuresAreOneTypedError(t *testing.T) {
	c := redisCerts(t)
	acl := startRedis(t, redisserver.Options{Users: []redisserver.User{{Name: "optio", Password: "pa55"}}})
	tlsSrv := startRedis(t, redisserver.Options{TLS: &redisserver.TLS{CertFile: c.ServerCertFile, KeyFile: c.ServerKeyFile, CAFile: c.CAFile}})
	for _, tt := range []struct {
		name string
		url  string
		tls  rpc.RedisTLS
		kind error
		want string
	}{
		{"wrong password", "redis://optio:wrong@" + acl.Addr() + "/0", rpc.RedisTLS{}, rpc.ErrRedisAuth, "WRONGPASS"},
		{"unknown user", "redis://nobody:pa55@" + acl.Addr() + "/0", rpc.RedisTLS{}, rpc.ErrRedisAuth, "WRONGPASS"},
		{"no login", "redis://" + acl.Addr() + "/0", rpc.RedisTLS{}, rpc.ErrRedisAuth, "NOAUTH"},
		{"wrong CA", tlsSrv.URL(), rpc.RedisTLS{CAFile: c.OtherCAFile}, rpc.ErrRedisTLS, "certificate signed by unknown authority"},
		{"system roots", tlsSrv.URL(), rpc.RedisTLS{}, rpc.ErrRedisTLS, "certificate signed by unknown authority"},
		{"plaintext client of a TLS server", "redis://" + tlsSrv.Addr() + "/0", rpc.RedisTLS{}, rpc.ErrRedisTLS, "use a rediss:// URL"},
		{"TLS client of a plaintext server", "rediss://" + acl.Addr() + "/0", rpc.RedisTLS{CAFile: c.CAFile}, rpc.ErrRedisTLS, "the server speaks plaintext, not TLS: use a redis:// URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			err := ping(t, tt.url, tt.tls)
			t.Logf("%v after %s", err, time.Since(began).Round(time.Millisecond))
			var re *rpc.RedisError
			require.ErrorAs(t, err, &re)
			require.ErrorIs(t, err, tt.kind)
			require.NotContains(t, err.Error(), "\n")
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), "pa55", "the password stays out of the message")
		})
	}
}

func TestRedisOptionsRefusesBadSettings(t *testing.T) {
	c := redisCerts(t)
	for _, tt := range []struct {
		name string
		url  string
		tls  rpc.RedisTLS
		want string
	}{
		{"not a URL", "localhost:6379", rpc.RedisTLS{}, "not a Redis URL"},
		{"bad database", "redis://localhost:6379/x", rpc.RedisTLS{}, "not a Redis URL"},
		{"CA file with redis://", "redis://localhost:6379/0", rpc.RedisTLS{CAFile: c.CAFile}, "must start with rediss://"},
		{"missing CA file", "rediss://localhost:6379/0", rpc.RedisTLS{CAFile: c.Dir + "/nope.pem"}, "no such file"},
		{"CA file without a certificate", "rediss://localhost:6379/0", rpc.RedisTLS{CAFile: c.ClientKeyFile}, "holds no PEM certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rpc.RedisOptions(tt.url, tt.tls)
			require.ErrorIs(t, err, rpc.ErrInvalidRedisConfig)
			require.Contains(t, err.Error(), tt.want)
		})
	}
	opts, err := rpc.RedisOptions("rediss://optio:pa55@redis.internal:6380/2", rpc.RedisTLS{CAFile: c.CAFile})
	require.NoError(t, err)
	require.Equal(t, "optio", opts.Username)
	require.Equal(t, "pa55", opts.Password)
	require.Equal(t, 2, opts.DB)
	require.Equal(t, "redis.internal", opts.TLSConfig.ServerName)
	require.NotNil(t, opts.TLSConfig.RootCAs)
	require.False(t, strings.Contains(opts.Addr, "pa55"))
}
