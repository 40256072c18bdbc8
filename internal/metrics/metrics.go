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
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// Login records one login attempt's outcome ("success", "bad_credentials",
// "locked", "busy", ...).
func (m *Metrics) Login(outcome string) {
	if m != nil {
		m.logins.WithLabelValues(outcome).Inc()
	}
}

// Token records one token issuance attempt: kind is "session_token",
// "id_token", "access_token", "sso_ticket"; outcome "issued" or "refused".
func (m *Metrics) Token(kind, outcome string) {
	if m != nil {
		m.tokens.WithLabelValues(kind, outcome).Inc()
	}
}

// Audit counts n audit events with an outcome: "stored", "dropped",
// "failed" or "pruned".
func (m *Metrics) Audit(outcome string, n int) {
	if m != nil && n > 0 {
		m.audit.WithLabelValues(outcome).Add(float64(n))
	}
}
