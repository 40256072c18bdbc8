package browser_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sesame-idp/sesame/internal/config"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/testio"
)

const (
	// testTimeout bounds the whole browser test.
	testTimeout = 60 * time.Second
	// stepTimeout bounds waiting for one page.
	stepTimeout = 15 * time.Second
)

// TestBrowserSSO signs in to one application through Sesame's hosted login
// page in a real Chromium, gets into a second application by single
// sign-on without a password prompt, signs out through the first and
// checks that the second must sign in again; then checks the login page
// in Chinese.
func TestBrowserSSO(t *testing.T) {
	chromium := os.Getenv("SESAME_TEST_CHROMIUM")
	if chromium == "" {
		t.Skip("SESAME_TEST_CHROMIUM not set: skipping browser tests")
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()

	app1 := newRelyingParty(t, "browser-app1", "Browser App One", "#1f5b99", "app1.test")
	app2 := newRelyingParty(t, "browser-app2", "Browser App Two", "#1d7a55", "app2.test")
	e := st.New(t, "sqlite", func(c *config.Config) {
		for i := range c.Bootstrap.Tenants {
			if c.Bootstrap.Tenants[i].ID == "acme" {
				c.Bootstrap.Tenants[i].Applications = append(c.Bootstrap.Tenants[i].Applications, app1.application(), app2.application())
			}
		}
	})
	app1.start(t, ctx, e, st.EIAMHost)
	app2.start(t, ctx, e, st.EIAMHost)
	defer func() {
		for _, rp := range []*relyingParty{app1, app2} {
			for _, msg := range rp.errors() {
				t.Errorf("%s reported: %s", rp.clientID, msg)
			}
		}
	}()

	b := startBrowser(t, ctx, chromium, []string{st.EIAMHost, app1.host, app2.host})
	defer b.close()
	authorize := e.URL(st.EIAMHost, "/api/v1/oauth2/authorize")
	loginPost := e.URL(st.EIAMHost, "/api/v1/oauth2/login")

	// 1. app1 sends the browser to Sesame's login page.
	hops := b.open(app1.base + "/login")
	b.expectHops(hops, hop{Method: "GET", URL: app1.base + "/login", Status: 302}, hop{Method: "GET", URL: authorize, Status: 200})
	b.expectLocation(authorize)
	b.waitVisible("username", "password", "submit")
	if title := b.title(); title != "Sign in" {
		t.Errorf("login page title %q, want %q", title, "Sign in")
	}
	if sub := b.text("p.sub"); sub != app1.title {
		t.Errorf("login page names the application %q, want %q", sub, app1.title)
	}
	b.screenshot("01-login-page")

	// Type the credentials and submit: back on app1, signed in.
	b.do(chromedp.SendKeys(chromedp.ID("username"), "alice"), chromedp.SendKeys(chromedp.ID("password"), st.Password))
	b.screenshot("02-login-page-filled")
	hops = b.submit("submit", "user")
	b.expectHops(hops, hop{Method: "POST", URL: loginPost, Status: 303}, hop{Method: "GET", URL: app1.base + "/callback", Status: 200})
	b.expectLocation(app1.base + "/callback")
	if got := b.text("#user"); got != "Hello alice" {
		t.Fatalf("app1 says %q, want %q", got, "Hello alice")
	}
	sub := b.text("#sub")
	b.screenshot("03-app1-signed-in")

	// 2. app2: single sign-on, no password prompt. The authorization
	// endpoint answers with a redirect at once; Sesame renders no page.
	hops = b.open(app2.base + "/login")
	b.expectHops(hops, hop{Method: "GET", URL: app2.base + "/login", Status: 302}, hop{Method: "GET", URL: authorize, Status: 302}, hop{Method: "GET", URL: app2.base + "/callback", Status: 200})
	b.expectLocation(app2.base + "/callback")
	for _, h := range hops {
		if strings.HasPrefix(h.URL, e.URL(st.EIAMHost, "/")) && h.Status == 200 {
			t.Errorf("single sign-on showed a Sesame page: %v", h)
		}
	}
	b.expectAbsent("password")
	if got := b.text("#user"); got != "Hello alice" {
		t.Fatalf("app2 says %q, want %q", got, "Hello alice")
	}
	if got := b.text("#sub"); got != sub {
		t.Errorf("app2 got subject %q, app1 %q", got, sub)
	}
	b.screenshot("04-app2-single-sign-on")

	// 3. Sign out through app1: Sesame ends the session and sends the
	// browser back to app1's registered post-logout page.
	hops = b.open(app1.base + "/logout")
	b.expectHops(hops, hop{Method: "GET", URL: app1.base + "/logout", Status: 302}, hop{Method: "GET", URL: e.URL(st.EIAMHost, "/api/v1/logout"), Status: 302}, hop{Method: "GET", URL: app1.base + "/bye", Status: 200})
	b.expectLocation(app1.base + "/bye")
	b.waitVisible("bye")
	if got := b.text("#bye"); got != "Signed out" {
		t.Errorf("app1 /bye says %q", got)
	}
	b.screenshot("05-app1-signed-out")

	// 4. Single sign-on has ended for app2 too: the login form again.
	hops = b.open(app2.base + "/login")
	b.expectHops(hops, hop{Method: "GET", URL: app2.base + "/login", Status: 302}, hop{Method: "GET", URL: authorize, Status: 200})
	b.expectLocation(authorize)
	b.waitVisible("username", "password", "submit")
	if sub := b.text("p.sub"); sub != app2.title {
		t.Errorf("login page names the application %q, want %q", sub, app2.title)
	}
	b.screenshot("06-app2-login-again")

	// 5. The login page in Chinese (ui_locales=zh).
	hops = b.open(app1.base + "/login?ui_locales=zh")
	b.expectHops(hops, hop{Method: "GET", URL: app1.base + "/login", Status: 302}, hop{Method: "GET", URL: authorize, Status: 200})
	if loc := b.location(); !strings.Contains(loc, "ui_locales=zh") {
		t.Errorf("authorize URL %s has no ui_locales=zh", loc)
	}
	b.waitVisible("username", "password", "submit")
	if title := b.title(); title != "登录" {
		t.Errorf("Chinese login page title %q, want 登录", title)
	}
	if h1, button := b.text("h1"), b.text("#submit"); h1 != "登录" || button != "登录" {
		t.Errorf("Chinese login page: heading %q, button %q, want 登录", h1, button)
	}
	if lang := b.eval(`document.documentElement.lang`); lang != "zh" {
		t.Errorf("Chinese login page has lang=%q", lang)
	}
	b.screenshot("07-login-page-zh")
}

// hop is one HTTP exchange of a top-level navigation: a redirect, the
// final document, or a failed load (Status 0, with Failed). URL has no
// query.
type hop struct {
	Method string
	URL    string
	Status int64
	Failed string
}

func (h hop) String() string {
	if h.Failed != "" {
		return fmt.Sprintf("%s %s → failed: %s", h.Method, h.URL, h.Failed)
	}
	return fmt.Sprintf("%s %s → %d", h.Method, h.URL, h.Status)
}

// browser is one Chromium tab, with the navigation hops recorded from the
// DevTools network events.
type browser struct {
	t      *testing.T
	ctx    context.Context
	cancel []context.CancelFunc
	shots  string
	output *testio.Buffer

	mu       sync.Mutex
	hops     []hop
	requests map[network.RequestID]hop // document requests under way
	logs     []string                  // console and browser log since the last step
}

// startBrowser starts Chromium with a fresh profile, headless, with every
// host name mapped to 127.0.0.1 (the port of a URL is kept), and nothing
// that reaches the network on its own.
func startBrowser(t *testing.T, ctx context.Context, chromium string, hosts []string) *browser {
	t.Helper()
	profile, err := os.MkdirTemp("", "sesame-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeProfile(t, profile) })
	rules := make([]string, len(hosts))
	for i, h := range hosts {
		rules[i] = "MAP " + h + " 127.0.0.1"
	}
	b := &browser{t: t, shots: artifactsDir(t), output: &testio.Buffer{}, requests: map[network.RequestID]hop{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("host-resolver-rules", strings.Join(rules, ",")),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1000, 760),
		chromedp.CombinedOutput(b.output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	b.ctx, b.cancel = tabCtx, []context.CancelFunc{cancelTab, cancelAlloc}
	if err := chromedp.Do(tabCtx); err != nil {
		b.close()
		t.Fatalf("starting %s: %v\n%s", chromium, err, b.output)
	}
	return b
}

// close ends the tab and the browser, waiting for the browser to exit.
func (b *browser) close() {
	for _, c := range b.cancel {
		c()
	}
	b.cancel = nil
	if b.t.Failed() {
		// Without a D-Bus (containers, CI) Chromium logs many harmless
		// dbus errors: leave them out.
		var lines []string
		for _, l := range strings.Split(b.output.String(), "\n") {
			if !strings.Contains(l, "dbus/") {
				lines = append(lines, l)
			}
		}
		b.t.Logf("chromium output (without dbus errors):\n%s", strings.Join(lines, "\n"))
	}
}

// removeProfile deletes the profile directory; Chromium's helper
// processes may still be writing for a moment after the browser exits.
func removeProfile(t *testing.T, dir string) {
	var err error
	for range 20 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("removing the Chromium profile %s: %v", dir, err)
}

// artifactsDir is $SESAME_TEST_ARTIFACTS, or a temporary directory.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("SESAME_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// record runs in the tab's event loop: it must return fast.
func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type != network.ResourceTypeDocument || ev.Request == nil {
			return
		}
		if prev, ok := b.requests[ev.RequestID]; ok && ev.RedirectResponse != nil {
			b.hops = append(b.hops, hop{Method: prev.Method, URL: stripQuery(ev.RedirectResponse.URL), Status: ev.RedirectResponse.Status})
		}
		b.requests[ev.RequestID] = hop{Method: ev.Request.Method, URL: stripQuery(ev.Request.URL)}
	case *network.EventResponseReceived:
		if ev.Type != network.ResourceTypeDocument || ev.Response == nil {
			return
		}
		b.hops = append(b.hops, hop{Method: b.requests[ev.RequestID].Method, URL: stripQuery(ev.Response.URL), Status: ev.Response.Status})
	case *network.EventLoadingFailed:
		if req, ok := b.requests[ev.RequestID]; ok && ev.Type == network.ResourceTypeDocument {
			req.Failed = ev.ErrorText
			if ev.BlockedReason != "" {
				req.Failed += " (" + string(ev.BlockedReason) + ")"
			}
			b.hops = append(b.hops, req)
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry != nil {
			b.logs = append(b.logs, fmt.Sprintf("%s %s: %s (%s)", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *runtime.EventConsoleAPICalled:
		args := make([]string, len(ev.Args))
		for i, a := range ev.Args {
			args[i] = string(a.Value)
		}
		b.logs = append(b.logs, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
	}
}

func stripQuery(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.RawQuery, p.Fragment = "", ""
	return p.String()
}

func (b *browser) resetHops() {
	b.mu.Lock()
	b.hops, b.logs = nil, nil
	b.mu.Unlock()
}

// logText returns the console and browser log of the current step.
func (b *browser) logText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.logs) == 0 {
		return "(empty)"
	}
	return strings.Join(b.logs, "\n")
}

func (b *browser) takeHops() []hop {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hops
	b.hops = nil
	return h
}

// step returns a context bounding one step.
func (b *browser) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser at %s: %v", b.location(), err)
	}
}

// open navigates to u, waits for the page to load, and returns the hops.
func (b *browser) open(u string) []hop {
	b.t.Helper()
	b.resetHops()
	b.do(chromedp.Navigate(u))
	hops := b.takeHops()
	b.t.Logf("open %s:\n\t%s", u, joinHops(hops))
	return hops
}

// submit clicks the button with id button, waits for the navigation it
// starts to end (a page that is not a redirect, or a failed load), then
// for an element with id want on the new page.
func (b *browser) submit(button, want string) []hop {
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
		if last := b.lastHop(); last.Failed != "" || last.Status != 200 {
			err = fmt.Errorf("the navigation ended with %v", last)
		} else {
			err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID(want)))
		}
	}
	if err != nil {
		hops := b.takeHops()
		b.t.Fatalf("after clicking #%s, no #%s: %v\nnow at %s\nhops:\n\t%s\npage:\n%s\nbrowser log:\n%s", button, want, err, b.location(), joinHops(hops), b.bodyText(), b.logText())
	}
	hops := b.takeHops()
	b.t.Logf("click #%s:\n\t%s", button, joinHops(hops))
	return hops
}

func (b *browser) lastHop() hop {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.hops) == 0 {
		return hop{}
	}
	return b.hops[len(b.hops)-1]
}

// navigationEnded tells whether the hops recorded since the last reset
// end with a page that is not a redirect, or with a failed load.
func (b *browser) navigationEnded() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.hops) == 0 {
		return false
	}
	last := b.hops[len(b.hops)-1]
	return last.Failed != "" || last.Status < 300 || last.Status >= 400
}

func joinHops(hops []hop) string {
	s := make([]string, len(hops))
	for i, h := range hops {
		s[i] = h.String()
	}
	return strings.Join(s, "\n\t")
}

// expectHops checks the navigation went exactly through want.
func (b *browser) expectHops(got []hop, want ...hop) {
	b.t.Helper()
	if len(got) == len(want) {
		same := true
		for i := range got {
			same = same && got[i] == want[i]
		}
		if same {
			return
		}
	}
	b.t.Fatalf("navigation went through\n\t%s\nwant\n\t%s\npage at %s:\n%s\nbrowser log:\n%s", joinHops(got), joinHops(want), b.location(), b.bodyText(), b.logText())
}

func (b *browser) location() string {
	ctx, cancel := b.step()
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("(location unknown: %v)", err)
	}
	return loc
}

// expectLocation checks the current URL without its query.
func (b *browser) expectLocation(want string) {
	b.t.Helper()
	if got := b.location(); stripQuery(got) != want {
		b.t.Fatalf("browser at %s, want %s\npage:\n%s", got, want, b.bodyText())
	}
}

func (b *browser) waitVisible(ids ...string) {
	b.t.Helper()
	for _, id := range ids {
		ctx, cancel := b.step()
		err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID(id)))
		cancel()
		if err != nil {
			b.t.Fatalf("no visible #%s at %s: %v\npage:\n%s", id, b.location(), err, b.bodyText())
		}
	}
}

// expectAbsent checks the page has no element with the id.
func (b *browser) expectAbsent(id string) {
	b.t.Helper()
	if got := b.eval(fmt.Sprintf(`String(document.getElementById(%q) !== null)`, id)); got != "false" {
		b.t.Fatalf("#%s is on the page at %s", id, b.location())
	}
}

func (b *browser) text(css string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.t.Fatalf("text of %s at %s: %v", css, b.location(), err)
	}
	return strings.TrimSpace(s)
}

func (b *browser) title() string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return s
}

func (b *browser) bodyText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return fmt.Sprintf("(page text unknown: %v)", err)
	}
	return s
}

// screenshot saves a PNG of the whole page.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil && !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		err = errors.New("not a PNG")
	}
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, b.t.Name()+"-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}
