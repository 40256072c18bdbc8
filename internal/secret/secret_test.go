package secret

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
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

// plainMAC is the reference: HMAC-SHA-256(purpose || 0x00 || token) with a
// fresh hmac.New, as Hash and Successor computed it before their states
// were pooled.
func plainMAC(key []byte, purpose, token string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(token))
	return m.Sum(nil)
}

// hasherKeys returns the keys NewHasher derives from master (the HKDF
// labels are part of the stored format: changing them orphans every
// stored hash).
func hasherKeys(t *testing.T, master []byte) (hashKey, deriveKey []byte) {
	t.Helper()
	hk, err := hkdf.Key(sha256.New, master, nil, "sesame token hash v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := hkdf.Key(sha256.New, master, nil, "sesame token derivation v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	return hk, dk
}

// TestHasherMatchesPlainHMAC checks that the pooled states give exactly
// the bytes a fresh HMAC gives, for inputs of every length around the
// SHA-256 block size (a state left dirty by a previous input would show
// there), for long inputs that outgrow the pooled buffer, and in an order
// that makes states be reused across purposes and lengths.
func TestHasherMatchesPlainHMAC(t *testing.T) {
	master := bytes.Repeat([]byte{9}, 32)
	h, err := NewHasher(master)
	if err != nil {
		t.Fatal(err)
	}
	hk, dk := hasherKeys(t, master)
	var tokens []string
	for n := range 200 {
		tokens = append(tokens, strings.Repeat("x", n))
	}
	for range 300 {
		tokens = append(tokens, NewToken())
	}
	tokens = append(tokens, strings.Repeat("long", 1000), "", "\x00", "a\x00b")
	for i, tok := range tokens {
		for _, purpose := range []string{"session", "state", "", "sso\x00ticket"} {
			if got, want := h.Hash(purpose, tok), plainMAC(hk, purpose, tok); !bytes.Equal(got, want) {
				t.Fatalf("Hash(%q, token %d) = %x, want %x", purpose, i, got, want)
			}
			want := base64.RawURLEncoding.EncodeToString(plainMAC(dk, purpose, tok))
			if got := h.Successor(purpose, tok); got != want {
				t.Fatalf("Successor(%q, token %d) = %q, want %q", purpose, i, got, want)
			}
		}
	}
}

// TestHasherConcurrent hashes from many goroutines at once (run with
// -race): pooled states must never be shared by two callers, which would
// show as a wrong hash or a race report.
func TestHasherConcurrent(t *testing.T) {
	master := bytes.Repeat([]byte{3}, 32)
	h, err := NewHasher(master)
	if err != nil {
		t.Fatal(err)
	}
	hk, dk := hasherKeys(t, master)
	tokens := make([]string, 64)
	hashes := make([][]byte, len(tokens))
	successors := make([]string, len(tokens))
	for i := range tokens {
		tokens[i] = NewToken() + strings.Repeat("y", i) // varied lengths
		hashes[i] = plainMAC(hk, "session", tokens[i])
		successors[i] = base64.RawURLEncoding.EncodeToString(plainMAC(dk, "session", tokens[i]))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := range 16 {
		wg.Go(func() {
			for n := range 500 {
				i := (g*7 + n) % len(tokens)
				if got := h.Hash("session", tokens[i]); !bytes.Equal(got, hashes[i]) {
					errs <- fmt.Sprintf("goroutine %d: Hash of token %d = %x, want %x", g, i, got, hashes[i])
					return
				}
				if got := h.Successor("session", tokens[i]); got != successors[i] {
					errs <- fmt.Sprintf("goroutine %d: Successor of token %d = %q, want %q", g, i, got, successors[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestHashResultIsNotShared checks that a returned hash is the caller's
// own: hashing again must not overwrite it through pooled memory.
func TestHashResultIsNotShared(t *testing.T) {
	h, _ := NewHasher(bytes.Repeat([]byte{5}, 32))
	a := h.Hash("session", "a")
	want := bytes.Clone(a)
	for range 10 {
		_ = h.Hash("session", "b")
	}
	if !bytes.Equal(a, want) {
		t.Fatalf("first hash changed to %x, was %x", a, want)
	}
}
