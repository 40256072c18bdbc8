package password

import (
	"errors"
	"fmt"
)

// Params are the argon2id cost parameters and output sizes of a hash.
//
// They are recorded in every PHC string, so changing them only affects new
// hashes; existing ones are upgraded on login via NeedsRehash.
type Params struct {
	// Memory is the memory cost in KiB (argon2 "m"). Every hash allocates
	// this much, which is what makes GPU and ASIC guessing expensive.
	Memory uint32
	// Time is the number of passes over the memory (argon2 "t").
	Time uint32
	// Threads is the degree of parallelism (argon2 "p"). It changes the
	// result, so it is part of the stored parameters; it does not change
	// the total work.
	Threads uint8
	// SaltLen is the length in bytes of the random salt drawn per hash.
	SaltLen uint32
	// KeyLen is the length in bytes of the derived hash.
	KeyLen uint32
}

// DefaultParams is the OWASP Password Storage Cheat Sheet minimum for
// argon2id: 19 MiB, 2 passes, 1 lane, 16-byte salt, 32-byte hash. It costs
// about 35–45 ms of one core and 19.9 MB of allocation per hash, so one core
// checks roughly 25–45 passwords a second (see BenchmarkVerifyDefault).
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// ErrInvalidParams is returned (wrapped) by Params.Validate and Hash when
// the parameters are below the OWASP minimum or outside sane bounds.
var ErrInvalidParams = errors.New("password: invalid argon2id parameters")

// Bounds shared by Validate and the PHC parser. The upper bounds exist so
// that a corrupt or hostile stored hash cannot make one Verify allocate
// gigabytes or run for minutes; Validate uses the same upper bounds so that
// every hash this package produces can also be verified by it.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 100
	maxSaltLen   = 64
	maxKeyLen    = 64

	// Policy minimums for new hashes (Validate). 128-bit salts make
	// precomputation pointless; 256-bit outputs leave no room for
	// collisions.
	minSaltLen = 16
	minKeyLen  = 32

	// Acceptance minimums for stored hashes (parser). They are looser
	// than the policy so that hashes imported from other systems still
	// verify (and then get rehashed), but tight enough that a truncated
	// hash cannot be matched by chance.
	minStoredSaltLen = 8  // the argon2 spec's minimum
	minStoredKeyLen  = 16 // 128 bits
)

// owaspMinMemory returns the smallest memory cost (KiB) that OWASP accepts
// for the given number of passes. OWASP lists these as equally strong
// configurations (more passes buy back less memory); 7 MiB is its floor.
func owaspMinMemory(time uint32) uint32 {
	switch time {
	case 0:
		return 0 // rejected separately
	case 1:
		return 47104 // 46 MiB
	case 2:
		return 19456 // 19 MiB
	case 3:
		return 12288 // 12 MiB
	case 4:
		return 9216 // 9 MiB
	default:
		return 7168 // 7 MiB
	}
}

// Validate reports whether p may be used to create new hashes. It refuses
// anything weaker than the OWASP argon2id minimum (m=19 MiB with t=2, or one
// of OWASP's equivalent memory/time trade-offs: 46 MiB/1, 12 MiB/3,
// 9 MiB/4, 7 MiB/5+), salts under 16 bytes, hashes under 32 bytes, and
// values so large that the hash could not be verified (m > 1 GiB, t > 100,
// salt or hash > 64 bytes). The error wraps ErrInvalidParams.
func (p Params) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidParams, fmt.Sprintf(format, args...))
	}
	switch {
	case p.Time < 1:
		return bad("time must be at least 1")
	case p.Time > maxTime:
		return bad("time %d exceeds %d", p.Time, maxTime)
	case p.Threads < 1:
		return bad("threads must be at least 1")
	case p.Memory > maxMemoryKiB:
		return bad("memory %d KiB exceeds %d KiB", p.Memory, maxMemoryKiB)
	case p.Memory < owaspMinMemory(p.Time):
		// The OWASP floor (7 MiB) also covers argon2's own minimum of
		// 8 KiB per lane for every possible Threads value (255 × 8 KiB).
		return bad("memory %d KiB with time %d is below the OWASP minimum (%d KiB)",
			p.Memory, p.Time, owaspMinMemory(p.Time))
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return bad("salt length %d outside [%d, %d]", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return bad("key length %d outside [%d, %d]", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}
