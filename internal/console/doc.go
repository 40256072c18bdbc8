// Package console owns Sesame's web console: the administrators' user
// interface, served by the binary under /admin/ (the admin API under
// /admin/api/ belongs to package admin, which the console calls).
//
// # What is served
//
// Plain HTML, CSS and JavaScript ES modules, embedded in the binary with
// package embed: no build step, no dependencies at run time, and nothing
// loaded from anywhere but the console's own origin (no CDN, no web
// fonts). Every page path under /admin/ (/admin/, /admin/callback,
// /admin/tenants/..., /admin/audit) answers the same index.html; the
// JavaScript routes with the History API. The assets live under
// /admin/assets/, are revalidated by ETag, and carry a strict
// Content-Security-Policy (CSP Level 3): scripts, styles, images and
// fetches from 'self' only, no inline script or style, no base or
// framing, and Trusted Types required for script sinks, so the code can
// only build pages through the DOM (textContent, never innerHTML) and
// audit data shown in it cannot inject markup.
//
// The console answers on the system tenant's host (admin.domain) only:
// its sign-in and redirect URIs are registered there (package admin,
// ConsoleCallbackPath). A request on another host is redirected there.
//
// # Sign-in
//
// The browser signs in against Sesame itself, as any public OpenID
// Connect client: authorization code with PKCE S256 (RFC 7636, RFC 9700
// §2.1.1) against the system tenant's issuer, found by discovery on the
// same origin, client sesame-console, redirect URI /admin/callback. The
// state, nonce and code verifier wait in sessionStorage during the
// round trip; the access and id tokens are kept in sessionStorage (one
// tab, gone with it), never in localStorage or a cookie. The callback
// checks state and iss (RFC 9207) and the id_token's iss, aud and nonce;
// its signature is not checked, as OpenID Connect Core §3.1.3.7 allows
// for an id_token received directly from the token endpoint over TLS.
// Sign-out revokes the access token (RFC 7009) and goes through the
// provider's end-session endpoint (RP-Initiated Logout) back to /admin/.
//
// # Pages
//
// A dashboard (logins, token issuance and failures over the last hour,
// drawn as SVG from GET /admin/api/v1/stats), tenants, applications
// (every setting of contract §1 and §8; a secret is shown once),
// users, sessions, signing keys and the audit log, in English and
// Chinese (assets/i18n.json holds every string), usable with the
// keyboard alone.
package console
