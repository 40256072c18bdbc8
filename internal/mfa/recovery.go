package mfa

import (
	"crypto/rand"
	"strings"
)

// Recovery codes stand in for a TOTP code when the authenticator is lost.
// Each is used once. They are shown to the user once, at enrolment, and
// stored only as keyed hashes of their normal form.
const (
	// RecoveryCodeCount is how many codes an enrolment gives.
	RecoveryCodeCount = 10
	// recoveryGroups groups of recoveryGroupLen characters, 5 bits each:
	// 60 bits per code. That is ample for a secret that is checked only
	// online, against a keyed hash, under the account lockout.
	recoveryGroups   = 3
	recoveryGroupLen = 4
	// recoveryAlphabet is the RFC 4648 base32 alphabet in lower case: 32
	// symbols, with none of the digits 0, 1, 8 and 9 that people confuse
	// with o, l, b and g.
	recoveryAlphabet = "abcdefghijklmnopqrstuvwxyz234567"
	// MaxCodeLen bounds what a client may send as a code (TOTP or
	// recovery, with separators and spaces).
	MaxCodeLen = 64
)

// NewRecoveryCodes returns n fresh recovery codes, formatted for display
// as "abcd-efgh-ijkl".
func NewRecoveryCodes(n int) []string {
	codes := make([]string, n)
	buf := make([]byte, recoveryGroups*recoveryGroupLen)
	for i := range codes {
		_, _ = rand.Read(buf)
		var b strings.Builder
		for j, c := range buf {
			if j > 0 && j%recoveryGroupLen == 0 {
				b.WriteByte('-')
			}
			// 256 is a multiple of 32: the low five bits are uniform.
			b.WriteByte(recoveryAlphabet[c&31])
		}
		codes[i] = b.String()
	}
	return codes
}

// NormalizeRecoveryCode returns the normal form of a recovery code as a
// person may type it (any case, with or without the hyphens, with
// spaces), or "" when s cannot be one.
func NormalizeRecoveryCode(s string) string {
	if len(s) > MaxCodeLen {
		return ""
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case strings.ContainsRune(recoveryAlphabet, r):
			b.WriteRune(r)
		default:
			return ""
		}
	}
	if b.Len() != recoveryGroups*recoveryGroupLen {
		return ""
	}
	return b.String()
}
