package oauth2

import (
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// ClientCredentials are the client authentication values a token request
// carried (RFC 6749 §2.3.1).
type ClientCredentials struct {
	ID     string
	Secret string
	// Method is "client_secret_basic", "client_secret_post" or "none".
	Method string
}

// ParseClientCredentials reads client authentication from the Authorization
// header (Basic) or the form. The form must already be parsed. Using both
// methods at once is refused: RFC 6749 §2.3 says a client MUST NOT use more
// than one authentication method in a request.
func ParseClientCredentials(r *http.Request, form url.Values) (ClientCredentials, *Error) {
	basicID, basicSecret, hasBasic := r.BasicAuth()
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	if hasBasic {
		if formSecret != "" {
			return ClientCredentials{}, NewError(ErrInvalidRequest, "Client authentication must use only one method")
		}
		// RFC 6749 §2.3.1: the Basic credentials are form-urlencoded.
		id, err1 := url.QueryUnescape(basicID)
		sec, err2 := url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil || id == "" {
			return ClientCredentials{}, NewError(ErrInvalidClient, "Bad client credentials")
		}
		if formID != "" && formID != id {
			return ClientCredentials{}, NewError(ErrInvalidRequest, "client_id does not match the authenticated client")
		}
		return ClientCredentials{ID: id, Secret: sec, Method: "client_secret_basic"}, nil
	}
	if r.Header.Get("Authorization") != "" {
		return ClientCredentials{}, NewError(ErrInvalidClient, "Unsupported client authentication")
	}
	if formID == "" {
		return ClientCredentials{}, NewError(ErrInvalidClient, "Client authentication is required")
	}
	if formSecret == "" {
		return ClientCredentials{ID: formID, Method: "none"}, nil
	}
	return ClientCredentials{ID: formID, Secret: formSecret, Method: "client_secret_post"}, nil
}

// BearerToken returns the token of an "Authorization: Bearer" header
// (RFC 6750 §2.1; the scheme is case-insensitive).
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || len(token) > 4096 {
		return "", false
	}
	return token, true
}

// maxFormBytes bounds the body of token-side requests.
const maxFormBytes = 16 << 10

// ParseForm reads an application/x-www-form-urlencoded body. Parameters in
// the query string are not read: RFC 6749 §2.3.1 forbids credentials
// there, and URLs end up in logs. A parameter sent twice is refused (RFC
// 6749 §3.2).
func ParseForm(r *http.Request) (url.Values, *Error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, NewError(ErrInvalidRequest, "Content-Type must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, NewError(ErrInvalidRequest, "Malformed or oversized form body")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, NewError(ErrInvalidRequest, "Parameter "+k+" is repeated")
		}
	}
	return r.PostForm, nil
}

// ClientRequest reads a token-side request (token, introspection,
// revocation endpoints): its form, then the client's credentials, then
// checks them against the tenant's applications. Every such endpoint
// authenticates the same way, here.
func ClientRequest(r *http.Request, st store.Store, h *secret.Hasher, tenantID string) (url.Values, store.Application, *Error) {
	form, oerr := ParseForm(r)
	if oerr != nil {
		return nil, store.Application{}, oerr
	}
	cred, oerr := ParseClientCredentials(r, form)
	if oerr != nil {
		return nil, store.Application{}, oerr
	}
	app, oerr := AuthenticateClient(r.Context(), st, h, tenantID, cred)
	if oerr != nil {
		return nil, store.Application{}, oerr
	}
	return form, app, nil
}
