package metrics

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// scrape returns the registry's samples as served at /metrics: series
// (name and labels, as printed) to value.
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "sesame_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// TestCachedChildrenRecord checks that the cached children record into
// the series the vectors' own lookups would (same names and labels),
// for repeated and interleaved label values.
func TestCachedChildrenRecord(t *testing.T) {
	m := New()
	obs := []struct {
		route string
		code  int
		d     time.Duration
	}{
		{"POST /api/v1/oauth2/token", 200, time.Millisecond},
		{"POST /api/v1/oauth2/token", 400, 2 * time.Millisecond},
		{"GET /healthz", 200, 100 * time.Microsecond},
		{"POST /api/v1/oauth2/token", 200, 3 * time.Millisecond},
		{"unmatched", 404, time.Microsecond},
		{"POST /api/v1/oauth2/token", 200, 4 * time.Millisecond},
	}
	for _, o := range obs {
		m.ObserveRequest(o.route, o.code, o.d)
	}
	for range 3 {
		m.Login("success")
	}
	m.Login("locked")
	m.Token("access_token", "issued")
	m.Token("access_token", "issued")
	m.Token("access_token", "refused")
	m.Token("id_token", "issued")
	m.Audit("stored", 5)

	got := scrape(t, m)
	for _, tt := range []struct {
		series string
		want   float64
	}{
		{`sesame_http_requests_total{code="200",route="POST /api/v1/oauth2/token"}`, 3},
		{`sesame_http_requests_total{code="400",route="POST /api/v1/oauth2/token"}`, 1},
		{`sesame_http_requests_total{code="200",route="GET /healthz"}`, 1},
		{`sesame_http_requests_total{code="404",route="unmatched"}`, 1},
		{`sesame_http_request_duration_seconds_count{route="POST /api/v1/oauth2/token"}`, 4},
		{`sesame_http_request_duration_seconds_sum{route="POST /api/v1/oauth2/token"}`, 0.010},
		{`sesame_http_request_duration_seconds_bucket{route="POST /api/v1/oauth2/token",le="0.002"}`, 2},
		{`sesame_http_request_duration_seconds_count{route="GET /healthz"}`, 1},
		{`sesame_logins_total{outcome="success"}`, 3},
		{`sesame_logins_total{outcome="locked"}`, 1},
		{`sesame_tokens_issued_total{kind="access_token",outcome="issued"}`, 2},
		{`sesame_tokens_issued_total{kind="access_token",outcome="refused"}`, 1},
		{`sesame_tokens_issued_total{kind="id_token",outcome="issued"}`, 1},
		{`sesame_audit_events_total{outcome="stored"}`, 5},
	} {
		v, ok := got[tt.series]
		if !ok {
			t.Errorf("%s: missing", tt.series)
		} else if diff := v - tt.want; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s = %v, want %v", tt.series, v, tt.want)
		}
	}
	// No stray series: exactly the four (route, code) pairs observed.
	n := 0
	for s := range got {
		if strings.HasPrefix(s, "sesame_http_requests_total{") {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d request series, want 4", n)
	}
}

// TestObserveRequestConcurrent records from many goroutines at once, new
// and known label values mixed (run with -race); every observation must
// be counted exactly once.
func TestObserveRequestConcurrent(t *testing.T) {
	m := New()
	routes := []string{"GET /a", "GET /b", "POST /c"}
	codes := []int{200, 302, 400, 401, 429, 500}
	const goroutines, each = 8, 600
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				m.ObserveRequest(routes[(g+i)%len(routes)], codes[(g*5+i)%len(codes)], time.Millisecond)
				m.Login(fmt.Sprint("outcome", i%4))
				m.Token("kind", fmt.Sprint("outcome", i%3))
			}
		})
	}
	wg.Wait()
	var requests, logins, tokens, latency float64
	for s, v := range scrape(t, m) {
		switch {
		case strings.HasPrefix(s, "sesame_http_requests_total{"):
			requests += v
		case strings.HasPrefix(s, "sesame_http_request_duration_seconds_count{"):
			latency += v
		case strings.HasPrefix(s, "sesame_logins_total{"):
			logins += v
		case strings.HasPrefix(s, "sesame_tokens_issued_total{"):
			tokens += v
		}
	}
	const want = goroutines * each
	if requests != want || latency != want || logins != want || tokens != want {
		t.Errorf("requests %v, latency count %v, logins %v, tokens %v; want %d each", requests, latency, logins, tokens, want)
	}
}

// TestCacheBound passes more distinct label values than the cache keeps:
// past the bound, observations still land in the right series, and the
// cache stops growing.
func TestCacheBound(t *testing.T) {
	m := New()
	const distinct = maxCached + 50
	for code := range distinct {
		m.ObserveRequest("GET /x", code, time.Millisecond)
		m.ObserveRequest("GET /x", code, time.Millisecond)
	}
	if n := len(*m.requestObs.m.Load()); n != maxCached {
		t.Errorf("cache holds %d entries, want %d", n, maxCached)
	}
	got := scrape(t, m)
	for _, code := range []int{0, maxCached - 1, maxCached, distinct - 1} {
		s := fmt.Sprintf(`sesame_http_requests_total{code="%d",route="GET /x"}`, code)
		if got[s] != 2 {
			t.Errorf("%s = %v, want 2", s, got[s])
		}
	}
}

// TestNilMetrics: a nil *Metrics records nothing and does not panic.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.ObserveRequest("GET /x", 200, time.Millisecond)
	m.Login("success")
	m.Token("access_token", "issued")
	m.Audit("stored", 1)
	m.Register()
}

// TestObserveRequestAllocs pins the point of the cache: once a (route,
// code) pair has been seen, recording it allocates nothing.
func TestObserveRequestAllocs(t *testing.T) {
	m := New()
	m.ObserveRequest("POST /api/v1/oauth2/token", 200, time.Millisecond)
	m.Login("success")
	m.Token("access_token", "issued")
	if n := testing.AllocsPerRun(100, func() {
		m.ObserveRequest("POST /api/v1/oauth2/token", 200, time.Millisecond)
		m.Login("success")
		m.Token("access_token", "issued")
	}); n != 0 {
		t.Errorf("%v allocations per steady-state observation, want 0", n)
	}
}
