// Package testcerts writes the certificates a test needs to run a server
// over TLS or mutual TLS: a CA, a server certificate for 127.0.0.1, ::1 and
// localhost, a client certificate signed by the same CA, and a second CA with
// its own client certificate, for the "wrong CA" and "unknown client" cases.
// Keys are ECDSA P-256; everything is valid for a day.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ServerName is the DNS name in the server certificate besides its IP
// addresses.
const ServerName = "localhost"

// Set is a set of PEM files in Dir.
type Set struct {
	Dir string
	// CAFile is the CA that signed the server and the client certificate.
	CAFile string
	// ServerCertFile and ServerKeyFile are for 127.0.0.1, ::1 and
	// [ServerName]; the certificate is good for client authentication too,
	// so a server can present it to itself.
	ServerCertFile, ServerKeyFile string
	// ClientCertFile and ClientKeyFile are a client certificate signed by
	// CAFile.
	ClientCertFile, ClientKeyFile string
	// OtherCAFile is a CA that signed neither of the above.
	OtherCAFile string
	// OtherClientCertFile and OtherClientKeyFile are a client certificate
	// signed by OtherCAFile.
	OtherClientCertFile, OtherClientKeyFile string
}

// Generate writes a fresh Set into dir.
func Generate(dir string) (*Set, error) {
	s := &Set{Dir: dir}
	ca, err := newCA("optio test CA")
	if err != nil {
		return nil, err
	}
	other, err := newCA("optio other test CA")
	if err != nil {
		return nil, err
	}
	steps := []func() error{
		func() error { return writePEM(dir, "ca.pem", &s.CAFile, "CERTIFICATE", ca.der) },
		func() error { return writePEM(dir, "other-ca.pem", &s.OtherCAFile, "CERTIFICATE", other.der) },
		func() error {
			return ca.issue(dir, "server", &s.ServerCertFile, &s.ServerKeyFile, &x509.Certificate{
				Subject:     pkix.Name{CommonName: ServerName},
				DNSNames:    []string{ServerName},
				IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			})
		},
		func() error {
			return ca.issue(dir, "client", &s.ClientCertFile, &s.ClientKeyFile, clientTemplate("optio-worker"))
		},
		func() error {
			return other.issue(dir, "other-client", &s.OtherClientCertFile, &s.OtherClientKeyFile, clientTemplate("stranger"))
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("testcerts: %w", err)
		}
	}
	return s, nil
}

func clientTemplate(name string) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// authority is a CA's certificate and key.
type authority struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

func newCA(name string) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &authority{cert: cert, der: der, key: key}, nil
}

// issue signs tmpl and writes name.pem and name-key.pem.
func (a *authority) issue(dir, name string, certFile, keyFile *string, tmpl *x509.Certificate) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(dir, name+".pem", certFile, "CERTIFICATE", der); err != nil {
		return err
	}
	return writePEM(dir, name+"-key.pem", keyFile, "PRIVATE KEY", keyDER)
}

func writePEM(dir, name string, path *string, kind string, der []byte) error {
	*path = filepath.Join(dir, name)
	return os.WriteFile(*path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}
