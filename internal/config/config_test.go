package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

const key32 = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=" // 32 bytes, base64

func writeFile(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "sesame.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	cfg, err := Load("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:8080" || cfg.Server.PublicURL != "http://127.0.0.1:8080" ||
		cfg.Storage.Driver != "sqlite" || cfg.Storage.DSN != "./sesame-data/sesame.db" || cfg.PublicHost() != "127.0.0.1" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

// TestPrecedence: file < SESAME_* environment < flags.
func TestPrecedence(t *testing.T) {
	path := writeFile(t, `
server:
  listen: 127.0.0.1:7000
  public_url: http://file.example:7000
storage:
  dsn: /from/file.db
secrets:
  key_encryption_key: ${TEST_KEK}
keys:
  rotation_delay: 2m
  refresh_interval: 10s
bootstrap:
  tenants:
    - id: acme
      edition: eiam
      domains: [Acme.Localhost]
      lockout_threshold: 0
      applications:
        - client_id: acme-portal
          client_secret: s3cret-acme-portal-0123456789
          session_ttl: 168h
          session_auto_refresh: true
          device_binding: false
          id_token_alg: ES256
      users:
        - username: alice
          password: Correct-Horse-9
          mobile: "+86-13800000000"
`)
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	Flags(fs)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:9000"}); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"TEST_KEK=" + key32,
		"SESAME_SERVER__LISTEN=127.0.0.1:8000", // loses to the flag
		"SESAME_SERVER__PUBLIC_URL=http://env.example:8000",
		"SESAME_TEST_POSTGRES_DSN=postgres://ignored", // not configuration
	}
	cfg, err := Load(path, env, fs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:9000" {
		t.Errorf("listen %q, want the flag's", cfg.Server.Listen)
	}
	if cfg.Server.PublicURL != "http://env.example:8000" {
		t.Errorf("public_url %q, want the environment's", cfg.Server.PublicURL)
	}
	if cfg.Storage.DSN != "/from/file.db" || cfg.Keys.RotationDelay != 2*time.Minute {
		t.Errorf("file values lost: %+v %+v", cfg.Storage, cfg.Keys)
	}
	if k, err := cfg.KeyEncryptionKey(); err != nil || len(k) != 32 {
		t.Errorf("${TEST_KEK} not expanded: %v", err)
	}
	tn := cfg.Bootstrap.Tenants[0]
	app := tn.Applications[0]
	if tn.LockoutThreshold == nil || *tn.LockoutThreshold != 0 || app.SessionTTL != 168*time.Hour ||
		app.SessionAutoRefresh == nil || !*app.SessionAutoRefresh || app.DeviceBinding == nil || *app.DeviceBinding ||
		app.IDTokenAlg != "ES256" || tn.Users[0].Mobile != "+86-13800000000" {
		t.Errorf("bootstrap parsed wrong: %+v", tn)
	}
}

func TestValidate(t *testing.T) {
	for _, test := range []struct {
		name, yaml, want string
	}{
		{"bad driver", "storage: {driver: mysql}", "storage.driver"},
		{"postgres needs a key", "storage: {driver: postgres, dsn: 'postgres://x'}", "key_encryption_key is required"},
		{"short key", "secrets: {key_encryption_key: c2hvcnQ=}", "32 bytes"},
		{"not base64", "secrets: {key_encryption_key: '!!!'}", "not valid base64"},
		{"bad public url", "server: {public_url: 'ftp://x'}", "public_url"},
		{"rotation faster than refresh", "keys: {rotation_delay: 1s, refresh_interval: 30s}", "rotation_delay"},
		{"duplicate tenant", "bootstrap: {tenants: [{id: a, domains: [a.test]}, {id: a, domains: [b.test]}]}", "declared twice"},
		{"tenant without a domain", "bootstrap: {tenants: [{id: a}]}", "at least one domain"},
		{"bad edition", "bootstrap: {tenants: [{id: a, domains: [a.test], edition: x}]}", "edition"},
		{"bad mfa policy", "bootstrap: {tenants: [{id: a, domains: [a.test], mfa: always}]}", "mfa must be off, optional or required"},
		{"domain with port", "bootstrap: {tenants: [{id: a, domains: ['a.test:80']}]}", "without a port"},
		{"shared domain", "bootstrap: {tenants: [{id: a, domains: [x.test]}, {id: b, domains: [X.test]}]}", "also a domain"},
		{"short secret", "bootstrap: {tenants: [{id: a, domains: [a.test], applications: [{client_id: c, client_secret: short}]}]}", "client_secret"},
		{"bad alg", "bootstrap: {tenants: [{id: a, domains: [a.test], applications: [{client_id: c, id_token_alg: HS256}]}]}", "id_token_alg"},
		{"bad grant", "bootstrap: {tenants: [{id: a, domains: [a.test], applications: [{client_id: c, grant_types: [password]}]}]}", "grant type"},
		{"redirect uri query not form-urlencoded", "bootstrap: {tenants: [{id: a, domains: [a.test], applications: [{client_id: c, redirect_uris: ['https://app.test/cb?a=%zz&b=1']}]}]}", "not form-urlencoded"},
		{"duplicate user", "bootstrap: {tenants: [{id: a, domains: [a.test], users: [{username: A}, {username: a}]}]}", "declared twice"},
		{"unknown duration", "keys: {rotation_delay: soon}", "config"},
	} {
		t.Run(test.name, func(t *testing.T) {
			_, err := Load(writeFile(t, test.yaml), nil, nil)
			if err == nil || !strings.Contains(err.Error(), test.want) {
				t.Fatalf("got %v, want an error containing %q", err, test.want)
			}
		})
	}
}
