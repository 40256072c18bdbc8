package admin

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/store"
)

// statsTypes are the audit event types GET /stats counts: the console's
// dashboard charts logins, token issuance, failures and second factors
// from them. Recovery codes are counted because each one works once and
// a burst of them is either users locked out of their authenticators or
// someone holding stolen codes.
var statsTypes = []string{
	audit.TypeLoginSuccess, audit.TypeLoginFailure, audit.TypeLockout, audit.TypeTokenIssued,
	audit.TypeTokenRevoked, audit.TypeSessionRotated, audit.TypeSessionRevoked,
	audit.TypeMFAEnrolled, audit.TypeMFADisabled, audit.TypeMFARecoveryCodeUsed,
}

// Bounds of GET /stats.
const (
	defaultStatsBucket = time.Minute
	defaultStatsWindow = time.Hour
	maxStatsBucket     = 24 * time.Hour
	maxStatsBuckets    = 1440
)

type statsJSON struct {
	Since  time.Time         `json:"since"`
	Until  time.Time         `json:"until"`
	Bucket int64             `json:"bucket"` // seconds
	Series []statsSeriesJSON `json:"series"`
}

type statsSeriesJSON struct {
	Type   string  `json:"type"`
	Total  int64   `json:"total"`
	Counts []int64 `json:"counts"` // one per bucket, oldest first
}

// stats serves GET /stats: how many login, token and session events
// happened per time bucket, counted by the database (so that a busy hour
// costs one grouped index scan, not a listing of every event). By default
// the window is the last hour in one-minute buckets, ending with the
// bucket that holds the server's present, so that what just happened is
// in the last bucket. Tenants as in GET /audit: a tenant administrator
// counts only the events of their tenants.
func (h *Handler) stats(c *call) (int, any, error) {
	q := c.r.URL.Query()
	bucket := defaultStatsBucket
	if s := q.Get("bucket"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || n > int64(maxStatsBucket/time.Second) {
			return 0, nil, invalid("bucket", "Seconds from 1 to "+strconv.FormatInt(int64(maxStatsBucket/time.Second), 10))
		}
		bucket = time.Duration(n) * time.Second
	}
	since, err := parseTime(c.r, "since")
	if err != nil {
		return 0, nil, err
	}
	until, err := parseTime(c.r, "until")
	if err != nil {
		return 0, nil, err
	}
	if until.IsZero() {
		until = h.Now().Truncate(bucket).Add(bucket)
	}
	if since.IsZero() {
		since = until.Add(-defaultStatsWindow)
	}
	// The store counts in milliseconds.
	since, until = since.Truncate(time.Millisecond), until.Truncate(time.Millisecond)
	if !until.After(since) {
		return 0, nil, invalid("until", "Must be after since")
	}
	n := int64((until.Sub(since) + bucket - 1) / bucket)
	if n > maxStatsBuckets {
		return 0, nil, invalid("bucket", "At most "+strconv.Itoa(maxStatsBuckets)+" buckets in the window; choose wider buckets or a shorter window")
	}
	f := store.AuditCountFilter{Types: statsTypes, Since: since, Until: until, Bucket: bucket}
	switch tenant := q.Get("tenant"); {
	case len(tenant) > 128:
		return 0, nil, invalid("tenant", "At most 128 bytes")
	case tenant != "":
		if !c.p.CanManage(tenant) {
			return 0, nil, notFound("Tenant")
		}
		f.TenantIDs = []string{tenant}
	case !c.p.System:
		f.TenantIDs = c.p.Tenants
	}
	counter, ok := h.Audit.(store.AuditStatsStore)
	if !ok {
		return 0, nil, unavailable(errors.New("admin: the audit store cannot count events"))
	}
	counts, err := counter.CountAudit(c.ctx, f)
	if err != nil {
		return 0, nil, err
	}
	out := statsJSON{Since: since.UTC(), Until: until.UTC(), Bucket: int64(bucket / time.Second), Series: make([]statsSeriesJSON, len(statsTypes))}
	index := map[string]int{}
	for i, typ := range statsTypes {
		out.Series[i] = statsSeriesJSON{Type: typ, Counts: make([]int64, n)}
		index[typ] = i
	}
	for _, ct := range counts {
		i, ok := index[ct.Type]
		if !ok || ct.Bucket < 0 || int64(ct.Bucket) >= n {
			continue // not asked for: a store's mistake must not break the answer
		}
		out.Series[i].Counts[ct.Bucket] += ct.Count
		out.Series[i].Total += ct.Count
	}
	return http.StatusOK, out, nil
}
