package oidc

import (
	"strings"
	"testing"
)

// TestTextsComplete: every string of the hosted pages exists, not empty,
// in both languages (contract §5), and the Chinese ones are Chinese.
func TestTextsComplete(t *testing.T) {
	en, zh := texts["en"], texts["zh"]
	if len(texts) != 2 || en == nil || zh == nil {
		t.Fatalf("languages: %d, want en and zh", len(texts))
	}
	for k, v := range en {
		if strings.TrimSpace(v) == "" {
			t.Errorf("en %q is empty", k)
		}
		z, ok := zh[k]
		if !ok || strings.TrimSpace(z) == "" {
			t.Errorf("zh lacks %q", k)
			continue
		}
		if !strings.ContainsFunc(z, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
			t.Errorf("zh %q = %q has no Chinese", k, z)
		}
	}
	for k := range zh {
		if _, ok := en[k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
}

func TestGroupSecret(t *testing.T) {
	for in, want := range map[string]string{"": "", "ABC": "ABC", "ABCD": "ABCD", "ABCDEFGHIJ": "ABCD EFGH IJ"} {
		if got := groupSecret(in); got != want {
			t.Errorf("groupSecret(%q) = %q, want %q", in, got, want)
		}
	}
}
