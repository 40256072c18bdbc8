package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// roleJSON is one store.AdminRole.
type roleJSON struct {
	PrincipalType string    `json:"principal_type"`
	PrincipalID   string    `json:"principal_id"`
	Name          string    `json:"name"`
	Role          string    `json:"role"`                // "system_admin" or "tenant_admin"
	TenantID      string    `json:"tenant_id,omitempty"` // of a tenant_admin role
	CreatedAt     time.Time `json:"created_at"`
}

// adminJSON is a principal with all its roles.
type adminJSON struct {
	PrincipalType string   `json:"principal_type"`
	PrincipalID   string   `json:"principal_id"`
	Name          string   `json:"name"`
	SystemAdmin   bool     `json:"system_admin"`
	Tenants       []string `json:"tenants"`
}

// adminBody is the body of PUT /admins/{type}/{id}: the principal's
// roles, replacing what it had.
type adminBody struct {
	SystemAdmin bool     `json:"system_admin"`
	Tenants     []string `json:"tenants"`
}

// principalName returns the display name of a principal of the system
// tenant; ok is false when it does not exist.
func (h *Handler) principalName(c *call, typ, id string) (string, bool, error) {
	switch typ {
	case store.PrincipalUser:
		u, err := h.Store.GetUser(c.ctx, store.SystemTenantID, id)
		if errors.Is(err, store.ErrNotFound) {
			return "", false, nil
		}
		return u.Username, err == nil, err
	case store.PrincipalApplication:
		_, err := h.Store.GetApplication(c.ctx, store.SystemTenantID, id)
		if errors.Is(err, store.ErrNotFound) {
			return "", false, nil
		}
		return id, err == nil, err
	}
	return "", false, nil
}

// principal reads and checks the principal named in the path.
func (h *Handler) principal(c *call) (typ, id, name string, err error) {
	typ, id = c.r.PathValue("principal_type"), c.r.PathValue("principal_id")
	if typ != store.PrincipalUser && typ != store.PrincipalApplication {
		return "", "", "", invalid("principal_type", "user or application")
	}
	name, ok, err := h.principalName(c, typ, id)
	if err != nil {
		return "", "", "", err
	}
	if !ok {
		return "", "", "", notFound("Principal (a user or application of the system tenant)")
	}
	return typ, id, name, nil
}

func (h *Handler) adminOut(c *call, typ, id, name string) (adminJSON, error) {
	roles, err := h.Store.AdminRoles(c.ctx, typ, id)
	if err != nil {
		return adminJSON{}, err
	}
	out := adminJSON{PrincipalType: typ, PrincipalID: id, Name: name, Tenants: []string{}}
	for _, r := range roles {
		if r.System() {
			out.SystemAdmin = true
		} else {
			out.Tenants = append(out.Tenants, r.TenantID)
		}
	}
	return out, nil
}

// listAdmins lists every role (one row per principal and tenant).
func (h *Handler) listAdmins(c *call) (int, any, error) {
	if err := requireSystem(c); err != nil {
		return 0, nil, err
	}
	f, err := listParams(c.r)
	if err != nil {
		return 0, nil, err
	}
	roles, next, err := h.Store.ListAdminRoles(c.ctx, f)
	if err != nil {
		return 0, nil, listError(err)
	}
	names := map[[2]string]string{}
	out := make([]roleJSON, len(roles))
	for i, r := range roles {
		k := [2]string{r.PrincipalType, r.PrincipalID}
		name, seen := names[k]
		if !seen {
			// A role can outlive nothing: deleting a principal's
			// application deletes its roles; users are only disabled.
			if name, _, err = h.principalName(c, r.PrincipalType, r.PrincipalID); err != nil {
				return 0, nil, err
			}
			names[k] = name
		}
		out[i] = roleJSON{PrincipalType: r.PrincipalType, PrincipalID: r.PrincipalID, Name: name, Role: "tenant_admin", TenantID: r.TenantID, CreatedAt: r.CreatedAt}
		if r.System() {
			out[i].Role = "system_admin"
		}
	}
	return http.StatusOK, newList(out, next), nil
}

func (h *Handler) getAdmin(c *call) (int, any, error) {
	if err := requireSystem(c); err != nil {
		return 0, nil, err
	}
	typ, id, name, err := h.principal(c)
	if err != nil {
		return 0, nil, err
	}
	out, err := h.adminOut(c, typ, id, name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// setAdmin replaces a principal's roles. The principal must be a user or
// a confidential application of the system tenant; the tenants must
// exist. The last system administrator cannot be removed (409).
func (h *Handler) setAdmin(c *call) (int, any, error) {
	if err := requireSystem(c); err != nil {
		return 0, nil, err
	}
	typ, id, name, err := h.principal(c)
	if err != nil {
		return 0, nil, err
	}
	if typ == store.PrincipalApplication {
		// An application acts through client_credentials tokens, which
		// only confidential clients get (RFC 6749 §4.4). The console is
		// public: it acts for its users, who hold the roles.
		app, err := h.Store.GetApplication(c.ctx, store.SystemTenantID, id)
		if err != nil {
			return 0, nil, err
		}
		if app.Public() {
			return 0, nil, invalid("principal_id", "A public application cannot act by itself; give the roles to users")
		}
	}
	var b adminBody
	if err := decode(c.r, &b, false); err != nil {
		return 0, nil, err
	}
	now := h.now()
	var roles []store.AdminRole
	if b.SystemAdmin {
		roles = append(roles, store.AdminRole{PrincipalType: typ, PrincipalID: id, CreatedAt: now})
	}
	if len(b.Tenants) > 1000 {
		return 0, nil, invalid("tenants", "At most 1000 tenants")
	}
	for i, tid := range b.Tenants {
		field := fmt.Sprintf("tenants[%d]", i)
		if tid == store.SystemTenantID {
			return 0, nil, invalid(field, "The system tenant has system administrators only")
		}
		if slices.Contains(b.Tenants[:i], tid) {
			return 0, nil, invalid(field, "Listed twice")
		}
		if _, err := h.Store.GetTenant(c.ctx, tid); errors.Is(err, store.ErrNotFound) {
			return 0, nil, invalid(field, "No such tenant")
		} else if err != nil {
			return 0, nil, err
		}
		roles = append(roles, store.AdminRole{PrincipalType: typ, PrincipalID: id, TenantID: tid, CreatedAt: now})
	}
	if err := h.Store.SetAdminRoles(c.ctx, typ, id, roles); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return 0, nil, conflict("system_admin", "This would leave no system administrator")
		}
		return 0, nil, err
	}
	out, err := h.adminOut(c, typ, id, name)
	if err != nil {
		return 0, nil, err
	}
	h.record(c, "role.set", store.SystemTenantID, typ+":"+id, map[string]string{
		"system_admin": fmt.Sprint(out.SystemAdmin), "tenants": fmt.Sprint(out.Tenants),
	})
	return http.StatusOK, out, nil
}

// deleteAdmin removes every role of a principal.
func (h *Handler) deleteAdmin(c *call) (int, any, error) {
	if err := requireSystem(c); err != nil {
		return 0, nil, err
	}
	typ, id, _, err := h.principal(c)
	if err != nil {
		return 0, nil, err
	}
	if err := h.Store.SetAdminRoles(c.ctx, typ, id, nil); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return 0, nil, conflict("", "This would leave no system administrator")
		}
		return 0, nil, err
	}
	h.record(c, "role.delete", store.SystemTenantID, typ+":"+id, nil)
	return http.StatusNoContent, nil, nil
}
