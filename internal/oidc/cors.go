package oidc

import (
	"net/http"
	"net/url"
)

// CORS wraps an endpoint meant for browser-based clients (discovery,
// JWKS, token, userinfo, revocation) with Cross-Origin Resource Sharing
// for the origins of the tenant's registered redirect URIs, and only
// those: a single-page application may call them from its own origin, any
// other page may not read the answers. next == nil serves only the
// preflight (OPTIONS) of a route.
func (p *Provider) CORS(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && p.originAllowed(r, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, POST")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				h.Set("Access-Control-Max-Age", "600")
			}
		}
		if r.Method == http.MethodOptions || next == nil {
			// A preflight from an origin that is not allowed gets no CORS
			// headers, so the browser does not send the request.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next(w, r)
	}
}

// originAllowed reports whether origin is the origin of a redirect URI of
// an application of the request's tenant.
func (p *Provider) originAllowed(r *http.Request, origin string) bool {
	t, err := p.Tenants.Resolve(r.Context(), r)
	if err != nil {
		return false
	}
	apps, err := p.Store.ListApplications(r.Context(), t.ID)
	if err != nil {
		return false
	}
	for _, a := range apps {
		for _, uri := range a.RedirectURIs {
			if u, err := url.Parse(uri); err == nil && u.Host != "" && u.Scheme+"://"+u.Host == origin {
				return true
			}
		}
	}
	return false
}
