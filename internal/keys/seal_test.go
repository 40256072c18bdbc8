package keys_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/sesame-idp/sesame/internal/keys"
)

func newSealer(t *testing.T) *keys.Sealer {
	t.Helper()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	s, err := keys.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSealerKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31} {
		if _, err := keys.NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer(%d bytes) succeeded, want error", n)
		}
	}
	for _, n := range []int{32, 64} {
		if _, err := keys.NewSealer(make([]byte, n)); err != nil {
			t.Errorf("NewSealer(%d bytes): %v", n, err)
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	s := newSealer(t)
	for _, pt := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("private key "), 100)} {
		sealed, err := s.Seal("t1", "kid1", "RS256", pt)
		if err != nil {
			t.Fatal(err)
		}
		if want := 12 + len(pt) + 16; len(sealed) != want {
			t.Errorf("sealed length = %d, want nonce+ciphertext+tag = %d", len(sealed), want)
		}
		if len(pt) > 8 && bytes.Contains(sealed, pt[:8]) {
			t.Error("sealed bytes contain the plaintext")
		}
		got, err := s.Open("t1", "kid1", "RS256", sealed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, want %q", got, pt)
		}
	}
	// Fresh random nonce each time: sealing twice gives different bytes.
	a, _ := s.Seal("t1", "kid1", "RS256", []byte("same"))
	b, _ := s.Seal("t1", "kid1", "RS256", []byte("same"))
	if bytes.Equal(a[:12], b[:12]) || bytes.Equal(a, b) {
		t.Error("two seals of the same plaintext share nonce or bytes")
	}
}

func TestOpenFailures(t *testing.T) {
	s := newSealer(t)
	pt := []byte("-----PKCS8-----")
	sealed, err := s.Seal("tenant-a", "kid-1", "ES256", pt)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name             string
		tenant, kid, alg string
		data             []byte
		otherKEK         bool
	}{
		{name: "tampered nonce", tenant: "tenant-a", kid: "kid-1", alg: "ES256", data: flip(0)},
		{name: "tampered ciphertext", tenant: "tenant-a", kid: "kid-1", alg: "ES256", data: flip(14)},
		{name: "tampered tag", tenant: "tenant-a", kid: "kid-1", alg: "ES256", data: flip(len(sealed) - 1)},
		{name: "truncated", tenant: "tenant-a", kid: "kid-1", alg: "ES256", data: sealed[:len(sealed)-1]},
		{name: "appended", tenant: "tenant-a", kid: "kid-1", alg: "ES256", data: append(bytes.Clone(sealed), 0)},
		{name: "empty", tenant: "tenant-a", kid: "kid-1", alg: "ES256", data: nil},
		{name: "shorter than nonce", tenant: "tenant-a", kid: "kid-1", alg: "ES256", data: sealed[:11]},
		{name: "nonce only", tenant: "tenant-a", kid: "kid-1", alg: "ES256", data: sealed[:12]},
		{name: "shorter than overhead", tenant: "tenant-a", kid: "kid-1", alg: "ES256", data: sealed[:27]},
		{name: "other tenant", tenant: "tenant-b", kid: "kid-1", alg: "ES256", data: sealed},
		{name: "other kid", tenant: "tenant-a", kid: "kid-2", alg: "ES256", data: sealed},
		{name: "other algorithm", tenant: "tenant-a", kid: "kid-1", alg: "EdDSA", data: sealed},
		{name: "fields shifted across separator", tenant: "tenant-a\x00kid-1", kid: "", alg: "ES256", data: sealed},
		{name: "other key-encryption key", tenant: "tenant-a", kid: "kid-1", alg: "ES256", data: sealed, otherKEK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := s
			if tt.otherKEK {
				o = newSealer(t)
			}
			got, err := o.Open(tt.tenant, tt.kid, tt.alg, tt.data)
			if err == nil {
				t.Fatalf("Open succeeded with %q, want error", got)
			}
			if got != nil {
				t.Errorf("Open returned %d bytes with its error", len(got))
			}
		})
	}
	// The untouched input still opens: the failures above were not flukes.
	if _, err := s.Open("tenant-a", "kid-1", "ES256", sealed); err != nil {
		t.Fatal(err)
	}
}

func TestSealRefusesNUL(t *testing.T) {
	s := newSealer(t)
	if _, err := s.Seal("a\x00b", "kid", "RS256", []byte("x")); err == nil {
		t.Error("Seal accepted a tenant id containing NUL")
	}
}
