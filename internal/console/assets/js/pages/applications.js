// Applications: the list, and the form with every setting of contract §1
// and §8. A confidential application's secret is shown once, when it is
// created or rotated.

import { api, query } from '../api.js';
import {
  h, add, link, field, checkGroup, checkedValues, lines, table, badge, yesNo, toast, confirmDialog, secretDialog,
  showFormError, clearErrors, submitting, numberOrUndefined, notice, errorText,
} from '../ui.js';
import { t, fmtDuration, fmtTime } from '../i18n.js';
import { PAGE, pageHead, tenantURL, tenantAPI, searchForm, searchInput, pager, secondsHint } from './common.js';

const CONSOLE_APP = 'sesame-console';
const GRANTS = ['authorization_code', 'refresh_token', 'client_credentials'];
const ALGS = ['RS256', 'RS512', 'ES256', 'EdDSA'];

export async function applicationsList(ctx, root) {
  const tenant = ctx.tenant;
  const q = ctx.query.get('q') || '';
  const list = await api('GET', tenantAPI(tenant, 'applications') + query({ q, cursor: ctx.query.get('cursor'), limit: PAGE }));
  add(root, 
    pageHead(ctx, t('apps.title'), link(tenantURL(tenant, 'applications', 'new'), t('apps.new'), { class: 'button', id: 'new-application' })),
    h('p', { class: 'hint' }, t('apps.intro', { tenant })),
    searchForm(ctx, [{ name: 'q', label: t('apps.search'), control: searchInput('q', q) }]),
    table({
      id: 'applications-table',
      caption: t('apps.caption', { tenant }),
      columns: [t('apps.client_id'), t('apps.name'), t('apps.type'), t('apps.grant_types'), t('apps.session_auto_refresh_short'), t('apps.device_binding_short'), t('apps.id_token_alg')],
      rows: list.items.map((a) => [
        link(tenantURL(tenant, 'applications', a.client_id), a.client_id),
        a.name,
        a.public ? badge(t('apps.public')) : badge(t('apps.confidential'), 'ok'),
        a.grant_types.length ? a.grant_types.join(', ') : '—',
        yesNo(a.session_auto_refresh),
        yesNo(a.device_binding),
        a.id_token_alg,
      ]),
    }),
    pager(ctx, list.next_cursor));
}

// applicationForm creates an application (…/applications/new) or edits
// one. At creation, a number left empty takes the contract §8 default.
export async function applicationForm(ctx, root) {
  const tenant = ctx.tenant;
  const clientID = ctx.params[1];
  const creating = clientID === undefined;
  const a = creating ? null : await api('GET', tenantAPI(tenant, 'applications', clientID));
  const builtIn = a && tenant === 'system' && a.client_id === CONSOLE_APP;

  const seconds = (label, name, value, hint, min = 0) => {
    const f = field({ label, name, type: 'number', value, hint, attrs: { min, step: 1, inputmode: 'numeric', placeholder: creating ? t('apps.default') : null } });
    f.querySelector('.control').append(secondsHint(f.querySelector('input'), fmtDuration));
    return f;
  };
  const defaultOption = creating ? [['', t('apps.default')]] : [];

  const form = h('form', { class: 'settings', id: 'application-form', novalidate: true },
    h('fieldset', {},
      h('legend', {}, t('apps.general')),
      field({ label: t('apps.client_id'), name: 'client_id', value: a ? a.client_id : '', readOnly: !creating, hint: creating ? t('apps.client_id_hint') : null, attrs: { autocomplete: 'off', spellcheck: 'false' } }),
      field({ label: t('apps.name'), name: 'name', value: a ? a.name : '' }),
      creating
        ? field({ label: t('apps.public_label'), name: 'public', type: 'checkbox', value: false, hint: t('apps.public_hint') })
        : h('div', { class: 'field' }, h('span', { class: 'label' }, t('apps.type')), h('div', { class: 'control' },
          h('span', {}, a.public ? badge(t('apps.public')) : badge(t('apps.confidential'), 'ok')),
          h('span', { class: 'hint' }, a.public ? t('apps.public_hint') : t('apps.confidential_hint'))))),
    h('fieldset', {},
      h('legend', {}, t('apps.redirects')),
      field({ label: t('apps.redirect_uris'), name: 'redirect_uris', type: 'textarea', value: a ? a.redirect_uris.join('\n') : '', hint: t('apps.uris_hint') }),
      field({ label: t('apps.post_logout_redirect_uris'), name: 'post_logout_redirect_uris', type: 'textarea', value: a ? a.post_logout_redirect_uris.join('\n') : '', hint: t('apps.uris_hint') })),
    checkGroup({ legend: t('apps.grant_types'), name: 'grant_types', options: GRANTS.map((g) => [g, t('grant.' + g)]), values: a ? a.grant_types : [], hint: creating ? t('apps.grant_types_hint') : null }),
    h('fieldset', {},
      h('legend', {}, t('apps.session')),
      seconds(t('apps.session_ttl'), 'session_ttl', a?.session_ttl, t('apps.session_ttl_hint'), 1),
      field({ label: t('apps.session_auto_refresh'), name: 'session_auto_refresh', type: 'checkbox', value: a ? a.session_auto_refresh : false, hint: t('apps.session_auto_refresh_hint') }),
      seconds(t('apps.rotation_grace'), 'rotation_grace', a?.rotation_grace, t('apps.rotation_grace_hint')),
      field({ label: t('apps.device_binding'), name: 'device_binding', type: 'checkbox', value: a ? a.device_binding : true, hint: t('apps.device_binding_hint') })),
    h('fieldset', {},
      h('legend', {}, t('apps.id_token')),
      seconds(t('apps.id_token_ttl'), 'id_token_ttl', a?.id_token_ttl, t('apps.id_token_ttl_hint'), 1),
      field({ label: t('apps.id_token_alg'), name: 'id_token_alg', type: 'select', value: a ? a.id_token_alg : '', options: [...defaultOption, ...ALGS.map((x) => [x, x])] })),
    h('fieldset', {},
      h('legend', {}, t('apps.oauth_tokens')),
      seconds(t('apps.access_token_ttl'), 'access_token_ttl', a?.access_token_ttl, t('apps.access_token_ttl_hint'), 1),
      field({ label: t('apps.access_token_format'), name: 'access_token_format', type: 'select', value: a ? a.access_token_format : '', options: [...defaultOption, ['opaque', t('apps.format_opaque')], ['jwt', t('apps.format_jwt')]] }),
      seconds(t('apps.tenant_access_token_ttl'), 'tenant_access_token_ttl', a?.tenant_access_token_ttl, t('apps.tenant_access_token_ttl_hint'), 1),
      seconds(t('apps.refresh_token_ttl'), 'refresh_token_ttl', a?.refresh_token_ttl, t('apps.refresh_token_ttl_hint'))),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', id: 'save' }, creating ? t('action.create') : t('action.save')),
      link(tenantURL(tenant, 'applications'), t('action.cancel'), { class: 'button secondary' })));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const el = (name) => form.elements.namedItem(name);
    const body = {
      name: el('name').value,
      redirect_uris: lines(el('redirect_uris').value),
      post_logout_redirect_uris: lines(el('post_logout_redirect_uris').value),
      session_auto_refresh: el('session_auto_refresh').checked,
      device_binding: el('device_binding').checked,
    };
    const grants = checkedValues(form, 'grant_types');
    if (!creating || grants.length) body.grant_types = grants;
    for (const name of ['session_ttl', 'rotation_grace', 'id_token_ttl', 'access_token_ttl', 'tenant_access_token_ttl', 'refresh_token_ttl']) {
      const v = numberOrUndefined(el(name));
      if (v !== undefined) body[name] = v;
    }
    for (const name of ['id_token_alg', 'access_token_format']) {
      if (el(name).value) body[name] = el(name).value;
    }
    if (creating) {
      const id = el('client_id').value.trim();
      if (id) body.client_id = id;
      body.public = el('public').checked;
    }
    await submitting(form, async () => {
      let saved;
      try {
        saved = await api(creating ? 'POST' : 'PATCH', creating ? tenantAPI(tenant, 'applications') : tenantAPI(tenant, 'applications', clientID), body);
      } catch (err) {
        showFormError(form, err);
        return;
      }
      if (creating) {
        if (saved.client_secret) {
          await secretDialog({ title: t('apps.created_title', { id: saved.client_id }), message: t('apps.secret_message'), secret: saved.client_secret, label: t('apps.client_secret') });
        } else {
          toast(t('apps.created_title', { id: saved.client_id }));
        }
        ctx.navigate(tenantURL(tenant, 'applications', saved.client_id), null, true);
      } else {
        toast(t('common.saved'));
        ctx.reload();
      }
    });
  });

  const actions = [];
  if (!creating) {
    actions.push(link(tenantURL(tenant, 'sessions') + query({ client_id: a.client_id }), t('apps.sessions'), { class: 'button secondary', id: 'app-sessions' }));
    if (!builtIn) {
      actions.push(h('button', {
        type: 'button', class: 'secondary', id: 'rotate-secret',
        onclick: async () => {
          const ok = await confirmDialog({
            title: t('apps.rotate_title'),
            message: a.public ? t('apps.rotate_public') : t('apps.rotate_confirm'),
            confirm: t('apps.rotate'),
            danger: true,
          });
          if (!ok) return;
          try {
            const r = await api('POST', tenantAPI(tenant, 'applications', a.client_id, 'secret'));
            await secretDialog({ title: t('apps.rotated_title'), message: t('apps.secret_message'), secret: r.client_secret, label: t('apps.client_secret') });
            ctx.reload();
          } catch (err) {
            toast(errorText(err), 'error');
          }
        },
      }, t('apps.rotate')));
      actions.push(h('button', {
        type: 'button', class: 'danger', id: 'delete-application',
        onclick: async () => {
          if (!await confirmDialog({ title: t('apps.delete_title'), message: t('apps.delete_confirm', { id: a.client_id }), confirm: t('action.delete'), danger: true })) return;
          try {
            await api('DELETE', tenantAPI(tenant, 'applications', a.client_id));
            toast(t('apps.deleted', { id: a.client_id }));
            ctx.navigate(tenantURL(tenant, 'applications'));
          } catch (err) {
            toast(errorText(err), 'error');
          }
        },
      }, t('action.delete')));
    }
  }
  add(root, 
    h('p', { class: 'breadcrumb' }, link(tenantURL(tenant, 'applications'), t('apps.title')), ` · ${tenant}`),
    pageHead(ctx, creating ? t('apps.new') : (a.name || a.client_id), ...actions),
    a ? h('p', { class: 'hint' }, h('code', {}, a.client_id), ' · ', t('common.created_updated', { created: fmtTime(a.created_at), updated: fmtTime(a.updated_at) })) : null,
    builtIn ? notice(t('apps.console_note'), 'info') : null,
    form);
}
