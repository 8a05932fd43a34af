package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// TLSConfig secures the gRPC traffic between chave's services. Every field
// is a PEM file. The zero value is plaintext, which suits loopback,
// development, or a service mesh that encrypts and authenticates the
// traffic itself.
//
// A server (the registry's and the auth service's gRPC listener) uses
// CertFile and KeyFile; with ClientCAFile it also requires every client to
// present a certificate issued by that CA (mutual TLS). A client (the auth
// service and the gateway dialling the registry and the auth service)
// verifies the server against CAFile (or the system roots when only a
// client certificate is set) and presents ClientCertFile and ClientKeyFile
// when given. Certificates and keys are read again when their files change
// (cert-manager and the kubelet replace them in place); the CA files are
// read once, at start.
type TLSConfig struct {
	CertFile       string // --tls-cert
	KeyFile        string // --tls-key
	ClientCAFile   string // --tls-client-ca
	CAFile         string // --tls-ca
	ClientCertFile string // --tls-client-cert
	ClientKeyFile  string // --tls-client-key
}

// serverEnabled reports whether the gRPC listener speaks TLS.
func (c TLSConfig) serverEnabled() bool {
	return c.CertFile != "" || c.KeyFile != "" || c.ClientCAFile != ""
}

// clientEnabled reports whether the gRPC clients speak TLS.
func (c TLSConfig) clientEnabled() bool {
	return c.CAFile != "" || c.ClientCertFile != "" || c.ClientKeyFile != ""
}

// validateServer names the server settings that do not fit together.
func (c TLSConfig) validateServer() error {
	var errs []error
	switch {
	case c.CertFile != "" && c.KeyFile == "":
		errs = append(errs, errors.New("--tls-key: required with --tls-cert"))
	case c.CertFile == "" && c.KeyFile != "":
		errs = append(errs, errors.New("--tls-cert: required with --tls-key"))
	}
	if c.ClientCAFile != "" && c.CertFile == "" {
		errs = append(errs, errors.New("--tls-client-ca: needs --tls-cert and --tls-key (mutual TLS is TLS)"))
	}
	return errors.Join(errs...)
}

// validateClient names the client settings that do not fit together.
func (c TLSConfig) validateClient() error {
	switch {
	case c.ClientCertFile != "" && c.ClientKeyFile == "":
		return errors.New("--tls-client-key: required with --tls-client-cert")
	case c.ClientCertFile == "" && c.ClientKeyFile != "":
		return errors.New("--tls-client-cert: required with --tls-client-key")
	}
	return nil
}

// serverCredentials returns the gRPC listener's transport credentials.
func (c TLSConfig) serverCredentials() (credentials.TransportCredentials, error) {
	if !c.serverEnabled() {
		return insecure.NewCredentials(), nil
	}
	if err := c.validateServer(); err != nil {
		return nil, err
	}
	cert, err := newKeyPairLoader("--tls-cert", c.CertFile, c.KeyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return cert.get()
		},
	}
	if c.ClientCAFile != "" {
		if cfg.ClientCAs, err = loadCertPool("--tls-client-ca", c.ClientCAFile); err != nil {
			return nil, err
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return credentials.NewTLS(cfg), nil
}

// clientCredentials returns the transport credentials of the connections
// to the other services. The server name checked is the host of the
// address dialled.
func (c TLSConfig) clientCredentials() (credentials.TransportCredentials, error) {
	if !c.clientEnabled() {
		return insecure.NewCredentials(), nil
	}
	if err := c.validateClient(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := loadCertPool("--tls-ca", c.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if c.ClientCertFile != "" {
		cert, err := newKeyPairLoader("--tls-client-cert", c.ClientCertFile, c.ClientKeyFile)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return cert.get()
		}
	}
	return credentials.NewTLS(cfg), nil
}

// loadCertPool reads a PEM bundle of CA certificates.
func loadCertPool(flagName, path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", flagName, path)
	}
	return pool, nil
}

// keyPairRecheck is how often a handshake may look at the certificate
// files again.
const keyPairRecheck = 10 * time.Second

// keyPairLoader holds a certificate and its key, and reads them again when
// either file changes, so that a renewed certificate is used without a
// restart. A renewal that cannot be read (a half-written file) keeps the
// previous pair.
type keyPairLoader struct {
	flagName, certFile, keyFile string

	mu        sync.Mutex
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	checkedAt time.Time
}

func newKeyPairLoader(flagName, certFile, keyFile string) (*keyPairLoader, error) {
	l := &keyPairLoader{flagName: flagName, certFile: certFile, keyFile: keyFile}
	if err := l.load(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *keyPairLoader) load() error {
	certInfo, err := os.Stat(l.certFile)
	if err != nil {
		return fmt.Errorf("%s: %w", l.flagName, err)
	}
	keyInfo, err := os.Stat(l.keyFile)
	if err != nil {
		return fmt.Errorf("%s: key: %w", l.flagName, err)
	}
	cert, err := tls.LoadX509KeyPair(l.certFile, l.keyFile)
	if err != nil {
		return fmt.Errorf("%s: %w", l.flagName, err)
	}
	l.cert, l.certMod, l.keyMod = &cert, certInfo.ModTime(), keyInfo.ModTime()
	return nil
}

func (l *keyPairLoader) get() (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.checkedAt) >= keyPairRecheck {
		l.checkedAt = now
		certInfo, cerr := os.Stat(l.certFile)
		keyInfo, kerr := os.Stat(l.keyFile)
		if cerr == nil && kerr == nil && (!certInfo.ModTime().Equal(l.certMod) || !keyInfo.ModTime().Equal(l.keyMod)) {
			_ = l.load() // on failure the previous pair stays in use
		}
	}
	return l.cert, nil
}
