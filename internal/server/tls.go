package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
)

// tlsConfig returns the server's TLS configuration, or nil when it serves
// plain HTTP: the configured certificate files, or, in development mode, a
// self-signed certificate made now for the public URL's host, every tenant
// domain of the bootstrap, and localhost.
func tlsConfig(cfg config.Config, logger *slog.Logger) (*tls.Config, error) {
	if !cfg.Server.TLS() {
		return nil, nil
	}
	var cert tls.Certificate
	var err error
	if cfg.Server.TLSSelfSigned {
		hosts := []string{cfg.PublicHost(), "localhost", "127.0.0.1", "::1"}
		for _, t := range cfg.Bootstrap.Tenants {
			hosts = append(hosts, t.Domains...)
		}
		cert, err = selfSigned(hosts, time.Now())
		if err == nil {
			sum := sha256.Sum256(cert.Certificate[0])
			logger.Warn("serving HTTPS with a self-signed certificate: for development only", "sha256", hex.EncodeToString(sum[:]), "hosts", hosts)
		}
	} else {
		cert, err = tls.LoadX509KeyPair(cfg.Server.TLSCert, cfg.Server.TLSKey)
	}
	if err != nil {
		return nil, fmt.Errorf("server: TLS certificate: %w", err)
	}
	// An ECDSA certificate keeps handshakes cheap (performance anchors: an
	// RSA-2048 certificate costs a full RS256 signature per handshake).
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// selfSigned makes an ECDSA P-256 certificate valid for 90 days for hosts
// (DNS names or IP addresses).
func selfSigned(hosts []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Sesame development certificate"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(90 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
