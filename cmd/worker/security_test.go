package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/internal/demo"
	"github.com/optio-temporal/optio/internal/devstack"
	"github.com/optio-temporal/optio/internal/redisserver"
	"github.com/optio-temporal/optio/internal/testcerts"
)

// securedServices are a Temporal server that requires client certificates,
// a Redis over TLS with an ACL user, and MongoDB.
type securedServices struct {
	certs    *testcerts.Set
	temporal *devstack.Temporal
	redis    *redisserver.Server
	mongo    *devstack.Mongo
	mc       *mongo.Client
}

const (
	redisUser     = "optio"
	redisPassword = "s3cret-pass"
)

func startSecuredServices(t *testing.T) *securedServices {
	t.Helper()
	if !redisserver.Available() {
		t.Skip("needs redis-server on PATH")
	}
	ctx := context.Background()
	s := &securedServices{}
	var err error
	s.certs, err = testcerts.Generate(t.TempDir())
	require.NoError(t, err)
	s.temporal, err = devstack.StartTemporal(ctx, devstack.TemporalConfig{TLS: &devstack.TemporalTLS{
		CertFile: s.certs.ServerCertFile, KeyFile: s.certs.ServerKeyFile, CAFile: s.certs.CAFile, ClientCAFile: s.certs.CAFile,
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.temporal.Stop() })
	s.redis, err = redisserver.Start(ctx, redisserver.Options{
		TLS:   &redisserver.TLS{CertFile: s.certs.ServerCertFile, KeyFile: s.certs.ServerKeyFile, CAFile: s.certs.CAFile},
		Users: []redisserver.User{{Name: redisUser, Password: redisPassword}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.redis.Stop() })
	s.mongo, err = devstack.StartMongo(ctx, devstack.MongoConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.mongo.Stop() })
	s.mc, err = mongo.Connect(options.Client().ApplyURI(s.mongo.URL()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.mc.Disconnect(context.Background()) })
	return s
}

func (s *securedServices) redisURL(password string) string {
	return "rediss://" + redisUser + ":" + password + "@" + s.redis.Addr() + "/0"
}

// The worker binary runs a process over mutual TLS to Temporal and TLS with
// an ACL login to Redis, configured by flags or, with the temporal CLI's
// older variable names, by the environment.
func TestWorkerBinaryMutualTLSAndRedisACL(t *testing.T) {
	s := startSecuredServices(t)
	for i, tt := range []struct {
		name string
		env  []string
		args []string
	}{
		{"flags", nil, []string{
			"-tls-ca-path", s.certs.CAFile, "-tls-cert-path", s.certs.ClientCertFile, "-tls-key-path", s.certs.ClientKeyFile,
			"-redis-url", s.redisURL(redisPassword), "-redis-tls-ca", s.certs.CAFile,
		}},
		{"environment", []string{
			"TEMPORAL_TLS_CA=" + s.certs.CAFile, "TEMPORAL_TLS_CERT=" + s.certs.ClientCertFile, "TEMPORAL_TLS_KEY=" + s.certs.ClientKeyFile,
			"REDIS_URL=" + s.redisURL(redisPassword), "OPTIO_REDIS_TLS_CA=" + s.certs.CAFile,
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := "secured_" + string(rune('a'+i))
			args := append([]string{"-temporal-address", s.temporal.HostPort(), "-mongo-url", s.mongo.URL(),
				"-db", db, "-launch", demo.QuickID, "-log-level=error"}, tt.args...)
			w := startWorkerProcessEnv(t, tt.env, args...)
			select {
			case <-w.up:
			case <-w.exited:
				t.Fatalf("the worker exited: %v\n%s", w.err, w.stderr.String())
			case <-time.After(time.Minute):
				t.Fatalf("the worker did not come up; exited %d, stderr:\n%s", w.stop(t), w.stderr.String())
			}
			coll := s.mc.Database(db).Collection("optio_processes")
			ended := assert.Eventually(t, func() bool {
				var doc struct {
					Status struct {
						State string `bson:"state"`
					} `bson:"status"`
				}
				err := coll.FindOne(context.Background(), bson.D{{Key: "processId", Value: demo.QuickID}}).Decode(&doc)
				return err == nil && doc.Status.State == "done"
			}, time.Minute, 100*time.Millisecond, "the launched process ends done")
			if !ended {
				t.Fatalf("exited %d, stderr:\n%s", w.stop(t), w.stderr.String())
			}
		})
	}
}

// A missing client certificate, a CA that did not sign Temporal's
// certificate and a wrong Redis password each stop the worker at start with
// one line, exit code 1, before anything is written.
func TestWorkerBinarySecurityFailuresAreOneLine(t *testing.T) {
	s := startSecuredServices(t)
	good := []string{"-tls-ca-path", s.certs.CAFile, "-tls-cert-path", s.certs.ClientCertFile, "-tls-key-path", s.certs.ClientKeyFile}
	for i, tt := range []struct {
		name     string
		args     []string
		want     string
		alsoWant string
	}{
		{"missing client certificate", []string{"-tls-ca-path", s.certs.CAFile, "-redis-url", s.redisURL(redisPassword), "-redis-tls-ca", s.certs.CAFile},
			// gRPC sometimes sees the server's alert itself ("error reading
			// server preface: remote error: ..."), sometimes only a broken
			// pipe that Dial's probe then explains.
			"connect to Temporal at " + s.temporal.HostPort() + ": the TLS handshake failed: ", "tls: certificate required"},
		{"wrong CA", []string{"-tls-ca-path", s.certs.OtherCAFile, "-tls-cert-path", s.certs.ClientCertFile, "-tls-key-path", s.certs.ClientKeyFile,
			"-redis-url", s.redisURL(redisPassword), "-redis-tls-ca", s.certs.CAFile},
			"the TLS handshake failed: ", "x509: certificate signed by unknown authority"},
		{"wrong Redis password", append(append([]string{}, good...), "-redis-url", s.redisURL("wrong"), "-redis-tls-ca", s.certs.CAFile),
			"the Redis server refused the credentials: WRONGPASS", ""},
		{"Redis CA missing", append(append([]string{}, good...), "-redis-url", s.redisURL(redisPassword)),
			"the TLS handshake with the Redis server failed: ", "x509: certificate signed by unknown authority"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := "secured_fail_" + string(rune('a'+i))
			w := startWorkerProcess(t, append([]string{"-temporal-address", s.temporal.HostPort(), "-mongo-url", s.mongo.URL(),
				"-db", db, "-log-level=error"}, tt.args...)...)
			began := time.Now()
			code := w.exit(t, 30*time.Second)
			msg := w.stderr.String()
			t.Logf("exited %d after %s: %q", code, time.Since(began).Round(time.Millisecond), msg)
			require.Equal(t, 1, code)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(msg), "\n")+1, "one line: %q", msg)
			require.Contains(t, msg, tt.want)
			require.Contains(t, msg, tt.alsoWant)
			require.NotContains(t, msg, redisPassword)
			n, err := s.mc.Database(db).Collection("optio_processes").CountDocuments(context.Background(), bson.D{})
			require.NoError(t, err)
			require.Zero(t, n, "nothing was synced into Mongo")
		})
	}
}

// stop ends the worker with SIGTERM and returns its exit code, so that its
// stderr can be read.
func (w *workerProcess) stop(t *testing.T) int {
	t.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	return w.exit(t, 30*time.Second)
}
