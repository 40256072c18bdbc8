package sdkapi

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/sesame-idp/sesame/internal/clock"
	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/sdkerror"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
)

// appKeyAlg labels sealed application keys (the sealing's additional data).
const appKeyAlg = "RSA-OAEP-256"

// Signed serves the signed form of the SDK calls (the vendor's OneAccess
// variant, vendor notes §1b and §8.4): the client encrypts
// "session_token=…&timestamp=…&nonce=…" to its application's public key
// (RSA-OAEP with SHA-256) and sends it base64 in X-signature, instead of
// sending the session token in clear.
type Signed struct {
	Store  store.SignedStore
	Sealer *keys.Sealer
	Hasher *secret.Hasher
	Now    func() time.Time
	// Window is how far a signature's timestamp may be from the server's
	// clock (see GET /api/v2/sdk/server-date); nonces are remembered that
	// long after their timestamp, plus clock.MaxSkew.
	Window time.Duration

	mu    sync.Mutex
	cache map[string]*rsa.PrivateKey // by tenant + "\x00" + client_id
}

// key returns the application's private key, creating the pair on first
// use (the first GET /api/v2/sdk/public-key).
func (s *Signed) key(ctx context.Context, t store.Tenant, app store.Application, create bool) (*rsa.PrivateKey, error) {
	ck := t.ID + "\x00" + app.ClientID
	s.mu.Lock()
	k := s.cache[ck]
	s.mu.Unlock()
	if k != nil {
		return k, nil
	}
	stored, err := s.Store.GetAppKey(ctx, t.ID, app.ClientID)
	if errors.Is(err, store.ErrNotFound) && create {
		if err = s.create(ctx, t, app); err == nil || errors.Is(err, store.ErrConflict) {
			stored, err = s.Store.GetAppKey(ctx, t.ID, app.ClientID)
		}
	}
	if err != nil {
		return nil, err
	}
	der, err := s.Sealer.Open(t.ID, app.ClientID, appKeyAlg, stored.PrivateKey)
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	k, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("sdkapi: application key is not RSA")
	}
	s.mu.Lock()
	if s.cache == nil {
		s.cache = map[string]*rsa.PrivateKey{}
	}
	s.cache[ck] = k
	s.mu.Unlock()
	return k, nil
}

func (s *Signed) create(ctx context.Context, t store.Tenant, app store.Application) error {
	priv, err := rsa.GenerateKey(rand.Reader, keys.RSABits)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	sealed, err := s.Sealer.Seal(t.ID, app.ClientID, appKeyAlg, der)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return err
	}
	return s.Store.AddAppKey(ctx, store.AppKey{
		TenantID: t.ID, ClientID: app.ClientID, PrivateKey: sealed,
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		CreatedAt:    s.Now(),
	})
}

// open decrypts and checks an X-signature and returns the session token
// it carries: the timestamp must be within the window of the server's
// clock and the nonce unused within it.
func (s *Signed) open(ctx context.Context, t store.Tenant, app store.Application, sig string) (string, error) {
	raw, err := decodeBase64(sig)
	if err != nil {
		return "", sdkerror.New(sdkerror.SignatureInvalid)
	}
	priv, err := s.key(ctx, t, app, false)
	if errors.Is(err, store.ErrNotFound) {
		return "", sdkerror.New(sdkerror.SignatureInvalid)
	}
	if err != nil {
		return "", sdkerror.Busy(err)
	}
	pt, err := decryptOAEP(priv, raw)
	if err != nil {
		return "", sdkerror.New(sdkerror.SignatureInvalid)
	}
	v, err := url.ParseQuery(string(pt))
	tok, tsText, nonce := v.Get("session_token"), v.Get("timestamp"), v.Get("nonce")
	if err != nil || tok == "" || tsText == "" || nonce == "" || len(nonce) > 128 || len(tok) > maxToken {
		return "", sdkerror.New(sdkerror.SignatureInvalid)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return "", sdkerror.New(sdkerror.ParamMalformed, "timestamp")
	}
	now := s.Now()
	signedAt := time.UnixMilli(ts)
	if d := now.Sub(signedAt); d > s.Window || d < -s.Window {
		return "", sdkerror.New(sdkerror.ParamInvalid, "timestamp")
	}
	// Remember the nonce until the signature could no longer pass the
	// timestamp check anyway, on any node: a node whose clock is behind
	// accepts the timestamp up to clock.MaxSkew after a node ahead would
	// sweep a nonce kept only for the window.
	err = s.Store.UseNonce(ctx, t.ID, app.ClientID, s.Hasher.Hash("signature_nonce", nonce), now, signedAt.Add(s.Window+clock.MaxSkew))
	if errors.Is(err, store.ErrReused) {
		return "", sdkerror.New(sdkerror.ParamInvalid, "nonce")
	}
	if err != nil {
		return "", sdkerror.Busy(err)
	}
	return tok, nil
}

// decryptOAEP decrypts RSA-OAEP with SHA-256. MGF1 is tried with SHA-256
// and then with SHA-1, because Java's "RSA/ECB/OAEPWithSHA-256AndMGF1Padding"
// (the vendor's documented client code) uses SHA-1 in MGF1 by default.
func decryptOAEP(priv *rsa.PrivateKey, ct []byte) ([]byte, error) {
	pt, err := priv.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256})
	if err == nil {
		return pt, nil
	}
	return priv.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("sdkapi: not base64")
}

type publicKeyResponse struct {
	PublicKey string `json:"public_key"`
}

func (h *Handler) publicKey(c *call) (any, error) {
	k, err := h.Signed.key(c.ctx, c.tenant, c.app, true)
	if err != nil {
		return nil, sdkerror.Busy(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, sdkerror.Busy(err)
	}
	return publicKeyResponse{PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}, nil
}

// signature reads the X-signature header and opens it.
func (h *Handler) signature(c *call) (string, error) {
	sig, err := header(c.r.Header, "X-signature", 4096, true)
	if err != nil {
		return "", err
	}
	return h.Signed.open(c.ctx, c.tenant, c.app, sig)
}

type idTokenResponse struct {
	IDToken string `json:"id_token"`
}

// signedIDToken serves POST /api/v2/sdk/session-token/refresh-id-token.
func (h *Handler) signedIDToken(c *call) (any, error) {
	tok, err := h.signature(c)
	if err != nil {
		return nil, err
	}
	idt, err := h.Sessions.IDToken(c.ctx, c.tenant, c.app, tok, c.common.Device)
	if err != nil {
		return nil, err
	}
	return idTokenResponse{IDToken: idt}, nil
}

// signedLogout serves GET /api/v2/sdk/logout.
func (h *Handler) signedLogout(c *call) (any, error) {
	tok, err := h.signature(c)
	if err != nil {
		return nil, err
	}
	if err := h.Sessions.Logout(c.ctx, c.tenant, c.app, tok, c.common.Device); err != nil {
		return nil, err
	}
	return emptyBody{}, nil
}
