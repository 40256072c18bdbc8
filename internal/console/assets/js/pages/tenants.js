// Tenants: the list, and one tenant's settings and policy (contract §8).

import { api, query } from '../api.js';
import { h, add, link, field, lines, table, badge, toast, confirmDialog, showFormError, clearErrors, submitting, numberOrUndefined, notice } from '../ui.js';
import { t, fmtDuration, fmtTime } from '../i18n.js';
import { PAGE, pageHead, tenantURL, tenantAPI, searchForm, searchInput, pager, secondsHint } from './common.js';

export async function tenantsList(ctx, root) {
  const q = ctx.query.get('q') || '';
  const list = await api('GET', '/tenants' + query({ q, cursor: ctx.query.get('cursor'), limit: PAGE }));
  add(root, 
    pageHead(ctx, t('tenants.title'), ctx.me.system_admin ? link('/admin/tenants/new', t('tenants.new'), { class: 'button', id: 'new-tenant' }) : null),
    searchForm(ctx, [{ name: 'q', label: t('tenants.search'), control: searchInput('q', q) }]),
    table({
      id: 'tenants-table',
      caption: t('tenants.caption'),
      columns: [t('tenants.id'), t('tenants.name'), t('tenants.edition'), t('tenants.domains'), t('tenants.language'), t('tenants.mfa'), t('tenants.manage')],
      rows: list.items.map((x) => [
        link(tenantURL(x.id), x.id),
        x.name,
        badge(x.edition.toUpperCase()),
        x.domains.join(', '),
        x.default_language,
        t('mfa.' + x.policy.mfa),
        h('span', { class: 'actions' },
          link(tenantURL(x.id, 'applications'), t('nav.applications')),
          link(tenantURL(x.id, 'users'), t('nav.users'))),
      ]),
    }),
    pager(ctx, list.next_cursor));
}

// tenantForm creates a tenant (/admin/tenants/new) or edits one. A tenant
// administrator may change the settings but not the domains or edition.
export async function tenantForm(ctx, root) {
  const id = ctx.params[0];
  const creating = id === undefined;
  const x = creating ? null : await api('GET', tenantAPI(id));
  const p = x ? x.policy : {};
  const system = ctx.me.system_admin;
  const title = creating ? t('tenants.new') : t('tenants.edit_title', { name: x.name || x.id });

  const num = (label, name, value, hint, min = 0) => {
    const f = field({ label, name, type: 'number', value, hint, apiField: 'policy.' + name, attrs: { min, step: 1, inputmode: 'numeric' } });
    return f;
  };
  const secondsField = (label, name, value, hint) => {
    const f = num(label, name, value, hint);
    const input = f.querySelector('input');
    f.querySelector('.control').append(secondsHint(input, fmtDuration));
    return f;
  };

  const form = h('form', { class: 'settings', id: 'tenant-form', novalidate: true },
    h('fieldset', {},
      h('legend', {}, t('tenants.general')),
      field({ label: t('tenants.id'), name: 'id', value: x ? x.id : '', readOnly: !creating, required: creating, hint: creating ? t('tenants.id_hint') : null }),
      field({ label: t('tenants.name'), name: 'name', value: x ? x.name : '' }),
      field({ label: t('tenants.edition'), name: 'edition', type: 'select', value: x ? x.edition : 'eiam', readOnly: !creating && !system, options: [['eiam', 'EIAM'], ['ciam', 'CIAM']], hint: t('tenants.edition_hint') }),
      field({ label: t('tenants.language'), name: 'default_language', type: 'select', value: x ? x.default_language : 'en', options: [['en', 'English'], ['zh', '中文']] }),
      field({ label: t('tenants.domains'), name: 'domains', type: 'textarea', value: x ? x.domains.join('\n') : '', readOnly: !system, required: creating, hint: t('tenants.domains_hint') })),
    h('fieldset', {},
      h('legend', {}, t('tenants.policy')),
      num(t('policy.lockout_threshold'), 'lockout_threshold', p.lockout_threshold, t('policy.lockout_threshold_hint'), 1),
      secondsField(t('policy.lockout_window'), 'lockout_window', p.lockout_window, t('hint.seconds')),
      secondsField(t('policy.lockout_duration'), 'lockout_duration', p.lockout_duration, t('hint.seconds')),
      secondsField(t('policy.password_max_age'), 'password_max_age', p.password_max_age, t('policy.password_max_age_hint')),
      secondsField(t('policy.password_warn_before'), 'password_warn_before', p.password_warn_before, t('hint.seconds')),
      num(t('policy.password_min_length'), 'password_min_length', p.password_min_length, null, 1),
      num(t('policy.password_max_length'), 'password_max_length', p.password_max_length, null, 1),
      field({ label: t('policy.mfa'), name: 'mfa', apiField: 'policy.mfa', type: 'select', value: p.mfa || 'off', options: [['off', t('mfa.off')], ['optional', t('mfa.optional')], ['required', t('mfa.required')]] })),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', id: 'save' }, creating ? t('action.create') : t('action.save')),
      link('/admin/tenants', t('action.cancel'), { class: 'button secondary' })));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const el = (name) => form.elements.namedItem(name);
    const policy = {};
    for (const name of ['lockout_threshold', 'lockout_window', 'lockout_duration', 'password_max_age', 'password_warn_before', 'password_min_length', 'password_max_length']) {
      const v = numberOrUndefined(el(name));
      if (v !== undefined) policy[name] = v;
    }
    policy.mfa = el('mfa').value;
    const body = { name: el('name').value, default_language: el('default_language').value, policy };
    if (creating) body.id = el('id').value.trim();
    if (creating || system) {
      body.edition = el('edition').value;
      body.domains = lines(el('domains').value);
    }
    await submitting(form, async () => {
      try {
        const saved = await api(creating ? 'POST' : 'PATCH', creating ? '/tenants' : tenantAPI(id), body);
        ctx.invalidateTenants();
        toast(creating ? t('tenants.created', { id: saved.id }) : t('common.saved'));
        ctx.navigate(tenantURL(saved.id), null, creating);
      } catch (err) {
        showFormError(form, err);
      }
    });
  });

  const actions = [];
  if (!creating) {
    actions.push(link(tenantURL(id, 'applications'), t('nav.applications'), { class: 'button secondary' }));
    actions.push(link(tenantURL(id, 'users'), t('nav.users'), { class: 'button secondary' }));
    if (system && id !== 'system') {
      actions.push(h('button', {
        type: 'button', class: 'danger', id: 'delete-tenant',
        onclick: async () => {
          if (!await confirmDialog({ title: t('tenants.delete_title'), message: t('tenants.delete_confirm', { id }), confirm: t('action.delete'), danger: true })) return;
          try {
            await api('DELETE', tenantAPI(id));
            ctx.invalidateTenants();
            toast(t('tenants.deleted', { id }));
            ctx.navigate('/admin/tenants');
          } catch (err) {
            toast(err.message, 'error');
          }
        },
      }, t('action.delete')));
    }
  }
  add(root, 
    h('p', { class: 'breadcrumb' }, link('/admin/tenants', t('nav.tenants'))),
    pageHead(ctx, title, ...actions),
    x ? h('p', { class: 'hint' }, t('common.created_updated', { created: fmtTime(x.created_at), updated: fmtTime(x.updated_at) })) : null,
    !system && !creating ? notice(t('tenants.tenant_admin_note'), 'info') : null,
    form);
}
