package config

import (
	"strings"
	"testing"
)

// TestRotationDelayCoversClockSkew: a new key must be loaded by every node
// before a node whose clock is ahead by the skew bound starts signing with
// it, so keys.rotation_delay must cover keys.refresh_interval plus
// clock.MaxSkew (10 s).
func TestRotationDelayCoversClockSkew(t *testing.T) {
	for _, tc := range []struct {
		keys string
		ok   bool
	}{
		{"keys: {rotation_delay: 30s, refresh_interval: 30s}", false},
		{"keys: {rotation_delay: 39s, refresh_interval: 30s}", false},
		{"keys: {rotation_delay: 40s, refresh_interval: 30s}", true},
		{"keys: {rotation_delay: 12s, refresh_interval: 2s}", true},
	} {
		_, err := Load(writeFile(t, tc.keys), nil, nil)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.keys, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "rotation_delay")):
			t.Errorf("%s: got %v, want the rotation_delay error", tc.keys, err)
		}
	}
}
