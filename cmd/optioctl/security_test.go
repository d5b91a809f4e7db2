package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/demo"
	"github.com/optio-temporal/optio/internal/redisserver"
	"github.com/optio-temporal/optio/internal/testcerts"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineservice"
)

// optioctl reaches an engine whose Redis speaks only TLS and wants an ACL
// login, given rediss://user:password@ and the CA by flag or variable; a
// wrong password or a missing CA is one line and exit code 3.
func TestRedisTLSAndACLUser(t *testing.T) {
	if !redisserver.Available() {
		t.Skip("needs redis-server on PATH")
	}
	certs, err := testcerts.Generate(t.TempDir())
	require.NoError(t, err)
	srv, err := redisserver.Start(context.Background(), redisserver.Options{
		Logger: testenv.Logger(t),
		TLS:    &redisserver.TLS{CertFile: certs.ServerCertFile, KeyFile: certs.ServerKeyFile, CAFile: certs.CAFile},
		Users:  []redisserver.User{{Name: "ops", Password: "hunter22"}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	url := func(password string) string { return "rediss://ops:" + password + "@" + srv.Addr() + "/0" }

	tmp := testenv.NewTemporal(t)
	mdb := testenv.NewMongo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	face := engineservice.RedisWithTLS(url("hunter22"), rpc.RedisTLS{CAFile: certs.CAFile})
	eng, err := adapter.New(ctx, adapter.Config{
		Temporal: tmp.Client, Namespace: tmp.Namespace, Mongo: mdb.DB, TaskQueue: testenv.TaskQueue(t),
		RPC: face, TaskDefinitions: demo.Definitions,
		Logger: testenv.Logger(t), ReconcileInterval: -1,
	})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	select {
	case <-face.Ready():
	case <-ctx.Done():
		t.Fatal("the engine did not serve over the TLS Redis")
	}

	ctl := func(env map[string]string, args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		env["MONGO_URL"], env["OPTIO_DB"] = mdb.URI, mdb.Name
		code := run(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr, false)
		return code, stderr.String()
	}
	code, errOut := ctl(map[string]string{}, "--redis-url", url("hunter22"), "--redis-tls-ca", certs.CAFile, "--timeout", "30s", "launch", demo.QuickID)
	require.Equal(t, exitOK, code, errOut)
	code, errOut = ctl(map[string]string{"REDIS_URL": url("hunter22"), "OPTIO_REDIS_TLS_CA": certs.CAFile}, "--timeout", "30s", "cancel", demo.QuickID)
	require.NotEqual(t, exitTransport, code, errOut)

	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"wrong password", map[string]string{"REDIS_URL": url("wrong"), "OPTIO_REDIS_TLS_CA": certs.CAFile}, "the Redis server refused the credentials: WRONGPASS"},
		{"no CA", map[string]string{"REDIS_URL": url("hunter22")}, "the TLS handshake with the Redis server failed: tls: failed to verify certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, errOut := ctl(tt.env, "--timeout", "10s", "launch", demo.QuickID)
			require.Equal(t, exitTransport, code)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(errOut), "\n")+1, "one line: %q", errOut)
			require.Contains(t, errOut, tt.want)
			require.NotContains(t, errOut, "hunter22")
		})
	}
}
