package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is where the console is served (package admin registers
// Prefix and Prefix+"callback" as the console application's URIs).
const Prefix = "/admin/"

// AssetsPrefix is where the embedded files are served.
const AssetsPrefix = Prefix + "assets/"

// apiPrefix belongs to the admin API, mounted by package admin.
const apiPrefix = Prefix + "api/"

// CSP is the Content-Security-Policy of every console answer. It allows
// nothing but the console's own origin: scripts and styles from files
// (no inline code, no eval), fetches to the admin API and the OpenID
// provider on the same origin, and Trusted Types for script sinks with
// no policy at all, so that strings can never become markup or code
// (CSP Level 3; Trusted Types). form-action 'self': the console's forms
// are submitted by its scripts, never to another site.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

//go:embed assets
var embedded embed.FS

// contentTypes are the types the console's files are served with; a file
// of any other extension is not served. Fixed here rather than taken from
// the system's MIME tables, which differ between machines: module scripts
// must be text/javascript (with nosniff, browsers refuse anything else).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// ContentType returns the type a file name is served with, "" for none.
func ContentType(name string) string { return contentTypes[path.Ext(name)] }

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the console.
type Handler struct {
	domain string // admin.domain, lower case
	base   string // {scheme}://{admin.domain}[:{port}]
	index  asset
	files  map[string]asset // by URL path
}

// New returns the console's handler for the system tenant's domain
// (admin.domain) and base URL (admin.SystemBase).
func New(domain, base string) (*Handler, error) {
	h := &Handler{domain: strings.ToLower(domain), base: strings.TrimSuffix(base, "/"), files: map[string]asset{}}
	root, err := fs.Sub(embedded, "assets")
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype := ContentType(name)
		if ctype == "" {
			return fmt.Errorf("console: %s: no content type for its extension", name)
		}
		body, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := asset{body: body, ctype: ctype, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
		if name == "index.html" {
			h.index = a
		} else {
			h.files[AssetsPrefix+name] = a
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if h.index.body == nil {
		return nil, fmt.Errorf("console: no index.html")
	}
	return h, nil
}

// Assets returns the URL paths of the embedded files (index.html
// excluded: it answers the page paths).
func (h *Handler) Assets() []string {
	out := make([]string, 0, len(h.files))
	for p := range h.files {
		out = append(out, p)
	}
	return out
}

// Mount registers the console on mux under Prefix, method-less: the
// admin API's own method-less subtree (/admin/api/v1/) is more specific
// and keeps its paths.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle(Prefix, h)
}

// ServeHTTP serves an asset, or index.html for any page path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if strings.HasPrefix(p, apiPrefix) {
		// A path of no version of the admin API.
		http.Error(w, `{"error":{"code":"not_found","message":"Endpoint not found"}}`, http.StatusNotFound)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", CSP)
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if host := hostname(r.Host); host != h.domain {
		// The console's sign-in only works on the origin registered as
		// its redirect URI: send the browser there.
		target := h.base + p
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	if strings.HasPrefix(p, AssetsPrefix) {
		a, ok := h.files[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// Revalidated on every use (ETag, 304): an upgraded binary's
		// files apply at once, and the files are small.
		hdr.Set("Cache-Control", "no-cache")
		serve(w, r, a)
		return
	}
	// A page: the scripts route it. no-store, since the callback's URL
	// carries an authorization code.
	hdr.Set("Cache-Control", "no-store")
	serve(w, r, h.index)
}

func serve(w http.ResponseWriter, r *http.Request, a asset) {
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// hostname returns the host of a Host header without its port, lower
// case.
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		hostport = h
	}
	return strings.ToLower(strings.TrimSuffix(hostport, "."))
}
