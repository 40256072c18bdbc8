// The admin API client: JSON over fetch, on this origin, with the
// console's bearer access token. Cookies are never sent: the API
// authenticates by token only.

import { accessToken, forget } from './auth.js';

export const API = '/admin/api/v1';

// ApiError is an error answer of the admin API:
// {"error":{"code","field","message"}}.
export class ApiError extends Error {
  constructor(status, code, field, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || 'http_' + status;
    this.field = field || '';
  }
}

// AuthRequired means there is no usable token: sign in (again).
export class AuthRequired extends Error {}

export async function api(method, path, body) {
  const token = accessToken();
  if (!token) throw new AuthRequired();
  const headers = { Authorization: 'Bearer ' + token, Accept: 'application/json' };
  const init = { method, headers, credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch (err) {
    throw new ApiError(0, 'network', '', err.message);
  }
  if (res.status === 401) {
    // Expired, revoked, or the user was disabled: this token is dead.
    forget();
    throw new AuthRequired();
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code, e.field, e.message);
  }
  return data;
}

// path joins path segments, each escaped.
export function path(...segments) {
  return segments.map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join('/');
}

// query builds "?a=b&..." from the members that are set.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}
