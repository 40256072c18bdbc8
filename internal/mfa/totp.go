package mfa

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"time"
)

// The TOTP parameters Sesame uses: those of RFC 6238's reference
// (HMAC-SHA1, T0 = 0, X = 30 s) with 6 digits, which is what every
// authenticator app assumes when an otpauth URI names no others.
const (
	Period = 30 * time.Second
	Digits = 6
	// Skew is how many steps a code may be off either way: RFC 6238 §5.2
	// recommends allowing "at most one time step" of network delay and
	// clock drift.
	Skew = 1
)

// Step returns the RFC 6238 time step of t: floor((unix time - T0) / X)
// with T0 = 0 and X = Period.
func Step(t time.Time) int64 {
	return floorDiv(t.Unix(), int64(Period/time.Second))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// HOTP computes the RFC 4226 §5.3 one-time password of key for counter,
// with digits digits (6 to 10) and the given HMAC hash (RFC 6238 §1.2
// allows SHA-256 and SHA-512 besides SHA-1).
func HOTP(h func() hash.Hash, key []byte, counter int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(h, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	// Dynamic truncation (RFC 4226 §5.3).
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint64(1)
	for range digits {
		mod *= 10
	}
	code := uint64(bin) % mod
	out := make([]byte, digits)
	for i := digits - 1; i >= 0; i-- {
		out[i] = byte('0' + code%10)
		code /= 10
	}
	return string(out)
}

// Code returns the TOTP code of key at time step step with Sesame's
// parameters.
func Code(key []byte, step int64) string {
	return HOTP(sha1.New, key, step, Digits)
}

// Match reports the time step, among now's and its Skew neighbours, at
// which code is key's TOTP code and which is later than after (the last
// step a code of this key was accepted at; use -1 << 62 when none was).
// It prefers the latest step that matches. Every candidate is compared
// in constant time, whether or not an earlier one matched.
//
// ok is false when no such step exists. replay is true when code matches
// only at a step not after "after": a code that was already accepted (or
// is older than one that was), which RFC 6238 §5.2 says must be refused.
func Match(key []byte, code string, now time.Time, after int64) (step int64, ok, replay bool) {
	cur := Step(now)
	for s := cur - Skew; s <= cur+Skew; s++ {
		if subtle.ConstantTimeCompare([]byte(Code(key, s)), []byte(code)) != 1 {
			continue
		}
		if s > after {
			step, ok = s, true
		} else {
			replay = true
		}
	}
	if ok {
		replay = false
	}
	return step, ok, replay
}

// IsCode reports whether s has the shape of a TOTP code: exactly Digits
// ASCII digits.
func IsCode(s string) bool {
	if len(s) != Digits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
