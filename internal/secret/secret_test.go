package secret

import (
	"bytes"
	"testing"
)

func TestNewTokenIsRandomAndLongEnough(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := NewToken()
		if len(tok) != 43 {
			t.Fatalf("token %d chars, want 43", len(tok))
		}
		if seen[tok] {
			t.Fatal("NewToken repeated a value")
		}
		seen[tok] = true
	}
}

func TestHasher(t *testing.T) {
	h1, err := NewHasher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := NewHasher(bytes.Repeat([]byte{2}, 32))
	if !Equal(h1.Hash("session", "abc"), h1.Hash("session", "abc")) {
		t.Error("hash is not deterministic")
	}
	if Equal(h1.Hash("session", "abc"), h1.Hash("state", "abc")) {
		t.Error("purpose does not separate hashes")
	}
	if Equal(h1.Hash("session", "abc"), h2.Hash("session", "abc")) {
		t.Error("different keys give the same hash")
	}
	s := h1.Successor("session", "abc")
	if s != h1.Successor("session", "abc") || s == "abc" || len(s) != 43 {
		t.Errorf("successor %q is not a stable new token", s)
	}
	if s == h2.Successor("session", "abc") {
		t.Error("successor does not depend on the key")
	}
	if _, err := NewHasher([]byte("short")); err == nil {
		t.Error("short master key accepted")
	}
}

func TestBox(t *testing.T) {
	master := bytes.Repeat([]byte{7}, 32)
	a, _ := NewBox(master, "a")
	b, _ := NewBox(master, "b")
	sealed := a.Seal([]byte("hello"))
	if got, err := a.Open(sealed); err != nil || string(got) != "hello" {
		t.Fatalf("round trip: %q %v", got, err)
	}
	if _, err := b.Open(sealed); err == nil {
		t.Error("opened with another purpose")
	}
	raw := []byte(sealed)
	raw[len(raw)/2] ^= 1
	for _, bad := range []string{string(raw), "", "!!", sealed[:10]} {
		if _, err := a.Open(bad); err == nil {
			t.Errorf("opened %q", bad)
		}
	}
}
