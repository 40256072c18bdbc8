// Sign-in to the console: OpenID Connect authorization code flow with
// PKCE (RFC 7636, S256) against Sesame's own provider, as a public client.
// The provider is the system tenant, which answers on this origin.

import { t, getLang } from './i18n.js';

export const CLIENT_ID = 'sesame-console';
export const CALLBACK_PATH = '/admin/callback';
const HOME_PATH = '/admin/';

// sessionStorage keys: one tab's sign-in, gone when the tab closes.
// Nothing of it goes to localStorage or a cookie.
const PENDING_KEY = 'sesame.console.pending'; // state, nonce, verifier during the round trip
const TOKEN_KEY = 'sesame.console.token'; // access token, id token, expiry
const LOGOUT_KEY = 'sesame.console.logout'; // state of a logout under way

// A token this close to its expiry is not used: a request must not fail
// half-way through a page because the token ran out.
const EXPIRY_MARGIN_MS = 30_000;

let discovery = null;

// discover reads the provider's metadata (OpenID Connect Discovery 1.0)
// from this origin, where the system tenant answers.
async function discover() {
  if (discovery) return discovery;
  const res = await fetch('/.well-known/openid-configuration', { credentials: 'omit', cache: 'no-store' });
  if (!res.ok) throw new Error(t('auth.discovery_failed'));
  const d = await res.json();
  for (const k of ['issuer', 'authorization_endpoint', 'token_endpoint']) {
    if (typeof d[k] !== 'string') throw new Error(t('auth.discovery_failed'));
  }
  discovery = d;
  return d;
}

function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(n = 32) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

// challenge is BASE64URL(SHA256(verifier)), RFC 7636 §4.2. Web Crypto
// exists only in secure contexts: https, or http on localhost.
async function challenge(verifier) {
  if (!window.isSecureContext || !crypto.subtle) throw new Error(t('auth.insecure'));
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return b64url(new Uint8Array(digest));
}

function redirectURI() { return location.origin + CALLBACK_PATH; }

// signIn sends the browser to the provider's authorization endpoint;
// returnTo is the console page to show after the sign-in.
export async function signIn(returnTo) {
  const d = await discover();
  const pending = { state: randomString(), nonce: randomString(), verifier: randomString(48), returnTo: safeReturn(returnTo) };
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectURI(),
    scope: 'openid profile',
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await challenge(pending.verifier),
    code_challenge_method: 'S256',
    ui_locales: getLang(),
  });
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  location.assign(d.authorization_endpoint + '?' + params.toString());
}

// safeReturn keeps only paths of the console itself.
function safeReturn(p) {
  return typeof p === 'string' && p.startsWith(HOME_PATH) && !p.startsWith(CALLBACK_PATH) && !p.startsWith('//') ? p : HOME_PATH;
}

function decodeJWTPayload(jwt) {
  const part = String(jwt).split('.')[1];
  if (!part) throw new Error('not a JWT');
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// handleCallback finishes the sign-in at /admin/callback: it checks the
// answer belongs to this tab's request (state; iss, RFC 9207), redeems
// the code with the verifier, and checks the id_token's iss, aud and
// nonce. The id_token came straight from the token endpoint, so its
// signature need not be checked (OpenID Connect Core §3.1.3.7). It
// returns the page to show next.
export async function handleCallback() {
  const q = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || 'null');
  sessionStorage.removeItem(PENDING_KEY); // one use, whatever happens
  if (!pending || !q.get('state') || q.get('state') !== pending.state) {
    throw new Error(t('auth.state_mismatch'));
  }
  const d = await discover();
  if (q.has('iss') && q.get('iss') !== d.issuer) throw new Error(t('auth.issuer_mismatch'));
  if (q.get('error')) {
    throw new Error(t('auth.provider_error', { error: q.get('error') }));
  }
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: q.get('code') || '',
    redirect_uri: redirectURI(),
    client_id: CLIENT_ID,
    code_verifier: pending.verifier,
  });
  const res = await fetch(d.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
    credentials: 'omit',
    cache: 'no-store',
  });
  const tok = await res.json().catch(() => ({}));
  if (!res.ok || typeof tok.access_token !== 'string') {
    throw new Error(t('auth.token_failed', { error: tok.error || res.status }));
  }
  const claims = decodeJWTPayload(tok.id_token);
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.iss !== d.issuer || !aud.includes(CLIENT_ID) || claims.nonce !== pending.nonce) {
    throw new Error(t('auth.id_token_invalid'));
  }
  const expiresIn = Number(tok.expires_in) > 0 ? Number(tok.expires_in) : 3600;
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify({
    access_token: tok.access_token,
    id_token: tok.id_token,
    expires_at: Date.now() + expiresIn * 1000,
    user: claims.userName || claims.preferred_username || claims.name || claims.sub,
  }));
  return pending.returnTo;
}

function stored() {
  try {
    return JSON.parse(sessionStorage.getItem(TOKEN_KEY) || 'null');
  } catch {
    return null;
  }
}

// accessToken returns the access token if one is usable, else null.
export function accessToken() {
  const s = stored();
  if (!s || typeof s.access_token !== 'string' || s.expires_at - EXPIRY_MARGIN_MS < Date.now()) return null;
  return s.access_token;
}

export function signedInUser() { return stored()?.user || ''; }

// forget drops the tokens of this tab (an expired or revoked token).
export function forget() { sessionStorage.removeItem(TOKEN_KEY); }

// signOut revokes the access token (RFC 7009; the console has no refresh
// token) and ends the provider's session through its end-session endpoint
// (OpenID Connect RP-Initiated Logout 1.0), which comes back to /admin/.
export async function signOut() {
  const s = stored();
  forget();
  const d = await discover();
  if (s && d.revocation_endpoint) {
    try {
      await fetch(d.revocation_endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: s.access_token, token_type_hint: 'access_token', client_id: CLIENT_ID }).toString(),
        credentials: 'omit',
      });
    } catch {
      // The token expires within the hour anyway; the logout goes on.
    }
  }
  if (!d.end_session_endpoint) {
    location.assign(HOME_PATH);
    return;
  }
  const state = randomString(16);
  sessionStorage.setItem(LOGOUT_KEY, state);
  const params = new URLSearchParams({ post_logout_redirect_uri: location.origin + HOME_PATH, state, ui_locales: getLang() });
  if (s && s.id_token) params.set('id_token_hint', s.id_token);
  location.assign(d.end_session_endpoint + '?' + params.toString());
}

// returnedFromLogout tells whether this page is the end of this tab's
// logout (its state), and forgets that logout.
export function returnedFromLogout() {
  const want = sessionStorage.getItem(LOGOUT_KEY);
  const got = new URLSearchParams(location.search).get('state');
  if (!want || got !== want) return false;
  sessionStorage.removeItem(LOGOUT_KEY);
  return true;
}
