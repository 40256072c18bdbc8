package scale

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
)

// Fixture names of the generated store. The tenant and its applications
// are declared in the server's bootstrap configuration (see writeConfig);
// users and sessions are loaded directly.
const (
	TenantID     = "scale"
	TenantDomain = "scale.test" // sent as the Host header
	// ClientID is the application every session was created through; it
	// does not rotate session tokens (contract §8 default). The exchanges
	// go through other applications of the tenant, one per algorithm
	// and rotation setting (AppID).
	ClientID = "scale-app"
	// Password is every generated user's password. The generated store is
	// a test fixture, never a deployment.
	Password = "Scale-Password-1"

	osVersion = "linux6.1"
	agent     = "sesame-scale/1"

	// SessionTTL is the session lifetime of both applications.
	SessionTTL = 7 * 24 * time.Hour
	// liveMin is the least remaining lifetime of a live session at
	// Spec.Now: long enough that none expires during a run.
	liveMin = 24 * time.Hour
)

// Spec describes a data set. The same Spec always yields the same rows, so
// a session's token is recomputed from its index whenever it is needed.
type Spec struct {
	Sessions int64
	Users    int64
	// ExpiredShare of the sessions have expired at Now, spread over the
	// week before it; the others expire between one and seven days after
	// Now. Which sessions expire is decided per session from the seed, so
	// that expired rows are scattered over the table as they are in a
	// store that has run for a while.
	ExpiredShare float64
	// RotatedShare of the sessions have been rotated once: their previous
	// token's hash is kept (prev_token_hash), as after an exchange with
	// session_auto_refresh. The client holds the successor token.
	RotatedShare float64
	// Seed (at least 32 bytes) derives the session tokens.
	Seed []byte
	// KEK is the server's secrets.key_encryption_key: token hashes are
	// keyed by it (secret.NewHasher), so the server must be given the same.
	KEK []byte
	// Now is the generation time; expiry is relative to it.
	Now time.Time
	// PasswordHash is the PHC string every user gets (hashing a million
	// passwords with argon2id would take hours; the salt being shared does
	// not matter to a test fixture).
	PasswordHash string
}

func (s Spec) validate() error {
	switch {
	case s.Sessions < 1 || s.Users < 1:
		return errors.New("scale: sessions and users must be at least 1")
	case s.Sessions > math.MaxInt64/2 || s.Users > 1e12:
		return errors.New("scale: sizes out of range")
	case !(s.ExpiredShare >= 0 && s.ExpiredShare < 1) || !(s.RotatedShare >= 0 && s.RotatedShare <= 1):
		return errors.New("scale: expired share must be in [0, 1), rotated share in [0, 1]")
	case len(s.Seed) < 32 || len(s.KEK) < 32:
		return errors.New("scale: seed and key-encryption key must be at least 32 bytes")
	case s.Now.IsZero() || s.PasswordHash == "":
		return errors.New("scale: Now and PasswordHash are required")
	}
	return nil
}

// Dataset derives the rows of a Spec.
type Dataset struct {
	spec   Spec
	hasher *secret.Hasher
	// mix keys the cheap derivations (ids, fingerprints, shares, times);
	// tokens use HMAC under Seed.
	mix uint64
	// expiredBelow and rotatedBelow are the shares as thresholds on a
	// uniform 64-bit value.
	expiredBelow, rotatedBelow uint64
	nowMS                      int64
}

// NewDataset checks spec and returns its data set.
func NewDataset(spec Spec) (*Dataset, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	h, err := secret.NewHasher(spec.KEK)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("sesame scale mix\x00"), spec.Seed...))
	return &Dataset{
		spec:         spec,
		hasher:       h,
		mix:          binary.BigEndian.Uint64(sum[:8]),
		expiredBelow: threshold(spec.ExpiredShare),
		rotatedBelow: threshold(spec.RotatedShare),
		nowMS:        spec.Now.UnixMilli(),
	}, nil
}

// Spec returns the data set's description.
func (d *Dataset) Spec() Spec { return d.spec }

func threshold(share float64) uint64 {
	if share >= 1 {
		return math.MaxUint64
	}
	return uint64(share * (1 << 64))
}

// splitmix64 is a bijective mixer (Steele, Lea, Flood 2014): good enough to
// spread ids, shares and times, and far cheaper than a MAC. It is used only
// for values that are not secrets.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (d *Dataset) rand(kind, i int64) uint64 {
	return splitmix64(d.mix ^ splitmix64(uint64(kind)<<56^uint64(i)))
}

// Kinds of derived values, so that each draw of one row is independent.
const (
	drawExpired = iota + 1
	drawRotated
	drawExpiry
	drawAge
	drawDevice
	drawUserID
	drawSessionID
)

// SessionRow is one generated session: the columns of the sessions table
// (times in Unix milliseconds) and what a client holds.
type SessionRow struct {
	ID, UserID                                string
	TokenHash, PrevTokenHash                  []byte // PrevTokenHash nil unless rotated
	RotatedAt, AuthTime, CreatedAt, ExpiresAt int64
	Fingerprint, DeviceIP                     string

	// Token is the session token the client holds: the successor when
	// the session was rotated.
	Token   string
	Expired bool
	Rotated bool
}

// Session derives session i (0 <= i < Sessions).
func (d *Dataset) Session(i int64) SessionRow {
	r := SessionRow{
		ID:      d.sessionID(i),
		UserID:  d.UserID(i % d.spec.Users),
		Expired: d.rand(drawExpired, i) < d.expiredBelow,
		Rotated: d.rand(drawRotated, i) < d.rotatedBelow,
	}
	day := int64(24 * time.Hour / time.Millisecond)
	ttl := SessionTTL.Milliseconds()
	if r.Expired {
		// Expired between a week and a minute ago.
		r.ExpiresAt = d.nowMS - time.Minute.Milliseconds() - int64(d.rand(drawExpiry, i)%uint64(7*day))
	} else {
		r.ExpiresAt = d.nowMS + liveMin.Milliseconds() + int64(d.rand(drawExpiry, i)%uint64(ttl-liveMin.Milliseconds()))
	}
	// The current token was issued (at login or at the rotation) one TTL
	// before it expires; a rotated session began up to 30 days earlier.
	issued := r.ExpiresAt - ttl
	first := d.firstToken(i)
	if r.Rotated {
		r.RotatedAt = issued
		r.CreatedAt = issued - 1 - int64(d.rand(drawAge, i)%uint64(30*day))
		r.PrevTokenHash = d.hasher.Hash(session.PurposeSession, first)
		r.Token = d.hasher.Successor(session.PurposeSession, first)
	} else {
		r.CreatedAt = issued
		r.Token = first
	}
	r.AuthTime = r.CreatedAt
	r.TokenHash = d.hasher.Hash(session.PurposeSession, r.Token)
	dev := d.rand(drawDevice, i)
	r.Fingerprint = fmt.Sprintf("scale-%016x", dev)
	r.DeviceIP = fmt.Sprintf("10.%d.%d.%d", byte(dev>>8), byte(dev>>16), byte(dev>>24))
	return r
}

// firstToken is the token session i was created with: 32 bytes of
// HMAC-SHA-256 under the seed, in the form secret.NewToken has.
func (d *Dataset) firstToken(i int64) string {
	m := hmac.New(sha256.New, d.spec.Seed)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	m.Write([]byte("session\x00"))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sessionID is 32 hex digits like the server's ids, but increasing with
// i: rows then arrive in primary-key order and the load appends to the
// primary-key index instead of splitting pages all over it.
func (d *Dataset) sessionID(i int64) string {
	return fmt.Sprintf("%016x%016x", uint64(i), d.rand(drawSessionID, i))
}

// UserID is user j's id (increasing with j, as sessionID).
func (d *Dataset) UserID(j int64) string {
	return fmt.Sprintf("%016x%016x", uint64(j), d.rand(drawUserID, j))
}

// AppID names the application of the tenant that signs id_tokens with alg
// and, with rotate, has session_auto_refresh on.
func AppID(alg string, rotate bool) string {
	id := "scale-" + strings.ToLower(alg)
	if rotate {
		id += "-rotating"
	}
	return id
}

// Username is user j's user name.
func Username(j int64) string { return fmt.Sprintf("user%08d", j) }

// UserRow is one generated user: the columns of the users table.
type UserRow struct {
	ID, Username, Name, Email, Mobile string
	CreatedAt                         int64
}

// User derives user j (0 <= j < Users).
func (d *Dataset) User(j int64) UserRow {
	return UserRow{
		ID:        d.UserID(j),
		Username:  Username(j),
		Name:      fmt.Sprintf("Scale User %d", j),
		Email:     fmt.Sprintf("user%08d@scale.test", j),
		Mobile:    fmt.Sprintf("+86-139%08d", j%100_000_000),
		CreatedAt: d.nowMS - 60*int64(24*time.Hour/time.Millisecond),
	}
}

// Column lists of the bulk loads: the columns of migration 00001. Columns
// added by later migrations take their defaults, as for rows a server
// created before those migrations.
var (
	userLoadColumns = []string{"tenant_id", "id", "username", "username_key", "name", "email", "email_key",
		"mobile", "status", "password_hash", "password_changed_at", "failed_logins",
		"failed_window_start", "locked_until", "created_at", "updated_at"}
	sessionLoadColumns = []string{"id", "tenant_id", "user_id", "client_id", "token_hash", "prev_token_hash",
		"rotated_at", "device_fingerprint", "device_os_version", "device_agent", "device_ip",
		"auth_time", "created_at", "expires_at"}
)

// appendUser appends user j's values in userLoadColumns order.
func (d *Dataset) appendUser(dst []any, j int64) []any {
	u := d.User(j)
	// User names and e-mail addresses are generated in lower case, so
	// they are their own *_key (sqlstore's key()).
	return append(dst, TenantID, u.ID, u.Username, u.Username, u.Name, u.Email, u.Email,
		u.Mobile, store.UserActive, d.spec.PasswordHash, u.CreatedAt, int64(0),
		int64(0), int64(0), u.CreatedAt, u.CreatedAt)
}

// appendSession appends session i's values in sessionLoadColumns order and
// reports whether it is expired and whether it was rotated.
func (d *Dataset) appendSession(dst []any, i int64) (row []any, expired, rotated bool) {
	s := d.Session(i)
	var prev any // NULL, as sqlstore stores "never rotated"
	if s.PrevTokenHash != nil {
		prev = s.PrevTokenHash
	}
	return append(dst, s.ID, TenantID, s.UserID, ClientID, s.TokenHash, prev,
		s.RotatedAt, s.Fingerprint, osVersion, agent, s.DeviceIP,
		s.AuthTime, s.CreatedAt, s.ExpiresAt), s.Expired, s.Rotated
}
