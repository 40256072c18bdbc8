package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/sesame-idp/sesame/internal/clock"
)

// Config is the whole configuration of a Sesame server.
type Config struct {
	Server    Server    `koanf:"server"`
	Storage   Storage   `koanf:"storage"`
	Secrets   Secrets   `koanf:"secrets"`
	Keys      Keys      `koanf:"keys"`
	Password  Password  `koanf:"password"`
	Sweep     Sweep     `koanf:"sweep"`
	SDK       SDK       `koanf:"sdk"`
	Log       Log       `koanf:"log"`
	Bootstrap Bootstrap `koanf:"bootstrap"`
	RateLimit RateLimit `koanf:"rate_limit"`
	Admin     Admin     `koanf:"admin"`
	Audit     Audit     `koanf:"audit"`
}

// Audit configures the audit log (package audit): how long events are
// kept, and the in-memory buffer that takes them off the request path.
type Audit struct {
	// Retention is how long events are kept; 0 keeps them forever.
	Retention time.Duration `koanf:"retention"`
	// PruneInterval is how often older events are deleted, PruneBatch
	// events per statement.
	PruneInterval time.Duration `koanf:"prune_interval"`
	PruneBatch    int           `koanf:"prune_batch"`
	// BufferSize events may wait for the database; BatchSize are stored
	// per transaction, at the latest FlushInterval after they happened.
	BufferSize    int           `koanf:"buffer_size"`
	BatchSize     int           `koanf:"batch_size"`
	FlushInterval time.Duration `koanf:"flush_interval"`
	// FullWait is how long a request waits for room in a full buffer
	// before its event is dropped (and counted); 0 drops at once.
	FullWait time.Duration `koanf:"full_wait"`
}

// Admin configures administration (package admin): the system tenant,
// which holds the administrators and their console application, answers
// on Domain. Its issuer, and so the console's sign-in, is
// {public_url scheme}://{Domain}[:{public_url port}]/api/v1/oauth2.
type Admin struct {
	// Domain is the system tenant's host name, without port. Browsers and
	// curl resolve *.localhost to the loopback address, so the default
	// works on a development machine; a deployment sets its own.
	Domain string `koanf:"domain"`
}

// Server configures the HTTP listener.
type Server struct {
	Listen string `koanf:"listen"`
	// PublicURL is the base URL clients reach the server at; its scheme and
	// port make every tenant's issuer (contract §4).
	PublicURL string `koanf:"public_url"`
	// CommonDomains are host names shared by several tenants, where the
	// X-tenant-id header selects the tenant (contract §1, ISV mode).
	CommonDomains   []string      `koanf:"common_domains"`
	MaxBodyBytes    int64         `koanf:"max_body_bytes"`
	RequestTimeout  time.Duration `koanf:"request_timeout"`
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// TLSCert and TLSKey are PEM files; with both set the server speaks
	// HTTPS only (and sends HSTS).
	TLSCert string `koanf:"tls_cert"`
	TLSKey  string `koanf:"tls_key"`
	// TLSSelfSigned serves HTTPS with a certificate generated at start for
	// the public URL's host and localhost: for development only.
	TLSSelfSigned bool `koanf:"tls_self_signed"`
	// PProf, when set, serves net/http/pprof on this address, which must
	// be a loopback address (127.0.0.1:6060, [::1]:6060): profiles show
	// internals and cost CPU, so they are opt-in and never public.
	PProf string `koanf:"pprof"`
}

// TLS reports whether the server terminates TLS itself.
func (s Server) TLS() bool { return s.TLSSelfSigned || (s.TLSCert != "" && s.TLSKey != "") }

// Storage selects the database.
type Storage struct {
	Driver string `koanf:"driver"` // sqlite | postgres
	DSN    string `koanf:"dsn"`
	// QueryTimeout bounds every storage call of a request; past it the
	// request gets the system-busy error instead of hanging.
	QueryTimeout time.Duration `koanf:"query_timeout"`
	// SQLiteSynchronous is full (every commit fsynced before it is
	// answered) or normal (faster writes; the last commits can be lost in
	// an OS crash, a power loss or a file system error). See README
	// "Faults".
	SQLiteSynchronous string `koanf:"sqlite_synchronous"`
}

// Secrets holds the deployment's master secret.
type Secrets struct {
	// KeyEncryptionKey is 32 bytes, base64 (standard or URL alphabet). It
	// encrypts signing keys at rest and keys the token hashes, so every node
	// of a deployment must share it.
	KeyEncryptionKey string `koanf:"key_encryption_key"`
}

// Keys configures signing-key rotation.
type Keys struct {
	// RotationDelay is how long a new key is published before it signs,
	// so that relying parties that cache the JWKS see it first.
	RotationDelay time.Duration `koanf:"rotation_delay"`
	// RefreshInterval is how often a node reloads keys from storage; a key
	// rotated on one node is in every node's JWKS within this bound.
	RefreshInterval time.Duration `koanf:"refresh_interval"`
	// MinRetention is the least time a retired key stays published.
	MinRetention time.Duration `koanf:"min_retention"`
}

// Password configures password hashing.
type Password struct {
	Concurrency int           `koanf:"concurrency"` // hashes at once; 0: one per CPU
	QueueLimit  int           `koanf:"queue_limit"` // logins allowed to wait for a hashing slot
	MaxWait     time.Duration `koanf:"max_wait"`    // longest wait before the system-busy error
}

// Sweep configures the background removal of expired records.
type Sweep struct {
	Interval time.Duration `koanf:"interval"`
	Batch    int           `koanf:"batch"`
}

// SDK configures the SDK API.
type SDK struct {
	// SignatureWindow is how far the timestamp of a signed call
	// (X-signature) may be from the server's clock.
	SignatureWindow time.Duration `koanf:"signature_window"`
}

// RateLimit configures the abuse controls (package ratelimit): token
// buckets per client IP and per (tenant, client_id), answered with 429 and
// Retry-After. Per-account lockout is separate (per tenant, bootstrap).
type RateLimit struct {
	// RedisURL (redis:// or rediss://) keeps the buckets in Redis, shared
	// by every node; empty keeps them in each node's memory. A Redis error
	// allows the request (fail open) and is logged at warn.
	RedisURL string `koanf:"redis_url"`
	// RedisPrefix starts every Redis key.
	RedisPrefix string `koanf:"redis_prefix"`
	// RedisTimeout bounds one check against Redis; past it the check
	// fails open.
	RedisTimeout time.Duration `koanf:"redis_timeout"`
	// MaxKeys bounds the buckets kept in memory (least recently used out).
	MaxKeys int `koanf:"max_keys"`
	// TrustedProxies are the CIDR prefixes (or addresses) of the reverse
	// proxies in front of Sesame. The client IP is the TCP peer's address
	// unless the peer is one of these; then it is read from
	// X-Forwarded-For. Behind a proxy that is not listed every client
	// shares the proxy's budget.
	TrustedProxies []string `koanf:"trusted_proxies"`
	// LoginPerIP: SDK login and login/auth and the hosted login form, per
	// client IP.
	LoginPerIP RateRule `koanf:"login_per_ip"`
	// TokenPerClient: /api/v1/oauth2/token and /api/v2/tenant/token, per
	// authenticated (tenant, client_id).
	TokenPerClient RateRule `koanf:"token_per_client"`
	// ExchangePerClient and ExchangePerIP: the session exchange
	// (/api/v2/sdk/sso/session-token/id-token), per (tenant, client_id)
	// and per client IP.
	ExchangePerClient RateRule `koanf:"exchange_per_client"`
	ExchangePerIP     RateRule `koanf:"exchange_per_ip"`
}

// RateRule is a token bucket: Burst requests at once, refilled at Rate
// per second. Rate 0 turns the rule off.
type RateRule struct {
	Rate  float64 `koanf:"rate"`
	Burst int     `koanf:"burst"`
}

// Log configures logging.
type Log struct {
	Level  string `koanf:"level"`  // debug | info | warn | error
	Format string `koanf:"format"` // json | text
}

// Bootstrap declares tenants, applications and users that are applied,
// idempotently, at every start.
type Bootstrap struct {
	Tenants []Tenant `koanf:"tenants"`
}

// Tenant declares one tenant.
type Tenant struct {
	ID              string   `koanf:"id"`
	Name            string   `koanf:"name"`
	Edition         string   `koanf:"edition"`
	Domains         []string `koanf:"domains"`
	DefaultLanguage string   `koanf:"default_language"`

	LockoutThreshold   *int          `koanf:"lockout_threshold"`
	LockoutWindow      time.Duration `koanf:"lockout_window"`
	LockoutDuration    time.Duration `koanf:"lockout_duration"`
	PasswordMaxAge     time.Duration `koanf:"password_max_age"`
	PasswordWarnBefore time.Duration `koanf:"password_warn_before"`
	PasswordMinLength  int           `koanf:"password_min_length"`
	// MFA is the second-factor (TOTP) policy: off (default), optional
	// (asked of users who enrolled) or required (everyone; users enrol
	// during their next login).
	MFA string `koanf:"mfa"`

	Applications []Application `koanf:"applications"`
	Users        []User        `koanf:"users"`
}

// Application declares one application (client) of a tenant. Zero
// durations and nil switches take the defaults of contract §8.
type Application struct {
	ClientID             string        `koanf:"client_id"`
	ClientSecret         string        `koanf:"client_secret"`
	Name                 string        `koanf:"name"`
	RedirectURIs         []string      `koanf:"redirect_uris"`
	GrantTypes           []string      `koanf:"grant_types"`
	SessionTTL           time.Duration `koanf:"session_ttl"`
	SessionAutoRefresh   *bool         `koanf:"session_auto_refresh"`
	RotationGrace        time.Duration `koanf:"rotation_grace"`
	DeviceBinding        *bool         `koanf:"device_binding"`
	IDTokenTTL           time.Duration `koanf:"id_token_ttl"`
	IDTokenAlg           string        `koanf:"id_token_alg"`
	AccessTokenTTL       time.Duration `koanf:"access_token_ttl"`
	TenantAccessTokenTTL time.Duration `koanf:"tenant_access_token_ttl"`
	RefreshTokenTTL      time.Duration `koanf:"refresh_token_ttl"`
	// AccessTokenFormat is opaque (default) or jwt (RFC 9068).
	AccessTokenFormat      string   `koanf:"access_token_format"`
	PostLogoutRedirectURIs []string `koanf:"post_logout_redirect_uris"`
}

// User declares one user. The password is the initial password: it is set
// when the user is created and not overwritten at later starts, so that a
// user's own password change survives a restart.
type User struct {
	Username string `koanf:"username"`
	Password string `koanf:"password"`
	Name     string `koanf:"name"`
	Email    string `koanf:"email"`
	Mobile   string `koanf:"mobile"`
}

// Defaults returns the configuration used when nothing is configured.
func Defaults() Config {
	return Config{
		Server: Server{
			Listen:          "127.0.0.1:8080",
			MaxBodyBytes:    64 << 10,
			RequestTimeout:  10 * time.Second,
			ShutdownTimeout: 15 * time.Second,
		},
		Storage: Storage{Driver: "sqlite", DSN: "./sesame-data/sesame.db", QueryTimeout: 5 * time.Second, SQLiteSynchronous: "full"},
		Keys: Keys{
			RotationDelay:   10 * time.Minute,
			RefreshInterval: 30 * time.Second,
			MinRetention:    24 * time.Hour,
		},
		Password: Password{QueueLimit: 64, MaxWait: 2 * time.Second},
		Admin:    Admin{Domain: "admin.localhost"},
		Sweep:    Sweep{Interval: time.Minute, Batch: 1000},
		SDK:      SDK{SignatureWindow: 5 * time.Minute},
		Log:      Log{Level: "info", Format: "json"},
		// Generous: a busy office behind one NAT address does not reach
		// them; a single source trying passwords or hammering the token
		// endpoints does.
		RateLimit: RateLimit{
			RedisPrefix:       "sesame:rl:",
			RedisTimeout:      250 * time.Millisecond,
			MaxKeys:           100_000,
			LoginPerIP:        RateRule{Rate: 20, Burst: 300},
			TokenPerClient:    RateRule{Rate: 100, Burst: 1000},
			ExchangePerClient: RateRule{Rate: 500, Burst: 5000},
			ExchangePerIP:     RateRule{Rate: 50, Burst: 500},
		},
		Audit: Audit{
			Retention:     90 * 24 * time.Hour,
			PruneInterval: time.Hour,
			PruneBatch:    1000,
			BufferSize:    4096,
			BatchSize:     256,
			FlushInterval: time.Second,
			FullWait:      50 * time.Millisecond,
		},
	}
}

// Flags registers the command-line flags that override configuration keys.
// Each flag's name maps to a key through FlagKeys.
func Flags(fs *pflag.FlagSet) {
	fs.String("listen", "", "address to listen on (server.listen)")
	fs.String("public-url", "", "public base URL (server.public_url)")
	fs.String("storage-driver", "", "sqlite or postgres (storage.driver)")
	fs.String("storage-dsn", "", "database file or PostgreSQL URL (storage.dsn)")
	fs.String("log-level", "", "debug, info, warn or error (log.level)")
	fs.String("tls-cert", "", "PEM certificate file: serve HTTPS (server.tls_cert)")
	fs.String("tls-key", "", "PEM private key file (server.tls_key)")
	fs.Bool("tls-self-signed", false, "serve HTTPS with a generated self-signed certificate, for development (server.tls_self_signed)")
}

// FlagKeys maps flag names to configuration keys.
var flagKeys = map[string]string{
	"listen":          "server.listen",
	"public-url":      "server.public_url",
	"storage-driver":  "storage.driver",
	"storage-dsn":     "storage.dsn",
	"log-level":       "log.level",
	"tls-cert":        "server.tls_cert",
	"tls-key":         "server.tls_key",
	"tls-self-signed": "server.tls_self_signed",
}

// envRef matches ${NAME} references in the configuration file.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Load builds the configuration: defaults, then the YAML file at path (if
// path is not empty; ${NAME} in it is replaced by the environment variable
// NAME), then SESAME_* environment variables (SESAME_SERVER__PUBLIC_URL sets
// server.public_url: a double underscore separates levels), then the flags
// that were set. getenv is os.Getenv in production.
func Load(path string, environ []string, flags *pflag.FlagSet) (Config, error) {
	k := koanf.New(".")
	getenv := func(name string) string {
		for _, kv := range environ {
			if n, v, ok := strings.Cut(kv, "="); ok && n == name {
				return v
			}
		}
		return ""
	}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		expanded := envRef.ReplaceAllFunc(raw, func(m []byte) []byte {
			return []byte(getenv(string(envRef.FindSubmatch(m)[1])))
		})
		if err := k.Load(rawbytes.Provider(expanded), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	envProvider := env.Provider(".", env.Opt{
		Prefix: "SESAME_",
		TransformFunc: func(key, value string) (string, any) {
			key = strings.ToLower(strings.TrimPrefix(key, "SESAME_"))
			return strings.ReplaceAll(key, "__", "."), value
		},
		EnvironFunc: func() []string {
			var out []string
			for _, kv := range environ {
				// Only nested keys (with "__") are configuration; plain
				// SESAME_FOO variables such as SESAME_TEST_* belong to others.
				if strings.HasPrefix(kv, "SESAME_") && strings.Contains(kv[:strings.IndexByte(kv+"=", '=')], "__") {
					out = append(out, kv)
				}
			}
			return out
		},
	})
	if err := k.Load(envProvider, nil); err != nil {
		return Config{}, fmt.Errorf("config: environment: %w", err)
	}
	if flags != nil {
		p := posflag.ProviderWithFlag(flags, ".", k, func(f *pflag.Flag) (string, any) {
			key, ok := flagKeys[f.Name]
			if !ok || !f.Changed {
				return "", nil
			}
			return key, posflag.FlagVal(flags, f)
		})
		if err := k.Load(p, nil); err != nil {
			return Config{}, fmt.Errorf("config: flags: %w", err)
		}
	}
	cfg := Defaults()
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if cfg.Server.PublicURL == "" {
		scheme := "http://"
		if cfg.Server.TLS() {
			scheme = "https://"
		}
		cfg.Server.PublicURL = scheme + cfg.Server.Listen
	}
	return cfg, cfg.Validate()
}

// Validate reports the first problem in the configuration.
func (c Config) Validate() error {
	pu, perr := url.Parse(c.Server.PublicURL)
	for _, check := range []struct {
		bad bool
		msg string
	}{
		{c.Server.Listen == "", "server.listen is empty"},
		{perr != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https"), "server.public_url must be an absolute http(s) URL"},
		{c.Server.MaxBodyBytes < 1024, "server.max_body_bytes must be at least 1024"},
		{(c.Server.TLSCert == "") != (c.Server.TLSKey == ""), "server.tls_cert and server.tls_key go together"},
		{c.Server.TLSSelfSigned && c.Server.TLSCert != "", "server.tls_self_signed and server.tls_cert exclude each other"},
		{c.Server.PProf != "" && !loopbackAddr(c.Server.PProf), "server.pprof must be a loopback address with a port (127.0.0.1:6060 or [::1]:6060)"},
		{c.Storage.Driver != "sqlite" && c.Storage.Driver != "postgres", "storage.driver must be sqlite or postgres"},
		{c.Storage.DSN == "", "storage.dsn is empty"},
		{c.Storage.Driver == "postgres" && c.Secrets.KeyEncryptionKey == "", "secrets.key_encryption_key is required with storage.driver postgres: every node must share it"},
		{c.Storage.QueryTimeout <= 0, "storage.query_timeout must be positive"},
		{c.Storage.SQLiteSynchronous != "full" && c.Storage.SQLiteSynchronous != "normal", "storage.sqlite_synchronous must be full or normal"},
		{c.Keys.RefreshInterval <= 0, "keys.refresh_interval must be positive"},
		// A node whose clock is ahead by clock.MaxSkew reaches a new key's
		// activation that much early; every node must have loaded the key
		// by then.
		{c.Keys.RotationDelay < c.Keys.RefreshInterval+clock.MaxSkew, "keys.rotation_delay must be at least keys.refresh_interval plus the clock skew bound between nodes (" + clock.MaxSkew.String() + "), so every node publishes a new key before any node signs with it"},
		{c.Sweep.Interval <= 0 || c.Sweep.Batch <= 0, "sweep.interval and sweep.batch must be positive"},
		{c.SDK.SignatureWindow <= 0 || c.SDK.SignatureWindow > time.Hour, "sdk.signature_window must be between 0 and 1h"},
	} {
		if check.bad {
			return errors.New("config: " + check.msg)
		}
	}
	if _, err := c.KeyEncryptionKey(); err != nil {
		return err
	}
	if err := c.RateLimit.validate(); err != nil {
		return err
	}
	if err := c.validateAdmin(); err != nil {
		return err
	}
	if err := c.Audit.validate(); err != nil {
		return err
	}
	return c.Bootstrap.validate()
}

func (r RateLimit) validate() error {
	if r.RedisURL != "" {
		u, err := url.Parse(r.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			return errors.New("config: rate_limit.redis_url must be a redis://, rediss:// or unix:// URL")
		}
	}
	if r.RedisTimeout <= 0 || r.MaxKeys < 16 {
		return errors.New("config: rate_limit.redis_timeout must be positive and rate_limit.max_keys at least 16")
	}
	for _, p := range r.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return fmt.Errorf("config: rate_limit.trusted_proxies: %q is neither a CIDR prefix nor an IP address", p)
			}
		}
	}
	for name, rule := range map[string]RateRule{
		"login_per_ip": r.LoginPerIP, "token_per_client": r.TokenPerClient,
		"exchange_per_client": r.ExchangePerClient, "exchange_per_ip": r.ExchangePerIP,
	} {
		if rule.Rate == 0 {
			continue // off
		}
		if !(rule.Rate >= 0.001 && rule.Rate <= 1e6) || rule.Burst < 1 || rule.Burst > 1_000_000 {
			return fmt.Errorf("config: rate_limit.%s: rate must be 0 (off) or between 0.001 and 1e6 per second, with burst between 1 and 1000000", name)
		}
	}
	return nil
}

func (a Audit) validate() error {
	for _, check := range []struct {
		bad bool
		msg string
	}{
		// A retention under an hour is almost certainly a unit mistake
		// ("90" read as nanoseconds) that would empty the log.
		{a.Retention != 0 && a.Retention < time.Hour, "audit.retention must be 0 (keep forever) or at least 1h"},
		{a.PruneInterval <= 0, "audit.prune_interval must be positive"},
		{a.PruneBatch < 1 || a.PruneBatch > 100_000, "audit.prune_batch must be between 1 and 100000"},
		{a.BufferSize < 16 || a.BufferSize > 1_000_000, "audit.buffer_size must be between 16 and 1000000"},
		{a.BatchSize < 1 || a.BatchSize > 10_000 || a.BatchSize > a.BufferSize, "audit.batch_size must be between 1 and 10000 and at most audit.buffer_size"},
		{a.FlushInterval < 10*time.Millisecond || a.FlushInterval > time.Minute, "audit.flush_interval must be between 10ms and 1m"},
		{a.FullWait < 0 || a.FullWait > time.Second, "audit.full_wait must be between 0 and 1s"},
	} {
		if check.bad {
			return errors.New("config: " + check.msg)
		}
	}
	return nil
}

// loopbackAddr reports whether addr is host:port with a loopback IP host.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validateAdmin checks admin.domain: a host name that no declared
// tenant uses (the system tenant must own it).
func (c Config) validateAdmin() error {
	d := strings.ToLower(c.Admin.Domain)
	if d == "" || strings.ContainsAny(d, "/:@ ") || len(d) > 253 {
		return fmt.Errorf("config: admin.domain %q is not a host name (give it without a port)", c.Admin.Domain)
	}
	for _, t := range c.Bootstrap.Tenants {
		if t.ID == "system" {
			return errors.New("config: bootstrap.tenants: the tenant id \"system\" is reserved for the administrators")
		}
		for _, td := range t.Domains {
			if strings.EqualFold(td, d) {
				return fmt.Errorf("config: admin.domain %q is also a domain of tenant %q", d, t.ID)
			}
		}
	}
	return nil
}

// KeyEncryptionKey decodes secrets.key_encryption_key; it returns nil when
// none is configured.
func (c Config) KeyEncryptionKey() ([]byte, error) {
	return DecodeKey(c.Secrets.KeyEncryptionKey)
}

// DecodeKey decodes a base64 (standard or URL, padded or not) 32-byte key.
// An empty string gives nil and no error.
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, enc := range encodings {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("config: secrets.key_encryption_key must decode to 32 bytes, got %d", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("config: secrets.key_encryption_key is not valid base64")
}

// PublicHost returns the host name (without port) of server.public_url.
func (c Config) PublicHost() string {
	u, err := url.Parse(c.Server.PublicURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

func (b Bootstrap) validate() error {
	seenTenant := map[string]bool{}
	seenDomain := map[string]string{}
	for i, t := range b.Tenants {
		where := fmt.Sprintf("bootstrap.tenants[%d]", i)
		if t.ID == "" {
			return fmt.Errorf("config: %s.id is empty", where)
		}
		if seenTenant[t.ID] {
			return fmt.Errorf("config: %s: tenant id %q declared twice", where, t.ID)
		}
		seenTenant[t.ID] = true
		if t.Edition != "" && t.Edition != "eiam" && t.Edition != "ciam" {
			return fmt.Errorf("config: %s.edition must be eiam or ciam", where)
		}
		if len(t.Domains) == 0 {
			// The first domain names the tenant's issuer; without one the
			// tenant would share an issuer with another (contract §4). A
			// tenant is also reachable on the common domains by X-tenant-id.
			return fmt.Errorf("config: %s.domains: a tenant needs at least one domain of its own", where)
		}
		if t.DefaultLanguage != "" && t.DefaultLanguage != "en" && t.DefaultLanguage != "zh" {
			return fmt.Errorf("config: %s.default_language must be en or zh", where)
		}
		switch t.MFA {
		case "", "off", "optional", "required":
		default:
			return fmt.Errorf("config: %s.mfa must be off, optional or required", where)
		}
		for _, d := range t.Domains {
			d = strings.ToLower(d)
			if d == "" || strings.ContainsAny(d, "/:@ ") {
				if _, _, err := net.SplitHostPort(d); err == nil {
					return fmt.Errorf("config: %s.domains: %q: give the host name without a port", where, d)
				}
				return fmt.Errorf("config: %s.domains: %q is not a host name", where, d)
			}
			if other, ok := seenDomain[d]; ok {
				return fmt.Errorf("config: %s.domains: %q is also a domain of tenant %q", where, d, other)
			}
			seenDomain[d] = t.ID
		}
		seenClient := map[string]bool{}
		for j, a := range t.Applications {
			aw := fmt.Sprintf("%s.applications[%d]", where, j)
			if a.ClientID == "" {
				return fmt.Errorf("config: %s.client_id is empty", aw)
			}
			if seenClient[a.ClientID] {
				return fmt.Errorf("config: %s: client_id %q declared twice", aw, a.ClientID)
			}
			seenClient[a.ClientID] = true
			if a.ClientSecret != "" && len(a.ClientSecret) < 16 {
				return fmt.Errorf("config: %s.client_secret must be at least 16 characters", aw)
			}
			switch a.IDTokenAlg {
			case "", "RS256", "RS512", "ES256", "EdDSA":
			default:
				return fmt.Errorf("config: %s.id_token_alg must be RS256, RS512, ES256 or EdDSA", aw)
			}
			switch a.AccessTokenFormat {
			case "", "opaque", "jwt":
			default:
				return fmt.Errorf("config: %s.access_token_format must be opaque or jwt", aw)
			}
			for _, uri := range append(append([]string{}, a.RedirectURIs...), a.PostLogoutRedirectURIs...) {
				// RFC 6749 §3.1.2: absolute, no fragment; web URIs need a host
				// (native apps may use private-use schemes, RFC 8252 §7.1).
				u, err := url.Parse(uri)
				web := err == nil && (u.Scheme == "http" || u.Scheme == "https")
				if err != nil || u.Scheme == "" || u.Fragment != "" || (web && u.Host == "") {
					return fmt.Errorf("config: %s: %q is not an absolute URI without a fragment", aw, uri)
				}
				// RFC 6749 §3.1.2: the query must be form-urlencoded, since it
				// is kept when the response parameters are added; a pair that
				// does not decode would be dropped from the redirect (found by
				// oidc.FuzzAuthorizeRequest).
				if _, err := url.ParseQuery(u.RawQuery); err != nil {
					return fmt.Errorf("config: %s: the query of %q is not form-urlencoded", aw, uri)
				}
			}
			for _, g := range a.GrantTypes {
				switch g {
				case "authorization_code", "refresh_token", "client_credentials":
				default:
					return fmt.Errorf("config: %s.grant_types: unknown grant type %q", aw, g)
				}
			}
			for _, d := range []time.Duration{a.SessionTTL, a.RotationGrace, a.IDTokenTTL, a.AccessTokenTTL, a.TenantAccessTokenTTL, a.RefreshTokenTTL} {
				if d < 0 {
					return fmt.Errorf("config: %s: durations must not be negative", aw)
				}
			}
		}
		seenUser := map[string]bool{}
		for j, u := range t.Users {
			uw := fmt.Sprintf("%s.users[%d]", where, j)
			if u.Username == "" {
				return fmt.Errorf("config: %s.username is empty", uw)
			}
			if seenUser[strings.ToLower(u.Username)] {
				return fmt.Errorf("config: %s: username %q declared twice", uw, u.Username)
			}
			seenUser[strings.ToLower(u.Username)] = true
		}
	}
	return nil
}

// encodings are the base64 alphabets a key may be written in.
var encodings = []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}
