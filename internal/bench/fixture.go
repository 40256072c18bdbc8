package bench

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
)

// The bench tenant and its applications. Every confidential application
// shares the fixture's client secret.
const (
	TenantID   = "bench"
	TenantHost = "bench.test" // sent as Host; the transport dials the target

	AppRS256       = "bench-rs256"     // SDK, RS256 id_token, no rotation
	AppRS256Rotate = "bench-rs256-rot" // SDK, RS256, session_auto_refresh
	AppES256       = "bench-es256"
	AppES256Rotate = "bench-es256-rot"
	AppCCOpaque    = "bench-cc-opaque" // client_credentials, opaque access tokens
	AppCCJWT       = "bench-cc-jwt"    // client_credentials, RS256 JWT access tokens
	AppWeb         = "bench-web"       // authorization code + refresh tokens

	// RedirectURI is bench-web's redirect URI. The harness never follows
	// the redirect: it reads the code from the Location header.
	RedirectURI = "http://127.0.0.1/bench/callback"
)

// Fixture is what the harness knows of the server it provisioned.
type Fixture struct {
	Secret   string   // every confidential application's client secret
	Password string   // every user's password
	Users    []string // user names
}

// newFixture draws fresh secrets for n users.
func newFixture(n int) Fixture {
	f := Fixture{Secret: "bench-" + randomHex(16), Password: "Bench-" + randomHex(8) + "-9"}
	for i := range max(n, 1) {
		f.Users = append(f.Users, fmt.Sprintf("user%05d", i))
	}
	return f
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// ServerConfig is the configuration of the server the harness starts: the
// shipped defaults (config.Defaults), listening on addr (127.0.0.1:port),
// with storage as given and the bench tenant. Rate limits are raised out of
// reach, not switched off, so the limiter's cost is part of what is
// measured, as it is in production; lockout never triggers because every
// login uses the right password.
func (f Fixture) ServerConfig(addr, driver, dsn, pprofAddr string) config.Config {
	cfg := config.Defaults()
	_, port := splitPort(addr)
	cfg.Server.Listen = addr
	cfg.Server.PublicURL = "http://" + TenantHost + ":" + port
	cfg.Server.PProf = pprofAddr
	cfg.Storage.Driver, cfg.Storage.DSN = driver, dsn
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	cfg.Secrets.KeyEncryptionKey = base64.StdEncoding.EncodeToString(kek)
	unlimited := config.RateRule{Rate: 1e6, Burst: 1_000_000}
	cfg.RateLimit.LoginPerIP, cfg.RateLimit.TokenPerClient = unlimited, unlimited
	cfg.RateLimit.ExchangePerClient, cfg.RateLimit.ExchangePerIP = unlimited, unlimited

	yes := true
	sdk := func(id, alg string, rotate bool) config.Application {
		a := config.Application{ClientID: id, ClientSecret: f.Secret, IDTokenAlg: alg,
			GrantTypes: []string{"client_credentials"}}
		if rotate {
			a.SessionAutoRefresh = &yes
		}
		return a
	}
	t := config.Tenant{
		ID: TenantID, Name: "Bench", Edition: "eiam", Domains: []string{TenantHost}, DefaultLanguage: "en",
		Applications: []config.Application{
			sdk(AppRS256, "RS256", false),
			sdk(AppRS256Rotate, "RS256", true),
			sdk(AppES256, "ES256", false),
			sdk(AppES256Rotate, "ES256", true),
			{ClientID: AppCCOpaque, ClientSecret: f.Secret, GrantTypes: []string{"client_credentials"}, AccessTokenFormat: "opaque"},
			{ClientID: AppCCJWT, ClientSecret: f.Secret, GrantTypes: []string{"client_credentials"}, AccessTokenFormat: "jwt", IDTokenAlg: "RS256"},
			{ClientID: AppWeb, ClientSecret: f.Secret, RedirectURIs: []string{RedirectURI},
				GrantTypes:      []string{"authorization_code", "refresh_token", "client_credentials"},
				RefreshTokenTTL: 24 * time.Hour, IDTokenAlg: "RS256"},
		},
	}
	for _, u := range f.Users {
		t.Users = append(t.Users, config.User{Username: u, Password: f.Password, Name: "Bench " + u, Email: u + "@bench.test"})
	}
	cfg.Bootstrap.Tenants = []config.Tenant{t}
	return cfg
}

// configFile renders cfg as a configuration file for `sesame serve
// --config`. It is JSON, which is also YAML, with the koanf key names;
// zero values are left out so that the server's defaults apply to them.
func configFile(cfg config.Config) ([]byte, error) {
	return json.MarshalIndent(koanfMap(reflect.ValueOf(cfg)), "", "  ")
}

// koanfMap turns a configuration value into the map koanf would have
// unmarshaled it from.
func koanfMap(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return koanfMap(v.Elem())
	case reflect.Struct:
		m := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			key := f.Tag.Get("koanf")
			if key == "" || v.Field(i).IsZero() {
				continue
			}
			m[key] = koanfMap(v.Field(i))
		}
		return m
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = koanfMap(v.Index(i))
		}
		return out
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	return v.Interface()
}
