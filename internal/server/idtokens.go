package server

import (
	"context"
	"time"

	"github.com/sesame-idp/sesame/internal/idtoken"
	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/store"
)

// idTokens mints the SDK's id_tokens (contract §7): aud is the calling
// application, lifetime and algorithm are the application's.
type idTokens struct {
	minter *idtoken.Minter
	issuer func(store.Tenant) string
}

func newIDTokens(km *keys.Manager, issuer func(store.Tenant) string, now func() time.Time) *idTokens {
	return &idTokens{minter: idtoken.NewMinter(km, now), issuer: issuer}
}

func (t *idTokens) SignIDToken(ctx context.Context, tn store.Tenant, app store.Application, u store.User, _ time.Time) (string, error) {
	return t.minter.Mint(ctx, tn.ID, app.IDTokenAlg, app.IDTokenTTL, idtoken.Claims{
		Issuer:   t.issuer(tn),
		Audience: app.ClientID,
		Subject:  u.ID,
		UserID:   u.ID,
		Name:     u.Name,
		UserName: u.Username,
		Mobile:   u.Mobile,
		Email:    u.Email,
	})
}
