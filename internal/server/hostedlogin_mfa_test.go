package server_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/mfa"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// The second factor on the hosted login page (contract §5): the
// enrolment step of a "required" tenant, the code step, recovery codes,
// the attempt limit, CSRF, and Chinese.

var (
	hlSecretRe = regexp.MustCompile(`<code class="secret" id="totp-secret">([A-Z2-7 ]+)</code>`)
	hlURIRe    = regexp.MustCompile(`<a id="otpauth" href="([^"]+)">`)
	hlCodesRe  = regexp.MustCompile(`<li>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</li>`)
)

// hlMFAPage checks p is the code step (with the enrolment's secret when
// enrol) and returns the secret shown, if any.
func hlMFAPage(t *testing.T, p st.Page, enrol bool, status int) []byte {
	t.Helper()
	action, f, ok := p.Form()
	if p.Status != status || !ok || action != "/api/v1/oauth2/login/mfa" || f.Get("state_token") == "" || f.Get("csrf") == "" || f.Get("req") == "" || !strings.Contains(p.Body, `name="code"`) {
		t.Fatalf("want the code step (%d), got %d: %.600s", status, p.Status, p.Body)
	}
	// No session yet (hlWantNoSession would take the code field for an
	// authorization code in a form_post page).
	if c := hlCookie(p.Header, "sesame_session"); p.Location != nil || (c != nil && c.Value != "") {
		t.Fatalf("the code step signed in: %v %v", p.Location, c)
	}
	negWantPageHeaders(t, p.Header)
	m := hlSecretRe.FindStringSubmatch(p.Body)
	if (m != nil) != enrol {
		t.Fatalf("enrolment secret shown: %v, want %v: %.600s", m != nil, enrol, p.Body)
	}
	if m == nil {
		return nil
	}
	key, err := mfa.DecodeSecret(m[1])
	if err != nil {
		t.Fatalf("secret %q: %v", m[1], err)
	}
	u := hlURIRe.FindStringSubmatch(p.Body)
	if u == nil || !strings.HasPrefix(html.UnescapeString(u[1]), "otpauth://totp/Acme:alice?") || !strings.Contains(html.UnescapeString(u[1]), "secret="+mfa.EncodeSecret(key)) {
		t.Fatalf("otpauth link %v does not carry the secret", u)
	}
	return key
}

func TestHostedLoginMFA(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		web := newRP(t, e, st.EIAMHost, "acme-web", st.Secret, "http://app.test/callback", oidc.ScopeOpenID)
		authURL := func(verifier string, extra ...oauth2.AuthCodeOption) string {
			return web.conf.AuthCodeURL("st-123", append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-456")}, extra...)...)
		}
		var key []byte
		var codes []string

		t.Run("enrolment during the login, then recovery codes, then the code", func(t *testing.T) {
			b := e.NewBrowser()
			verifier := oauth2.GenerateVerifier()
			u := authURL(verifier)
			p := b.Login(u, "alice", st.Password)
			key = hlMFAPage(t, p, true, http.StatusOK)
			if !strings.Contains(p.Body, "<h1>Set up two-step verification</h1>") {
				t.Errorf("enrolment heading missing: %.400s", p.Body)
			}
			// A wrong code: the same step again, with the same secret and
			// state token, and the catalogue's message.
			_, f, _ := p.Form()
			wrong := b.Submit(u, p, url.Values{"code": {"000000"}})
			if k := hlMFAPage(t, wrong, true, http.StatusBadRequest); string(k) != string(key) || hlErrorText(wrong) != "Invalid verification code" {
				t.Fatalf("after a wrong code: %q", hlErrorText(wrong))
			}
			if _, wf, _ := wrong.Form(); wf.Get("state_token") != f.Get("state_token") {
				t.Error("the state token changed after a wrong code")
			}
			// The right code: the recovery codes, once, with the session set.
			rec := b.Submit(u, wrong, url.Values{"code": {codeAt(e, key, 0)}})
			action, _, ok := rec.Form()
			for _, m := range hlCodesRe.FindAllStringSubmatch(rec.Body, -1) {
				codes = append(codes, m[1])
			}
			if rec.Status != http.StatusOK || !ok || action != "/api/v1/oauth2/login/continue" || len(codes) != mfa.RecoveryCodeCount ||
				!strings.Contains(rec.Body, "Save your recovery codes") {
				t.Fatalf("want the recovery codes page, got %d: %.600s", rec.Status, rec.Body)
			}
			if c := hlCookie(rec.Header, "sesame_session"); c == nil || c.Value == "" || !c.HttpOnly {
				t.Fatalf("no session cookie with the recovery codes: %v", c)
			}
			negWantPageHeaders(t, rec.Header)
			// Continue: back to the client with a code.
			done := b.Submit(u, rec, nil)
			web.exchange(t, web.codeFrom(t, done, "st-123"), verifier)
			// Single sign-on now: no page at all.
			if p := b.Get(authURL(oauth2.GenerateVerifier())); !p.Redirected() {
				t.Fatalf("single sign-on after the MFA login: %d %.300s", p.Status, p.Body)
			}
		})

		t.Run("enrolled: the code step, then a code", func(t *testing.T) {
			if key == nil {
				t.Skip("no enrolment")
			}
			e.Clock.Advance(mfa.Period)
			b := e.NewBrowser()
			verifier := oauth2.GenerateVerifier()
			u := authURL(verifier)
			p := b.Login(u, "alice", st.Password)
			hlMFAPage(t, p, false, http.StatusOK)
			if !strings.Contains(p.Body, "<h1>Two-step verification</h1>") || !strings.Contains(p.Body, "Verification code or recovery code") {
				t.Errorf("code step texts: %.500s", p.Body)
			}
			done := b.Submit(u, p, url.Values{"code": {codeAt(e, key, 0)}})
			web.exchange(t, web.codeFrom(t, done, "st-123"), verifier)
			// The same code again, in another browser, is a replay.
			b2 := e.NewBrowser()
			p = b2.Login(u, "alice", st.Password)
			again := b2.Submit(u, p, url.Values{"code": {codeAt(e, key, 0)}})
			hlMFAPage(t, again, false, http.StatusBadRequest)
			if hlErrorText(again) != "Invalid verification code" {
				t.Errorf("replay: %q", hlErrorText(again))
			}
		})

		t.Run("a recovery code, once", func(t *testing.T) {
			if len(codes) == 0 {
				t.Skip("no enrolment")
			}
			b := e.NewBrowser()
			verifier := oauth2.GenerateVerifier()
			u := authURL(verifier)
			done := b.Submit(u, b.Login(u, "alice", st.Password), url.Values{"code": {strings.ToUpper(codes[0])}})
			web.exchange(t, web.codeFrom(t, done, "st-123"), verifier)
			b2 := e.NewBrowser()
			p := b2.Submit(u, b2.Login(u, "alice", st.Password), url.Values{"code": {codes[0]}})
			hlMFAPage(t, p, false, http.StatusBadRequest)
		})

		t.Run("the enrolment and the recovery code are audited as the hosted page's", func(t *testing.T) {
			if len(codes) == 0 {
				t.Skip("no enrolment")
			}
			alice := userIDOf(t, e, "acme", "alice")
			checkEvents(t, mfaEvents(t, e, "acme"), "acme", []wantEvent{
				{audit.TypeMFAEnrolled, alice, "user:" + alice, "127.0.0.1", map[string]string{
					"client_id": "acme-web", "channel": "hosted", "via": "login", "recovery_codes_left": "10"}},
				{audit.TypeMFARecoveryCodeUsed, alice, "user:" + alice, "127.0.0.1", map[string]string{
					"client_id": "acme-web", "channel": "hosted", "recovery_codes_left": "9"}},
			})
		})

		t.Run("the form's CSRF check and the state token apply", func(t *testing.T) {
			if key == nil {
				t.Skip("no enrolment")
			}
			b := e.NewBrowser()
			u := authURL(oauth2.GenerateVerifier())
			p := b.Login(u, "alice", st.Password)
			r := hlSubmit(t, b.Client, u, p, url.Values{"code": {codeAt(e, key, mfa.Period)}, "csrf": {""}}, nil)
			negWantPage(t, r, http.StatusForbidden)
			hlWantNoSession(t, r)
			r = hlSubmit(t, b.Client, u, p, url.Values{"code": {"123456"}, "state_token": {"forged"}}, nil)
			hlWantNoSession(t, r)
			if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "This sign-in page has expired") {
				t.Fatalf("forged state token: %d %q", r.Status, hlErrorText(r))
			}
			// Continue without a session: the login page, no code.
			nb := e.NewBrowser()
			lp := hlLoginPage(t, nb, u, nil)
			_, lf, _ := lp.Form()
			r = hlDo(t, nb.Client, "POST", e.URL(st.EIAMHost, "/api/v1/oauth2/login/continue"), url.Values{"csrf": {lf.Get("csrf")}, "req": {lf.Get("req")}}, nil)
			hlWantNoSession(t, r)
			if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `name="password"`) {
				t.Fatalf("continue without a session: %d %.300s", r.Status, r.Body)
			}
			// Nor with a session that is not the one of the login that
			// showed the recovery codes: a browser signed in earlier takes
			// the request of a prompt=login page and posts it to continue.
			sb := e.NewBrowser()
			verifier := oauth2.GenerateVerifier()
			done := sb.Submit(authURL(verifier), sb.Login(authURL(verifier), "alice", st.Password), url.Values{"code": {codes[5]}})
			web.codeFrom(t, done, "st-123")
			pl := authURL(oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "login"))
			lp = hlLoginPage(t, sb, pl, nil)
			_, lf, _ = lp.Form()
			r = hlDo(t, sb.Client, "POST", e.URL(st.EIAMHost, "/api/v1/oauth2/login/continue"), url.Values{"csrf": {lf.Get("csrf")}, "req": {lf.Get("req")}}, nil)
			if r.Status != http.StatusBadRequest || r.Location != nil || !strings.Contains(r.Body, `name="password"`) {
				t.Fatalf("continue with an older session skipped prompt=login: %d %v %.300s", r.Status, r.Location, r.Body)
			}
		})

		t.Run("attempts run out: back to the login page", func(t *testing.T) {
			if key == nil {
				t.Skip("no enrolment")
			}
			e.Clock.Advance(20 * time.Minute) // past earlier failures
			b := e.NewBrowser()
			u := authURL(oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("ui_locales", "zh"))
			p := b.Login(u, "alice", st.Password)
			hlMFAPage(t, p, false, http.StatusOK)
			if !strings.Contains(p.Body, "<h1>两步验证</h1>") || !strings.Contains(p.Body, "验证码或恢复码") {
				t.Errorf("Chinese code step: %.500s", p.Body)
			}
			for i := 0; i < 4; i++ {
				p = b.Submit(u, p, url.Values{"code": {"000000"}})
				hlMFAPage(t, p, false, http.StatusBadRequest)
				if hlErrorText(p) != "验证码错误" {
					t.Fatalf("wrong code %d: %q", i+1, hlErrorText(p))
				}
			}
			// The fifth wrong code is the fifth failure: the account locks
			// and the login page says so.
			p = b.Submit(u, p, url.Values{"code": {"000000"}})
			hlWantNoSession(t, p)
			if !strings.Contains(p.Body, `name="password"`) || !strings.Contains(hlErrorText(p), "用户已被锁定") {
				t.Fatalf("after the fifth wrong code: %d %q %.300s", p.Status, hlErrorText(p), p.Body)
			}
		})
	}, mfaPolicy(map[string]string{"acme": "required"}))
}
