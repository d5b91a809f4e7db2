package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/temporalconn"
)

func TestParseConfigTLSAndAPIKeySettings(t *testing.T) {
	production := map[string]string{"TEMPORAL_ADDRESS": "t:7233", "MONGO_URL": "mongodb://m", "REDIS_URL": "rediss://u:p@r:6380/0"}
	env := func(more map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range production {
			out[k] = v
		}
		for k, v := range more {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		args      []string
		env       map[string]string
		want      temporalconn.Config
		wantCA    string
		wantError string
	}{
		{name: "flags", env: production,
			args: []string{"-tls-ca-path", "ca.pem", "-tls-cert-path", "c.pem", "-tls-key-path", "k.pem", "-tls-server-name", "t.internal", "-api-key", "key", "-redis-tls-ca", "rca.pem"},
			want: temporalconn.Config{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "t.internal", APIKey: "key"}, wantCA: "rca.pem"},
		{name: "the temporal CLI's variables", env: env(map[string]string{
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "ca.pem", "TEMPORAL_TLS_CLIENT_CERT_PATH": "c.pem", "TEMPORAL_TLS_CLIENT_KEY_PATH": "k.pem",
			"TEMPORAL_TLS_SERVER_NAME": "t.internal", "TEMPORAL_API_KEY": "key", "TEMPORAL_TLS": "true", "OPTIO_REDIS_TLS_CA": "rca.pem"}),
			want: temporalconn.Config{TLS: true, CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "t.internal", APIKey: "key"}, wantCA: "rca.pem"},
		{name: "their older names", env: env(map[string]string{"TEMPORAL_TLS_CA": "ca.pem", "TEMPORAL_TLS_CERT": "c.pem", "TEMPORAL_TLS_KEY": "k.pem"}),
			want: temporalconn.Config{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"}},
		{name: "a current name wins over an older one", env: env(map[string]string{"TEMPORAL_TLS_CA": "old.pem", "TEMPORAL_TLS_SERVER_CA_CERT_PATH": "new.pem"}),
			want: temporalconn.Config{CAFile: "new.pem"}},
		{name: "a flag wins over the variables", args: []string{"-tls-ca-path", "flag.pem", "-tls=false"}, env: env(map[string]string{"TEMPORAL_TLS_CA": "old.pem", "TEMPORAL_TLS": "true"}),
			want: temporalconn.Config{CAFile: "flag.pem"}},
		{name: "-tls alone", args: []string{"-tls"}, env: production, want: temporalconn.Config{TLS: true}},
		{name: "TEMPORAL_TLS not a boolean", env: env(map[string]string{"TEMPORAL_TLS": "yes please"}), wantError: `TEMPORAL_TLS="yes please": want true or false`},
		{name: "TLS with the embedded Temporal", args: []string{"-tls-ca-path", "ca.pem"}, wantError: "apply only to an external Temporal server: pass -temporal-address too"},
		{name: "API key with the embedded Temporal", env: map[string]string{"TEMPORAL_API_KEY": "k"}, wantError: "apply only to an external Temporal server"},
		{name: "Redis CA with the embedded Redis", args: []string{"-redis-tls-ca", "ca.pem"}, wantError: "-redis-tls-ca applies only to an external Redis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantError != "" {
				require.ErrorContains(t, err, tc.wantError)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.TemporalConn)
			require.Equal(t, tc.wantCA, got.RedisTLSCA)
		})
	}
}
