package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors of one server. A nil *Metrics records
// nothing, which keeps tests and tools free of metric plumbing.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	tokens   *prometheus.CounterVec
	audit    *prometheus.CounterVec

	// Children of the vectors above by label values, for the per-request
	// and per-login paths (see cache).
	requestObs cache[routeCode, requestObservers]
	loginObs   cache[string, prometheus.Counter]
	tokenObs   cache[[2]string, prometheus.Counter]
}

// routeCode is the label set of one request.
type routeCode struct {
	route string
	code  int
}

// requestObservers are the children one (route, code) pair records into.
type requestObservers struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// New creates the collectors and registers them, with the Go runtime and
// process collectors, in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sesame_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_logins_total", Help: "Login attempts by outcome.",
		}, []string{"outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_tokens_issued_total", Help: "Token issuance by kind and outcome.",
		}, []string{"kind", "outcome"}),
		audit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_audit_events_total", Help: "Audit events by outcome: stored, dropped (buffer full or writer closed), failed (the store refused them), pruned.",
		}, []string{"outcome"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.logins, m.tokens, m.audit,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Register adds further collectors (a gauge of the hashing queue, say).
func (m *Metrics) Register(c ...prometheus.Collector) {
	if m != nil {
		m.registry.MustRegister(c...)
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// ObserveRequest records one HTTP request.
func (m *Metrics) ObserveRequest(route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	o := m.requestObs.get(routeCode{route, code}, func() requestObservers {
		return requestObservers{
			count:   m.requests.WithLabelValues(route, strconv.Itoa(code)),
			latency: m.latency.WithLabelValues(route),
		}
	})
	o.count.Inc()
	o.latency.Observe(d.Seconds())
}

// Login records one login attempt's outcome ("success", "bad_credentials",
// "locked", "busy", ...).
func (m *Metrics) Login(outcome string) {
	if m != nil {
		m.loginObs.get(outcome, func() prometheus.Counter {
			return m.logins.WithLabelValues(outcome)
		}).Inc()
	}
}

// Token records one token issuance attempt: kind is "session_token",
// "id_token", "access_token", "sso_ticket"; outcome "issued" or "refused".
func (m *Metrics) Token(kind, outcome string) {
	if m != nil {
		m.tokenObs.get([2]string{kind, outcome}, func() prometheus.Counter {
			return m.tokens.WithLabelValues(kind, outcome)
		}).Inc()
	}
}

// Audit counts n audit events with an outcome: "stored", "dropped",
// "failed" or "pruned".
func (m *Metrics) Audit(outcome string, n int) {
	if m != nil && n > 0 {
		m.audit.WithLabelValues(outcome).Add(float64(n))
	}
}
