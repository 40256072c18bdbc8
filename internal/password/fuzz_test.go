package password

import (
	"errors"
	"testing"
)

// FuzzVerify checks the PHC parser on arbitrary input: it must never
// panic, every string it accepts must be canonical (re-encoding gives the
// input back) and within bounds, and anything it rejects must fail Verify
// with an error. Accepted hashes with cheap parameters also go through the
// real argon2id, to prove the parser never admits parameters that make
// argon2.IDKey panic; expensive ones use cheapKDF so the fuzzer stays fast.
func FuzzVerify(f *testing.F) {
	for _, kat := range knownAnswers {
		f.Add(kat.phc, kat.pw)
	}
	for _, s := range []string{
		"",
		"$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=1048576,t=100,p=255$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=16$m=64,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2i$v=19$m=64,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=2,p=1,keyid=x$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=2,p=1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA",
		"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"$$$$$",
	} {
		f.Add(s, "pw")
	}
	f.Fuzz(func(t *testing.T, phc, pw string) {
		h, perr := parsePHC(phc)
		if perr != nil {
			if !errors.Is(perr, ErrMalformedHash) {
				t.Fatalf("parse error %v does not wrap ErrMalformedHash", perr)
			}
			if ok, err := verify(phc, pw, cheapKDF); ok || err == nil {
				t.Fatalf("verify(unparsable %q) = %v, %v; want false, error", phc, ok, err)
			}
			return
		}
		if got := h.encode(); got != phc {
			t.Fatalf("accepted non-canonical %q (canonical %q)", phc, got)
		}
		p := h.params
		if p.Memory > maxMemoryKiB || p.Time < 1 || p.Time > maxTime || p.Threads < 1 ||
			p.Memory < 8*uint32(p.Threads) || len(h.salt) < minStoredSaltLen || len(h.salt) > maxSaltLen ||
			len(h.key) < minStoredKeyLen || len(h.key) > maxKeyLen {
			t.Fatalf("accepted out-of-bounds %q: %+v", phc, p)
		}
		kdf := keyFunc(cheapKDF)
		if p.Memory <= 256 && p.Time <= 4 {
			kdf = nil // real argon2id via Verify
		}
		var err error
		if kdf == nil {
			_, err = Verify(phc, pw)
		} else {
			_, err = verify(phc, pw, kdf)
		}
		if len(pw) > MaxPasswordBytes {
			if !errors.Is(err, ErrTooLong) {
				t.Fatalf("verify(long password) error = %v, want ErrTooLong", err)
			}
		} else if err != nil {
			t.Fatalf("verify(parsable %q) error = %v", phc, err)
		}
	})
}
