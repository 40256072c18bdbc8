package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// auditEventJSON is store.AuditEvent.
type auditEventJSON struct {
	ID            string            `json:"id"`
	TenantID      string            `json:"tenant_id"`
	Time          time.Time         `json:"time"`
	Type          string            `json:"type"`
	ActorTenantID string            `json:"actor_tenant_id"`
	ActorID       string            `json:"actor_id"`
	Target        string            `json:"target"`
	SourceIP      string            `json:"source_ip"`
	Details       map[string]string `json:"details"`
}

// parseTime reads an RFC 3339 query parameter.
func parseTime(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalid(name, "An RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
	}
	return t, nil
}

// listAudit serves GET /audit: events newest first, filtered by tenant,
// time (since inclusive, until exclusive), actor and type. A tenant
// administrator sees the events of their tenants only; without a tenant
// parameter, all of those.
func (h *Handler) listAudit(c *call) (int, any, error) {
	q := c.r.URL.Query()
	lf, err := listParams(c.r)
	if err != nil {
		return 0, nil, err
	}
	f := store.AuditFilter{ActorID: q.Get("actor"), Type: q.Get("type"), Cursor: lf.Cursor, Limit: lf.Limit}
	for name, v := range map[string]string{"actor": f.ActorID, "type": f.Type, "tenant": q.Get("tenant")} {
		if len(v) > 128 {
			return 0, nil, invalid(name, "At most 128 bytes")
		}
	}
	if f.Since, err = parseTime(c.r, "since"); err != nil {
		return 0, nil, err
	}
	if f.Until, err = parseTime(c.r, "until"); err != nil {
		return 0, nil, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return 0, nil, invalid("until", "Must be after since")
	}
	switch tenant := q.Get("tenant"); {
	case tenant != "":
		// No existence check: the events of a deleted tenant stay
		// readable until their retention ends.
		if !c.p.CanManage(tenant) {
			return 0, nil, notFound("Tenant")
		}
		f.TenantIDs = []string{tenant}
	case !c.p.System:
		f.TenantIDs = c.p.Tenants
	}
	if h.Audit == nil {
		return 0, nil, unavailable(errors.New("admin: no audit store"))
	}
	events, next, err := h.Audit.ListAudit(c.ctx, f)
	if err != nil {
		return 0, nil, listError(err)
	}
	out := make([]auditEventJSON, len(events))
	for i, e := range events {
		d := e.Details
		if d == nil {
			d = map[string]string{}
		}
		out[i] = auditEventJSON{ID: e.ID, TenantID: e.TenantID, Time: e.Time, Type: e.Type, ActorTenantID: e.ActorTenantID,
			ActorID: e.ActorID, Target: e.Target, SourceIP: e.SourceIP, Details: d}
	}
	return http.StatusOK, newList(out, next), nil
}
