package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/oauth2"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
)

// Prefix is where the admin API is served.
const Prefix = "/admin/api/v1"

// Store is the storage the admin API needs. The server passes its cached
// store, whose application writes and deletions drop that node's cache
// entry at once. MFAStore is for the users' second factor (whether one is
// enrolled, and its removal by an administrator).
type Store interface {
	store.Store
	store.AdminStore
	store.MFAStore
}

// TenantCache is the server's cache of resolved tenants.
type TenantCache interface {
	// Invalidate drops every cached tenant.
	Invalidate()
}

// Handler serves the admin API.
type Handler struct {
	Store Store
	// Audit is the audit log read by GET /audit; nil answers 503 there.
	Audit store.AuditStore
	// Recorder receives an event for every change.
	Recorder     audit.Recorder
	Keys         *keys.Manager
	AccessTokens *oauth2.AccessTokens
	Hasher       *secret.Hasher
	// HashPassword hashes a password (argon2id, bounded concurrency);
	// password.ErrBusy and context errors mean "busy".
	HashPassword func(ctx context.Context, pw string) (string, error)
	Tenants      TenantCache
	// ClientIP returns a request's client address under the deployment's
	// trusted proxies (the rate limiter's rule), for the audit log.
	ClientIP func(*http.Request) netip.Addr
	// OpenAPI is the document served at Prefix+"/openapi.json".
	OpenAPI []byte
	Now     func() time.Time
	Logger  *slog.Logger
}

// call is one authenticated request.
type call struct {
	w   http.ResponseWriter
	r   *http.Request
	ctx context.Context
	p   Principal
}

// endpoint handles a call: it returns the status and body of a success,
// or an error (an *Error, or anything else for a failure of storage).
type endpoint func(h *Handler, c *call) (int, any, error)

// Route is one operation of the admin API.
type Route struct {
	Method string
	Path   string // under Prefix, with {name} wildcards as in OpenAPI and ServeMux
	run    endpoint
}

// Routes lists every operation; Mount registers exactly these, and the
// OpenAPI document must describe exactly these (see the tests).
func Routes() []Route {
	return []Route{
		{"GET", "/me", (*Handler).me},

		{"GET", "/tenants", (*Handler).listTenants},
		{"POST", "/tenants", (*Handler).createTenant},
		{"GET", "/tenants/{tenant}", (*Handler).getTenant},
		{"PATCH", "/tenants/{tenant}", (*Handler).updateTenant},
		{"DELETE", "/tenants/{tenant}", (*Handler).deleteTenant},

		{"GET", "/tenants/{tenant}/applications", (*Handler).listApplications},
		{"POST", "/tenants/{tenant}/applications", (*Handler).createApplication},
		{"GET", "/tenants/{tenant}/applications/{client_id}", (*Handler).getApplication},
		{"PATCH", "/tenants/{tenant}/applications/{client_id}", (*Handler).updateApplication},
		{"DELETE", "/tenants/{tenant}/applications/{client_id}", (*Handler).deleteApplication},
		{"POST", "/tenants/{tenant}/applications/{client_id}/secret", (*Handler).rotateSecret},

		{"GET", "/tenants/{tenant}/users", (*Handler).listUsers},
		{"POST", "/tenants/{tenant}/users", (*Handler).createUser},
		{"GET", "/tenants/{tenant}/users/{user_id}", (*Handler).getUser},
		{"PATCH", "/tenants/{tenant}/users/{user_id}", (*Handler).updateUser},
		{"POST", "/tenants/{tenant}/users/{user_id}/disable", (*Handler).disableUser},
		{"POST", "/tenants/{tenant}/users/{user_id}/enable", (*Handler).enableUser},
		{"POST", "/tenants/{tenant}/users/{user_id}/unlock", (*Handler).unlockUser},
		{"PUT", "/tenants/{tenant}/users/{user_id}/password", (*Handler).setPassword},
		{"POST", "/tenants/{tenant}/users/{user_id}/password/reset", (*Handler).resetPassword},
		{"DELETE", "/tenants/{tenant}/users/{user_id}/mfa", (*Handler).resetMFA},
		{"DELETE", "/tenants/{tenant}/users/{user_id}/sessions", (*Handler).revokeUserSessions},

		{"GET", "/tenants/{tenant}/sessions", (*Handler).listSessions},
		{"DELETE", "/tenants/{tenant}/sessions/{session_id}", (*Handler).revokeSession},

		{"GET", "/tenants/{tenant}/keys", (*Handler).listKeys},
		{"POST", "/tenants/{tenant}/keys/rotate", (*Handler).rotateKeys},

		{"GET", "/audit", (*Handler).listAudit},
		{"GET", "/stats", (*Handler).stats},

		{"GET", "/admins", (*Handler).listAdmins},
		{"GET", "/admins/{principal_type}/{principal_id}", (*Handler).getAdmin},
		{"PUT", "/admins/{principal_type}/{principal_id}", (*Handler).setAdmin},
		{"DELETE", "/admins/{principal_type}/{principal_id}", (*Handler).deleteAdmin},
	}
}

// Mount registers the admin API on mux: every route, the OpenAPI document
// (public, like /api/openapi.json), and a JSON answer for any other path
// under the prefix.
func (h *Handler) Mount(mux *http.ServeMux) {
	routes := Routes()
	for _, rt := range routes {
		mux.Handle(rt.Method+" "+Prefix+rt.Path, h.serve(rt.run))
	}
	mux.HandleFunc("GET "+Prefix+"/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(h.OpenAPI)
	})
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		// A path of the API with another method is 405 with Allow (RFC
		// 9110 §15.5.6); anything else 404, in the API's format.
		var allow []string
		for _, rt := range routes {
			if matchPath(rt.Path, strings.TrimPrefix(r.URL.Path, Prefix)) {
				allow = append(allow, rt.Method)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethod, Message: "Method not allowed"})
			return
		}
		writeError(w, notFound("Endpoint"))
	})
}

// matchPath reports whether path matches a route's pattern, segment by
// segment, a {wildcard} matching any one non-empty segment.
func matchPath(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") {
			if xs[i] == "" {
				return false
			}
		} else if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// serve authenticates a request, runs the endpoint and writes its answer.
func (h *Handler) serve(run endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		p, aerr := h.authenticate(ctx, r)
		if aerr != nil {
			h.fail(w, r, aerr)
			return
		}
		status, body, err := run(h, &call{w: w, r: r, ctx: ctx, p: p})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = unavailable(err)
			}
			h.fail(w, r, e)
			return
		}
		writeJSON(w, status, body)
	})
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, e *Error) {
	if e.Cause != nil {
		h.Logger.ErrorContext(r.Context(), "admin request failed", "path", r.URL.Path, "err", e.Cause)
	}
	writeError(w, e)
}

// record reports a change to the audit log.
func (h *Handler) record(c *call, typ, tenantID, target string, details map[string]string) {
	ip := ""
	if h.ClientIP != nil {
		if a := h.ClientIP(c.r); a.IsValid() {
			ip = a.String()
		}
	}
	h.Recorder.Record(c.ctx, store.AuditEvent{
		TenantID:      tenantID,
		Time:          h.now(),
		Type:          "admin." + typ,
		ActorTenantID: store.SystemTenantID,
		ActorID:       c.p.ID,
		Target:        target,
		SourceIP:      ip,
		Details:       details,
	})
}

// tenant returns the tenant named in the path, if the principal
// administers it. Another tenant is "not found" whether it exists or not,
// so that tenant administrators cannot discover tenants.
func (h *Handler) tenant(c *call) (store.Tenant, error) {
	id := c.r.PathValue("tenant")
	if !c.p.CanManage(id) {
		return store.Tenant{}, notFound("Tenant")
	}
	t, err := h.Store.GetTenant(c.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, notFound("Tenant")
	}
	return t, err
}

// requireSystem refuses a call of a tenant administrator.
func requireSystem(c *call) error {
	if !c.p.System {
		return forbidden("Only a system administrator may do this")
	}
	return nil
}

// Page sizes of listings.
const (
	defaultLimit = 50
	maxLimit     = 200
)

// listParams reads q, cursor and limit.
func listParams(r *http.Request) (store.ListFilter, error) {
	q := r.URL.Query()
	f := store.ListFilter{Query: q.Get("q"), Cursor: q.Get("cursor"), Limit: defaultLimit}
	if len(f.Query) > 200 {
		return f, invalid("q", "At most 200 bytes")
	}
	if len(f.Cursor) > 1024 {
		return f, invalid("cursor", "Not a cursor of this listing")
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return f, invalid("limit", "An integer from 1 to "+strconv.Itoa(maxLimit))
		}
		f.Limit = n
	}
	return f, nil
}

// listError turns a listing's store error into the API's.
func listError(err error) error {
	if errors.Is(err, store.ErrInvalidCursor) {
		return invalid("cursor", "Not a cursor of this listing")
	}
	return err
}

// list is the body of every listing.
type list[T any] struct {
	Items []T `json:"items"`
	// NextCursor continues the listing; absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items, NextCursor: next}
}

// me answers who the caller is, for the console.
func (h *Handler) me(c *call) (int, any, error) {
	tenants := c.p.Tenants
	if tenants == nil {
		tenants = []string{}
	}
	return http.StatusOK, principalJSON{Type: c.p.Type, ID: c.p.ID, Name: c.p.Name, SystemAdmin: c.p.System, Tenants: tenants}, nil
}

type principalJSON struct {
	Type        string   `json:"type"`
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	SystemAdmin bool     `json:"system_admin"`
	Tenants     []string `json:"tenants"`
}

// now is the handler's clock at the store's resolution (milliseconds,
// UTC), so that an answer shows the times a later read returns.
func (h *Handler) now() time.Time { return h.Now().UTC().Truncate(time.Millisecond) }
