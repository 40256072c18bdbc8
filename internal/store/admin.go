package store

import (
	"context"
	"time"
)

// SystemTenantID is the id of the built-in system tenant. Its users and
// applications are the only principals that can hold admin roles.
const SystemTenantID = "system"

// Admin principal types.
const (
	PrincipalUser        = "user"        // a user of the system tenant, by user id
	PrincipalApplication = "application" // an application of the system tenant, by client id
)

// MaxPageSize caps the page size of every paginated listing.
const MaxPageSize = 500

// AdminRole lets a principal of the system tenant administer Sesame: every
// tenant when TenantID is empty (a system administrator), one tenant
// otherwise (a tenant administrator). A principal may hold several roles.
type AdminRole struct {
	PrincipalType string // PrincipalUser or PrincipalApplication
	PrincipalID   string
	TenantID      string // "" for a system administrator
	CreatedAt     time.Time
}

// System reports whether the role is the system administrator's.
func (r AdminRole) System() bool { return r.TenantID == "" }

// ListFilter selects one page of a listing. Zero fields do not filter.
type ListFilter struct {
	// Query matches case-insensitively anywhere in the listing's searchable
	// text (see each method).
	Query string
	// Cursor continues a previous listing: the next value it returned.
	Cursor string
	// Limit is the page size; 0 or more than MaxPageSize means MaxPageSize.
	Limit int
}

// TenantFilter selects tenants.
type TenantFilter struct {
	ListFilter
	// IDs limits the listing to these tenants; nil means every tenant. An
	// empty non-nil slice matches nothing.
	IDs []string
}

// UserFilter selects users of a tenant.
type UserFilter struct {
	ListFilter
	Status string // UserActive or UserDisabled; "" for both
}

// SessionFilter selects sessions of a tenant.
type SessionFilter struct {
	UserID   string // "" for every user
	ClientID string // the application the login went through; "" for every one
	// Now excludes sessions that expired at or before it.
	Now    time.Time
	Cursor string
	Limit  int
}

// UserProfile is the part of a user an administrator edits freely.
type UserProfile struct {
	Name   string
	Email  string
	Mobile string
}

// AdminStore holds what the admin API needs beyond Store: paginated
// listings, deletions, single-field user changes that cannot undo a
// concurrent one, session revocation and the admin roles.
//
// Listings return one page and the cursor of the next ("" at the end); a
// cursor of another listing or of no listing is ErrInvalidCursor (see
// audit.go). Pages are
// keyset-based, so rows added or removed meanwhile neither repeat nor skip
// rows of later pages.
type AdminStore interface {
	// ListTenantsPage lists tenants by id; Query matches the id and the
	// name.
	ListTenantsPage(ctx context.Context, f TenantFilter) ([]Tenant, string, error)
	// CreateTenant adds a tenant and its domains in one transaction; an id
	// or a domain already taken is ErrConflict (UpsertTenant would replace
	// a tenant another administrator created at the same moment).
	CreateTenant(ctx context.Context, t Tenant) error
	// DeleteTenant removes a tenant and, in the same transaction, every
	// record it owns (domains, applications, users, sessions, tokens,
	// codes, grants, keys, application key pairs, nonces, TOTP enrolments,
	// recovery codes) and the admin roles scoped to it. Audit events are
	// kept: they outlive what they describe until their retention ends.
	// Unknown: ErrNotFound.
	DeleteTenant(ctx context.Context, id string) error

	// ListApplicationsPage lists a tenant's applications by client id;
	// Query matches the client id and the name.
	ListApplicationsPage(ctx context.Context, tenantID string, f ListFilter) ([]Application, string, error)
	// CreateApplication adds an application; a client id taken in the
	// tenant is ErrConflict.
	CreateApplication(ctx context.Context, a Application) error
	// UpdateApplication replaces every setting of an application except
	// its secret and creation time, so that it cannot undo a concurrent
	// secret rotation. Unknown: ErrNotFound.
	UpdateApplication(ctx context.Context, a Application) error
	// SetApplicationSecret replaces the secret's hash alone (nil makes the
	// application public). Unknown: ErrNotFound.
	SetApplicationSecret(ctx context.Context, tenantID, clientID string, secretHash []byte, now time.Time) error
	// DeleteApplication removes an application and, in the same
	// transaction, its authorization codes, refresh and access tokens
	// (their grants revoked), its key pair and nonces; in the system
	// tenant also the admin roles it held. Sessions stay: a login belongs
	// to the tenant (single sign-on), not to the application it went
	// through. Unknown: ErrNotFound.
	DeleteApplication(ctx context.Context, tenantID, clientID string) error

	// ListUsers lists a tenant's users by user name (case-insensitively);
	// Query matches user name, name, e-mail and mobile.
	ListUsers(ctx context.Context, tenantID string, f UserFilter) ([]User, string, error)
	// SetUserProfile replaces name, e-mail and mobile, and nothing else,
	// so it cannot undo a concurrent status change. Unknown: ErrNotFound.
	SetUserProfile(ctx context.Context, tenantID, userID string, p UserProfile, now time.Time) error
	// SetUserStatus sets the status alone. Unknown: ErrNotFound.
	SetUserStatus(ctx context.Context, tenantID, userID, status string, now time.Time) error
	// UnlockUser clears the failure count and the lock. Unknown:
	// ErrNotFound.
	UnlockUser(ctx context.Context, tenantID, userID string, now time.Time) error

	// ListSessions lists unexpired sessions, newest first.
	ListSessions(ctx context.Context, tenantID string, f SessionFilter) ([]Session, string, error)
	// RevokeSession ends one session in one transaction: the session, its
	// unredeemed SSO tickets, and the OAuth tokens issued in it (their
	// grants revoked, so that none can be issued from them later).
	// Unknown: ErrNotFound.
	RevokeSession(ctx context.Context, tenantID, sessionID string, now time.Time) error
	// RevokeUserSessions does the same for every session of a user and
	// also revokes the user's other OAuth grants and tokens; it returns
	// how many sessions it ended.
	RevokeUserSessions(ctx context.Context, tenantID, userID string, now time.Time) (int64, error)

	// AdminRoles returns the roles of one principal (none: an empty list).
	AdminRoles(ctx context.Context, principalType, principalID string) ([]AdminRole, error)
	// ListAdminRoles lists every role, by principal type, principal id
	// and tenant; Query matches the principal id.
	ListAdminRoles(ctx context.Context, f ListFilter) ([]AdminRole, string, error)
	// SetAdminRoles replaces the roles of one principal with roles (their
	// PrincipalType and PrincipalID are those given; an empty list removes
	// every role) in one transaction. A change that would leave no system
	// administrator at all is refused with ErrConflict, also when several
	// such changes run at once.
	SetAdminRoles(ctx context.Context, principalType, principalID string, roles []AdminRole) error
	// GrantAdminRole adds one role; holding it already is not an error.
	GrantAdminRole(ctx context.Context, r AdminRole) error
}
