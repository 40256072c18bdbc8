package servertest

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Browser is a cookie-keeping HTTP client that behaves like a browser on
// the hosted pages: it follows no redirects (tests look at each one), and
// submits the forms it is shown.
type Browser struct {
	e      *Env
	Client *http.Client
}

// NewBrowser returns a browser with an empty cookie jar.
func (e *Env) NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	c := *e.Client
	c.Jar = jar
	return &Browser{e: e, Client: &c}
}

// Page is a response as the browser saw it.
type Page struct {
	Method   string // of the request that got this response
	Status   int
	Header   http.Header
	Body     string
	Location *url.URL // the redirect target of a 3xx
}

// Redirected reports whether p is a redirect with the status Sesame must
// use for its request's method: 303 See Other after a POST (RFC 9700
// §4.12: the browser then never re-sends a form that held a password),
// 302 Found after a GET. It says nothing about the target.
func (p Page) Redirected() bool {
	if p.Method == http.MethodPost {
		return p.Status == http.StatusSeeOther
	}
	return p.Status == http.StatusFound
}

func (b *Browser) do(req *http.Request) Page {
	b.e.T.Helper()
	resp, err := b.Client.Do(req)
	if err != nil {
		b.e.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := Page{Method: req.Method, Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		p.Location, _ = resp.Request.URL.Parse(loc)
	}
	return p
}

// Get loads a URL.
func (b *Browser) Get(u string) Page {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		b.e.T.Fatal(err)
	}
	return b.do(req)
}

// Post submits form values to a URL.
func (b *Browser) Post(u string, v url.Values) Page {
	req, err := http.NewRequest("POST", u, strings.NewReader(v.Encode()))
	if err != nil {
		b.e.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	formRe  = regexp.MustCompile(`(?s)<form method="post" action="([^"]*)">(.*?)</form>`)
	inputRe = regexp.MustCompile(`<input type="(?:hidden|text|password)" (?:id="[^"]*" )?name="([^"]*)"(?: value="([^"]*)")?`)
)

// Form returns the action and the prefilled fields of the page's form.
func (p Page) Form() (action string, fields url.Values, ok bool) {
	m := formRe.FindStringSubmatch(p.Body)
	if m == nil {
		return "", nil, false
	}
	fields = url.Values{}
	for _, in := range inputRe.FindAllStringSubmatch(m[2], -1) {
		fields.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return html.UnescapeString(m[1]), fields, true
}

// Submit fills the page's form with values (added to its hidden fields)
// and posts it, as a user pressing the submit button would.
func (b *Browser) Submit(pageURL string, p Page, values url.Values) Page {
	b.e.T.Helper()
	action, fields, ok := p.Form()
	if !ok {
		b.e.T.Fatalf("no form on the page (%d): %.400s", p.Status, p.Body)
	}
	for k, v := range values {
		fields[k] = v
	}
	base, _ := url.Parse(pageURL)
	target, _ := base.Parse(action)
	return b.Post(target.String(), fields)
}

// Login completes the hosted login page shown at authorizeURL and
// returns the answer to the form post (a redirect with a code, normally).
func (b *Browser) Login(authorizeURL, user, password string) Page {
	b.e.T.Helper()
	page := b.Get(authorizeURL)
	if page.Status != 200 {
		b.e.T.Fatalf("authorize: %d %v %.300s", page.Status, page.Location, page.Body)
	}
	return b.Submit(authorizeURL, page, url.Values{"username": {user}, "password": {password}})
}
