package sdk_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/sdk"
)

// eachBackend runs f once per storage backend (SQLite always; PostgreSQL
// when SESAME_TEST_POSTGRES_DSN is set, skipped otherwise), in parallel.
func eachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range st.Backends() {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// withEnv runs f with a fresh server per backend.
func withEnv(t *testing.T, f func(t *testing.T, e *st.Env), mutate ...func(*config.Config)) {
	eachBackend(t, func(t *testing.T, b string) { f(t, st.New(t, b, mutate...)) })
}

// testDevice is the device the fixture's helpers use.
var testDevice = sdk.Device{Fingerprint: st.Device, OSVersion: "windows10.1.1", Agent: "sdk-test", IP: "192.168.1.2"}

// baseURL is the SDK base URL of a tenant host of e.
func baseURL(e *st.Env, host string) string { return e.URL(host, "") }

// newClient returns a Client of the tenant at host for clientID, talking
// to e's listener, with fast retries.
func newClient(t *testing.T, e *st.Env, host, clientID string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	all := append([]sdk.Option{sdk.WithHTTPClient(e.Client), sdk.WithDevice(testDevice), sdk.WithRetry(3, time.Millisecond)}, opts...)
	c, err := sdk.New(baseURL(e, host), clientID, all...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// counter is an http.RoundTripper that counts requests by path.
type counter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func newCounter(next http.RoundTripper) *counter {
	return &counter{next: next, n: map[string]int{}}
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.URL.Path]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// count returns how many requests went to paths ending in suffix.
func (c *counter) count(suffix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for p, n := range c.n {
		if strings.HasSuffix(p, suffix) {
			total += n
		}
	}
	return total
}

// countingClient returns an HTTP client like e's that counts requests.
func countingClient(e *st.Env) (*http.Client, *counter) {
	c := newCounter(e.Client.Transport)
	hc := *e.Client
	hc.Transport = c
	return &hc, c
}

// wantIs fails unless errors.Is(err, target) is want for each target.
func wantIs(t *testing.T, err error, targets map[error]bool) {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got nil")
	}
	for target, want := range targets {
		if got := errors.Is(err, target); got != want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, target, got, want)
		}
	}
}
