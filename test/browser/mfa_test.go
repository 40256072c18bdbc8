package browser_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/mfa"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// TestBrowserTOTP signs in to an application through the hosted login page
// of a tenant whose MFA policy is "required", in a real Chromium: the
// first login enrols an authenticator (the test reads the secret shown on
// the page and computes the code, as an authenticator app would), shows
// the recovery codes and continues to the application; after logout the
// next login asks for a code; a recovery code works instead of one; a
// wrong code is refused on the page; the code step in Chinese.
func TestBrowserTOTP(t *testing.T) {
	chromium := os.Getenv("SESAME_TEST_CHROMIUM")
	if chromium == "" {
		t.Skip("SESAME_TEST_CHROMIUM not set: skipping browser tests")
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()

	app := newRelyingParty(t, "browser-mfa", "Browser MFA App", "#7a3e9d", "mfa-app.test")
	e := st.New(t, "sqlite", func(c *config.Config) {
		for i := range c.Bootstrap.Tenants {
			if c.Bootstrap.Tenants[i].ID == "acme" {
				c.Bootstrap.Tenants[i].MFA = "required"
				c.Bootstrap.Tenants[i].Applications = append(c.Bootstrap.Tenants[i].Applications, app.application())
			}
		}
	})
	app.start(t, ctx, e, st.EIAMHost)
	defer func() {
		for _, msg := range app.errors() {
			t.Errorf("%s reported: %s", app.clientID, msg)
		}
	}()
	b := startBrowser(t, ctx, chromium, []string{st.EIAMHost, app.host})
	defer b.close()
	authorize := e.URL(st.EIAMHost, "/api/v1/oauth2/authorize")
	loginPost := e.URL(st.EIAMHost, "/api/v1/oauth2/login")
	mfaPost := e.URL(st.EIAMHost, "/api/v1/oauth2/login/mfa")
	code := func(key []byte) string { return mfa.Code(key, mfa.Step(e.Clock.Now())) }

	// 1. Password, then the enrolment step.
	b.expectHops(b.open(app.base+"/login"), hop{Method: "GET", URL: app.base + "/login", Status: 302}, hop{Method: "GET", URL: authorize, Status: 200})
	b.waitVisible("username", "password", "submit")
	b.do(chromedp.SendKeys(chromedp.ID("username"), "alice"), chromedp.SendKeys(chromedp.ID("password"), st.Password))
	b.expectHops(b.submit("submit", "totp-secret"), hop{Method: "POST", URL: loginPost, Status: 200})
	b.waitVisible("totp-secret", "otpauth", "code", "verify")
	if h1 := b.text("h1"); h1 != "Set up two-step verification" {
		t.Errorf("enrolment heading %q", h1)
	}
	shown := b.text("#totp-secret")
	key, err := mfa.DecodeSecret(shown)
	if err != nil || len(key) != mfa.SecretBytes {
		t.Fatalf("the page shows the secret %q: %v", shown, err)
	}
	if href := b.eval(`document.getElementById("otpauth").getAttribute("href")`); !strings.HasPrefix(href, "otpauth://totp/Acme:alice?") || !strings.Contains(href, "secret="+mfa.EncodeSecret(key)) {
		t.Errorf("otpauth link %q", href)
	}
	b.screenshot("01-enrol")

	// A wrong code: the same step, with the error, the secret still shown.
	b.do(chromedp.SendKeys(chromedp.ID("code"), "000000"))
	b.expectHops(b.submitStatus("verify", "totp-secret", 400), hop{Method: "POST", URL: mfaPost, Status: 400})
	if msg := b.text("div.error"); msg != "Invalid verification code" {
		t.Errorf("wrong code message %q", msg)
	}
	if again := b.text("#totp-secret"); again != shown {
		t.Errorf("secret after a wrong code %q, want %q", again, shown)
	}
	b.screenshot("02-enrol-wrong-code")

	// The authenticator's code: the recovery codes, then the application.
	b.do(chromedp.SendKeys(chromedp.ID("code"), code(key)))
	b.expectHops(b.submit("verify", "recovery-codes"), hop{Method: "POST", URL: mfaPost, Status: 200})
	var codes []string
	for _, c := range strings.Split(b.eval(`Array.from(document.querySelectorAll("#recovery-codes li")).map(li => li.textContent).join(" ")`), " ") {
		if mfa.NormalizeRecoveryCode(c) != "" {
			codes = append(codes, c)
		}
	}
	if len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("recovery codes on the page: %q", codes)
	}
	b.screenshot("03-recovery-codes")
	hops := b.submit("continue", "user")
	b.expectHops(hops, hop{Method: "POST", URL: e.URL(st.EIAMHost, "/api/v1/oauth2/login/continue"), Status: 303}, hop{Method: "GET", URL: app.base + "/callback", Status: 200})
	if got := b.text("#user"); got != "Hello alice" {
		t.Fatalf("the application says %q", got)
	}
	b.screenshot("04-signed-in")

	// 2. Sign out; the next login asks for a code (a later one: the
	// enrolling code is spent).
	logout := func() {
		t.Helper()
		b.expectHops(b.open(app.base+"/logout"), hop{Method: "GET", URL: app.base + "/logout", Status: 302},
			hop{Method: "GET", URL: e.URL(st.EIAMHost, "/api/v1/logout"), Status: 302}, hop{Method: "GET", URL: app.base + "/bye", Status: 200})
	}
	passwordStep := func(locale string) {
		t.Helper()
		b.open(app.base + "/login" + locale)
		b.waitVisible("username", "password", "submit")
		b.do(chromedp.SendKeys(chromedp.ID("username"), "alice"), chromedp.SendKeys(chromedp.ID("password"), st.Password))
		b.submit("submit", "code")
		b.expectAbsent("totp-secret")
	}
	logout()
	e.Clock.Advance(mfa.Period)
	passwordStep("")
	if h1 := b.text("h1"); h1 != "Two-step verification" {
		t.Errorf("code step heading %q", h1)
	}
	b.screenshot("05-code-step")
	b.do(chromedp.SendKeys(chromedp.ID("code"), code(key)))
	b.expectHops(b.submit("verify", "user"), hop{Method: "POST", URL: mfaPost, Status: 303}, hop{Method: "GET", URL: app.base + "/callback", Status: 200})
	if got := b.text("#user"); got != "Hello alice" {
		t.Fatalf("after the code, the application says %q", got)
	}

	// 3. A recovery code instead, on the Chinese page.
	logout()
	passwordStep("?ui_locales=zh")
	if h1, label := b.text("h1"), b.text(`label[for="code"]`); h1 != "两步验证" || label != "验证码或恢复码" {
		t.Errorf("Chinese code step: heading %q, label %q", h1, label)
	}
	b.screenshot("06-code-step-zh")
	b.do(chromedp.SendKeys(chromedp.ID("code"), strings.ToUpper(codes[0])))
	b.expectHops(b.submit("verify", "user"), hop{Method: "POST", URL: mfaPost, Status: 303}, hop{Method: "GET", URL: app.base + "/callback", Status: 200})
	if got := b.text("#user"); got != "Hello alice" {
		t.Fatalf("after a recovery code, the application says %q", got)
	}

	// 4. The same recovery code again is refused, in Chinese.
	logout()
	passwordStep("?ui_locales=zh")
	b.do(chromedp.SendKeys(chromedp.ID("code"), codes[0]))
	b.submitStatus("verify", "code", 400)
	if msg := b.text("div.error"); msg != "验证码错误" {
		t.Errorf("used recovery code: %q", msg)
	}
	b.screenshot("07-used-recovery-code-zh")
}

// submitStatus is submit for a navigation that ends in a page of the
// given status (an error page that still has a form).
func (b *browser) submitStatus(button, want string, status int64) []hop {
	b.t.Helper()
	b.resetHops()
	ctx, cancel := b.step()
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Click(chromedp.ID(button)))
	for err == nil && !b.navigationEnded() {
		select {
		case <-ctx.Done():
			err = fmt.Errorf("waiting for the navigation: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err == nil {
		if last := b.lastHop(); last.Failed != "" || last.Status != status {
			err = fmt.Errorf("the navigation ended with %v, want status %d", last, status)
		} else {
			err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID(want)))
		}
	}
	if err != nil {
		b.t.Fatalf("after clicking #%s, no #%s: %v\nnow at %s\npage:\n%s\nbrowser log:\n%s", button, want, err, b.location(), b.bodyText(), b.logText())
	}
	hops := b.takeHops()
	b.t.Logf("click #%s:\n\t%s", button, joinHops(hops))
	return hops
}
