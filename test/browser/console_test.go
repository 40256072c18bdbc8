package browser_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sesame-idp/sesame/internal/admin"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/server"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
)

const (
	// consoleTimeout bounds the whole console test: it drives many pages.
	consoleTimeout = 4 * time.Minute
	// adminHost is the system tenant's domain (config default admin.domain).
	adminHost = "admin.localhost"
	// rootPassword is the first administrator's (the system tenant asks
	// for 12 characters at least).
	rootPassword = "Root-Password-0123"
	// consoleApp is the application the test creates in the console.
	consoleApp = "console-app"
)

// TestBrowserConsole drives the web console in a real Chromium: the first
// administrator is made as `sesame admin create` makes it, signs in to the
// console through the hosted login page (authorization code + PKCE, in
// the browser), creates an application in tenant acme and switches its
// session auto-refresh on, after which the SDK exchange rotates the
// session_token; revokes that session in the console, after which the
// SDK refuses the token; rotates the tenant's signing keys and sees the
// JWKS change; unlocks a locked user and resets their second factor;
// reads the audit log; switches to Chinese; and signs out, which revokes
// the console's token. Every
// request the browser makes must go to the console's own origin, and
// no page may log an error (a CSP violation, an exception). Screenshots
// of the main pages are written to $SESAME_TEST_SCREENSHOTS, or
// test/browser/screenshots/.
func TestBrowserConsole(t *testing.T) {
	chromium := os.Getenv("SESAME_TEST_CHROMIUM")
	if chromium == "" {
		t.Skip("SESAME_TEST_CHROMIUM not set: skipping browser tests")
	}
	ctx, cancel := context.WithTimeout(t.Context(), consoleTimeout)
	defer cancel()
	e := st.New(t, "sqlite")
	origin := "http://" + adminHost + ":" + e.Port

	// 1. The first administrator, directly in the store, as the CLI's
	// `sesame admin create --username root --password-stdin` does.
	setup, closer, err := server.OpenAdmin(ctx, e.Config, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	created, err := setup.CreateAdmin(ctx, admin.NewAdmin{Username: "root", Password: rootPassword})
	closer.Close()
	if err != nil || !created.Created || created.Role != "system administrator" {
		t.Fatalf("admin create: %+v, %v", created, err)
	}

	// 2. An hour of SDK traffic in tenant acme for the dashboard, on the
	// server's clock: logins and exchanges most minutes, failed logins of
	// unknown users, and bob locked out by five wrong passwords.
	traffic := makeTraffic(t, e)
	// Enough users for two pages of the console's lists (20 a page).
	for i := 1; i <= 22; i++ {
		now := e.Clock.Now()
		u := store.User{TenantID: "acme", ID: session.NewUserID(), Username: fmt.Sprintf("user-%02d", i), Name: fmt.Sprintf("User %d", i),
			Status: store.UserActive, CreatedAt: now, UpdatedAt: now}
		if err := e.Server.Store().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}

	b := startBrowser(t, ctx, chromium, []string{adminHost, st.EIAMHost})
	defer b.close()
	w := watchConsole(t, b, origin)
	defer w.check()
	shots := newShooter(t, b)
	b.do(chromedp.EmulateViewport(1280, 860))

	// 3. Sign in: the console's landing page, the hosted login page of the
	// system tenant, back to /admin/callback, then the dashboard.
	hops := b.open(origin + "/admin/")
	b.expectHops(hops, hop{Method: "GET", URL: origin + "/admin/", Status: 200})
	b.waitVisible("sign-in")
	shots.take("01-sign-in")
	hops = b.submit("sign-in", "username")
	b.expectHops(hops, hop{Method: "GET", URL: origin + "/api/v1/oauth2/authorize", Status: 200})
	if q := b.location(); !strings.Contains(q, "code_challenge_method=S256") || !strings.Contains(q, "client_id=sesame-console") {
		t.Errorf("the console's authorization request %s is not PKCE S256 for sesame-console", q)
	}
	b.do(chromedp.SendKeys(chromedp.ID("username"), "root"), chromedp.SendKeys(chromedp.ID("password"), rootPassword))
	hops = b.submit("submit", "card-logins")
	b.expectHops(hops, hop{Method: "POST", URL: origin + "/api/v1/oauth2/login", Status: 303}, hop{Method: "GET", URL: origin + "/admin/callback", Status: 200})
	b.waitJS(`location.pathname === "/admin/" && location.search === ""`, "the callback's code is not left in the address bar")
	if got := b.text("#whoami"); !strings.Contains(got, "root") {
		t.Errorf("header says %q, want the signed-in administrator", got)
	}
	if got := b.eval(`String(localStorage.getItem("sesame.console.token"))`); got != "null" {
		t.Errorf("a token in localStorage: %s", got)
	}
	if got := b.eval(`String(sessionStorage.getItem("sesame.console.pending"))`); got != "null" {
		t.Errorf("the sign-in's verifier outlived the callback: %s", got)
	}

	// 4. Dashboard: the charts show the traffic (the audit writer stores
	// events within a second; the page is refreshed until they are in).
	b.waitJS(fmt.Sprintf(`(document.getElementById("dashboard-refresh").click(), true) && Number(document.querySelector("#card-logins .value").textContent.replace(/\D/g, "")) >= %d`, traffic.logins), "the dashboard's login count reaches the SDK logins")
	if n := b.evalInt(`document.querySelectorAll("#chart-logins rect.bar").length`); n < traffic.loginMinutes {
		t.Errorf("the logins chart has %d bars, want at least %d (minutes with logins)", n, traffic.loginMinutes)
	}
	if n := b.evalInt(`Number(document.querySelector("#card-failures .value").textContent.replace(/\D/g, ""))`); n < traffic.failures {
		t.Errorf("the dashboard shows %d failed logins, want at least %d", n, traffic.failures)
	}
	if n := b.evalInt(`document.querySelectorAll("#chart-failures rect.bar.lockouts").length`); n < 1 {
		t.Error("the failures chart shows no lockout")
	}
	if n := b.evalInt(`Number(document.querySelector("#card-mfa .value").textContent.replace(/\D/g, ""))`); n != traffic.recoveryCodes {
		t.Errorf("the dashboard shows %d recovery codes used, want %d", n, traffic.recoveryCodes)
	}
	if got := b.text("#card-mfa .sub"); !strings.Contains(got, "added: 1,") {
		t.Errorf("the MFA card says %q, want one authenticator added", got)
	}
	if n := b.evalInt(`document.querySelectorAll("#chart-mfa rect.bar.recovery").length`); n != 2 {
		t.Errorf("the MFA chart shows %d bars of recovery codes, want 2 (two minutes)", n)
	}
	if n := b.evalInt(`document.querySelectorAll("#chart-tokens rect.bar").length`); n < traffic.loginMinutes {
		t.Errorf("the token chart has %d bars, want at least %d", n, traffic.loginMinutes)
	}
	shots.take("02-dashboard")
	// The keyboard: the skip link leads to the page's heading, from which
	// Tab reaches the page's first control.
	b.eval(`(document.getElementById("skip-link").focus(), "")`)
	if top := b.evalInt(`Math.round(document.getElementById("skip-link").getBoundingClientRect().top)`); top < 0 {
		t.Errorf("the focused skip link is off screen (top %d)", top)
	}
	b.do(chromedp.KeyEvent(kb.Enter))
	b.waitJS(`document.activeElement?.id === "page-title"`, "the skip link moves the focus to the heading")
	b.do(chromedp.KeyEvent(kb.Tab))
	b.waitJS(`document.activeElement?.id === "dashboard-refresh"`, "Tab from the heading reaches the Refresh button")

	// Tenants: the fixture's and the system tenant.
	b.click("#nav-tenants")
	b.waitVisible("tenants-table")
	if got := b.eval(`[...document.querySelectorAll("#tenants-table tbody th a")].map(a => a.textContent).join(",")`); got != "acme,isv,shop,system" {
		t.Errorf("tenants listed: %s", got)
	}
	b.click(`#tenants-table a[href="/admin/tenants/acme"]`)
	b.waitVisible("tenant-form")
	if got := b.eval(`document.querySelector('#tenant-form textarea[name="domains"]').value`); got != "acme.test\nwww.acme.test" {
		t.Errorf("acme's domains in the form: %q", got)
	}
	shots.take("03-tenant")

	// 5. Applications of acme: the list, then a new application, with the
	// form submitted from the keyboard (Enter in a field).
	b.selectTenant("acme")
	b.waitVisible("applications-table")
	if got := b.eval(`[...document.querySelectorAll("#applications-table tbody th a")].map(a => a.textContent).join(",")`); !strings.Contains(got, "acme-portal") {
		t.Errorf("acme's applications: %s", got)
	}
	b.typeInto(`#search-form input[name="q"]`, "rotat"+kb.Enter)
	b.waitJS(`[...document.querySelectorAll("#applications-table tbody th a")].map(a => a.textContent).join(",") === "acme-rotating"`, "search finds acme-rotating only")
	b.click(`#nav-applications`)
	b.waitJS(`document.querySelectorAll("#applications-table tbody tr").length > 5`, "the whole list again")
	shots.take("04-applications")
	b.click("#new-application")
	b.waitVisible("application-form")
	b.typeInto(`#application-form input[name="client_id"]`, consoleApp)
	b.typeInto(`#application-form textarea[name="redirect_uris"]`, "console-app.example/callback")
	b.typeInto(`#application-form input[name="session_ttl"]`, "86400")
	b.typeInto(`#application-form input[name="name"]`, "Console App"+kb.Enter)
	// The server refuses the relative URI, naming the field: the error is
	// shown at it, and the focus moved there.
	b.waitJS(`document.activeElement === document.querySelector('#application-form textarea[name="redirect_uris"]') && document.activeElement.getAttribute("aria-invalid") === "true"`, "the bad redirect URI marked and focused")
	if msg := b.eval(`document.getElementById(document.activeElement.getAttribute("aria-describedby").split(" ").pop()).textContent`); !strings.Contains(msg, "absolute URI") {
		t.Errorf("the redirect URI's error reads %q", msg)
	}
	if _, err := e.Server.Store().GetApplication(ctx, "acme", consoleApp); err == nil {
		t.Fatal("the application was created with a bad redirect URI")
	}
	b.eval(`(document.querySelector('#application-form textarea[name="redirect_uris"]').value = "", "")`)
	b.typeInto(`#application-form textarea[name="redirect_uris"]`, "https://console-app.example/callback")
	shots.take("05-application-form")
	b.typeInto(`#application-form input[name="name"]`, kb.Enter)
	b.waitVisible("secret-value")
	secret := b.text("#secret-value")
	if len(secret) < 20 {
		t.Errorf("the new application's secret is %q", secret)
	}
	shots.takeView("06-application-secret")
	b.click("#secret-done")
	b.waitVisible("rotate-secret")
	app, err := e.Server.Store().GetApplication(ctx, "acme", consoleApp)
	if err != nil || app.Name != "Console App" || app.SessionTTL != 24*time.Hour || app.SessionAutoRefresh || !app.DeviceBinding || app.Public() {
		t.Fatalf("the application the console created: %+v, %v", app, err)
	}
	// The secret shown is the application's.
	if r := tenantToken(e, consoleApp, secret); r.Status != 200 {
		t.Errorf("client_credentials with the secret the console showed: %d %s", r.Status, r.Body)
	}

	// 6. Without auto-refresh the exchange keeps the session token; switch
	// it on in the console; then the exchange rotates it.
	s1 := e.MustLogin(st.EIAMHost, consoleApp, "alice")
	if r := e.Exchange(st.EIAMHost, consoleApp, s1); r.Status != 200 || r.Str("session_token") != s1 {
		t.Fatalf("exchange before auto-refresh: %d %s", r.Status, r.Body)
	}
	if b.eval(`String(document.querySelector('#application-form input[name="session_auto_refresh"]').checked)`) != "false" {
		t.Fatal("the form shows auto-refresh on")
	}
	b.click(`#application-form input[name="session_auto_refresh"]`)
	b.click("#save")
	b.waitJS(`document.querySelector('#application-form input[name="session_auto_refresh"]')?.checked === true && document.getElementById("toast").textContent.includes("Saved")`, "the application saved with auto-refresh")
	shots.take("07-application-settings")
	r := e.Exchange(st.EIAMHost, consoleApp, s1)
	s2 := r.Str("session_token")
	if r.Status != 200 || s2 == "" || s2 == s1 {
		t.Fatalf("exchange after switching auto-refresh on: %d %s, want a new session token", r.Status, r.Body)
	}
	r = e.Exchange(st.EIAMHost, consoleApp, s2)
	s3 := r.Str("session_token")
	if r.Status != 200 || s3 == "" || s3 == s2 || s3 == s1 {
		t.Fatalf("second exchange: %d %s, want another new session token", r.Status, r.Body)
	}

	// 7. Sessions of the application: one, alice's; revoke it; the SDK
	// refuses its session token.
	b.click("#app-sessions")
	b.waitVisible("sessions-table")
	if n := b.evalInt(`document.querySelectorAll("#sessions-table button[data-session]").length`); n != 1 {
		t.Fatalf("%d sessions of %s listed, want 1", n, consoleApp)
	}
	if got := b.text("#sessions-table tbody th a"); got != "alice" {
		t.Errorf("the session's user is shown as %q", got)
	}
	shots.take("08-sessions")
	b.click("#sessions-table button[data-session]")
	b.waitVisible("dialog-confirm")
	b.click("#dialog-confirm")
	b.waitJS(`document.querySelectorAll("#sessions-table button[data-session]").length === 0 && document.querySelector("#sessions-table td.empty") !== null`, "the session gone from the list")
	r = e.Exchange(st.EIAMHost, consoleApp, s3)
	if r.Status != 400 || r.Str("error_code") != "SDK.COMMON.1006" {
		t.Errorf("exchange with the revoked session's token: %d %s, want 400 SDK.COMMON.1006", r.Status, r.Body)
	}

	// 8. Users: bob is locked out by the traffic; unlock him. He also
	// lost his authenticator (enrolled here through the store: the
	// console only shows and removes it); reset it.
	mfaStore, ok := e.Server.Store().(store.MFAStore)
	if !ok {
		t.Fatalf("%T has no MFA store", e.Server.Store())
	}
	bobUser, err := e.Server.Store().UserByUsername(ctx, "acme", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := mfaStore.ConfirmTOTP(ctx, store.TOTPEnrollment{TenantID: "acme", UserID: bobUser.ID, Secret: []byte("sealed secret"), CreatedAt: e.Clock.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	b.click("#nav-users")
	b.waitVisible("users-table")
	if got := b.eval(`[...document.querySelectorAll("#users-table tbody tr")].find(tr => tr.querySelector("th").textContent === "bob")?.textContent ?? ""`); !strings.Contains(got, "Locked") {
		t.Errorf("bob's row %q does not say Locked", got)
	}
	shots.take("09-users")
	rows := `document.querySelectorAll("#users-table tbody th a").length`
	if n := b.evalInt(rows); n != 20 {
		t.Errorf("the first page lists %d users, want 20", n)
	}
	b.click("#page-next")
	b.waitJS(rows+` === 4 && document.getElementById("page-prev") !== null && document.getElementById("page-next") === null`, "the second page: the last 4 users")
	if got := b.eval(`[...document.querySelectorAll("#users-table tbody th a")].map(a => a.textContent).join(",")`); got != "user-19,user-20,user-21,user-22" {
		t.Errorf("second page: %s", got)
	}
	b.click("#page-prev")
	b.waitJS(rows+` === 20 && document.querySelector("#users-table tbody th a").textContent === "alice"`, "back on the first page")
	b.typeInto(`#search-form input[name="q"]`, "user-2"+kb.Enter)
	b.waitJS(`[...document.querySelectorAll("#users-table tbody th a")].map(a => a.textContent).join(",") === "user-20,user-21,user-22"`, "the search for user-2")
	b.click("#nav-users")
	b.waitJS(rows+` === 20`, "the whole list again")
	b.clickJS(`[...document.querySelectorAll("#users-table tbody th a")].find(a => a.textContent === "bob")`)
	b.waitVisible("unlock")
	shots.take("10-user")
	b.click("#unlock")
	b.waitJS(`document.getElementById("unlock") === null && document.getElementById("user-status")?.textContent === "Active"`, "bob unlocked")
	if bob, err := e.Server.Store().UserByUsername(ctx, "acme", "bob"); err != nil || bob.LockedUntil.After(e.Clock.Now()) || bob.FailedLogins != 0 {
		t.Errorf("bob after the console's unlock: %+v, %v", bob, err)
	}
	if r := e.Login(st.EIAMHost, "acme-portal", "bob", st.Password); r.Str("status") != "SUCCESS" {
		t.Errorf("bob's login after unlock: %d %s", r.Status, r.Body)
	}
	if got := b.text("#user-mfa"); got != "Set up" {
		t.Errorf("bob's two-step login shows %q, want Set up", got)
	}
	b.click("#reset-mfa")
	b.waitVisible("dialog-confirm")
	b.click("#dialog-confirm")
	b.waitJS(`document.getElementById("reset-mfa") === null && document.getElementById("user-mfa")?.textContent === "Not set up"`, "bob's MFA reset")
	if _, err := mfaStore.GetTOTP(ctx, "acme", bobUser.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob's enrolment after the console's reset: %v", err)
	}

	// 9. Keys: rotate all algorithms; the JWKS gets the new kids.
	before := jwksKids(t, e)
	b.click("#nav-keys")
	b.waitVisible("keys-table")
	listed := b.eval(`[...document.querySelectorAll("#jwks-kids code")].map(c => c.textContent).sort().join(" ")`)
	if listed != strings.Join(before, " ") {
		t.Errorf("the console lists kids %q, the JWKS has %q", listed, before)
	}
	b.click("#rotate-keys")
	b.waitVisible("dialog-confirm")
	b.click("#dialog-confirm")
	b.waitJS(fmt.Sprintf(`document.querySelectorAll("#jwks-kids code").length > %d`, len(before)), "the new keys listed")
	var after []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		after = jwksKids(t, e)
		if !slices.Equal(after, before) || time.Now().After(deadline) {
			break
		}
	}
	added := 0
	for _, k := range after {
		if !slices.Contains(before, k) {
			added++
		}
	}
	if added != 4 || len(after) != len(before)+4 {
		t.Errorf("JWKS kids before %v, after %v: want 4 new ones (one per algorithm)", before, after)
	}
	if got := b.eval(`[...document.querySelectorAll("#jwks-kids code")].map(c => c.textContent).sort().join(" ")`); got != strings.Join(after, " ") {
		t.Errorf("the console lists kids %q, the JWKS has %v", got, after)
	}
	shots.take("11-keys")

	// 10. Audit log: the console's changes are there, with what changed.
	b.click("#nav-audit")
	b.waitVisible("audit-table")
	b.typeInto(`#audit-filters input[name="type"]`, "admin.application.update"+kb.Enter)
	b.waitJS(`(document.getElementById("audit-filters-submit").click(), true) && [...document.querySelectorAll("#audit-table tbody tr")].some(tr => tr.textContent.includes("admin.application.update") && tr.textContent.includes("session_auto_refresh"))`, "the update in the audit log")
	// The audit writer batches events (up to audit flush interval, 1 s), so
	// the key rotation just made may not be stored when the page first
	// loads: search again, with the type filter cleared, until it is.
	b.click("#nav-audit")
	b.waitJS(`(document.querySelector('#audit-filters input[name="type"]').value = "", document.getElementById("audit-filters-submit").click(), true) && ["admin.keys.rotate", "admin.session.revoke", "admin.user.unlock", "admin.user.reset_mfa", "admin.application.create"].every(type => [...document.querySelectorAll("#audit-table tbody code")].some(c => c.textContent === type))`, "the console's changes in the audit log")
	shots.take("12-audit")

	// 11. Chinese, then English again; the dashboard once more.
	b.click("#nav-dashboard")
	b.waitVisible("card-logins")
	b.do(chromedp.SetValue(chromedp.ID("lang"), "zh"))
	b.eval(`(document.getElementById("lang").dispatchEvent(new Event("change")), "")`)
	b.waitJS(`document.getElementById("page-title")?.textContent === "概览" && document.documentElement.lang === "zh-CN"`, "the dashboard in Chinese")
	if got := b.text("#nav-applications"); got != "应用" {
		t.Errorf("navigation in Chinese: %q", got)
	}
	shots.take("13-dashboard-zh")
	b.do(chromedp.SetValue(chromedp.ID("lang"), "en"))
	b.eval(`(document.getElementById("lang").dispatchEvent(new Event("change")), "")`)
	b.waitJS(`document.getElementById("page-title")?.textContent === "Dashboard"`, "the dashboard in English")

	// 12. Sign out: the access token is revoked, the provider's session
	// ends, and the browser is back on the console, signed out.
	token := b.eval(`JSON.parse(sessionStorage.getItem("sesame.console.token")).access_token`)
	if r := adminCall(e, token); r.Status != 200 {
		t.Fatalf("the console's token before sign-out: %d %s", r.Status, r.Body)
	}
	hops = b.submit("sign-out", "signed-out")
	b.expectHops(hops, hop{Method: "GET", URL: origin + "/api/v1/logout", Status: 302}, hop{Method: "GET", URL: origin + "/admin/", Status: 200})
	shots.take("14-signed-out")
	if r := adminCall(e, token); r.Status != 401 {
		t.Errorf("the console's token after sign-out: %d %s, want 401", r.Status, r.Body)
	}
	// Signing in again shows the login form: the provider's session ended.
	b.submit("sign-in", "username")
}

// traffic is what makeTraffic did.
type traffic struct {
	logins       int // successful SDK logins
	loginMinutes int // minutes with at least one
	failures     int // failed logins (unknown users and bob's)
	// Recovery codes used: their audit events, stored as the login flow
	// records them (the flow itself is mfa_test.go's).
	recoveryCodes int
}

// makeTraffic sends SDK logins, exchanges and failures to tenant acme over
// 45 minutes of the server's clock.
func makeTraffic(t *testing.T, e *st.Env) traffic {
	t.Helper()
	var tr traffic
	for m := range 45 {
		e.Clock.Advance(time.Minute)
		n := []int{1, 2, 0, 3, 1, 1, 2, 0, 1}[m%9]
		for range n {
			tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
			if r := e.Exchange(st.EIAMHost, "acme-portal", tok); r.Status != 200 {
				t.Fatalf("exchange: %d %s", r.Status, r.Body)
			}
			tr.logins++
		}
		if n > 0 {
			tr.loginMinutes++
		}
		if m%6 == 2 {
			if r := e.Login(st.EIAMHost, "acme-portal", "mallory-"+strconv.Itoa(m), "wrong-password"); r.Str("status") == "SUCCESS" {
				t.Fatal("an unknown user logged in")
			}
			tr.failures++
		}
		if m == 38 {
			for range 5 {
				if r := e.Login(st.EIAMHost, "acme-portal", "bob", "not-his-password"); r.Str("status") == "SUCCESS" {
					t.Fatal("bob logged in with a wrong password")
				}
				tr.failures++
			}
		}
	}
	bob, err := e.Server.Store().UserByUsername(t.Context(), "acme", "bob")
	if err != nil || !bob.LockedUntil.After(e.Clock.Now()) {
		t.Fatalf("bob is not locked out: %+v, %v", bob, err)
	}
	as, ok := e.Server.Store().(store.AuditStore)
	if !ok {
		t.Fatal("the store keeps no audit log")
	}
	var mfaEvents []store.AuditEvent
	for i, typ := range []string{audit.TypeMFAEnrolled, audit.TypeMFARecoveryCodeUsed, audit.TypeMFARecoveryCodeUsed} {
		mfaEvents = append(mfaEvents, store.AuditEvent{TenantID: "acme", Type: typ, Time: e.Clock.Now().Add(-time.Duration(i) * time.Minute),
			ActorTenantID: "acme", ActorID: bob.ID, Target: "user:" + bob.ID})
		if typ == audit.TypeMFARecoveryCodeUsed {
			tr.recoveryCodes++
		}
	}
	if err := as.AppendAudit(t.Context(), mfaEvents...); err != nil {
		t.Fatal(err)
	}
	return tr
}

// jwksKids returns the kids of acme's JWKS, sorted.
func jwksKids(t *testing.T, e *st.Env) []string {
	t.Helper()
	r := e.Do("GET", e.URL(st.EIAMHost, "/api/v1/oauth2/keys"), nil, "")
	ks, _ := r.JSON["keys"].([]any)
	if r.Status != 200 || len(ks) == 0 {
		t.Fatalf("JWKS: %d %s", r.Status, r.Body)
	}
	var kids []string
	for _, k := range ks {
		m, _ := k.(map[string]any)
		kid, _ := m["kid"].(string)
		kids = append(kids, kid)
	}
	sort.Strings(kids)
	return kids
}

func tenantToken(e *st.Env, clientID, secret string) st.Response {
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	return e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/token"), h, form.Encode())
}

func adminCall(e *st.Env, token string) st.Response {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	return e.Do("GET", e.URL(adminHost, admin.Prefix+"/me"), h, "")
}

// ---------------------------------------------------------------- helpers

// selectTenant picks a tenant in the navigation's tenant picker, which
// opens that tenant's applications.
func (b *browser) selectTenant(id string) {
	b.t.Helper()
	b.waitVisible("tenant-picker")
	b.do(chromedp.SetValue(chromedp.ID("tenant-picker"), id))
	b.eval(`(document.getElementById("tenant-picker").dispatchEvent(new Event("change")), "")`)
	b.waitJS(fmt.Sprintf(`location.pathname === "/admin/tenants/%s/applications"`, id), "the tenant's applications")
}

// click clicks the element matching css, once it is visible.
func (b *browser) click(css string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(css)), chromedp.Click(chromedp.CSS(css))); err != nil {
		b.t.Fatalf("click %s at %s: %v\npage:\n%s\nbrowser log:\n%s", css, b.location(), err, b.bodyText(), b.logText())
	}
}

// clickJS clicks the element a script expression returns.
func (b *browser) clickJS(expr string) {
	b.t.Helper()
	if got := b.eval(fmt.Sprintf(`(() => { const el = %s; if (!el) return "none"; el.click(); return "ok"; })()`, expr)); got != "ok" {
		b.t.Fatalf("nothing to click: %s\npage:\n%s", expr, b.bodyText())
	}
}

// typeInto types text (keys, kb.Enter included) into the element
// matching css.
func (b *browser) typeInto(css, text string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(css)), chromedp.SendKeys(chromedp.CSS(css), text)); err != nil {
		b.t.Fatalf("type into %s: %v\npage:\n%s", css, err, b.bodyText())
	}
}

// waitJS waits until a script expression is true, re-evaluating it (so
// an expression may also act, such as pressing a refresh button).
func (b *browser) waitJS(expr, what string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { try { return Boolean(`+expr+`); } catch { return false; } })()`))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("waiting for %s: %v (last error %v)\nat %s\npage:\n%s\nbrowser log:\n%s", what, ctx.Err(), err, b.location(), b.bodyText(), b.logText())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (b *browser) evalInt(js string) int {
	b.t.Helper()
	n, err := strconv.Atoi(b.eval(`String(` + js + `)`))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return n
}

// consoleWatch records what the console's pages do that they must not:
// requests to another origin, errors and warnings in the log (CSP
// violations are logged as errors), uncaught exceptions.
type consoleWatch struct {
	t      *testing.T
	origin string

	mu       sync.Mutex
	requests int
	foreign  []string
	problems []string
}

func watchConsole(t *testing.T, b *browser, origin string) *consoleWatch {
	w := &consoleWatch{t: t, origin: origin}
	err := chromedp.Listen(b.ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if ev.Request == nil || strings.HasPrefix(ev.Request.URL, "data:") {
				return
			}
			w.requests++
			if u, err := url.Parse(ev.Request.URL); err != nil || u.Scheme+"://"+u.Host != w.origin {
				w.foreign = append(w.foreign, string(ev.Type)+" "+ev.Request.URL)
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry == nil {
				return
			}
			if ev.Entry.Source == cdplog.EntrySourceNetwork && strings.HasPrefix(ev.Entry.URL, w.origin+admin.Prefix+"/") && strings.Contains(ev.Entry.Text, "status of 4") {
				// An admin API refusal the console shows (a form's
				// validation error): an answer, not a failure.
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				w.problems = append(w.problems, fmt.Sprintf("log %s %s: %s (%s)", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				args := make([]string, len(ev.Args))
				for i, a := range ev.Args {
					args[i] = string(a.Value)
				}
				w.problems = append(w.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			if ev.ExceptionDetails != nil {
				w.problems = append(w.problems, "exception: "+ev.ExceptionDetails.Text+" "+describeException(ev.ExceptionDetails))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func describeException(d *runtime.ExceptionDetails) string {
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return fmt.Sprintf("at %s:%d", d.URL, d.LineNumber)
}

// check fails the test for every foreign request and every problem.
func (w *consoleWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.foreign {
		w.t.Errorf("a request outside the console's origin %s: %s", w.origin, f)
	}
	for _, p := range w.problems {
		w.t.Errorf("the browser reported: %s", p)
	}
	if w.requests < 20 {
		w.t.Errorf("only %d requests seen: the watch is not recording", w.requests)
	}
	w.t.Logf("%d requests, all to %s", w.requests, w.origin)
}

// shooter saves screenshots of the console's pages as PNG files.
type shooter struct {
	t   *testing.T
	b   *browser
	dir string
}

// newShooter writes into $SESAME_TEST_SCREENSHOTS, or screenshots/ next
// to this file (ignored by git; docs/console/ keeps a copy of a set).
func newShooter(t *testing.T, b *browser) *shooter {
	dir := os.Getenv("SESAME_TEST_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &shooter{t: t, b: b, dir: dir}
}

// take saves the whole page; takeView the visible part (a modal dialog
// covers only that).
func (s *shooter) take(name string)     { s.t.Helper(); s.save(name, chromedp.FullScreenshot(100)) }
func (s *shooter) takeView(name string) { s.t.Helper(); s.save(name, chromedp.CaptureScreenshot()) }

func (s *shooter) save(name string, shot chromedp.Action[[]byte]) {
	s.t.Helper()
	// No caret blinking in a field, and no notifications of earlier
	// steps over the page.
	s.b.eval(`(document.activeElement && document.activeElement.matches("input, textarea") && document.activeElement.blur(), document.getElementById("toast")?.replaceChildren(), "")`)
	ctx, cancel := s.b.step()
	defer cancel()
	png, err := chromedp.Run(ctx, shot)
	if err == nil && !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		err = errors.New("not a PNG")
	}
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(s.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("screenshot: %s", path)
}
