package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Env is what the commands need from their process.
type Env struct {
	// Environ is the environment (os.Environ()).
	Environ []string
	// HTTP is the client for the server; nil: a client with a timeout.
	HTTP *http.Client
	// Now is the clock for token expiry; nil: time.Now.
	Now func() time.Time
}

func (e Env) getenv(key string) string {
	v := ""
	for _, kv := range e.Environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val // the last one wins, as with getenv(3) on duplicates
		}
	}
	return v
}

func (e Env) httpClient() *http.Client {
	if e.HTTP != nil {
		return e.HTTP
	}
	// RFC 6761 §6.3: names under "localhost" are the loopback address.
	// Browsers and curl resolve admin.localhost (the default admin
	// domain) so; Go's resolver asks DNS, which does not know it.
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil {
			if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: tr}
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Commands returns the management commands: login, logout, tenant, app,
// user, session and audit (keys: see AddRemoteKeys).
func Commands(e Env) []*cobra.Command {
	return []*cobra.Command{e.loginCommand(), e.logoutCommand(), e.tenantCommand(), e.appCommand(), e.userCommand(), e.sessionCommand(), e.auditCommand()}
}

// addConnFlags adds the flags every command against a server takes.
func addConnFlags(fs *pflag.FlagSet) {
	fs.String("server", "", "base URL of the server's admin domain (default $SESAME_SERVER, then the stored login)")
	fs.String("token", "", "admin API access token (default $SESAME_TOKEN, then the stored login)")
	fs.StringP("output", "o", "table", "output format: table or json")
}

// run wraps a command body needing the client and the printer.
func (e Env) run(body func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		format, _ := cmd.Flags().GetString("output")
		p, err := newPrinter(cmd.OutOrStdout(), format)
		if err != nil {
			return err
		}
		c, err := e.client(cmd)
		if err != nil {
			return err
		}
		return body(cmd.Context(), cmd, args, c, p)
	}
}

func group(use, short string) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	addConnFlags(cmd.PersistentFlags())
	return cmd
}

// listFlags are the pagination (and search) flags of a list command.
func listFlags(cmd *cobra.Command, o *ListOptions, search bool) {
	if search {
		cmd.Flags().StringVar(&o.Query, "search", "", "only objects whose id or name contains this text")
	}
	cmd.Flags().StringVar(&o.Cursor, "cursor", "", "continue after this cursor (printed by the previous page)")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "page size, 1 to 200 (default: the server's, 50)")
}

func requireTenant(cmd *cobra.Command) (string, error) {
	t, _ := cmd.Flags().GetString("tenant")
	if t == "" {
		return "", errors.New("--tenant is required")
	}
	return t, nil
}

// changed helpers return a pointer to a flag's value when it was given,
// so that only the settings named on the command line are sent.
func changedString(fs *pflag.FlagSet, name string) *string {
	if !fs.Changed(name) {
		return nil
	}
	v, _ := fs.GetString(name)
	return &v
}

func changedBool(fs *pflag.FlagSet, name string) *bool {
	if !fs.Changed(name) {
		return nil
	}
	v, _ := fs.GetBool(name)
	return &v
}

func changedInt(fs *pflag.FlagSet, name string) *int {
	if !fs.Changed(name) {
		return nil
	}
	v, _ := fs.GetInt(name)
	return &v
}

func changedStrings(fs *pflag.FlagSet, name string) *[]string {
	if !fs.Changed(name) {
		return nil
	}
	v, _ := fs.GetStringSlice(name)
	if v == nil {
		v = []string{}
	}
	return &v
}

// changedSeconds sends a duration flag as whole seconds, the API's unit.
func changedSeconds(fs *pflag.FlagSet, name string) (*int64, error) {
	if !fs.Changed(name) {
		return nil, nil
	}
	d, _ := fs.GetDuration(name)
	if d%time.Second != 0 {
		return nil, fmt.Errorf("--%s %s: give whole seconds", name, d)
	}
	s := int64(d / time.Second)
	return &s, nil
}

// ---- tenants ----

func (e Env) tenantCommand() *cobra.Command {
	cmd := group("tenant", "Manage tenants (system administrators; tenant administrators see their own)")
	var lo ListOptions
	ls := &cobra.Command{Use: "list", Short: "List tenants", Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, _ *cobra.Command, _ []string, c *Client, p printer) error {
			page, err := c.ListTenants(ctx, lo)
			if err != nil {
				return err
			}
			return list(p, page, tenantColumns())
		})}
	listFlags(ls, &lo, true)
	get := &cobra.Command{Use: "get ID", Short: "Show a tenant", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, _ *cobra.Command, args []string, c *Client, p printer) error {
			t, err := c.GetTenant(ctx, args[0])
			if err != nil {
				return err
			}
			return p.object(t)
		})}
	create := &cobra.Command{Use: "create ID --domain HOST...", Short: "Create a tenant", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			f, err := tenantFields(cmd.Flags())
			if err != nil {
				return err
			}
			f.ID = &args[0]
			t, err := c.CreateTenant(ctx, f)
			if err != nil {
				return err
			}
			return p.object(t)
		})}
	update := &cobra.Command{Use: "update ID", Short: "Change a tenant's settings (only the flags given)", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			f, err := tenantFields(cmd.Flags())
			if err != nil {
				return err
			}
			t, err := c.UpdateTenant(ctx, args[0], f)
			if err != nil {
				return err
			}
			return p.object(t)
		})}
	tenantFlags(create.Flags())
	tenantFlags(update.Flags())
	update.Flags().String("id", "", "new tenant id")
	del := &cobra.Command{Use: "delete ID", Short: "Delete a tenant and everything in it", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			if err := c.DeleteTenant(ctx, args[0]); err != nil {
				return err
			}
			return done(p, "tenant %s deleted", args[0])
		})}
	cmd.AddCommand(ls, get, create, update, del)
	return cmd
}

// done confirms an action without an answer body (table form only: in
// JSON form the exit status says it).
func done(p printer, format string, args ...any) error {
	if p.json {
		return nil
	}
	_, err := fmt.Fprintf(p.w, format+"\n", args...)
	return err
}

func tenantColumns() []column[Tenant] {
	return []column[Tenant]{
		{"ID", func(t Tenant) string { return t.ID }},
		{"NAME", func(t Tenant) string { return t.Name }},
		{"EDITION", func(t Tenant) string { return t.Edition }},
		{"LANGUAGE", func(t Tenant) string { return t.DefaultLanguage }},
		{"DOMAINS", func(t Tenant) string { return strings.Join(t.Domains, ",") }},
		{"CREATED", func(t Tenant) string { return t.CreatedAt }},
	}
}

func tenantFlags(fs *pflag.FlagSet) {
	fs.String("name", "", "display name")
	fs.String("edition", "", "eiam or ciam")
	fs.String("language", "", "default language: en or zh")
	fs.StringSlice("domain", nil, "host names of the tenant (repeat or comma-separate; replaces the list)")
	fs.Int("lockout-threshold", 0, "failures within --lockout-window that lock an account (0: no lockout)")
	fs.Duration("lockout-window", 0, "window in which failures are counted")
	fs.Duration("lockout-duration", 0, "how long a locked account stays locked")
	fs.Duration("password-max-age", 0, "password lifetime (0: passwords never expire)")
	fs.Duration("password-warn-before", 0, "warn this long before a password expires")
	fs.Int("password-min-length", 0, "minimum password length")
	fs.Int("password-max-length", 0, "maximum password length")
	fs.String("mfa", "", "second factor: off, optional or required")
}

func tenantFields(fs *pflag.FlagSet) (TenantFields, error) {
	f := TenantFields{
		ID: changedString(fs, "id"), Name: changedString(fs, "name"), Edition: changedString(fs, "edition"),
		DefaultLanguage: changedString(fs, "language"),
	}
	if d := changedStrings(fs, "domain"); d != nil {
		f.Domains = *d
		if len(f.Domains) == 0 {
			return f, errors.New("--domain: give at least one host name")
		}
	}
	var pol PolicyPatch
	var err error
	pol.LockoutThreshold = changedInt(fs, "lockout-threshold")
	pol.PasswordMinLength = changedInt(fs, "password-min-length")
	pol.PasswordMaxLength = changedInt(fs, "password-max-length")
	pol.MFA = changedString(fs, "mfa")
	for name, dst := range map[string]**int64{"lockout-window": &pol.LockoutWindow, "lockout-duration": &pol.LockoutDuration,
		"password-max-age": &pol.PasswordMaxAge, "password-warn-before": &pol.PasswordWarnBefore} {
		if *dst, err = changedSeconds(fs, name); err != nil {
			return f, err
		}
	}
	if pol != (PolicyPatch{}) {
		f.Policy = &pol
	}
	return f, nil
}

// ---- applications ----

func (e Env) appCommand() *cobra.Command {
	cmd := group("app", "Manage a tenant's applications")
	cmd.PersistentFlags().String("tenant", "", "tenant id (required)")
	var lo ListOptions
	ls := &cobra.Command{Use: "list --tenant T", Short: "List applications", Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, _ []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			page, err := c.ListApplications(ctx, t, lo)
			if err != nil {
				return err
			}
			return list(p, page, appColumns())
		})}
	listFlags(ls, &lo, true)
	get := &cobra.Command{Use: "get CLIENT_ID --tenant T", Short: "Show an application's settings", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			a, err := c.GetApplication(ctx, t, args[0])
			if err != nil {
				return err
			}
			return p.object(a)
		})}
	create := &cobra.Command{Use: "create CLIENT_ID --tenant T", Short: "Create an application (a confidential one's client secret is printed once)", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			f, err := appFields(cmd.Flags())
			if err != nil {
				return err
			}
			f.ClientID = &args[0]
			a, err := c.CreateApplication(ctx, t, f)
			if err != nil {
				return err
			}
			if p.json {
				return p.JSON(a)
			}
			secret := a.ClientSecret
			a.ClientSecret = ""
			if err := p.object(a); err != nil {
				return err
			}
			if secret != "" {
				fmt.Fprintf(p.w, "client_secret (shown only once): %s\n", secret)
			}
			return nil
		})}
	update := &cobra.Command{Use: "update CLIENT_ID --tenant T", Short: "Change an application's settings (only the flags given)", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			f, err := appFields(cmd.Flags())
			if err != nil {
				return err
			}
			f.ClientID = changedString(cmd.Flags(), "client-id")
			a, err := c.UpdateApplication(ctx, t, args[0], f)
			if err != nil {
				return err
			}
			return p.object(a)
		})}
	appFlags(create.Flags())
	appFlags(update.Flags())
	update.Flags().String("client-id", "", "new client id")
	del := &cobra.Command{Use: "delete CLIENT_ID --tenant T", Short: "Delete an application", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteApplication(ctx, t, args[0]); err != nil {
				return err
			}
			return done(p, "application %s of tenant %s deleted", args[0], t)
		})}
	rotate := &cobra.Command{Use: "rotate-secret CLIENT_ID --tenant T", Short: "Replace a confidential application's client secret (printed once)", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			s, err := c.RotateSecret(ctx, t, args[0])
			if err != nil {
				return err
			}
			if p.json {
				return p.JSON(s)
			}
			_, err = fmt.Fprintf(p.w, "client_secret of %s (shown only once): %s\n", s.ClientID, s.ClientSecret)
			return err
		})}
	cmd.AddCommand(ls, get, create, update, del, rotate)
	return cmd
}

func appColumns() []column[Application] {
	return []column[Application]{
		{"CLIENT_ID", func(a Application) string { return a.ClientID }},
		{"NAME", func(a Application) string { return a.Name }},
		{"PUBLIC", func(a Application) string { return cell(a.Public) }},
		{"GRANT_TYPES", func(a Application) string { return strings.Join(a.GrantTypes, ",") }},
		{"AUTO_REFRESH", func(a Application) string { return cell(a.SessionAutoRefresh) }},
		{"ID_TOKEN_ALG", func(a Application) string { return a.IDTokenAlg }},
		{"TOKEN_FORMAT", func(a Application) string { return a.AccessTokenFormat }},
		{"CREATED", func(a Application) string { return a.CreatedAt }},
	}
}

func appFlags(fs *pflag.FlagSet) {
	fs.Bool("public", false, "a public client (no secret; PKCE)")
	fs.String("name", "", "display name")
	fs.StringSlice("redirect-uri", nil, "redirect URIs (repeat or comma-separate; replaces the list; empty to clear)")
	fs.StringSlice("post-logout-redirect-uri", nil, "post-logout redirect URIs (replaces the list)")
	fs.StringSlice("grant-type", nil, "grant types: authorization_code, refresh_token, client_credentials (replaces the list)")
	fs.Duration("session-ttl", 0, "session lifetime (contract §8)")
	fs.Bool("session-auto-refresh", false, "rotate session tokens on exchange (contract §1)")
	fs.Duration("rotation-grace", 0, "how long a rotated session token stays valid")
	fs.Bool("device-binding", false, "bind sessions to the device fingerprint")
	fs.Duration("id-token-ttl", 0, "ID token lifetime")
	fs.String("id-token-alg", "", "ID token signing algorithm: RS256, RS512, ES256 or EdDSA")
	fs.Duration("access-token-ttl", 0, "access token lifetime")
	fs.Duration("tenant-access-token-ttl", 0, "tenant access token lifetime")
	fs.Duration("refresh-token-ttl", 0, "refresh token lifetime")
	fs.String("access-token-format", "", "opaque or jwt")
}

func appFields(fs *pflag.FlagSet) (ApplicationFields, error) {
	f := ApplicationFields{
		Public: changedBool(fs, "public"), Name: changedString(fs, "name"),
		RedirectURIs: changedStrings(fs, "redirect-uri"), PostLogoutRedirectURIs: changedStrings(fs, "post-logout-redirect-uri"),
		GrantTypes: changedStrings(fs, "grant-type"), SessionAutoRefresh: changedBool(fs, "session-auto-refresh"),
		DeviceBinding: changedBool(fs, "device-binding"), IDTokenAlg: changedString(fs, "id-token-alg"),
		AccessTokenFormat: changedString(fs, "access-token-format"),
	}
	var err error
	for name, dst := range map[string]**int64{"session-ttl": &f.SessionTTL, "rotation-grace": &f.RotationGrace, "id-token-ttl": &f.IDTokenTTL,
		"access-token-ttl": &f.AccessTokenTTL, "tenant-access-token-ttl": &f.TenantAccessTokenTTL, "refresh-token-ttl": &f.RefreshTokenTTL} {
		if *dst, err = changedSeconds(fs, name); err != nil {
			return f, err
		}
	}
	return f, nil
}

// ---- users ----

func (e Env) userCommand() *cobra.Command {
	cmd := group("user", "Manage a tenant's users")
	cmd.PersistentFlags().String("tenant", "", "tenant id (required)")
	var lo ListOptions
	var status string
	ls := &cobra.Command{Use: "list --tenant T", Short: "List users", Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, _ []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			page, err := c.ListUsers(ctx, t, status, lo)
			if err != nil {
				return err
			}
			return list(p, page, userColumns())
		})}
	listFlags(ls, &lo, true)
	ls.Flags().StringVar(&status, "status", "", "only active or disabled users")
	one := func(use, short string, call func(ctx context.Context, c *Client, tenant, id string) (User, error)) *cobra.Command {
		return &cobra.Command{Use: use + " USER_ID --tenant T", Short: short, Args: cobra.ExactArgs(1),
			RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
				t, err := requireTenant(cmd)
				if err != nil {
					return err
				}
				u, err := call(ctx, c, t, args[0])
				if err != nil {
					return err
				}
				return p.object(u)
			})}
	}
	get := one("get", "Show a user", func(ctx context.Context, c *Client, t, id string) (User, error) { return c.GetUser(ctx, t, id) })
	action := func(verb, short string) *cobra.Command {
		return one(verb, short, func(ctx context.Context, c *Client, t, id string) (User, error) {
			return c.UserAction(ctx, t, id, verb)
		})
	}
	var pwStdin bool
	create := &cobra.Command{Use: "create USERNAME --tenant T", Short: "Create a user", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			f := userFields(cmd.Flags())
			f.Username = &args[0]
			if pwStdin {
				pw, err := firstLine(cmd.InOrStdin())
				if err != nil {
					return err
				}
				if pw == "" {
					return errors.New("no password on standard input")
				}
				f.Password = &pw
			}
			u, err := c.CreateUser(ctx, t, f)
			if err != nil {
				return err
			}
			return p.object(u)
		})}
	create.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the user's password from the first line of standard input (default: none; set or reset it later)")
	update := &cobra.Command{Use: "update USER_ID --tenant T", Short: "Change a user (only the flags given)", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			f := userFields(cmd.Flags())
			f.Username = changedString(cmd.Flags(), "username")
			u, err := c.UpdateUser(ctx, t, args[0], f)
			if err != nil {
				return err
			}
			return p.object(u)
		})}
	for _, c := range []*cobra.Command{create, update} {
		c.Flags().String("name", "", "display name")
		c.Flags().String("email", "", "email address")
		c.Flags().String("mobile", "", "mobile number")
		c.Flags().String("status", "", "active or disabled")
	}
	update.Flags().String("username", "", "new user name")
	setPw := &cobra.Command{Use: "set-password USER_ID --tenant T < password", Short: "Set a user's password, read from the first line of standard input", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			pw, err := firstLine(cmd.InOrStdin())
			if err != nil {
				return err
			}
			if pw == "" {
				return errors.New("no password on standard input")
			}
			if err := c.SetPassword(ctx, t, args[0], pw); err != nil {
				return err
			}
			return done(p, "password of user %s set", args[0])
		})}
	reset := &cobra.Command{Use: "reset-password USER_ID --tenant T", Short: "Give a user a generated password (printed once)", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			pw, err := c.ResetPassword(ctx, t, args[0])
			if err != nil {
				return err
			}
			if p.json {
				return p.JSON(map[string]string{"password": pw})
			}
			_, err = fmt.Fprintf(p.w, "password of user %s (shown only once): %s\n", args[0], pw)
			return err
		})}
	resetMFA := &cobra.Command{Use: "reset-mfa USER_ID --tenant T", Short: "Remove a user's TOTP authenticator and recovery codes (their sessions stay)", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			if err := c.ResetMFA(ctx, t, args[0]); err != nil {
				return err
			}
			return done(p, "two-step login of user %s reset", args[0])
		})}
	cmd.AddCommand(ls, get, create, update, action("disable", "Disable a user (their sessions end)"), action("enable", "Enable a disabled user"),
		action("unlock", "Unlock a user locked out by failed logins"), setPw, reset, resetMFA)
	return cmd
}

func userFields(fs *pflag.FlagSet) UserFields {
	return UserFields{Name: changedString(fs, "name"), Email: changedString(fs, "email"), Mobile: changedString(fs, "mobile"), Status: changedString(fs, "status")}
}

func userColumns() []column[User] {
	return []column[User]{
		{"ID", func(u User) string { return u.ID }},
		{"USERNAME", func(u User) string { return u.Username }},
		{"NAME", func(u User) string { return u.Name }},
		{"EMAIL", func(u User) string { return u.Email }},
		{"STATUS", func(u User) string { return u.Status }},
		{"LOCKED", func(u User) string { return cell(u.Locked) }},
		{"CREATED", func(u User) string { return u.CreatedAt }},
	}
}

// ---- sessions ----

func (e Env) sessionCommand() *cobra.Command {
	cmd := group("session", "List and revoke a tenant's sessions")
	cmd.PersistentFlags().String("tenant", "", "tenant id (required)")
	var lo ListOptions
	var userID, clientID string
	ls := &cobra.Command{Use: "list --tenant T [--user USER_ID | --app CLIENT_ID]", Short: "List sessions", Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, _ []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			page, err := c.ListSessions(ctx, t, userID, clientID, lo)
			if err != nil {
				return err
			}
			return list(p, page, sessionColumns())
		})}
	listFlags(ls, &lo, false)
	ls.Flags().StringVar(&userID, "user", "", "only this user's sessions (user id)")
	ls.Flags().StringVar(&clientID, "app", "", "only this application's sessions (client id)")
	revoke := &cobra.Command{Use: "revoke SESSION_ID --tenant T", Short: "Revoke a session", Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, args []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			if err := c.RevokeSession(ctx, t, args[0]); err != nil {
				return err
			}
			return done(p, "session %s revoked", args[0])
		})}
	var allUser string
	revokeAll := &cobra.Command{Use: "revoke-all --tenant T --user USER_ID", Short: "Revoke every session of a user", Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, _ []string, c *Client, p printer) error {
			t, err := requireTenant(cmd)
			if err != nil {
				return err
			}
			if allUser == "" {
				return errors.New("--user is required")
			}
			r, err := c.RevokeUserSessions(ctx, t, allUser)
			if err != nil {
				return err
			}
			if p.json {
				return p.JSON(r)
			}
			return done(p, "%d sessions of user %s revoked", r.Revoked, allUser)
		})}
	revokeAll.Flags().StringVar(&allUser, "user", "", "user id (required)")
	cmd.AddCommand(ls, revoke, revokeAll)
	return cmd
}

func sessionColumns() []column[Session] {
	return []column[Session]{
		{"ID", func(s Session) string { return s.ID }},
		{"USER_ID", func(s Session) string { return s.UserID }},
		{"CLIENT_ID", func(s Session) string { return s.ClientID }},
		{"IP", func(s Session) string { return s.Device.IP }},
		{"CREATED", func(s Session) string { return s.CreatedAt }},
		{"EXPIRES", func(s Session) string { return s.ExpiresAt }},
		{"ROTATED", func(s Session) string { return s.RotatedAt }},
	}
}

// ---- keys ----

func keyColumns() []column[Key] {
	return []column[Key]{
		{"KID", func(k Key) string { return k.KID }},
		{"ALG", func(k Key) string { return k.Alg }},
		{"GENERATION", func(k Key) string { return cell(k.Generation) }},
		{"STATE", func(k Key) string { return k.State }},
		{"CREATED", func(k Key) string { return k.CreatedAt }},
		{"ACTIVATES", func(k Key) string { return k.ActivatesAt }},
		{"RETAIN_UNTIL", func(k Key) string { return k.RetainUntil }},
	}
}

// AddRemoteKeys gives the `keys` command's list and rotate subcommands
// (which work directly on the store, next to the server) their admin API
// form. A subcommand goes through the API when a server is named (--server,
// --token, $SESAME_SERVER, $SESAME_TOKEN) or a login is stored, unless the
// command names a store itself (--config, --storage-dsn, --storage-driver):
// the operator on the server's machine keeps the direct form.
//
// The remote forms read the subcommands' own flags: list --tenant T;
// rotate --tenant T... [--alg ALG...].
func (e Env) AddRemoteKeys(keys *cobra.Command) {
	addConnFlags(keys.PersistentFlags())
	for _, sub := range keys.Commands() {
		local := sub.RunE
		var remote func(ctx context.Context, cmd *cobra.Command, c *Client, p printer) error
		switch sub.Name() {
		case "list":
			remote = func(ctx context.Context, cmd *cobra.Command, c *Client, p printer) error {
				if !cmd.Flags().Changed("tenant") {
					return errors.New("--tenant is required")
				}
				t, _ := cmd.Flags().GetString("tenant")
				page, err := c.ListKeys(ctx, t)
				if err != nil {
					return err
				}
				return list(p, page, keyColumns())
			}
		case "rotate":
			remote = func(ctx context.Context, cmd *cobra.Command, c *Client, p printer) error {
				tenants, _ := cmd.Flags().GetStringSlice("tenant")
				algs, _ := cmd.Flags().GetStringSlice("alg")
				if len(tenants) == 0 {
					return errors.New("--tenant is required")
				}
				var all Page[Key]
				for _, t := range tenants {
					page, err := c.RotateKeys(ctx, t, algs)
					if err != nil {
						return fmt.Errorf("tenant %s: %w", t, err)
					}
					if len(tenants) > 1 && !p.json {
						fmt.Fprintf(p.w, "tenant %s:\n", t)
						if err := list(p, page, keyColumns()); err != nil {
							return err
						}
						continue
					}
					all.Items = append(all.Items, page.Items...)
				}
				if len(tenants) > 1 && !p.json {
					return nil
				}
				return list(p, all, keyColumns())
			}
		default:
			continue
		}
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			isRemote, err := e.remoteRequested(cmd)
			if err != nil {
				return err
			}
			if !isRemote {
				return local(cmd, args)
			}
			return e.run(func(ctx context.Context, cmd *cobra.Command, _ []string, c *Client, p printer) error {
				return remote(ctx, cmd, c, p)
			})(cmd, args)
		}
	}
}

// remoteRequested decides between the direct and the API form of a keys
// command (see AddRemoteKeys).
func (e Env) remoteRequested(cmd *cobra.Command) (bool, error) {
	fs := cmd.Flags()
	for _, local := range []string{"config", "storage-dsn", "storage-driver"} {
		if fs.Changed(local) {
			return false, nil
		}
	}
	if fs.Changed("server") || fs.Changed("token") || e.getenv("SESAME_SERVER") != "" || e.getenv("SESAME_TOKEN") != "" {
		return true, nil
	}
	l, err := e.readLogin()
	return l != nil, err
}

// ---- audit ----

func (e Env) auditCommand() *cobra.Command {
	cmd := group("audit", "Query the audit log")
	var f AuditFilter
	var lo ListOptions
	var all bool
	ls := &cobra.Command{Use: "list", Short: "List audit events, newest first", Args: cobra.NoArgs,
		Example: `  sesame audit list --tenant acme --since 1h --type login.failure
  sesame audit list --since 2025-01-01T00:00:00Z --all -o json`,
		RunE: e.run(func(ctx context.Context, cmd *cobra.Command, _ []string, c *Client, p printer) error {
			q := f
			var err error
			if q.Since, err = e.auditTime("since", f.Since); err != nil {
				return err
			}
			if q.Until, err = e.auditTime("until", f.Until); err != nil {
				return err
			}
			if !all {
				page, err := c.ListAudit(ctx, q, lo)
				if err != nil {
					return err
				}
				return list(p, page, auditColumns())
			}
			// --all: follow the cursors to the end, printing one table (or
			// one JSON list).
			var out Page[AuditEvent]
			o := lo
			for {
				page, err := c.ListAudit(ctx, q, o)
				if err != nil {
					return err
				}
				out.Items = append(out.Items, page.Items...)
				if page.NextCursor == "" || page.NextCursor == o.Cursor {
					break
				}
				o.Cursor = page.NextCursor
			}
			return list(p, out, auditColumns())
		})}
	listFlags(ls, &lo, false)
	fs := ls.Flags()
	fs.StringVar(&f.Tenant, "tenant", "", "only this tenant's events")
	fs.StringVar(&f.Since, "since", "", "events at or after this time: RFC 3339, or a duration before now (e.g. 1h)")
	fs.StringVar(&f.Until, "until", "", "events before this time: RFC 3339, or a duration before now")
	fs.StringVar(&f.Actor, "actor", "", "only events of this actor id")
	fs.StringVar(&f.Type, "type", "", "only events of this type (e.g. login.failure, admin.application.create)")
	fs.BoolVar(&all, "all", false, "follow the cursors and print every matching event")
	cmd.AddCommand(ls)
	return cmd
}

// auditTime accepts an RFC 3339 time or a duration before now.
func (e Env) auditTime(flag, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format(time.RFC3339Nano), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return "", fmt.Errorf("--%s %q: give an RFC 3339 time (2025-01-02T15:04:05Z) or a duration before now (90m, 24h)", flag, s)
	}
	return e.now().Add(-d).UTC().Format(time.RFC3339), nil
}

func auditColumns() []column[AuditEvent] {
	return []column[AuditEvent]{
		{"TIME", func(a AuditEvent) string { return a.Time }},
		{"TYPE", func(a AuditEvent) string { return a.Type }},
		{"TENANT", func(a AuditEvent) string { return a.TenantID }},
		{"ACTOR", func(a AuditEvent) string {
			if a.ActorTenantID != "" && a.ActorID != "" {
				return a.ActorTenantID + "/" + a.ActorID
			}
			return a.ActorID
		}},
		{"TARGET", func(a AuditEvent) string { return a.Target }},
		{"SOURCE_IP", func(a AuditEvent) string { return a.SourceIP }},
		{"DETAILS", func(a AuditEvent) string { return cell(a.Details) }},
	}
}
