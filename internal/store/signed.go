package store

import (
	"context"
	"time"
)

// AppKey is an application's RSA key pair for the signed form of the SDK
// calls (the vendor's OneAccess X-signature: clients encrypt
// "session_token=…&timestamp=…&nonce=…" to the application's public key).
type AppKey struct {
	TenantID     string
	ClientID     string
	PrivateKey   []byte // sealed PKCS#8; never in clear
	PublicKeyPEM string // SubjectPublicKeyInfo, "-----BEGIN PUBLIC KEY-----"
	CreatedAt    time.Time
}

// SignedStore holds what the signed SDK calls need.
type SignedStore interface {
	// AddAppKey stores the application's key pair; an application that
	// has one already is ErrConflict (two nodes creating it at once: the
	// loser reads the winner's).
	AddAppKey(ctx context.Context, k AppKey) error
	GetAppKey(ctx context.Context, tenantID, clientID string) (AppKey, error)
	// UseNonce records a signed call's nonce (its keyed hash) until
	// expiresAt, in one statement; a nonce the application already used
	// and that has not expired is ErrReused.
	UseNonce(ctx context.Context, tenantID, clientID string, nonceHash []byte, now, expiresAt time.Time) error
}
