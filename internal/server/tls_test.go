package server

import (
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
)

func TestTLSConfig(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	cfg := config.Defaults()
	if c, err := tlsConfig(cfg, logger); c != nil || err != nil {
		t.Fatalf("plain HTTP: %v %v", c, err)
	}

	// Development mode: a certificate for the public host, the tenants'
	// domains and localhost.
	cfg.Server.TLSSelfSigned = true
	cfg.Server.PublicURL = "https://idp.example:8443"
	cfg.Bootstrap.Tenants = []config.Tenant{{ID: "a", Domains: []string{"acme.localhost"}}}
	c, err := tlsConfig(cfg, logger)
	if err != nil || c == nil || c.MinVersion < 0x0303 {
		t.Fatalf("self-signed: %v %v", c, err)
	}
	leaf, err := x509.ParseCertificate(c.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"idp.example", "acme.localhost", "localhost"} {
		if !slices.Contains(leaf.DNSNames, h) {
			t.Errorf("certificate lacks %s: %v", h, leaf.DNSNames)
		}
	}
	if len(leaf.IPAddresses) != 2 || time.Until(leaf.NotAfter) < 80*24*time.Hour {
		t.Errorf("IPs %v, expiry %v", leaf.IPAddresses, leaf.NotAfter)
	}

	// Certificate files.
	dir := t.TempDir()
	cert, err := selfSigned([]string{"files.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	_ = os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	cfg.Server.TLSSelfSigned = false
	cfg.Server.TLSCert, cfg.Server.TLSKey = certPath, keyPath
	if c, err := tlsConfig(cfg, logger); err != nil || c == nil {
		t.Fatalf("files: %v", err)
	}
	cfg.Server.TLSKey = filepath.Join(dir, "missing.pem")
	if _, err := tlsConfig(cfg, logger); err == nil {
		t.Fatal("a missing key file was accepted")
	}
}
