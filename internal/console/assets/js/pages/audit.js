// Audit log: events newest first, filtered by tenant, type, actor and
// time; cursor pages that stay stable while events arrive.

import { api, query } from '../api.js';
import { h, add, table, newId } from '../ui.js';
import { t, fmtShortTime } from '../i18n.js';
import { PAGE, pageHead, searchForm, searchInput, pager } from './common.js';

// The event types Sesame records (README, "Audit log"); the type filter
// suggests them but takes any text.
const TYPES = [
  'login.success', 'login.failure', 'login.lockout', 'token.issued', 'token.revoked', 'session.rotated', 'session.revoked',
  'mfa.enrolled', 'mfa.disabled', 'mfa.recovery_code_used',
  'admin.tenant.create', 'admin.tenant.update', 'admin.tenant.delete',
  'admin.application.create', 'admin.application.update', 'admin.application.delete', 'admin.application.rotate_secret',
  'admin.user.create', 'admin.user.update', 'admin.user.disable', 'admin.user.enable', 'admin.user.unlock',
  'admin.user.set_password', 'admin.user.reset_password', 'admin.user.reset_mfa',
  'admin.session.revoke', 'admin.session.revoke_all', 'admin.keys.rotate', 'admin.role.set', 'admin.role.delete',
];

// toLocalInput turns an RFC 3339 time into a datetime-local value.
function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// fromLocalInput turns a datetime-local value (the browser's time zone)
// into RFC 3339 UTC.
function fromLocalInput(v) {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export async function auditPage(ctx, root) {
  const f = Object.fromEntries(['tenant', 'type', 'actor', 'since', 'until'].map((k) => [k, ctx.query.get(k) || '']));
  const list = await api('GET', '/audit' + query({ ...f, cursor: ctx.query.get('cursor'), limit: PAGE }));

  const tenantSelect = h('select', { name: 'tenant' },
    h('option', { value: '' }, ctx.me.system_admin ? t('dashboard.all_tenants') : t('dashboard.my_tenants')),
    ctx.tenants.map((x) => h('option', { value: x.id, selected: x.id === f.tenant }, x.id)));
  const listId = newId('types');
  const typeInput = searchInput('type', f.type);
  typeInput.setAttribute('list', listId);
  const since = h('input', { type: 'datetime-local', name: 'since', value: toLocalInput(f.since) });
  const until = h('input', { type: 'datetime-local', name: 'until', value: toLocalInput(f.until) });

  add(root, 
    pageHead(ctx, t('audit.title')),
    h('p', { class: 'hint' }, t('audit.intro')),
    h('datalist', { id: listId }, TYPES.map((x) => h('option', { value: x }))),
    searchForm(ctx, [
      { name: 'tenant', label: t('audit.tenant'), control: tenantSelect },
      { name: 'type', label: t('audit.type'), control: typeInput },
      { name: 'actor', label: t('audit.actor'), control: searchInput('actor', f.actor) },
      { name: 'since', label: t('audit.since'), control: since, read: (c) => fromLocalInput(c.value) },
      { name: 'until', label: t('audit.until'), control: until, read: (c) => fromLocalInput(c.value) },
    ], 'audit-filters'),
    table({
      id: 'audit-table',
      caption: t('audit.caption'),
      columns: [t('audit.time'), t('audit.tenant'), t('audit.type'), t('audit.actor'), t('audit.target'), t('audit.source_ip'), t('audit.details')],
      rows: list.items.map((e) => [
        h('time', { datetime: e.time }, fmtShortTime(e.time)),
        e.tenant_id,
        h('code', {}, e.type),
        [h('code', { class: 'id' }, e.actor_id), e.actor_tenant_id && e.actor_tenant_id !== e.tenant_id ? h('div', { class: 'hint' }, e.actor_tenant_id) : null],
        h('code', { class: 'id' }, e.target),
        e.source_ip,
        Object.keys(e.details).length
          ? h('ul', { class: 'details' }, Object.entries(e.details).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => h('li', {}, `${k}: ${v}`)))
          : '',
      ]),
    }),
    pager(ctx, list.next_cursor));
}
