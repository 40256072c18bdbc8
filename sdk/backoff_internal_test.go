package sdk

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	base := 100 * time.Millisecond
	for attempt, want := range map[int]time.Duration{1: base, 2: 2 * base, 3: 4 * base, 10: maxRetryDelay, 100: maxRetryDelay} {
		for range 100 {
			d := backoff(base, attempt)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: %v, want in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
	if d := backoff(0, 3); d != 0 {
		t.Fatalf("zero base: %v", d)
	}
	if d := backoff(time.Hour, 1); d > maxRetryDelay {
		t.Fatalf("not capped: %v", d)
	}
}

func TestRenewMargin(t *testing.T) {
	for lifetime, want := range map[time.Duration]time.Duration{1800 * time.Second: time.Minute, 300 * time.Second: 30 * time.Second, 10 * time.Second: time.Second} {
		if got := renewMargin(lifetime); got != want {
			t.Errorf("renewMargin(%v) = %v, want %v", lifetime, got, want)
		}
	}
}
