package mfa

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRFC6238Vectors checks HOTP with time steps against every test vector
// of RFC 6238 Appendix B (8 digits, X = 30, T0 = 0; the seeds are the
// ASCII strings of the RFC's reference code, of 20, 32 and 64 bytes).
func TestRFC6238Vectors(t *testing.T) {
	seed20 := []byte("12345678901234567890")
	seed32 := []byte("12345678901234567890123456789012")
	seed64 := []byte("1234567890123456789012345678901234567890123456789012345678901234")
	algs := map[string]struct {
		h    func() hash.Hash
		seed []byte
	}{"SHA1": {sha1.New, seed20}, "SHA256": {sha256.New, seed32}, "SHA512": {sha512.New, seed64}}
	for _, v := range []struct {
		unix int64
		step string // the RFC's T in hex
		alg  string
		want string
	}{
		{59, "0000000000000001", "SHA1", "94287082"},
		{59, "0000000000000001", "SHA256", "46119246"},
		{59, "0000000000000001", "SHA512", "90693936"},
		{1111111109, "00000000023523EC", "SHA1", "07081804"},
		{1111111109, "00000000023523EC", "SHA256", "68084774"},
		{1111111109, "00000000023523EC", "SHA512", "25091201"},
		{1111111111, "00000000023523ED", "SHA1", "14050471"},
		{1111111111, "00000000023523ED", "SHA256", "67062674"},
		{1111111111, "00000000023523ED", "SHA512", "99943326"},
		{1234567890, "000000000273EF07", "SHA1", "89005924"},
		{1234567890, "000000000273EF07", "SHA256", "91819424"},
		{1234567890, "000000000273EF07", "SHA512", "93441116"},
		{2000000000, "0000000003F940AA", "SHA1", "69279037"},
		{2000000000, "0000000003F940AA", "SHA256", "90698825"},
		{2000000000, "0000000003F940AA", "SHA512", "38618901"},
		{20000000000, "0000000027BC86AA", "SHA1", "65353130"},
		{20000000000, "0000000027BC86AA", "SHA256", "77737706"},
		{20000000000, "0000000027BC86AA", "SHA512", "47863826"},
	} {
		step := Step(time.Unix(v.unix, 0))
		if got := strings.ToUpper(strings.TrimLeft(hex16(step), "")); got != v.step {
			t.Errorf("T at %d = %s, want %s", v.unix, got, v.step)
		}
		a := algs[v.alg]
		if got := HOTP(a.h, a.seed, step, 8); got != v.want {
			t.Errorf("%s at %d: %s, want %s", v.alg, v.unix, got, v.want)
		}
		// Sesame's 6-digit codes are the last six digits of the same
		// truncation (RFC 4226 §5.3: Snum mod 10^Digit).
		if v.alg == "SHA1" {
			if got := Code(a.seed, step); got != v.want[2:] {
				t.Errorf("6-digit code at %d: %s, want %s", v.unix, got, v.want[2:])
			}
		}
	}
}

func hex16(v int64) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b)
}

// TestRFC4226Vectors: the HOTP values of RFC 4226 Appendix D.
func TestRFC4226Vectors(t *testing.T) {
	key := []byte("12345678901234567890")
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := HOTP(sha1.New, key, int64(i), 6); got != w {
			t.Errorf("counter %d: %s, want %s", i, got, w)
		}
	}
}

func TestStep(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		want int64
	}{{0, 0}, {29, 0}, {30, 1}, {59, 1}, {60, 2}, {-1, -1}, {-30, -1}, {-31, -2}} {
		if got := Step(time.Unix(tc.unix, 0)); got != tc.want {
			t.Errorf("Step(%d) = %d, want %d", tc.unix, got, tc.want)
		}
	}
}

// TestMatch: a code is accepted at the current step and one step either
// side, not two; only for a step after the last accepted one (replay,
// RFC 6238 §5.2); the latest matching step is reported.
func TestMatch(t *testing.T) {
	key := NewSecret()
	now := time.Unix(1_800_000_015, 0)
	cur := Step(now)
	const none = -1 << 62
	for _, tc := range []struct {
		name       string
		codeStep   int64
		after      int64
		ok, replay bool
	}{
		{"current step", cur, none, true, false},
		{"one step behind (drift)", cur - 1, none, true, false},
		{"one step ahead (drift)", cur + 1, none, true, false},
		{"two steps behind", cur - 2, none, false, false},
		{"two steps ahead", cur + 2, none, false, false},
		{"already accepted", cur, cur, false, true},
		{"older than the last accepted", cur - 1, cur, false, true},
		{"after the last accepted", cur + 1, cur, true, false},
	} {
		step, ok, replay := Match(key, Code(key, tc.codeStep), now, tc.after)
		if ok != tc.ok || replay != tc.replay || (ok && step != tc.codeStep) {
			t.Errorf("%s: Match = (%d, %v, %v), want (%d, %v, %v)", tc.name, step, ok, replay, tc.codeStep, tc.ok, tc.replay)
		}
	}
	if _, ok, _ := Match(key, Code(NewSecret(), cur), now, none); ok {
		t.Error("another key's code matched")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", Code(key, cur) + " "} {
		if _, ok, _ := Match(key, bad, now, none); ok {
			t.Errorf("Match accepted %q", bad)
		}
	}
}

func TestIsCode(t *testing.T) {
	for s, want := range map[string]bool{"123456": true, "000000": true, "12345": false, "1234567": false, "12345a": false, "١٢٣٤٥٦": false, "": false} {
		if IsCode(s) != want {
			t.Errorf("IsCode(%q) = %v", s, !want)
		}
	}
}

func TestSecretEncoding(t *testing.T) {
	key := NewSecret()
	if len(key) != SecretBytes || bytes.Equal(key, NewSecret()) {
		t.Fatalf("NewSecret: %d bytes, or repeated", len(key))
	}
	s := EncodeSecret(key)
	if len(s) != 32 || strings.ContainsAny(s, "=abcdefghijklmnopqrstuvwxyz") {
		t.Errorf("encoded secret %q: want 32 upper-case base32 characters without padding", s)
	}
	for _, typed := range []string{s, strings.ToLower(s), s[:4] + " " + s[4:]} {
		got, err := DecodeSecret(typed)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("DecodeSecret(%q) = %x %v", typed, got, err)
		}
	}
	if _, err := DecodeSecret("not base32!"); err == nil {
		t.Error("DecodeSecret accepted garbage")
	}
}

func TestURI(t *testing.T) {
	key := []byte("12345678901234567890")
	u, err := url.Parse(URI("Acme Corp", "alice@example.com", key))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Acme Corp:alice@example.com" {
		t.Errorf("URI %s: scheme %q host %q path %q", u, u.Scheme, u.Host, u.Path)
	}
	q := u.Query()
	want := map[string]string{"secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "issuer": "Acme Corp", "algorithm": "SHA1", "digits": "6", "period": "30"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("URI %s: %s=%q, want %q", u, k, q.Get(k), v)
		}
	}
	// A label with the separator in it stays one label.
	if u, _ := url.Parse(URI("A:B", "c", key)); u.EscapedPath() != "/A%3AB:c" {
		t.Errorf("escaped path %q", u.EscapedPath())
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes := NewRecoveryCodes(RecoveryCodeCount)
	if len(codes) != RecoveryCodeCount {
		t.Fatalf("%d codes", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 14 || c[4] != '-' || c[9] != '-' {
			t.Errorf("code %q is not xxxx-xxxx-xxxx", c)
		}
		n := NormalizeRecoveryCode(c)
		if n != strings.ReplaceAll(c, "-", "") || seen[n] {
			t.Errorf("code %q: normal form %q, or repeated", c, n)
		}
		seen[n] = true
		for _, typed := range []string{strings.ToUpper(c), strings.ReplaceAll(c, "-", " "), " " + n + " "} {
			if got := NormalizeRecoveryCode(typed); got != n {
				t.Errorf("NormalizeRecoveryCode(%q) = %q, want %q", typed, got, n)
			}
		}
	}
	for _, bad := range []string{"", "abcd-efgh", "abcd-efgh-ijkl-m", "abcd-efgh-ij0l", "123456", strings.Repeat("a", 100), "abcd-efgh-ijk\u00e9"} {
		if got := NormalizeRecoveryCode(bad); got != "" {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, want \"\"", bad, got)
		}
	}
}

func TestSealer(t *testing.T) {
	kek := bytes.Repeat([]byte{9}, 32)
	s, err := NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	key := NewSecret()
	sealed, err := s.Seal("t1", "u1", key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, key) {
		t.Fatal("the sealed secret contains the secret")
	}
	if got, err := s.Open("t1", "u1", sealed); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Open: %x %v", got, err)
	}
	other, _ := NewSealer(bytes.Repeat([]byte{8}, 32))
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)/2] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"another user":   func() ([]byte, error) { return s.Open("t1", "u2", sealed) },
		"another tenant": func() ([]byte, error) { return s.Open("t2", "u1", sealed) },
		"shifted ids":    func() ([]byte, error) { return s.Open("t1\x00u", "1", sealed) },
		"another KEK":    func() ([]byte, error) { return other.Open("t1", "u1", sealed) },
		"tampered":       func() ([]byte, error) { return s.Open("t1", "u1", tampered) },
		"truncated":      func() ([]byte, error) { return s.Open("t1", "u1", sealed[:10]) },
	} {
		if _, err := open(); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Error("short KEK accepted")
	}
}

// BenchmarkMatch is the CPU cost of checking one code: three HMAC-SHA1
// (the step and its two neighbours).
func BenchmarkMatch(b *testing.B) {
	key := NewSecret()
	now := time.Unix(1_800_000_000, 0)
	code := Code(key, Step(now))
	for b.Loop() {
		if _, ok, _ := Match(key, code, now, 0); !ok {
			b.Fatal("no match")
		}
	}
}

// BenchmarkOpen is the cost of decrypting a stored secret (every
// code check does it once).
func BenchmarkOpen(b *testing.B) {
	s, _ := NewSealer(bytes.Repeat([]byte{1}, 32))
	sealed, _ := s.Seal("tenant", "user", NewSecret())
	for b.Loop() {
		if _, err := s.Open("tenant", "user", sealed); err != nil {
			b.Fatal(err)
		}
	}
}
