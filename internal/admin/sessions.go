package admin

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// sessionJSON is a session without its token hashes.
type sessionJSON struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"tenant_id"`
	UserID    string     `json:"user_id"`
	ClientID  string     `json:"client_id"`
	Device    deviceJSON `json:"device"`
	AuthTime  time.Time  `json:"auth_time"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RotatedAt *time.Time `json:"rotated_at,omitempty"`
}

type deviceJSON struct {
	Fingerprint string `json:"fingerprint"`
	OSVersion   string `json:"os_version"`
	Agent       string `json:"agent"`
	IP          string `json:"ip"`
}

func sessionOut(s store.Session) sessionJSON {
	return sessionJSON{
		ID: s.ID, TenantID: s.TenantID, UserID: s.UserID, ClientID: s.ClientID,
		Device:   deviceJSON{Fingerprint: s.Device.Fingerprint, OSVersion: s.Device.OSVersion, Agent: s.Device.Agent, IP: s.Device.IP},
		AuthTime: s.AuthTime, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, RotatedAt: timePtr(s.RotatedAt),
	}
}

// listSessions lists a tenant's live sessions, newest first, optionally
// of one user (user_id) and/or one application (client_id).
func (h *Handler) listSessions(c *call) (int, any, error) {
	t, err := h.tenant(c)
	if err != nil {
		return 0, nil, err
	}
	lf, err := listParams(c.r)
	if err != nil {
		return 0, nil, err
	}
	q := c.r.URL.Query()
	f := store.SessionFilter{UserID: q.Get("user_id"), ClientID: q.Get("client_id"), Now: h.now(), Cursor: lf.Cursor, Limit: lf.Limit}
	for name, v := range map[string]string{"user_id": f.UserID, "client_id": f.ClientID} {
		if len(v) > 128 {
			return 0, nil, invalid(name, "At most 128 bytes")
		}
	}
	ss, next, err := h.Store.ListSessions(c.ctx, t.ID, f)
	if err != nil {
		return 0, nil, listError(err)
	}
	out := make([]sessionJSON, len(ss))
	for i, s := range ss {
		out[i] = sessionOut(s)
	}
	return http.StatusOK, newList(out, next), nil
}

// revokeSession ends one session: its session token is refused from now
// on, and OAuth tokens issued in it are revoked.
func (h *Handler) revokeSession(c *call) (int, any, error) {
	t, err := h.tenant(c)
	if err != nil {
		return 0, nil, err
	}
	id := c.r.PathValue("session_id")
	if err := h.Store.RevokeSession(c.ctx, t.ID, id, h.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil, notFound("Session")
		}
		return 0, nil, err
	}
	h.record(c, "session.revoke", t.ID, "session:"+id, nil)
	return http.StatusNoContent, nil, nil
}

type revokedJSON struct {
	Revoked int64 `json:"revoked"`
}

// revokeUserSessions ends every session of a user and revokes the user's
// OAuth grants ("sign out everywhere").
func (h *Handler) revokeUserSessions(c *call) (int, any, error) {
	t, u, err := h.user(c)
	if err != nil {
		return 0, nil, err
	}
	n, err := h.Store.RevokeUserSessions(c.ctx, t.ID, u.ID, h.now())
	if err != nil {
		return 0, nil, err
	}
	h.record(c, "session.revoke_all", t.ID, "user:"+u.ID, map[string]string{"sessions": strconv.FormatInt(n, 10)})
	return http.StatusOK, revokedJSON{Revoked: n}, nil
}
