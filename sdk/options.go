package sdk

import (
	"net/http"
	"runtime"
	"time"
)

// Defaults of the options.
const (
	// DefaultRetryAttempts is how many times a call is tried in all when
	// the server answers "system busy" (see WithRetry).
	DefaultRetryAttempts = 3
	// DefaultRetryDelay is the base of the exponential backoff between
	// attempts (see WithRetry).
	DefaultRetryDelay = 200 * time.Millisecond
	// DefaultLeeway is the clock skew a Verifier tolerates on exp and nbf.
	DefaultLeeway = 30 * time.Second
	// DefaultJWKSCacheTTL is how long a Verifier uses a fetched key set
	// before fetching it again.
	DefaultJWKSCacheTTL = 5 * time.Minute
	// DefaultJWKSRefetchInterval is the least time between two key-set
	// fetches of a Verifier caused by unknown key ids or failed fetches.
	DefaultJWKSRefetchInterval = 10 * time.Second
	// DefaultHTTPTimeout is the timeout of the HTTP client made when
	// WithHTTPClient is not given.
	DefaultHTTPTimeout = 30 * time.Second

	// maxRetryDelay caps one backoff pause.
	maxRetryDelay = 5 * time.Second
)

// Option configures a Client, a TenantClient or a Verifier. Each option
// says which of them it applies to; the others ignore it, so one option
// list can be shared by all three.
type Option func(*settings)

// settings are the options of all three constructors.
type settings struct {
	httpClient   *http.Client
	host         string
	tenantID     string
	language     string
	device       Device
	store        TokenStore
	attempts     int
	baseDelay    time.Duration
	now          func() time.Time
	leeway       time.Duration
	jwksTTL      time.Duration
	jwksInterval time.Duration
	signed       bool
}

func newSettings(opts []Option) settings {
	s := settings{
		attempts:     DefaultRetryAttempts,
		baseDelay:    DefaultRetryDelay,
		now:          time.Now,
		leeway:       DefaultLeeway,
		jwksTTL:      DefaultJWKSCacheTTL,
		jwksInterval: DefaultJWKSRefetchInterval,
	}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if s.httpClient == nil {
		s.httpClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if s.attempts < 1 {
		s.attempts = 1
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.device.OSVersion == "" {
		s.device.OSVersion = runtime.GOOS + "/" + runtime.GOARCH
	}
	if s.device.Agent == "" {
		s.device.Agent = userAgent
	}
	return s
}

// userAgent is sent as User-Agent, and as X-agent when the Device has no
// Agent.
const userAgent = "sesame-sdk-go/1"

// WithHTTPClient sets the HTTP client used for every request (all three).
// Without it each constructor makes its own client with a timeout of
// DefaultHTTPTimeout. Tests use it to dial a test listener whatever the
// host name in the URL.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) { s.httpClient = c }
}

// WithHost sets the Host header of every request (all three). Sesame
// picks the tenant from the Host header, so by default it is the host of
// the base URL (or issuer), which is right whenever that URL names the
// tenant's domain. Set it when the URL is an address that is not the
// tenant's name: a load balancer's IP, a sidecar, a test listener.
func WithHost(host string) Option {
	return func(s *settings) { s.host = host }
}

// WithTenantID sends X-tenant-id with every request (all three), which
// selects the tenant when the base URL is a shared "common domain" (ISV
// mode, contract §1).
func WithTenantID(id string) Option {
	return func(s *settings) { s.tenantID = id }
}

// WithLanguage sets the language of error messages (Client and
// TenantClient): "zh" (also "zh-CN") gives Chinese, anything else
// English. Without it the tenant's default language is used. It is sent
// as the X-L header.
func WithLanguage(lang string) Option {
	return func(s *settings) { s.language = lang }
}

// WithDevice sets the device the Client runs on (Client only). It is sent
// with every SDK request and fixed for the life of the Client: Sesame binds
// a session to the fingerprint it was created with, so the fingerprint
// must be stable across restarts of the app on one device. Fingerprint is
// required; OSVersion defaults to GOOS/GOARCH and Agent to the SDK's name.
func WithDevice(d Device) Option {
	return func(s *settings) { s.device = d }
}

// WithTokenStore sets where the Client keeps its session token (Client
// only). The default is a new MemoryTokenStore, which forgets the session
// when the process ends; use FileTokenStore, or your own TokenStore (the
// OS keychain, say), to keep it across restarts.
func WithTokenStore(ts TokenStore) Option {
	return func(s *settings) { s.store = ts }
}

// WithRetry sets how "system busy" answers are retried (all three): a
// call is tried at most maxAttempts times in all (1 means never retried),
// pausing between attempts for an exponentially growing, jittered delay
// starting around baseDelay (capped at 5 s). The defaults are
// DefaultRetryAttempts and DefaultRetryDelay. A cancelled context ends
// the pause at once.
func WithRetry(maxAttempts int, baseDelay time.Duration) Option {
	return func(s *settings) {
		s.attempts = maxAttempts
		s.baseDelay = max(baseDelay, 0)
	}
}

// WithClock sets the clock (all three): the TenantClient uses it to
// decide when its cached access token must be renewed, the Verifier to
// check exp and nbf and to age its key cache, and a Client with
// WithSignedSession to time its signatures (corrected by its offset from
// the server's clock). The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) { s.now = now }
}

// WithLeeway sets the clock skew a Verifier tolerates when checking exp
// and nbf (Verifier only). The default is DefaultLeeway.
func WithLeeway(d time.Duration) Option {
	return func(s *settings) { s.leeway = max(d, 0) }
}

// WithJWKSCacheTTL sets how long a Verifier uses a fetched key set before
// fetching it again (Verifier only). A token signed with a key the cached
// set does not have causes an earlier fetch, so a long TTL does not delay
// key rotation; it only delays noticing that a key was withdrawn. The
// default is DefaultJWKSCacheTTL.
func WithJWKSCacheTTL(d time.Duration) Option {
	return func(s *settings) { s.jwksTTL = d }
}

// WithJWKSRefetchInterval sets the least time between two key-set fetches
// of a Verifier that are caused by an unknown key id or by a failed fetch
// (Verifier only), so that tokens with made-up key ids cannot make it
// hammer the server. The default is DefaultJWKSRefetchInterval.
func WithJWKSRefetchInterval(d time.Duration) Option {
	return func(s *settings) { s.jwksInterval = max(d, 0) }
}
