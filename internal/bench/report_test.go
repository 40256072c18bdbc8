package bench

import "testing"

// TestCheckTargetLatency pins the p99-at-half-peak verdict: a run without
// the open loop (--no-open) has measured nothing, so it must say so
// rather than report the target missed.
func TestCheckTargetLatency(t *testing.T) {
	open := func(p99 float64, ok int) *PhaseReport {
		return &PhaseReport{Kind: "open", OK: ok, Latency: Latency{P99: p99}}
	}
	tests := []struct {
		name    string
		path    string
		open    *PhaseReport
		argon2  float64
		verdict string
	}{
		{"no open loop", "exchange-es256", nil, 20, "not measured (no open loop)"},
		{"under 10 ms", "exchange-es256", open(4.2, 100), 20, "met"},
		{"over 10 ms", "exchange-es256", open(12, 100), 20, "MISSED"},
		{"nothing succeeded", "exchange-es256", open(0, 0), 20, "MISSED"},
		{"hash longer than the target", "sdk-login", open(60, 100), 24,
			"MISSED (one argon2id hash alone takes longer than 10 ms here)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &PathReport{Name: tt.path, Closed: &PhaseReport{Kind: "closed", OK: 1000, Throughput: 100}, Open: tt.open}
			if tt.path == "sdk-login" {
				p.Ceiling = CeilingArgon2
			}
			checkTarget(p, Ceilings{Argon2idMS: tt.argon2})
			if got := p.p99Verdict(); got != tt.verdict {
				t.Errorf("p99 verdict = %q, want %q", got, tt.verdict)
			}
			if tt.open == nil && (p.Target.P99OK || p.Target.P99Note != tt.verdict) {
				t.Errorf("JSON without an open loop: met %v, note %q; want false, %q", p.Target.P99OK, p.Target.P99Note, tt.verdict)
			}
		})
	}
}
