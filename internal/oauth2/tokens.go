package oauth2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sesame-idp/sesame/internal/idtoken"
	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
)

// Hash purposes of the values this package stores.
const (
	PurposeAccessToken = "access_token"
	// PurposeAccessTokenJTI keys the stored form of a JWT access token's
	// jti. It differs from PurposeAccessToken so that a jti, which is not
	// secret (resource servers log it), can never be presented as an
	// opaque token that matches the JWT's row.
	PurposeAccessTokenJTI = "access_token_jti"
	PurposeClientSecret   = "client_secret"
)

// Access token formats (an application setting).
const (
	FormatOpaque = "opaque"
	FormatJWT    = "jwt"
)

// AccessTokens issues and checks access tokens of both formats. Opaque
// tokens are stored as keyed hashes. JWT access tokens (RFC 9068) are
// verified by signature, and their jti is stored (hashed) too, so that
// they can be revoked and introspected like opaque ones.
type AccessTokens struct {
	Store  store.Store
	Hasher *secret.Hasher
	Keys   *keys.Manager
	Issuer func(store.Tenant) string
	Now    func() time.Time
}

// jwtClaims are the claims of a JWT access token (RFC 9068 §2.2).
type jwtClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	ClientID string `json:"client_id"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	ID       string `json:"jti"`
	Scope    string `json:"scope,omitempty"`
	AuthTime int64  `json:"auth_time,omitempty"`
}

// Issue creates an access token for app in the application's format. at
// carries the user, scope, grant, session and auth time; the rest is
// filled in here.
func (a *AccessTokens) Issue(ctx context.Context, t store.Tenant, app store.Application, at store.AccessToken, ttl time.Duration) (string, error) {
	now := a.Now()
	at.TenantID, at.ClientID = t.ID, app.ClientID
	at.CreatedAt, at.ExpiresAt = now, now.Add(ttl)
	var tok string
	if app.AccessTokenFormat == FormatJWT {
		alg := app.IDTokenAlg
		if alg == "" {
			alg = keys.RS256
		}
		signer, _, err := a.Keys.Signer(ctx, t.ID, alg)
		if err != nil {
			return "", err
		}
		c := jwtClaims{
			Issuer: a.Issuer(t), Subject: at.UserID, Audience: app.ClientID, ClientID: app.ClientID,
			IssuedAt: now.Unix(), Expiry: now.Add(ttl).Unix(), ID: idtoken.NewID(), Scope: at.Scope,
		}
		if c.Subject == "" {
			c.Subject = app.ClientID // RFC 9068 §2.2: sub is the client without a user
		}
		if !at.AuthTime.IsZero() {
			c.AuthTime = at.AuthTime.Unix()
		}
		payload, _ := json.Marshal(c)
		if tok, err = signer.SignAccessToken(payload); err != nil {
			return "", err
		}
		at.TokenHash = a.Hasher.Hash(PurposeAccessTokenJTI, c.ID)
	} else {
		tok = secret.NewToken()
		at.TokenHash = a.Hasher.Hash(PurposeAccessToken, tok)
	}
	if err := a.Store.CreateAccessToken(ctx, at); err != nil {
		return "", err
	}
	return tok, nil
}

// isJWT tells a JWT (three dot-separated parts) from an opaque token,
// which never contains a dot.
func isJWT(tok string) bool { return strings.Count(tok, ".") == 2 }

// StorageHash returns the hash an access token is stored under, checking
// a JWT's signature, type, issuer and expiry first. ok is false for a JWT
// that fails those checks.
func (a *AccessTokens) StorageHash(ctx context.Context, t store.Tenant, tok string) (hash []byte, ok bool, err error) {
	if !isJWT(tok) {
		return a.Hasher.Hash(PurposeAccessToken, tok), true, nil
	}
	jti, err := a.verifyJWT(ctx, t, tok)
	if errors.Is(err, errBadJWT) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return a.Hasher.Hash(PurposeAccessTokenJTI, jti), true, nil
}

// Authenticate returns the unexpired, unrevoked access token tok of the
// tenant. An unknown, expired, revoked or forged token is
// store.ErrNotFound.
func (a *AccessTokens) Authenticate(ctx context.Context, t store.Tenant, tok string) (store.AccessToken, error) {
	h, ok, err := a.StorageHash(ctx, t, tok)
	if err != nil {
		return store.AccessToken{}, err
	}
	if !ok {
		return store.AccessToken{}, store.ErrNotFound
	}
	return a.Store.AccessTokenByHash(ctx, t.ID, h, a.Now())
}

// AuthenticateWithUser is Authenticate together with the token's user, in
// one read (store.Store.AccessTokenWithUser): userinfo and introspection
// need both, and on PostgreSQL a second read is a second round trip. The
// user is zero for a client_credentials token or a user that is gone.
func (a *AccessTokens) AuthenticateWithUser(ctx context.Context, t store.Tenant, tok string) (store.AccessToken, store.User, error) {
	h, ok, err := a.StorageHash(ctx, t, tok)
	if err != nil {
		return store.AccessToken{}, store.User{}, err
	}
	if !ok {
		return store.AccessToken{}, store.User{}, store.ErrNotFound
	}
	return a.Store.AccessTokenWithUser(ctx, t.ID, h, a.Now())
}

var errBadJWT = errors.New("oauth2: invalid JWT access token")

// CompactJWS reports whether tok has the shape of a JWS in compact
// serialization (RFC 7515 §7.1): three base64url segments (RFC 7515 §2, no
// padding) separated by dots, and nothing else. go-jose removes white
// space before it parses, so without this check one signed token would be
// accepted in many spellings (found by FuzzAccessTokenJWT).
func CompactJWS(tok string) bool {
	if strings.Count(tok, ".") != 2 {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// allowedAlgs is the allow-list every JWT is parsed with (RFC 8725 §3.1).
var allowedAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS512, jose.ES256, jose.EdDSA}

// verifyJWT checks a JWT access token of tenant t and returns its jti.
func (a *AccessTokens) verifyJWT(ctx context.Context, t store.Tenant, tok string) (string, error) {
	if len(tok) > 8192 || !CompactJWS(tok) {
		return "", errBadJWT
	}
	jws, err := jose.ParseSigned(tok, allowedAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", errBadJWT
	}
	h := jws.Signatures[0].Protected
	// RFC 9068 §4: the typ header must be at+jwt, so an id_token is never
	// accepted as an access token.
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") {
		return "", errBadJWT
	}
	set, err := a.Keys.PublicKeys(ctx, t.ID)
	if err != nil {
		return "", err
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 || keys[0].Algorithm != h.Algorithm {
		return "", errBadJWT
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return "", errBadJWT
	}
	var c jwtClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", errBadJWT
	}
	if c.Issuer != a.Issuer(t) || c.ID == "" || a.Now().Unix() >= c.Expiry {
		return "", fmt.Errorf("%w: claims", errBadJWT)
	}
	return c.ID, nil
}

// HashClientSecret returns the stored form of a client secret.
func HashClientSecret(h *secret.Hasher, clientSecret string) []byte {
	return h.Hash(PurposeClientSecret, clientSecret)
}

// AuthenticateClient checks credentials against the tenant's applications.
// Every failure is the same invalid_client, so that the answer does not
// tell an unknown client from a wrong secret.
func AuthenticateClient(ctx context.Context, st store.Store, h *secret.Hasher, tenantID string, cred ClientCredentials) (store.Application, *Error) {
	bad := NewError(ErrInvalidClient, "Bad client credentials")
	if len(cred.ID) > 128 || len(cred.Secret) > 512 {
		return store.Application{}, bad
	}
	app, err := st.GetApplication(ctx, tenantID, cred.ID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Application{}, bad
	}
	if err != nil {
		return store.Application{}, Busy(err)
	}
	if app.Public() {
		if cred.Method != "none" {
			return store.Application{}, bad
		}
		return app, nil
	}
	if cred.Method == "none" || !secret.Equal(HashClientSecret(h, cred.Secret), app.SecretHash) {
		return store.Application{}, bad
	}
	return app, nil
}
