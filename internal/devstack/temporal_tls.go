package devstack

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
)

// TemporalTLS serves an embedded Temporal frontend over TLS. The server's own
// clients (its system workers, and this package registering search
// attributes) verify the frontend with CAFile and, when client certificates
// are required, present CertFile themselves, so CertFile must be good for
// client authentication too.
type TemporalTLS struct {
	// CertFile and KeyFile are the frontend's PEM certificate and key.
	// Required.
	CertFile, KeyFile string
	// CAFile is the PEM CA that signed CertFile. Required.
	CAFile string
	// ServerName is the name the server's own clients check CertFile
	// against. Default "localhost".
	ServerName string
	// ClientCAFile, when set, requires every client to present a
	// certificate signed by it (mutual TLS).
	ClientCAFile string
}

func (c *TemporalTLS) serverName() string {
	if c.ServerName == "" {
		return "localhost"
	}
	return c.ServerName
}

// rootTLS is the server's TLS config: the frontend listener and the system
// workers that call it. Internode traffic stays plaintext on Host.
func (c *TemporalTLS) rootTLS() config.RootTLS {
	var r config.RootTLS
	r.Frontend.Server = config.ServerTLS{CertFile: c.CertFile, KeyFile: c.KeyFile}
	client := config.ClientTLS{ServerName: c.serverName(), RootCAFiles: []string{c.CAFile}}
	r.Frontend.Client = client
	r.SystemWorker.Client = client
	if c.ClientCAFile != "" {
		r.Frontend.Server.RequireClientAuth = true
		r.Frontend.Server.ClientCAFiles = []string{c.ClientCAFile}
		r.SystemWorker.CertFile = c.CertFile
		r.SystemWorker.KeyFile = c.KeyFile
	}
	return r
}

// clientConfig is what the server's own clients dial the frontend with.
func (c *TemporalTLS) clientConfig() (*tls.Config, error) {
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in %s", c.CAFile)
	}
	tc := &tls.Config{RootCAs: roots, ServerName: c.serverName(), MinVersion: tls.VersionTLS12}
	if c.ClientCAFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// apiKeyClaimMapper refuses a call whose authorization header is set to
// anything but want; with no header a call passes, unauthenticated.
type apiKeyClaimMapper struct{ want string }

var errWrongAPIKey = errors.New("wrong API key")

func (m apiKeyClaimMapper) GetClaims(info *authorization.AuthInfo) (*authorization.Claims, error) {
	if info.AuthToken != "" && info.AuthToken != m.want {
		return nil, errWrongAPIKey
	}
	return &authorization.Claims{}, nil
}
