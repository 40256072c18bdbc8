// The console's entry point: sign-in state, navigation, and the page
// router (History API: every /admin/ path serves the same page).

import { loadStrings, initialLang, setLang, getLang, t, translateStatic } from './i18n.js';
import * as auth from './auth.js';
import { api, AuthRequired } from './api.js';
import { h, add, link, notice, errorText } from './ui.js';
import { dashboard } from './pages/dashboard.js';
import { tenantsList, tenantForm } from './pages/tenants.js';
import { applicationsList, applicationForm } from './pages/applications.js';
import { usersList, userNew, userPage } from './pages/users.js';
import { sessionsList } from './pages/sessions.js';
import { keysPage } from './pages/keys.js';
import { auditPage } from './pages/audit.js';

const main = document.getElementById('main');
const nav = document.getElementById('sidenav');
const signOutButton = document.getElementById('sign-out');
const whoami = document.getElementById('whoami');

const TENANT_KEY = 'sesame.console.tenant';

// Routes: a path pattern (its groups are the parameters), the page, and
// the navigation entry it belongs to.
const routes = [
  { re: /^\/admin\/?$/, page: dashboard, nav: 'dashboard' },
  { re: /^\/admin\/tenants$/, page: tenantsList, nav: 'tenants' },
  { re: /^\/admin\/tenants\/new$/, page: tenantForm, nav: 'tenants' },
  { re: /^\/admin\/tenants\/([^/]+)$/, page: tenantForm, nav: 'tenants', tenant: 0 },
  { re: /^\/admin\/tenants\/([^/]+)\/applications$/, page: applicationsList, nav: 'applications', tenant: 0 },
  { re: /^\/admin\/tenants\/([^/]+)\/applications\/new$/, page: applicationForm, nav: 'applications', tenant: 0 },
  { re: /^\/admin\/tenants\/([^/]+)\/applications\/([^/]+)$/, page: applicationForm, nav: 'applications', tenant: 0 },
  { re: /^\/admin\/tenants\/([^/]+)\/users$/, page: usersList, nav: 'users', tenant: 0 },
  { re: /^\/admin\/tenants\/([^/]+)\/users\/new$/, page: userNew, nav: 'users', tenant: 0 },
  { re: /^\/admin\/tenants\/([^/]+)\/users\/([^/]+)$/, page: userPage, nav: 'users', tenant: 0 },
  { re: /^\/admin\/tenants\/([^/]+)\/sessions$/, page: sessionsList, nav: 'sessions', tenant: 0 },
  { re: /^\/admin\/tenants\/([^/]+)\/keys$/, page: keysPage, nav: 'keys', tenant: 0 },
  { re: /^\/admin\/audit$/, page: auditPage, nav: 'audit' },
];

let me = null; // GET /me: who is signed in
let tenantChoices = null; // tenants for the picker (first page)
let generation = 0; // each render's number: slower, older renders give way
let leaving = []; // what to stop when the page changes (timers)

function match(path) {
  for (const r of routes) {
    const m = r.re.exec(path);
    if (m) {
      try {
        return { route: r, params: m.slice(1).map(decodeURIComponent) };
      } catch {
        return null; // a malformed escape
      }
    }
  }
  return null;
}

export function navigate(url, state = null, replace = false) {
  if (replace) history.replaceState(state, '', url);
  else history.pushState(state, '', url);
  render();
}

async function loadTenantChoices() {
  if (tenantChoices) return tenantChoices;
  const list = await api('GET', '/tenants?limit=200');
  tenantChoices = list.items;
  return tenantChoices;
}

// currentTenant is the tenant of the page, else the one chosen last in
// this tab, else the first the administrator manages (not the system
// tenant, unless it is the only one).
function currentTenant(fromPath) {
  if (fromPath) {
    sessionStorage.setItem(TENANT_KEY, fromPath);
    return fromPath;
  }
  const saved = sessionStorage.getItem(TENANT_KEY);
  const ids = (tenantChoices || []).map((x) => x.id);
  if (saved && (ids.includes(saved) || me?.tenants?.includes(saved))) return saved;
  return ids.find((id) => id !== 'system') || ids[0] || me?.tenants?.[0] || '';
}

function tenantLabel(x) {
  return x.id === 'system' ? t('tenant.system_label') : `${x.name || x.id} (${x.id})`;
}

function renderNav(active, tenant) {
  const item = (key, href, text) => h('li', {}, link(href, text, { 'aria-current': key === active ? 'page' : null, id: 'nav-' + key }));
  const tenantHref = (section) => `/admin/tenants/${encodeURIComponent(tenant)}/${section}`;
  const picker = h('select', {
    id: 'tenant-picker',
    onchange: (e) => {
      const next = e.target.value;
      sessionStorage.setItem(TENANT_KEY, next);
      const section = ['applications', 'users', 'sessions', 'keys'].includes(active) ? active : 'applications';
      navigate(`/admin/tenants/${encodeURIComponent(next)}/${section}`);
    },
  }, (tenantChoices || []).map((x) => h('option', { value: x.id, selected: x.id === tenant }, tenantLabel(x))));
  if (tenant && !(tenantChoices || []).some((x) => x.id === tenant)) {
    picker.append(h('option', { value: tenant, selected: true }, tenant));
  }
  nav.setAttribute('aria-label', t('nav.label'));
  nav.replaceChildren();
  add(nav,
    h('ul', {},
      item('dashboard', '/admin/', t('nav.dashboard')),
      item('tenants', '/admin/tenants', t('nav.tenants')),
      item('audit', '/admin/audit', t('nav.audit'))),
    h('p', { class: 'nav-heading', id: 'nav-tenant-heading' }, t('nav.tenant_section')),
    h('label', {}, t('nav.tenant'), picker),
    tenant
      ? h('ul', { 'aria-labelledby': 'nav-tenant-heading' },
        item('applications', tenantHref('applications'), t('nav.applications')),
        item('users', tenantHref('users'), t('nav.users')),
        item('sessions', tenantHref('sessions'), t('nav.sessions')),
        item('keys', tenantHref('keys'), t('nav.keys')))
      : null);
  nav.hidden = false;
}

// landing is what a visitor without a usable token sees: a sign-in
// button, with why (signed out, expired, an error) above it.
function showLanding(kind, err) {
  nav.hidden = true;
  signOutButton.hidden = true;
  whoami.textContent = '';
  document.title = t('landing.title');
  const messages = {
    signedout: notice(t('landing.signed_out'), 'info', 'signed-out'),
    expired: notice(t('landing.expired'), 'warn', 'expired'),
    error: notice(errorText(err), 'error', 'landing-error'),
  };
  const returnTo = kind === 'expired' ? location.pathname + location.search : '/admin/';
  const button = h('button', { type: 'button', id: 'sign-in', onclick: () => auth.signIn(returnTo).catch((e) => showLanding('error', e)) }, t('landing.sign_in'));
  main.replaceChildren(h('div', { class: 'landing' },
    h('div', { class: 'panel' },
      h('h1', { tabindex: '-1' }, t('landing.title')),
      h('p', {}, t('landing.intro')),
      messages[kind] || null,
      button)));
  button.focus();
}

function showForbidden() {
  nav.hidden = true;
  document.title = t('landing.title');
  main.replaceChildren(h('div', { class: 'landing' }, h('div', { class: 'panel' },
    h('h1', { tabindex: '-1' }, t('landing.forbidden_title')),
    notice(t('landing.forbidden'), 'error', 'forbidden'),
    h('button', { type: 'button', onclick: () => auth.signOut() }, t('signout')))));
}

async function render() {
  const gen = ++generation;
  leaving.forEach((f) => f());
  leaving = [];
  if (location.pathname === auth.CALLBACK_PATH) {
    try {
      const next = await auth.handleCallback();
      history.replaceState(null, '', next);
    } catch (err) {
      history.replaceState(null, '', '/admin/');
      if (!auth.accessToken()) {
        showLanding('error', err);
        return;
      }
      // A callback page reloaded, or opened again from the history, by a
      // tab that is signed in: its code is spent; carry on.
    }
  }
  if (!auth.accessToken()) {
    showLanding(auth.returnedFromLogout() ? 'signedout' : me ? 'expired' : null);
    me = null;
    return;
  }
  const ctx = {
    query: new URLSearchParams(location.search),
    alive: () => gen === generation,
    onLeave: (f) => leaving.push(f),
    navigate,
    reload: () => render(),
    setTitle: (s) => { document.title = `${s} · ${t('brand')}`; },
    invalidateTenants: () => { tenantChoices = null; },
  };
  const page = h('div', { class: 'page' });
  let found;
  try {
    if (!me) {
      me = await api('GET', '/me');
    }
    await loadTenantChoices();
    found = match(location.pathname);
    const tenant = currentTenant(found && found.route.tenant !== undefined ? found.params[found.route.tenant] : '');
    Object.assign(ctx, { me, tenant, tenants: tenantChoices, params: found ? found.params : [] });
    whoami.textContent = t('header.signed_in_as', { name: me.name });
    signOutButton.hidden = false;
    renderNav(found ? found.route.nav : '', tenant);
    if (found) {
      await found.route.page(ctx, page);
    } else {
      ctx.setTitle(t('notfound.title'));
      page.append(h('h1', { tabindex: '-1' }, t('notfound.title')), h('p', {}, link('/admin/', t('notfound.home'))));
    }
  } catch (err) {
    if (gen !== generation) return;
    if (err instanceof AuthRequired) {
      showLanding('expired');
      me = null;
      return;
    }
    if (err.status === 403 && !me) {
      showForbidden();
      return;
    }
    page.replaceChildren(h('h1', { tabindex: '-1' }, t('error.page_title')), notice(errorText(err), 'error', 'page-error'));
  }
  if (gen !== generation) return;
  main.replaceChildren(page);
  // The new page's heading takes the focus, so that keyboard and
  // screen-reader users start there (and hear where they are).
  (main.querySelector('h1') || main).focus();
}

// Links to console pages are followed without reloading; links opened in
// a new tab or window (modifier keys, middle button) are left alone.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/admin/') || url.pathname.startsWith('/admin/assets/') || url.pathname.startsWith('/admin/api/')) return;
  if (a.id === 'skip-link') return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

// The skip link moves the focus to the page without changing the URL.
document.getElementById('skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  (main.querySelector('h1') || main).focus();
});

window.addEventListener('popstate', () => render());

signOutButton.addEventListener('click', () => {
  signOutButton.disabled = true;
  auth.signOut().catch((err) => {
    signOutButton.disabled = false;
    showLanding('error', err);
  });
});

const langSelect = document.getElementById('lang');
langSelect.addEventListener('change', () => {
  setLang(langSelect.value);
  translateStatic();
  render();
});

async function start() {
  await loadStrings();
  setLang(initialLang());
  langSelect.value = getLang();
  translateStatic();
  await render();
}

start().catch((err) => {
  main.replaceChildren(notice(String(err && err.message ? err.message : err), 'error'));
});
