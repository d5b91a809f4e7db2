package temporalconn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/devstack"
	"github.com/optio-temporal/optio/internal/testcerts"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/temporalconn"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// startServer starts a Temporal server of the test's own whose frontend
// speaks TLS as tlsCfg says, stopped on cleanup.
func startServer(t *testing.T, tlsCfg *devstack.TemporalTLS, apiKey string) *devstack.Temporal {
	t.Helper()
	srv, err := devstack.StartTemporal(context.Background(), devstack.TemporalConfig{
		Logger: testenv.Logger(t),
		TLS:    tlsCfg,
		APIKey: apiKey,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	return srv
}

func certs(t *testing.T) *testcerts.Set {
	t.Helper()
	s, err := testcerts.Generate(t.TempDir())
	require.NoError(t, err)
	return s
}

func serverTLS(c *testcerts.Set, mutual bool) *devstack.TemporalTLS {
	cfg := &devstack.TemporalTLS{CertFile: c.ServerCertFile, KeyFile: c.ServerKeyFile, CAFile: c.CAFile}
	if mutual {
		cfg.ClientCAFile = c.CAFile
	}
	return cfg
}

func dial(t *testing.T, srv *devstack.Temporal, cfg temporalconn.Config) (client.Client, error) {
	t.Helper()
	began := time.Now()
	tc, err := temporalconn.Dial(context.Background(), client.Options{
		HostPort:  srv.HostPort(),
		Namespace: srv.Namespace(),
		Logger:    sdklog.NewStructuredLogger(testenv.Logger(t)),
	}, cfg)
	t.Logf("dial %s: %v after %s", srv.HostPort(), err, time.Since(began).Round(time.Millisecond))
	if err == nil {
		t.Cleanup(tc.Close)
	}
	return tc, err
}

// runProcess runs one optio process to its end on tc and returns its
// document.
func runProcess(t *testing.T, tc client.Client) *mirror.Process {
	t.Helper()
	ctx := context.Background()
	eng, err := adapter.New(ctx, adapter.Config{
		Temporal:  tc,
		Mongo:     testenv.NewMongo(t).DB,
		TaskQueue: testenv.TaskQueue(t),
		Logger:    testenv.Logger(t),
		TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
			return []adapter.TaskInstance{{ProcessID: "secured", Name: "Secured", Execute: func(pc *adapter.ProcessContext) error {
				pc.ReportProgress(100, "over TLS")
				return nil
			}}}, nil
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = eng.Shutdown(context.Background()) })
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	proc, err := eng.LaunchAndWait(wctx, "secured")
	require.NoError(t, err)
	return proc
}

func TestTLSRunsAProcess(t *testing.T) {
	c := certs(t)
	srv := startServer(t, serverTLS(c, false), "")
	tc, err := dial(t, srv, temporalconn.Config{CAFile: c.CAFile})
	require.NoError(t, err)
	proc := runProcess(t, tc)
	require.Equal(t, mirror.Done, proc.Status.State)
	require.Equal(t, "over TLS", *proc.Progress.Message)
}

func TestMutualTLSRunsAProcess(t *testing.T) {
	c := certs(t)
	srv := startServer(t, serverTLS(c, true), "")
	tc, err := dial(t, srv, temporalconn.Config{CAFile: c.CAFile, CertFile: c.ClientCertFile, KeyFile: c.ClientKeyFile})
	require.NoError(t, err)
	proc := runProcess(t, tc)
	require.Equal(t, mirror.Done, proc.Status.State)
}

// A connection the server or the client cannot trust fails in Dial, with
// one line that says it was the handshake.
func TestTLSHandshakeFailuresAreOneTypedError(t *testing.T) {
	c := certs(t)
	tlsSrv := startServer(t, serverTLS(c, false), "")
	mtlsSrv := startServer(t, serverTLS(c, true), "")
	for _, tt := range []struct {
		name string
		srv  *devstack.Temporal
		cfg  temporalconn.Config
		want string
	}{
		{"wrong CA", tlsSrv, temporalconn.Config{CAFile: c.OtherCAFile}, "certificate signed by unknown authority"},
		{"system roots only", tlsSrv, temporalconn.Config{TLS: true}, "certificate signed by unknown authority"},
		{"wrong server name", tlsSrv, temporalconn.Config{CAFile: c.CAFile, ServerName: "temporal.example"}, "temporal.example"},
		{"missing client certificate", mtlsSrv, temporalconn.Config{CAFile: c.CAFile}, "certificate"},
		{"client certificate of another CA", mtlsSrv, temporalconn.Config{CAFile: c.CAFile, CertFile: c.OtherClientCertFile, KeyFile: c.OtherClientKeyFile}, "certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dial(t, tt.srv, tt.cfg)
			var de *temporalconn.DialError
			require.ErrorAs(t, err, &de)
			require.ErrorIs(t, err, temporalconn.ErrTLS)
			require.Equal(t, tt.srv.HostPort(), de.HostPort)
			msg := err.Error()
			require.NotContains(t, msg, "\n")
			require.Contains(t, msg, "connect to Temporal at "+tt.srv.HostPort()+": the TLS handshake failed: ")
			require.Contains(t, msg, tt.want)
		})
	}
}

// A plaintext client of a TLS server, and a TLS client of a plaintext one,
// fail in Dial too.
func TestTLSMismatchWithThePlaintextSide(t *testing.T) {
	c := certs(t)
	tlsSrv := startServer(t, serverTLS(c, false), "")
	_, err := dial(t, tlsSrv, temporalconn.Config{})
	require.ErrorIs(t, err, temporalconn.ErrTLS)
	require.Contains(t, err.Error(), "the server speaks TLS and this client does not")

	plain := testenv.NewTemporal(t)
	_, err = temporalconn.Dial(context.Background(), client.Options{HostPort: plain.HostPort, Namespace: plain.Namespace}, temporalconn.Config{CAFile: c.CAFile})
	require.ErrorIs(t, err, temporalconn.ErrTLS)
	require.NotContains(t, err.Error(), "\n")
}

// The key reaches the server as Temporal Cloud reads it, "Authorization:
// Bearer <key>", over TLS; a wrong key is refused at Dial.
func TestAPIKey(t *testing.T) {
	c := certs(t)
	srv := startServer(t, serverTLS(c, false), "s3cret")

	tc, err := dial(t, srv, temporalconn.Config{CAFile: c.CAFile, APIKey: "s3cret"})
	require.NoError(t, err)
	_, err = tc.WorkflowService().DescribeNamespace(context.Background(), &workflowservice.DescribeNamespaceRequest{Namespace: srv.Namespace()})
	require.NoError(t, err)

	_, err = dial(t, srv, temporalconn.Config{CAFile: c.CAFile, APIKey: "wrong"})
	require.ErrorIs(t, err, temporalconn.ErrCredentials)
	require.NotContains(t, err.Error(), "\n")
	require.Contains(t, err.Error(), "the server refused the credentials")

	// An API key alone turns TLS on: here it meets the server's private CA
	// with the system roots and fails the handshake.
	_, err = dial(t, srv, temporalconn.Config{APIKey: "s3cret"})
	require.ErrorIs(t, err, temporalconn.ErrTLS)
}

func TestApplyRefusesBadFiles(t *testing.T) {
	c := certs(t)
	for _, tt := range []struct {
		name string
		cfg  temporalconn.Config
		want string
	}{
		{"certificate without key", temporalconn.Config{CertFile: c.ClientCertFile}, "both a certificate file and a key file"},
		{"key without certificate", temporalconn.Config{KeyFile: c.ClientKeyFile}, "both a certificate file and a key file"},
		{"missing CA file", temporalconn.Config{CAFile: c.Dir + "/nope.pem"}, "no such file"},
		{"CA file without a certificate", temporalconn.Config{CAFile: c.ClientKeyFile}, "holds no PEM certificate"},
		{"key that does not match", temporalconn.Config{CertFile: c.ClientCertFile, KeyFile: c.OtherClientKeyFile}, "does not match"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var opts client.Options
			err := tt.cfg.Apply(&opts)
			require.ErrorIs(t, err, temporalconn.ErrInvalidConfig)
			require.Contains(t, err.Error(), tt.want)
			require.Nil(t, opts.ConnectionOptions.TLS, "nothing is set on a refused config")
		})
	}
}

func TestApplySetsTLSAndCredentials(t *testing.T) {
	c := certs(t)
	var opts client.Options
	require.NoError(t, temporalconn.Config{}.Apply(&opts))
	require.Nil(t, opts.ConnectionOptions.TLS, "the zero Config is plaintext")

	require.NoError(t, temporalconn.Config{CAFile: c.CAFile, CertFile: c.ClientCertFile, KeyFile: c.ClientKeyFile, ServerName: "temporal.internal", APIKey: "k"}.Apply(&opts))
	require.NotNil(t, opts.ConnectionOptions.TLS.RootCAs)
	require.Len(t, opts.ConnectionOptions.TLS.Certificates, 1)
	require.Equal(t, "temporal.internal", opts.ConnectionOptions.TLS.ServerName)
	require.NotNil(t, opts.Credentials)

	err := temporalconn.Config{APIKey: "k"}.Apply(&opts)
	require.True(t, errors.Is(err, temporalconn.ErrInvalidConfig) && strings.Contains(err.Error(), "already sets TLS"), "%v", err)
}
