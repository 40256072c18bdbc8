package console_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/console"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

const (
	adminHost = "admin.localhost"
	base      = "http://admin.localhost:8080"
)

// assetsDir is the embedded directory, read from disk to compare.
const assetsDir = "assets"

func newHandler(t *testing.T) http.Handler {
	t.Helper()
	h, err := console.New(adminHost, base)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	return mux
}

func get(t *testing.T, h http.Handler, host, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// diskAssets lists the files under assets/ with their URL paths.
func diskAssets(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(assetsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(assetsDir, p)
		rel = filepath.ToSlash(rel)
		if rel == "index.html" {
			out[rel] = console.Prefix
		} else {
			out[rel] = console.AssetsPrefix + rel
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAssetsServed checks that every file of the console is served at its
// path, unchanged, with the content type of its kind, the console's CSP,
// an ETag that answers 304, and no long-lived caching.
func TestAssetsServed(t *testing.T) {
	h := newHandler(t)
	want := map[string]string{
		".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
		".js": "text/javascript; charset=utf-8", ".json": "application/json", ".svg": "image/svg+xml",
	}
	files := diskAssets(t)
	kinds := map[string]bool{}
	for rel, urlPath := range files {
		body, err := os.ReadFile(filepath.Join(assetsDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		resp := get(t, h, adminHost, urlPath)
		got, _ := io.ReadAll(resp.Body)
		ct := want[path.Ext(rel)]
		if ct == "" {
			t.Errorf("%s: a kind of file the test does not know", rel)
			continue
		}
		kinds[path.Ext(rel)] = true
		if resp.StatusCode != 200 || string(got) != string(body) {
			t.Errorf("GET %s: %d, %d bytes; want 200 and the file's %d bytes", urlPath, resp.StatusCode, len(got), len(body))
		}
		if g := resp.Header.Get("Content-Type"); g != ct {
			t.Errorf("GET %s: Content-Type %q, want %q", urlPath, g, ct)
		}
		if g := resp.Header.Get("Content-Security-Policy"); g != console.CSP {
			t.Errorf("GET %s: CSP %q", urlPath, g)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", urlPath)
		} else if r := get(t, h, adminHost, urlPath, "If-None-Match", etag); r.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", urlPath, r.StatusCode)
		}
		cc := resp.Header.Get("Cache-Control")
		if (rel == "index.html" && cc != "no-store") || (rel != "index.html" && cc != "no-cache") {
			t.Errorf("GET %s: Cache-Control %q", urlPath, cc)
		}
	}
	for _, ext := range []string{".html", ".css", ".js", ".json", ".svg"} {
		if !kinds[ext] {
			t.Errorf("no %s file served", ext)
		}
	}
	served, _ := console.New(adminHost, base)
	if n := len(served.Assets()); n != len(files)-1 {
		t.Errorf("the handler serves %d assets, the directory has %d besides index.html", n, len(files)-1)
	}
}

// TestPagesAndRefusals checks the page paths answer index.html, and what
// is not the console's.
func TestPagesAndRefusals(t *testing.T) {
	h := newHandler(t)
	index, err := os.ReadFile(filepath.Join(assetsDir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/admin/", "/admin/callback?code=abc&state=xyz", "/admin/tenants/acme/applications", "/admin/audit?type=login.failure"} {
		resp := get(t, h, adminHost, p)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != string(index) || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("GET %s: %d %s, want index.html", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: Cache-Control %q: a callback URL carries a code", p, resp.Header.Get("Cache-Control"))
		}
	}
	for _, tc := range []struct {
		method, host, target string
		status               int
		location             string
	}{
		{"GET", adminHost, "/admin/assets/nope.js", 404, ""},
		{"GET", adminHost, "/admin/assets/", 404, ""},
		{"GET", adminHost, "/admin/api/v2/tenants", 404, ""},
		{"POST", adminHost, "/admin/", 405, ""},
		{"DELETE", adminHost, "/admin/assets/console.css", 405, ""},
		{"GET", "acme.test:8080", "/admin/users?q=x", 302, base + "/admin/users?q=x"},
		{"GET", "ADMIN.LOCALHOST:8080", "/admin/", 200, ""},
	} {
		req := httptest.NewRequest(tc.method, tc.target, nil)
		req.Host = tc.host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
			t.Errorf("%s %s on %s: %d Location %q, want %d %q", tc.method, tc.target, tc.host, rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
		}
	}
}

var (
	// absoluteURL finds URLs with a scheme or protocol-relative ones in
	// attribute, CSS and import positions.
	absoluteURL = regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://[^\s"'<>)]*`)
	protoRel    = regexp.MustCompile(`(?i)(?:src|href|action|url\(|import|from|fetch\()\s*=?\s*["']?//`)
	attrRef     = regexp.MustCompile(`\b(?:src|href)="([^"]*)"`)
	importRef   = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'`)
	fetchRef    = regexp.MustCompile(`fetch\('([^']+)'`)
	stringKey   = regexp.MustCompile(`\bt\(\s*'([a-z0-9_.]+)'`)
	htmlKey     = regexp.MustCompile(`data-i18n="([a-z0-9_.]+)"`)
)

// svgNamespace is the one absolute URL allowed: an XML namespace name,
// which is never fetched.
const svgNamespace = "http://www.w3.org/2000/svg"

// TestNoExternalURLs checks that no file of the console names anything
// outside the console's origin: no URL with a scheme (except the SVG
// namespace), no protocol-relative URL, no CSS import or url(), and that
// every reference in the page and every module import resolves to an
// embedded file.
func TestNoExternalURLs(t *testing.T) {
	files := diskAssets(t)
	served := map[string]bool{}
	for _, u := range files {
		served[u] = true
	}
	for rel, urlPath := range files {
		b, err := os.ReadFile(filepath.Join(assetsDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range absoluteURL.FindAllString(text, -1) {
			if m != svgNamespace {
				t.Errorf("%s names an absolute URL: %s", rel, m)
			}
		}
		if m := protoRel.FindString(text); m != "" {
			t.Errorf("%s has a protocol-relative reference: %s", rel, m)
		}
		switch path.Ext(rel) {
		case ".css":
			if strings.Contains(text, "@import") || strings.Contains(text, "url(") || strings.Contains(text, "@font-face") {
				t.Errorf("%s loads something (@import, url() or a font)", rel)
			}
		case ".html":
			if strings.Contains(text, "<script>") || strings.Contains(text, "style=") || regexp.MustCompile(`\son[a-z]+=`).MatchString(text) {
				t.Errorf("%s has inline script or style, which the CSP refuses", rel)
			}
			for _, m := range attrRef.FindAllStringSubmatch(text, -1) {
				ref := m[1]
				switch {
				case strings.HasPrefix(ref, "#"):
				case served[ref]:
				case ref == console.Prefix:
				default:
					t.Errorf("%s refers to %q, which the console does not serve", rel, ref)
				}
			}
		case ".js":
			if strings.Contains(text, "innerHTML") || strings.Contains(text, "outerHTML") || strings.Contains(text, "insertAdjacentHTML") ||
				strings.Contains(text, "document.write") || regexp.MustCompile(`\beval\(|new Function\(`).MatchString(text) {
				t.Errorf("%s builds markup or code from strings, which the CSP (Trusted Types) refuses", rel)
			}
			for _, m := range importRef.FindAllStringSubmatch(text, -1) {
				spec := m[1]
				if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
					t.Errorf("%s imports %q: only relative imports of the console's own modules", rel, spec)
					continue
				}
				target := path.Join(path.Dir(urlPath), spec)
				if !served[target] {
					t.Errorf("%s imports %q (%s), which the console does not serve", rel, spec, target)
				}
			}
			for _, m := range fetchRef.FindAllStringSubmatch(text, -1) {
				if !strings.HasPrefix(m[1], "/") || strings.HasPrefix(m[1], "//") {
					t.Errorf("%s fetches %q: only paths of this origin", rel, m[1])
				}
			}
		}
	}
	if !served[console.AssetsPrefix+"js/main.js"] {
		t.Error("no js/main.js")
	}
}

// TestDictionary checks that both languages have the same, non-empty
// strings, and that every key the page and the scripts use exists.
func TestDictionary(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(assetsDir, "i18n.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dict map[string]map[string]string
	if err := json.Unmarshal(b, &dict); err != nil {
		t.Fatalf("i18n.json: %v", err)
	}
	en, zh := dict["en"], dict["zh"]
	if len(dict) != 2 || len(en) == 0 {
		t.Fatalf("i18n.json has languages %v, want en and zh", keys(dict))
	}
	for k, v := range en {
		if strings.TrimSpace(v) == "" {
			t.Errorf("en %q is empty", k)
		}
		z, ok := zh[k]
		if !ok || strings.TrimSpace(z) == "" {
			t.Errorf("zh lacks %q", k)
			continue
		}
		// The same placeholders in both.
		ph := regexp.MustCompile(`\{\w+\}`)
		a, b := ph.FindAllString(v, -1), ph.FindAllString(z, -1)
		sort.Strings(a)
		sort.Strings(b)
		if !slices.Equal(a, b) {
			t.Errorf("%q: placeholders %v in en, %v in zh", k, a, b)
		}
	}
	for k := range zh {
		if _, ok := en[k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
	// Keys used literally, and the families built at run time.
	used := map[string]string{}
	for rel := range diskAssets(t) {
		b, err := os.ReadFile(filepath.Join(assetsDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{stringKey, htmlKey} {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				if !strings.HasSuffix(m[1], ".") && !strings.HasSuffix(m[1], "_") {
					used[m[1]] = rel
				}
			}
		}
	}
	for _, k := range []string{
		"duration.day", "duration.hour", "duration.minute", "duration.second",
		"keys.state_next", "keys.state_current", "keys.state_retired",
		"mfa.off", "mfa.optional", "mfa.required",
		"grant.authorization_code", "grant.refresh_token", "grant.client_credentials",
		"error.invalid_request", "error.unauthorized", "error.forbidden", "error.not_found", "error.conflict",
		"error.payload_too_large", "error.unsupported_media_type", "error.method_not_allowed", "error.unavailable",
		"error.network", "error.unknown",
	} {
		used[k] = "(built at run time)"
	}
	if len(used) < 100 {
		t.Errorf("only %d keys found in use: the test's patterns no longer match the scripts", len(used))
	}
	for k, where := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("%s uses %q, which i18n.json lacks", where, k)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestMountedInServer checks the console in a real server: served on
// the admin domain next to the admin API, which keeps its paths, and
// redirected there from a tenant's host.
func TestMountedInServer(t *testing.T) {
	e := st.New(t, "sqlite")
	r := e.Do("GET", e.URL(adminHost, "/admin/"), nil, "")
	if r.Status != 200 || !strings.Contains(string(r.Body), `<script type="module" src="/admin/assets/js/main.js">`) {
		t.Errorf("GET /admin/: %d %.200s", r.Status, r.Body)
	}
	if csp := r.Header.Get("Content-Security-Policy"); csp != console.CSP {
		t.Errorf("GET /admin/: CSP %q", csp)
	}
	r = e.Do("GET", e.URL(adminHost, "/admin/api/v1/me"), nil, "")
	if r.Status != 401 || r.JSON["error"] == nil {
		t.Errorf("GET /admin/api/v1/me without a token: %d %s, want the admin API's 401", r.Status, r.Body)
	}
	r = e.Do("GET", e.URL(adminHost, "/admin"), nil, "")
	if r.Status/100 != 3 || r.Header.Get("Location") != "/admin/" {
		t.Errorf("GET /admin: %d %q", r.Status, r.Header.Get("Location"))
	}
	r = e.Do("GET", e.URL(st.EIAMHost, "/admin/"), nil, "")
	if want := e.URL(adminHost, "/admin/"); r.Status != http.StatusFound || r.Header.Get("Location") != want {
		t.Errorf("GET /admin/ on a tenant's host: %d %q, want 302 to %s", r.Status, r.Header.Get("Location"), want)
	}
	r = e.Do("GET", e.URL(adminHost, "/admin/assets/js/main.js"), nil, "")
	if r.Status != 200 || r.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET main.js: %d %q nosniff=%q", r.Status, r.Header.Get("Content-Type"), r.Header.Get("X-Content-Type-Options"))
	}
}
