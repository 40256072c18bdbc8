package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is returned (wrapped) when a stored hash is not a PHC
// string this package accepts: another algorithm, another argon2 version,
// missing or extra fields, non-canonical numbers or base64, or parameters
// outside the bounds documented on Verify.
var ErrMalformedHash = errors.New("password: malformed or unsupported password hash")

const (
	algorithmID = "argon2id"

	// maxPHCLen bounds the input before any parsing work. The longest
	// string this package accepts is about 210 bytes
	// ($argon2id$v=19$m=1048576,t=100,p=255$ + 2 × 86 base64 chars).
	maxPHCLen = 256
)

// b64 is the PHC encoding: standard alphabet, no padding. Strict makes the
// decoder reject non-zero trailing bits, so every accepted string has
// exactly one spelling (the parser also re-checks the alphabet, because
// the decoder silently skips '\r' and '\n').
var b64 = base64.RawStdEncoding.Strict()

// phcHash is a parsed PHC string. params.SaltLen and params.KeyLen are the
// decoded lengths, so two hashes made with the same Params compare equal.
type phcHash struct {
	params Params
	salt   []byte
	key    []byte
}

// encode renders h in the canonical PHC form that parsePHC accepts.
func (h phcHash) encode() string {
	var b strings.Builder
	b.Grow(64 + b64.EncodedLen(len(h.salt)) + b64.EncodedLen(len(h.key)))
	fmt.Fprintf(&b, "$%s$v=%d$m=%d,t=%d,p=%d$", algorithmID, argon2.Version,
		h.params.Memory, h.params.Time, h.params.Threads)
	b.WriteString(b64.EncodeToString(h.salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(h.key))
	return b.String()
}

// parsePHC parses s strictly. It never panics and does work proportional
// to at most maxPHCLen bytes, whatever s is.
func parsePHC(s string) (phcHash, error) {
	malformed := func(format string, args ...any) (phcHash, error) {
		return phcHash{}, fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
	}
	if len(s) > maxPHCLen {
		return malformed("longer than %d bytes", maxPHCLen)
	}
	// "", id, version, params, salt, hash
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" {
		return malformed("want 5 '$'-separated fields")
	}
	if fields[1] != algorithmID {
		return malformed("unsupported algorithm %q", fields[1])
	}

	v, ok := strings.CutPrefix(fields[2], "v=")
	if !ok {
		return malformed("missing version")
	}
	version, err := parseDecimal(v)
	if err != nil {
		return malformed("version: %v", err)
	}
	if version != argon2.Version {
		// Only 0x13 (19) is current; 0x10 hashes are from a broken
		// draft and x/crypto cannot compute them anyway.
		return malformed("unsupported argon2 version %d", version)
	}

	var p Params
	kv := strings.Split(fields[3], ",")
	if len(kv) != 3 {
		// PHC allows optional keyid= and data=; Sesame never writes
		// them, so their presence means the hash is not ours.
		return malformed("want exactly m, t and p parameters")
	}
	for i, name := range [...]string{"m", "t", "p"} {
		val, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return malformed("parameter %d: want %s=", i+1, name)
		}
		n, err := parseDecimal(val)
		if err != nil {
			return malformed("parameter %s: %v", name, err)
		}
		switch name {
		case "m":
			p.Memory = n
		case "t":
			p.Time = n
		case "p":
			if n > 255 {
				return malformed("p=%d exceeds 255", n)
			}
			p.Threads = uint8(n)
		}
	}
	switch {
	case p.Threads < 1:
		return malformed("p must be at least 1")
	case p.Time < 1:
		return malformed("t must be at least 1")
	case p.Time > maxTime:
		return malformed("t=%d exceeds %d", p.Time, maxTime)
	case p.Memory > maxMemoryKiB:
		return malformed("m=%d KiB exceeds %d KiB", p.Memory, maxMemoryKiB)
	case p.Memory < 8*uint32(p.Threads):
		// The argon2 spec's minimum; x/crypto would silently raise m.
		return malformed("m=%d KiB is below 8 KiB per lane", p.Memory)
	}

	salt, err := decodeB64(fields[4])
	if err != nil {
		return malformed("salt: %v", err)
	}
	if len(salt) < minStoredSaltLen || len(salt) > maxSaltLen {
		return malformed("salt length %d outside [%d, %d]", len(salt), minStoredSaltLen, maxSaltLen)
	}
	key, err := decodeB64(fields[5])
	if err != nil {
		return malformed("hash: %v", err)
	}
	if len(key) < minStoredKeyLen || len(key) > maxKeyLen {
		return malformed("hash length %d outside [%d, %d]", len(key), minStoredKeyLen, maxKeyLen)
	}
	p.SaltLen = uint32(len(salt))
	p.KeyLen = uint32(len(key))
	return phcHash{params: p, salt: salt, key: key}, nil
}

// parseDecimal accepts only canonical unsigned decimals that fit in 32
// bits: digits only, no sign, no leading zeros (as the PHC format
// requires), so that each value has one spelling.
func parseDecimal(s string) (uint32, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("not a decimal number: %q", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("number out of range")
	}
	return uint32(n), nil
}

// decodeB64 decodes unpadded standard base64, rejecting anything outside
// the alphabet first: encoding/base64 ignores '\r' and '\n', which would
// give one hash several spellings.
func decodeB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, fmt.Errorf("invalid base64 character at offset %d", i)
		}
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, errors.New("invalid base64")
	}
	return b, nil
}
