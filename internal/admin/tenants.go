package admin

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/bootstrap"
	"github.com/sesame-idp/sesame/internal/store"
)

// Durations are whole seconds in JSON, as in contract §8 ("604800 s").
// maxSeconds bounds them far below time.Duration's range.
const maxSeconds = 10 * 366 * 24 * 3600

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// policyJSON is store.TenantPolicy (contract §8, per tenant).
type policyJSON struct {
	LockoutThreshold   int    `json:"lockout_threshold"`
	LockoutWindow      int64  `json:"lockout_window"`
	LockoutDuration    int64  `json:"lockout_duration"`
	PasswordMaxAge     int64  `json:"password_max_age"`
	PasswordWarnBefore int64  `json:"password_warn_before"`
	PasswordMinLength  int    `json:"password_min_length"`
	PasswordMaxLength  int    `json:"password_max_length"`
	MFA                string `json:"mfa"`
}

type tenantJSON struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	Edition         string     `json:"edition"`
	DefaultLanguage string     `json:"default_language"`
	Domains         []string   `json:"domains"`
	Policy          policyJSON `json:"policy"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

func tenantOut(t store.Tenant) tenantJSON {
	p := t.Policy
	mfa := p.MFA
	if mfa == "" {
		mfa = store.MFAOff
	}
	domains := t.Domains
	if domains == nil {
		domains = []string{}
	}
	return tenantJSON{
		ID: t.ID, Name: t.Name, Edition: t.Edition, DefaultLanguage: t.DefaultLanguage, Domains: domains,
		Policy: policyJSON{
			LockoutThreshold: p.LockoutThreshold, LockoutWindow: seconds(p.LockoutWindow), LockoutDuration: seconds(p.LockoutDuration),
			PasswordMaxAge: seconds(p.PasswordMaxAge), PasswordWarnBefore: seconds(p.PasswordWarnBefore),
			PasswordMinLength: p.PasswordMinLength, PasswordMaxLength: p.PasswordMaxLength, MFA: mfa,
		},
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
}

// policyPatch sets the members present.
type policyPatch struct {
	LockoutThreshold   *int    `json:"lockout_threshold"`
	LockoutWindow      *int64  `json:"lockout_window"`
	LockoutDuration    *int64  `json:"lockout_duration"`
	PasswordMaxAge     *int64  `json:"password_max_age"`
	PasswordWarnBefore *int64  `json:"password_warn_before"`
	PasswordMinLength  *int    `json:"password_min_length"`
	PasswordMaxLength  *int    `json:"password_max_length"`
	MFA                *string `json:"mfa"`
}

// tenantPatch is the body of tenant creation (ID required) and update
// (ID absent); members absent keep their value (or default).
type tenantPatch struct {
	ID              *string      `json:"id"`
	Name            *string      `json:"name"`
	Edition         *string      `json:"edition"`
	DefaultLanguage *string      `json:"default_language"`
	Domains         *[]string    `json:"domains"`
	Policy          *policyPatch `json:"policy"`
}

var (
	tenantIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	// hostLabelRe is one DNS label (RFC 1123 §2.1).
	hostLabelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// validHost reports whether d is a host name (lower case, no port).
func validHost(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if !hostLabelRe.MatchString(l) {
			return false
		}
	}
	return true
}

// validText checks a free-text setting: valid UTF-8 without control
// characters, at most max runes.
func validText(field, s string, max int, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return invalid(field, "Required")
	}
	if len([]rune(s)) > max {
		return invalid(field, fmt.Sprintf("At most %d characters", max))
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return invalid(field, "Control characters and invalid UTF-8 are not allowed")
		}
	}
	return nil
}

// secondsIn sets *dst from a number of seconds in [min, maxSeconds].
func secondsIn(field string, v *int64, min int64, dst *time.Duration) error {
	if v == nil {
		return nil
	}
	if *v < min || *v > maxSeconds {
		return invalid(field, fmt.Sprintf("Seconds from %d to %d", min, maxSeconds))
	}
	*dst = time.Duration(*v) * time.Second
	return nil
}

func intIn(field string, v *int, min, max int, dst *int) error {
	if v == nil {
		return nil
	}
	if *v < min || *v > max {
		return invalid(field, fmt.Sprintf("An integer from %d to %d", min, max))
	}
	*dst = *v
	return nil
}

// apply validates the patch and applies it to t. system says whether the
// caller is a system administrator: only they change domains and
// edition, which decide routing and error dialect for every client.
func (b tenantPatch) apply(t *store.Tenant, system bool) error {
	if b.Name != nil {
		if err := validText("name", *b.Name, 200, true); err != nil {
			return err
		}
		t.Name = *b.Name
	}
	if b.Edition != nil {
		if !system && *b.Edition != t.Edition {
			return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Field: "edition", Message: "Only a system administrator may change the edition"}
		}
		if *b.Edition != store.EditionEIAM && *b.Edition != store.EditionCIAM {
			return invalid("edition", "eiam or ciam")
		}
		t.Edition = *b.Edition
	}
	if b.DefaultLanguage != nil {
		if *b.DefaultLanguage != "en" && *b.DefaultLanguage != "zh" {
			return invalid("default_language", "en or zh")
		}
		t.DefaultLanguage = *b.DefaultLanguage
	}
	if b.Domains != nil {
		var ds []string
		for i, d := range *b.Domains {
			d = strings.ToLower(d)
			field := fmt.Sprintf("domains[%d]", i)
			if !validHost(d) {
				return invalid(field, "Not a host name (give it without scheme, port or path)")
			}
			if slices.Contains(ds, d) {
				return invalid(field, "Listed twice")
			}
			ds = append(ds, d)
		}
		if len(ds) == 0 {
			// The first domain names the tenant's issuer (contract §4).
			return invalid("domains", "A tenant needs at least one domain")
		}
		if len(ds) > 32 {
			return invalid("domains", "At most 32 domains")
		}
		if !system && !slices.Equal(ds, t.Domains) {
			return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Field: "domains", Message: "Only a system administrator may change the domains"}
		}
		t.Domains = ds
	}
	if pp := b.Policy; pp != nil {
		p := &t.Policy
		for _, err := range []error{
			intIn("policy.lockout_threshold", pp.LockoutThreshold, 0, 1000, &p.LockoutThreshold),
			secondsIn("policy.lockout_window", pp.LockoutWindow, 0, &p.LockoutWindow),
			secondsIn("policy.lockout_duration", pp.LockoutDuration, 0, &p.LockoutDuration),
			secondsIn("policy.password_max_age", pp.PasswordMaxAge, 0, &p.PasswordMaxAge),
			secondsIn("policy.password_warn_before", pp.PasswordWarnBefore, 0, &p.PasswordWarnBefore),
			intIn("policy.password_min_length", pp.PasswordMinLength, 1, 1024, &p.PasswordMinLength),
			intIn("policy.password_max_length", pp.PasswordMaxLength, 1, 1024, &p.PasswordMaxLength),
		} {
			if err != nil {
				return err
			}
		}
		if pp.MFA != nil {
			switch *pp.MFA {
			case store.MFAOff, store.MFAOptional, store.MFARequired:
				p.MFA = *pp.MFA
			default:
				return invalid("policy.mfa", "off, optional or required")
			}
		}
		if p.PasswordMaxLength < p.PasswordMinLength {
			return invalid("policy.password_max_length", "Must not be less than password_min_length")
		}
	}
	return nil
}

func (h *Handler) listTenants(c *call) (int, any, error) {
	lf, err := listParams(c.r)
	if err != nil {
		return 0, nil, err
	}
	f := store.TenantFilter{ListFilter: lf}
	if !c.p.System {
		f.IDs = append([]string{}, c.p.Tenants...)
	}
	ts, next, err := h.Store.ListTenantsPage(c.ctx, f)
	if err != nil {
		return 0, nil, listError(err)
	}
	out := make([]tenantJSON, len(ts))
	for i, t := range ts {
		out[i] = tenantOut(t)
	}
	return http.StatusOK, newList(out, next), nil
}

func (h *Handler) getTenant(c *call) (int, any, error) {
	t, err := h.tenant(c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, tenantOut(t), nil
}

// createTenant creates a tenant with the defaults of contract §8 for
// what the body leaves out, and its signing keys.
func (h *Handler) createTenant(c *call) (int, any, error) {
	if err := requireSystem(c); err != nil {
		return 0, nil, err
	}
	var b tenantPatch
	if err := decode(c.r, &b, false); err != nil {
		return 0, nil, err
	}
	if b.ID == nil || !tenantIDRe.MatchString(*b.ID) {
		return 0, nil, invalid("id", "Required: 1 to 63 lower-case letters, digits and hyphens, starting with a letter or digit")
	}
	if b.Domains == nil {
		return 0, nil, invalid("domains", "A tenant needs at least one domain")
	}
	now := h.now()
	t := store.Tenant{
		ID: *b.ID, Name: *b.ID, Edition: store.EditionEIAM, DefaultLanguage: "en",
		Policy: bootstrap.DefaultPolicy(), CreatedAt: now, UpdatedAt: now,
	}
	if err := b.apply(&t, true); err != nil {
		return 0, nil, err
	}
	// Which of id and domains is taken, for the message; CreateTenant
	// decides (it refuses either, also against a concurrent creation).
	switch _, err := h.Store.GetTenant(c.ctx, t.ID); {
	case err == nil:
		return 0, nil, conflict("id", "A tenant with this id exists")
	case !errors.Is(err, store.ErrNotFound):
		return 0, nil, err
	}
	if err := h.Store.CreateTenant(c.ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return 0, nil, conflict("domains", "A domain belongs to another tenant")
		}
		return 0, nil, err
	}
	h.Tenants.Invalidate()
	// A tenant signs from its first token on: create its keys now rather
	// than on the first login.
	if err := h.Keys.EnsureKeys(c.ctx, t.ID); err != nil {
		return 0, nil, err
	}
	h.record(c, "tenant.create", t.ID, "tenant:"+t.ID, nil)
	return http.StatusCreated, tenantOut(t), nil
}

func (h *Handler) updateTenant(c *call) (int, any, error) {
	t, err := h.tenant(c)
	if err != nil {
		return 0, nil, err
	}
	var b tenantPatch
	if err := decode(c.r, &b, false); err != nil {
		return 0, nil, err
	}
	if b.ID != nil && *b.ID != t.ID {
		return 0, nil, invalid("id", "The id of a tenant cannot change")
	}
	if t.ID == store.SystemTenantID && b.Domains != nil && !slices.Equal(*b.Domains, t.Domains) {
		return 0, nil, invalid("domains", "The system tenant's domain is admin.domain of the configuration")
	}
	before := t
	if err := b.apply(&t, c.p.System); err != nil {
		return 0, nil, err
	}
	t.UpdatedAt = h.now()
	if err := h.Store.UpsertTenant(c.ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return 0, nil, conflict("domains", "A domain belongs to another tenant")
		}
		return 0, nil, err
	}
	h.Tenants.Invalidate()
	h.record(c, "tenant.update", t.ID, "tenant:"+t.ID, map[string]string{"fields": changedTenantFields(before, t)})
	return http.StatusOK, tenantOut(t), nil
}

// changedTenantFields names the settings that differ, for the audit log.
func changedTenantFields(a, b store.Tenant) string {
	var out []string
	if a.Name != b.Name {
		out = append(out, "name")
	}
	if a.Edition != b.Edition {
		out = append(out, "edition")
	}
	if a.DefaultLanguage != b.DefaultLanguage {
		out = append(out, "default_language")
	}
	if !slices.Equal(a.Domains, b.Domains) {
		out = append(out, "domains")
	}
	if a.Policy != b.Policy {
		out = append(out, "policy")
	}
	return strings.Join(out, ",")
}

// deleteTenant removes a tenant and everything it owns (the system
// tenant, which holds the administrators, excepted). A tenant declared in
// the configuration's bootstrap section comes back at the next start.
func (h *Handler) deleteTenant(c *call) (int, any, error) {
	if err := requireSystem(c); err != nil {
		return 0, nil, err
	}
	t, err := h.tenant(c)
	if err != nil {
		return 0, nil, err
	}
	if t.ID == store.SystemTenantID {
		return 0, nil, conflict("", "The system tenant holds the administrators and cannot be deleted")
	}
	if err := h.Store.DeleteTenant(c.ctx, t.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil, notFound("Tenant")
		}
		return 0, nil, err
	}
	h.Tenants.Invalidate()
	h.record(c, "tenant.delete", t.ID, "tenant:"+t.ID, nil)
	return http.StatusNoContent, nil, nil
}
