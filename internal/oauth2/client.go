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
//
// Client assertions (RFC 7521, RFC 7523: private_key_jwt and
// client_secret_jwt) are not supported, and discovery does not list them.
// A request carrying one is refused, never authenticated by whatever else
// it carries: ignoring the assertion would accept a public client by its
// bare client_id, or a secret sent beside the assertion, against RFC 6749
// §2.3's one method per request. The error is invalid_client, as RFC 7521
// §4.2.1 requires for a client assertion that is not accepted (and RFC 6749
// §5.2 for an unsupported authentication method). RFC 6749 §3.2: an empty
// parameter counts as omitted.
func ParseClientCredentials(r *http.Request, form url.Values) (ClientCredentials, *Error) {
	if form.Get("client_assertion") != "" || form.Get("client_assertion_type") != "" {
		return ClientCredentials{}, NewError(ErrInvalidClient, "Client assertions (private_key_jwt, client_secret_jwt) are not supported")
	}
	if len(r.Header.Values("Authorization")) > 1 {
		// Authorization is not a list (RFC 9110 §11.6.2): a repeated one is
		// ambiguous, and components may disagree on which one counts.
		return ClientCredentials{}, NewError(ErrInvalidRequest, "The Authorization header is repeated")
	}
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
// (RFC 6750 §2.1; the scheme is case-insensitive). A repeated
// Authorization header carries no token: it is not a list (RFC 9110
// §11.6.2), and RFC 6750 §2 allows one token per request.
func BearerToken(r *http.Request) (string, bool) {
	hs := r.Header.Values("Authorization")
	if len(hs) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(hs[0], " ")
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
			return nil, NewError(ErrInvalidRequest, repeatedParameter(k))
		}
	}
	return r.PostForm, nil
}

// tokenSideParams are the parameters of the token-side endpoints (RFC 6749
// §4.1.3, §4.4.2, §6; RFC 7009 §2.1; RFC 7662 §2.1; RFC 6750 §2.2; RFC
// 7636 §4.5; RFC 7521 §4.2).
var tokenSideParams = map[string]bool{
	"grant_type": true, "code": true, "redirect_uri": true, "client_id": true, "client_secret": true,
	"code_verifier": true, "refresh_token": true, "scope": true, "token": true, "token_type_hint": true,
	"access_token": true, "client_assertion": true, "client_assertion_type": true,
}

// repeatedParameter describes a repeated parameter, naming it only when it
// is one of the protocol's: a name the client made up is not echoed, and
// RFC 6749 §5.2 allows only printable ASCII other than '"' and '\' in
// error_description, which an arbitrary name need not be.
func repeatedParameter(name string) string {
	if tokenSideParams[name] {
		return "Parameter " + name + " is repeated"
	}
	return "A parameter is repeated"
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
