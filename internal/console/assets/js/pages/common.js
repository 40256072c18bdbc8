// What the pages share: headings, search forms, cursor pagination, URLs.

import { h } from '../ui.js';
import { t } from '../i18n.js';

// PAGE is the number of rows a list shows at once.
export const PAGE = 20;

// pageHead is a page's heading (the focus target after navigation) with
// its actions; it also names the browser tab.
export function pageHead(ctx, title, ...actions) {
  ctx.setTitle(title);
  return h('div', { class: 'page-head' }, h('h1', { tabindex: '-1', id: 'page-title' }, title), h('div', { class: 'actions' }, actions));
}

export function enc(s) { return encodeURIComponent(s); }

// tenantURL is a console page of a tenant.
export function tenantURL(tenant, ...rest) {
  return ['/admin/tenants', tenant, ...rest].map((s, i) => (i === 0 ? s : enc(s))).join('/');
}

// tenantAPI is an admin API path of a tenant.
export function tenantAPI(tenant, ...rest) {
  return ['/tenants', tenant, ...rest].map((s, i) => (i === 0 ? s : enc(s))).join('/');
}

// withQuery is the current page with some query parameters changed; an
// empty value removes one.
export function withQuery(changes) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  return location.pathname + (s ? '?' + s : '');
}

// searchForm is a list's filter form: submitting (Enter in any field, or
// the button) shows the first page of the filtered list.
export function searchForm(ctx, fields, id = 'search-form') {
  const form = h('form', { class: 'search', role: 'search', id },
    fields.map((f) => h('label', {}, f.label, f.control)),
    h('button', { type: 'submit', id: id + '-submit' }, t('action.search')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const changes = { cursor: '' };
    for (const f of fields) changes[f.name] = f.read ? f.read(f.control) : f.control.value.trim();
    ctx.navigate(withQuery(changes));
  });
  return form;
}

// searchInput is the usual free-text filter.
export function searchInput(name, value) {
  return h('input', { type: 'search', name, value: value || '', autocomplete: 'off' });
}

// pager links the pages of a cursor-paginated list. The cursors of the
// pages before this one ride in the history entry's state, so Previous
// works; Back works anyway, each page being a history entry.
export function pager(ctx, nextCursor) {
  const cursors = (history.state && Array.isArray(history.state.cursors)) ? history.state.cursors : [];
  const current = ctx.query.get('cursor') || '';
  const go = (cursor, stack) => (e) => {
    e.preventDefault();
    ctx.navigate(withQuery({ cursor }), { cursors: stack });
  };
  const items = [];
  if (current) {
    const prev = cursors.length ? cursors[cursors.length - 1] : '';
    items.push(h('a', { class: 'button secondary small', href: withQuery({ cursor: '' }), id: 'page-first', onclick: go('', []) }, t('list.first')));
    items.push(h('a', { class: 'button secondary small', href: withQuery({ cursor: prev }), id: 'page-prev', onclick: go(prev, cursors.slice(0, -1)) }, t('list.previous')));
  }
  if (nextCursor) {
    items.push(h('a', { class: 'button secondary small', href: withQuery({ cursor: nextCursor }), id: 'page-next', rel: 'next', onclick: go(nextCursor, [...cursors, current]) }, t('list.next')));
  }
  return items.length ? h('nav', { class: 'pager', 'aria-label': t('list.pages') }, items) : null;
}

// seconds is a number input for a duration in seconds, with the duration
// in words beside it.
export function secondsHint(input, describe) {
  const out = h('span', { class: 'hint', 'aria-live': 'polite' });
  const update = () => {
    const v = input.value.trim();
    out.textContent = v === '' ? '' : describe(Number(v));
  };
  input.addEventListener('input', update);
  update();
  return out;
}
