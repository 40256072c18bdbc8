package oauth2

import (
	"context"
	"errors"
	"time"

	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
)

// Hash purposes of the values this package stores.
const (
	PurposeAccessToken  = "access_token"
	PurposeClientSecret = "client_secret"
)

// AccessTokens issues and checks opaque access tokens. Only their keyed
// hashes are stored.
type AccessTokens struct {
	Store  store.Store
	Hasher *secret.Hasher
	Now    func() time.Time
}

// Issue creates an access token.
func (a *AccessTokens) Issue(ctx context.Context, tenantID, clientID, userID, scope string, ttl time.Duration) (string, error) {
	tok := secret.NewToken()
	now := a.Now()
	err := a.Store.CreateAccessToken(ctx, store.AccessToken{
		TokenHash: a.Hasher.Hash(PurposeAccessToken, tok),
		TenantID:  tenantID,
		ClientID:  clientID,
		UserID:    userID,
		Scope:     scope,
		CreatedAt: now,
		ExpiresAt: now.Add(ttl),
	})
	if err != nil {
		return "", err
	}
	return tok, nil
}

// Authenticate returns the unexpired access token tok of the tenant. An
// unknown or expired token is store.ErrNotFound.
func (a *AccessTokens) Authenticate(ctx context.Context, tenantID, tok string) (store.AccessToken, error) {
	return a.Store.AccessTokenByHash(ctx, tenantID, a.Hasher.Hash(PurposeAccessToken, tok), a.Now())
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
