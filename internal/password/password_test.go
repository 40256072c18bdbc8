package password

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// Known answers computed with the reference C implementation (Debian
// libargon2-1 0~20171227, argon2id_hash_encoded), so these tests pin
// interoperability with other argon2id implementations, not just
// self-consistency. The small-memory vectors are cheap enough to run
// everywhere; the DefaultParams one costs one real hash.
var knownAnswers = []struct {
	name, phc, pw string
}{
	{"m=64 t=2 p=1", "$argon2id$v=19$m=64,t=2,p=1$c2VzYW1lLWthdC1zYWx0IQ$AH4CNYiP3zovSQhNVi/xurmUll1JTAa72O9Qn4E9rWw", "correct horse battery staple"},
	{"default params", "$argon2id$v=19$m=19456,t=2,p=1$c2VzYW1lLWthdC1zYWx0IQ$S/azS3bZnUH8v58Yi/Bm+i491CnPPeYlwgOuJB1jg6A", "correct horse battery staple"},
	{"4 lanes, 16-byte hash, UTF-8", "$argon2id$v=19$m=32,t=1,p=4$c2FsdHNhbHRzYWx0c2FsdA$qKq1J0ZhnWYBcJ9rOjJT+w", "p\u00e4ssw\u00f6rd"},
}

// cheapKDF stands in for argon2.IDKey where a test is about parsing or
// control flow rather than the KDF: deterministic, fast, and sensitive to
// password, salt and every parameter.
func cheapKDF(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	info := string([]byte{byte(time), byte(time >> 8), byte(memory), byte(memory >> 8), byte(memory >> 16), threads})
	k, err := hkdf.Key(sha256.New, pw, salt, info, int(keyLen))
	if err != nil {
		panic(err)
	}
	return k
}

// spyKDF counts calls and otherwise behaves like cheapKDF.
type spyKDF struct{ calls atomic.Int64 }

func (s *spyKDF) key(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	s.calls.Add(1)
	return cheapKDF(pw, salt, time, memory, threads, keyLen)
}

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashVerifyRoundTrip(t *testing.T) {
	const pw = "correct horse battery staple"
	phc, err := Hash(pw, DefaultParams)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if !phcPattern.MatchString(phc) {
		t.Fatalf("Hash = %q, want PHC string matching %v", phc, phcPattern)
	}
	for _, tc := range []struct {
		name, pw string
		want     bool
	}{
		{"right password", pw, true},
		{"wrong password", pw + "!", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := Verify(phc, tc.pw)
			if err != nil || ok != tc.want {
				t.Fatalf("Verify = %v, %v; want %v, nil", ok, err, tc.want)
			}
		})
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	a, err := hash("pw", DefaultParams, cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hash("pw", DefaultParams, cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two hashes of the same password are equal: %q", a)
	}
}

func TestKnownAnswers(t *testing.T) {
	for _, tc := range knownAnswers {
		t.Run(tc.name, func(t *testing.T) {
			if ok, err := Verify(tc.phc, tc.pw); err != nil || !ok {
				t.Errorf("Verify(right) = %v, %v; want true, nil", ok, err)
			}
			if ok, err := Verify(tc.phc, tc.pw+"x"); err != nil || ok {
				t.Errorf("Verify(wrong) = %v, %v; want false, nil", ok, err)
			}
			// The parser is canonical: re-encoding gives the input back.
			h, err := parsePHC(tc.phc)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.encode(); got != tc.phc {
				t.Errorf("encode(parse(s)) = %q, want %q", got, tc.phc)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "c2VzYW1lLWthdC1zYWx0IQ"                      // 16 bytes
		key  = "AH4CNYiP3zovSQhNVi/xurmUll1JTAa72O9Qn4E9rWw" // 32 bytes
	)
	valid := "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key
	if _, err := parsePHC(valid); err != nil {
		t.Fatalf("base case does not parse: %v", err)
	}
	withParams := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	withSalt := func(s string) string { return "$argon2id$v=19$m=64,t=2,p=1$" + s + "$" + key }
	withKey := func(k string) string { return "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + k }

	for _, tc := range []struct{ name, phc string }{
		{"empty", ""},
		{"only separators", "$$$$$"},
		{"no leading separator", strings.TrimPrefix(valid, "$")},
		{"trailing separator", valid + "$"},
		{"too long", valid + strings.Repeat("A", maxPHCLen)},
		{"argon2i", strings.Replace(valid, "argon2id", "argon2i", 1)},
		{"argon2d", strings.Replace(valid, "argon2id", "argon2d", 1)},
		{"upper-case id", strings.Replace(valid, "argon2id", "ARGON2ID", 1)},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		{"plaintext", "hunter2"},
		{"missing version", "$argon2id$m=64,t=2,p=1$" + salt + "$" + key},
		{"version 16", strings.Replace(valid, "v=19", "v=16", 1)},
		{"version 20", strings.Replace(valid, "v=19", "v=20", 1)},
		{"version leading zero", strings.Replace(valid, "v=19", "v=019", 1)},
		{"version empty", strings.Replace(valid, "v=19", "v=", 1)},
		{"version hex", strings.Replace(valid, "v=19", "v=0x13", 1)},
		{"missing hash", "$argon2id$v=19$m=64,t=2,p=1$" + salt},
		{"missing salt and hash", "$argon2id$v=19$m=64,t=2,p=1"},
		{"empty params", withParams("")},
		{"missing m", withParams("t=2,p=1")},
		{"missing p", withParams("m=64,t=2")},
		{"params out of order", withParams("t=2,m=64,p=1")},
		{"extra keyid param", withParams("m=64,t=2,p=1,keyid=abc")},
		{"extra data param", withParams("m=64,t=2,p=1,data=YWJj")},
		{"trailing comma", withParams("m=64,t=2,p=1,")},
		{"space in number", withParams("m= 64,t=2,p=1")},
		{"plus sign", withParams("m=+64,t=2,p=1")},
		{"negative", withParams("m=-64,t=2,p=1")},
		{"leading zero", withParams("m=064,t=2,p=1")},
		{"underscore digits", withParams("m=6_4,t=2,p=1")},
		{"empty m", withParams("m=,t=2,p=1")},
		{"m overflows uint32", withParams("m=4294967296,t=2,p=1")},
		{"m above 1 GiB", withParams("m=1048577,t=2,p=1")},
		{"m max uint32", withParams("m=4294967295,t=2,p=1")},
		{"m below 8 KiB per lane", withParams("m=15,t=2,p=2")},
		{"m zero", withParams("m=0,t=2,p=1")},
		{"t zero", withParams("m=64,t=0,p=1")},
		{"t above 100", withParams("m=64,t=101,p=1")},
		{"t huge", withParams("m=64,t=4294967295,p=1")},
		{"p zero", withParams("m=64,t=2,p=0")},
		{"p above 255", withParams("m=4096,t=2,p=256")},
		{"salt invalid char", withSalt("c2VzYW1lLWthdC1zYWx0I!")},
		{"salt padded", withSalt(salt + "==")},
		{"salt url alphabet", withSalt("c2VzYW1lLWthdC1zYWx0-_")},
		{"salt with newline", withSalt("c2VzYW1lLWth\ndC1zYWx0IQ")},
		{"salt with CR", withSalt("c2VzYW1lLWth\rdC1zYWx0IQ")},
		{"salt non-canonical trailing bits", withSalt("c2VzYW1lLWthdC1zYWx0IR")},
		{"salt impossible length", withSalt("c2VzYW1lLWthdC1zYWx0I")},
		{"salt empty", withSalt("")},
		{"salt too short (4 bytes)", withSalt("c2FsdA")},
		{"salt too long (65 bytes)", withSalt(strings.Repeat("A", 87))},
		{"hash invalid char", withKey(strings.Replace(key, "/", "_", 1))},
		{"hash padded", withKey(key + "=")},
		{"hash empty", withKey("")},
		{"hash too short (8 bytes)", withKey("AAAAAAAAAAA")},
		{"hash too long (65 bytes)", withKey(strings.Repeat("A", 87))},
		{"NUL byte", valid[:20] + "\x00" + valid[20:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var spy spyKDF
			ok, err := verify(tc.phc, "pw", spy.key)
			if err == nil || ok {
				t.Fatalf("verify(%q) = %v, %v; want false, error", tc.phc, ok, err)
			}
			if !errors.Is(err, ErrMalformedHash) {
				t.Errorf("verify(%q) error = %v; want it to wrap ErrMalformedHash", tc.phc, err)
			}
			if n := spy.calls.Load(); n != 0 {
				t.Errorf("malformed hash was hashed %d times", n)
			}
		})
	}
}

func TestPasswordTooLong(t *testing.T) {
	long := strings.Repeat("x", MaxPasswordBytes+1)
	var spy spyKDF
	if _, err := hash(long, DefaultParams, spy.key); !errors.Is(err, ErrTooLong) {
		t.Errorf("hash(1025 bytes) error = %v, want ErrTooLong", err)
	}
	if ok, err := verify(knownAnswers[0].phc, long, spy.key); ok || !errors.Is(err, ErrTooLong) {
		t.Errorf("verify(1025 bytes) = %v, %v; want false, ErrTooLong", ok, err)
	}
	if n := spy.calls.Load(); n != 0 {
		t.Errorf("oversized password was hashed %d times", n)
	}
	// The public entry points share the check.
	if _, err := Hash(long, DefaultParams); !errors.Is(err, ErrTooLong) {
		t.Errorf("Hash(1025 bytes) error = %v, want ErrTooLong", err)
	}
	if _, err := Verify(knownAnswers[0].phc, long); !errors.Is(err, ErrTooLong) {
		t.Errorf("Verify(1025 bytes) error = %v, want ErrTooLong", err)
	}

	// Exactly MaxPasswordBytes is allowed.
	limit := strings.Repeat("x", MaxPasswordBytes)
	phc, err := hash(limit, DefaultParams, cheapKDF)
	if err != nil {
		t.Fatalf("hash(1024 bytes): %v", err)
	}
	if ok, err := verify(phc, limit, cheapKDF); !ok || err != nil {
		t.Errorf("verify(1024 bytes) = %v, %v; want true, nil", ok, err)
	}
}

func TestParamsValidate(t *testing.T) {
	with := func(f func(*Params)) Params {
		p := DefaultParams
		f(&p)
		return p
	}
	for _, tc := range []struct {
		name string
		p    Params
		ok   bool
	}{
		{"default", DefaultParams, true},
		{"OWASP 46 MiB t=1", with(func(p *Params) { p.Memory, p.Time = 47104, 1 }), true},
		{"OWASP 12 MiB t=3", with(func(p *Params) { p.Memory, p.Time = 12288, 3 }), true},
		{"OWASP 9 MiB t=4", with(func(p *Params) { p.Memory, p.Time = 9216, 4 }), true},
		{"OWASP 7 MiB t=5", with(func(p *Params) { p.Memory, p.Time = 7168, 5 }), true},
		{"Authelia 64 MiB t=3 p=4", with(func(p *Params) { p.Memory, p.Time, p.Threads = 65536, 3, 4 }), true},
		{"max bounds", Params{Memory: maxMemoryKiB, Time: maxTime, Threads: 255, SaltLen: maxSaltLen, KeyLen: maxKeyLen}, true},
		{"zero value", Params{}, false},
		{"memory below OWASP for t=2", with(func(p *Params) { p.Memory = 19455 }), false},
		{"t=1 needs 46 MiB", with(func(p *Params) { p.Time = 1 }), false},
		{"7 MiB floor even with many passes", with(func(p *Params) { p.Memory, p.Time = 7167, 50 }), false},
		{"time zero", with(func(p *Params) { p.Time = 0 }), false},
		{"time above 100", with(func(p *Params) { p.Time = 101 }), false},
		{"memory above 1 GiB", with(func(p *Params) { p.Memory = maxMemoryKiB + 1 }), false},
		{"threads zero", with(func(p *Params) { p.Threads = 0 }), false},
		{"salt 8 bytes", with(func(p *Params) { p.SaltLen = 8 }), false},
		{"salt 65 bytes", with(func(p *Params) { p.SaltLen = 65 }), false},
		{"key 16 bytes", with(func(p *Params) { p.KeyLen = 16 }), false},
		{"key 65 bytes", with(func(p *Params) { p.KeyLen = 65 }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate(%+v) = %v, want ok=%v", tc.p, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidParams) {
				t.Errorf("error %v does not wrap ErrInvalidParams", err)
			}
			// Everything Validate accepts can be hashed and then parsed
			// back: Validate's bounds lie inside the parser's.
			var spy spyKDF
			phc, err := hash("pw", tc.p, spy.key)
			if !tc.ok {
				if !errors.Is(err, ErrInvalidParams) || spy.calls.Load() != 0 {
					t.Errorf("hash with invalid params: err=%v, calls=%d; want ErrInvalidParams, 0", err, spy.calls.Load())
				}
				return
			}
			if err != nil {
				t.Fatalf("hash: %v", err)
			}
			if ok, err := verify(phc, "pw", spy.key); !ok || err != nil {
				t.Errorf("verify(%q) = %v, %v; want true, nil", phc, ok, err)
			}
			if NeedsRehash(phc, tc.p) {
				t.Errorf("NeedsRehash(fresh hash, same params) = true")
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	salt16, key32 := make([]byte, 16), make([]byte, 32)
	phcWith := func(p Params) string {
		return phcHash{params: p, salt: make([]byte, p.SaltLen), key: make([]byte, p.KeyLen)}.encode()
	}
	with := func(f func(*Params)) Params {
		p := DefaultParams
		f(&p)
		return p
	}
	current := phcHash{params: DefaultParams, salt: salt16, key: key32}.encode()
	for _, tc := range []struct {
		name string
		phc  string
		want bool
	}{
		{"same params", current, false},
		{"weaker memory (imported)", phcWith(with(func(p *Params) { p.Memory = 7168 })), true},
		{"stronger memory", phcWith(with(func(p *Params) { p.Memory = 65536 })), true},
		{"other time", phcWith(with(func(p *Params) { p.Time = 3 })), true},
		{"other threads", phcWith(with(func(p *Params) { p.Threads = 4 })), true},
		{"shorter salt", phcWith(with(func(p *Params) { p.SaltLen = 8 })), true},
		{"longer key", phcWith(with(func(p *Params) { p.KeyLen = 64 })), true},
		{"other algorithm", strings.Replace(current, "argon2id", "argon2i", 1), true},
		{"other version", strings.Replace(current, "v=19", "v=16", 1), true},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", true},
		{"garbage", "not a hash", true},
		{"empty", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NeedsRehash(tc.phc, DefaultParams); got != tc.want {
				t.Errorf("NeedsRehash(%q, DefaultParams) = %v, want %v", tc.phc, got, tc.want)
			}
		})
	}
}
