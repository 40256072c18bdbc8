// Users: the list, creation, and one user's profile, status, lock,
// password, second factor and sessions.

import { api, query } from '../api.js';
import {
  h, add, link, field, table, badge, toast, confirmDialog, secretDialog, showFormError, clearErrors, submitting, notice, errorText,
} from '../ui.js';
import { t, fmtTime, fmtNumber } from '../i18n.js';
import { PAGE, pageHead, tenantURL, tenantAPI, searchForm, searchInput, pager } from './common.js';

function statusBadge(u) {
  return [
    u.status === 'active' ? badge(t('users.active'), 'ok') : badge(t('users.disabled'), 'danger'),
    u.locked ? [' ', badge(t('users.locked'), 'warn')] : null,
  ];
}

export async function usersList(ctx, root) {
  const tenant = ctx.tenant;
  const q = ctx.query.get('q') || '';
  const status = ctx.query.get('status') || '';
  const list = await api('GET', tenantAPI(tenant, 'users') + query({ q, status, cursor: ctx.query.get('cursor'), limit: PAGE }));
  const statusSelect = h('select', { name: 'status' },
    [['', t('users.any_status')], ['active', t('users.active')], ['disabled', t('users.disabled')]].map(([v, text]) => h('option', { value: v, selected: v === status }, text)));
  add(root, 
    pageHead(ctx, t('users.title'), link(tenantURL(tenant, 'users', 'new'), t('users.new'), { class: 'button', id: 'new-user' })),
    searchForm(ctx, [
      { name: 'q', label: t('users.search'), control: searchInput('q', q) },
      { name: 'status', label: t('users.status'), control: statusSelect },
    ]),
    table({
      id: 'users-table',
      caption: t('users.caption', { tenant }),
      columns: [t('users.username'), t('users.name'), t('users.email'), t('users.mobile'), t('users.status'), t('users.created')],
      rows: list.items.map((u) => [
        link(tenantURL(tenant, 'users', u.id), u.username),
        u.name, u.email, u.mobile,
        statusBadge(u),
        fmtTime(u.created_at),
      ]),
    }),
    pager(ctx, list.next_cursor));
}

export async function userNew(ctx, root) {
  const tenant = ctx.tenant;
  const form = h('form', { class: 'settings', id: 'user-form', novalidate: true },
    h('fieldset', {},
      h('legend', {}, t('users.profile')),
      field({ label: t('users.username'), name: 'username', required: true, hint: t('users.username_hint'), attrs: { autocomplete: 'off', spellcheck: 'false' } }),
      field({ label: t('users.name'), name: 'name' }),
      field({ label: t('users.email'), name: 'email', type: 'email' }),
      field({ label: t('users.mobile'), name: 'mobile', type: 'tel' }),
      field({ label: t('users.password'), name: 'password', type: 'password', hint: t('users.password_new_hint'), attrs: { autocomplete: 'new-password' } })),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', id: 'save' }, t('action.create')),
      link(tenantURL(tenant, 'users'), t('action.cancel'), { class: 'button secondary' })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const el = (name) => form.elements.namedItem(name);
    const body = { username: el('username').value.trim(), name: el('name').value, email: el('email').value.trim(), mobile: el('mobile').value.trim() };
    if (el('password').value) body.password = el('password').value;
    await submitting(form, async () => {
      try {
        const u = await api('POST', tenantAPI(tenant, 'users'), body);
        toast(t('users.created', { name: u.username }));
        ctx.navigate(tenantURL(tenant, 'users', u.id), null, true);
      } catch (err) {
        showFormError(form, err);
      }
    });
  });
  add(root, 
    h('p', { class: 'breadcrumb' }, link(tenantURL(tenant, 'users'), t('users.title')), ` · ${tenant}`),
    pageHead(ctx, t('users.new')),
    form);
}

export async function userPage(ctx, root) {
  const tenant = ctx.tenant;
  const id = ctx.params[1];
  const u = await api('GET', tenantAPI(tenant, 'users', id));
  const act = (what, fn) => async () => {
    try {
      await fn();
      ctx.reload();
    } catch (err) {
      toast(errorText(err), 'error');
    }
    return what;
  };

  // Profile.
  const profile = h('form', { class: 'settings', id: 'user-form', novalidate: true },
    h('fieldset', {},
      h('legend', {}, t('users.profile')),
      field({ label: t('users.username'), name: 'username', value: u.username, readOnly: true, hint: t('users.username_fixed') }),
      field({ label: t('users.name'), name: 'name', value: u.name }),
      field({ label: t('users.email'), name: 'email', type: 'email', value: u.email }),
      field({ label: t('users.mobile'), name: 'mobile', type: 'tel', value: u.mobile }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', id: 'save' }, t('action.save')))));
  profile.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(profile);
    const el = (name) => profile.elements.namedItem(name);
    await submitting(profile, async () => {
      try {
        await api('PATCH', tenantAPI(tenant, 'users', id), { name: el('name').value, email: el('email').value.trim(), mobile: el('mobile').value.trim() });
        toast(t('common.saved'));
        ctx.reload();
      } catch (err) {
        showFormError(profile, err);
      }
    });
  });

  // Status and lock.
  const disabling = u.status === 'active';
  const statusPanel = h('section', { class: 'panel narrow', 'aria-labelledby': 'status-heading' },
    h('h2', { id: 'status-heading' }, t('users.status')),
    h('dl', { class: 'facts' },
      h('dt', {}, t('users.status')), h('dd', { id: 'user-status' }, statusBadge(u)),
      h('dt', {}, t('users.failed_logins')), h('dd', {}, fmtNumber(u.failed_logins)),
      u.locked ? [h('dt', {}, t('users.locked_until')), h('dd', {}, fmtTime(u.locked_until))] : null,
      h('dt', {}, t('users.password_changed')), h('dd', {}, u.password_set ? fmtTime(u.password_changed_at) : t('users.no_password')),
      h('dt', {}, t('users.created')), h('dd', {}, fmtTime(u.created_at))),
    h('div', { class: 'form-actions' },
      h('button', {
        type: 'button', class: disabling ? 'danger' : null, id: 'toggle-status',
        onclick: async () => {
          if (disabling && !await confirmDialog({ title: t('users.disable_title'), message: t('users.disable_confirm', { name: u.username }), confirm: t('users.disable'), danger: true })) return;
          await act('status', async () => {
            await api('POST', tenantAPI(tenant, 'users', id, disabling ? 'disable' : 'enable'));
            toast(disabling ? t('users.disabled_done') : t('users.enabled_done'));
          })();
        },
      }, disabling ? t('users.disable') : t('users.enable')),
      u.locked || u.failed_logins > 0
        ? h('button', {
          type: 'button', class: 'secondary', id: 'unlock',
          onclick: act('unlock', async () => {
            await api('POST', tenantAPI(tenant, 'users', id, 'unlock'));
            toast(t('users.unlocked'));
          }),
        }, t('users.unlock'))
        : null));

  // Password.
  const pwForm = h('form', { class: 'settings', id: 'password-form', novalidate: true },
    field({ label: t('users.new_password'), name: 'password', type: 'password', required: true, attrs: { autocomplete: 'new-password' } }),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', id: 'set-password' }, t('users.set_password')),
      h('button', {
        type: 'button', class: 'secondary', id: 'reset-password',
        onclick: async () => {
          if (!await confirmDialog({ title: t('users.reset_title'), message: t('users.reset_confirm', { name: u.username }), confirm: t('users.reset_password') })) return;
          try {
            const r = await api('POST', tenantAPI(tenant, 'users', id, 'password', 'reset'));
            await secretDialog({ title: t('users.reset_done_title'), message: t('users.reset_done', { name: u.username }), secret: r.password, label: t('users.password') });
            ctx.reload();
          } catch (err) {
            toast(errorText(err), 'error');
          }
        },
      }, t('users.reset_password'))));
  pwForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(pwForm);
    await submitting(pwForm, async () => {
      try {
        await api('PUT', tenantAPI(tenant, 'users', id, 'password'), { password: pwForm.elements.namedItem('password').value });
        toast(t('users.password_set'));
        ctx.reload();
      } catch (err) {
        showFormError(pwForm, err);
      }
    });
  });
  const pwPanel = h('section', { class: 'panel narrow', 'aria-labelledby': 'password-heading' },
    h('h2', { id: 'password-heading' }, t('users.password')),
    h('p', { class: 'hint' }, t('users.password_hint')),
    pwForm);

  // Second factor: shown as the API reports it; the reset is offered only
  // when there is something to remove.
  const mfaPanel = h('section', { class: 'panel narrow', 'aria-labelledby': 'mfa-heading' },
    h('h2', { id: 'mfa-heading' }, t('users.mfa')),
    h('p', { class: 'hint' }, t('users.mfa_hint')),
    h('dl', { class: 'facts' },
      h('dt', {}, t('users.mfa_status')),
      h('dd', { id: 'user-mfa' }, u.mfa_enrolled ? badge(t('users.mfa_enrolled'), 'ok') : t('users.mfa_none'))),
    u.mfa_enrolled
      ? h('div', { class: 'form-actions' },
        h('button', {
          type: 'button', class: 'danger', id: 'reset-mfa',
          onclick: async () => {
            if (!await confirmDialog({ title: t('users.reset_mfa_title'), message: t('users.reset_mfa_confirm', { name: u.username }), confirm: t('users.reset_mfa'), danger: true })) return;
            await act('mfa', async () => {
              await api('DELETE', tenantAPI(tenant, 'users', id, 'mfa'));
              toast(t('users.mfa_reset_done'));
            })();
          },
        }, t('users.reset_mfa')))
      : null);

  // Sessions.
  const sessionsPanel = h('section', { class: 'panel narrow', 'aria-labelledby': 'sessions-heading' },
    h('h2', { id: 'sessions-heading' }, t('nav.sessions')),
    h('p', { class: 'hint' }, t('users.sessions_hint')),
    h('div', { class: 'form-actions' },
      link(tenantURL(tenant, 'sessions') + query({ user_id: id }), t('users.show_sessions'), { class: 'button secondary', id: 'user-sessions' }),
      h('button', {
        type: 'button', class: 'danger', id: 'revoke-all',
        onclick: async () => {
          if (!await confirmDialog({ title: t('sessions.revoke_all_title'), message: t('sessions.revoke_all_confirm', { name: u.username }), confirm: t('sessions.revoke_all'), danger: true })) return;
          try {
            const r = await api('DELETE', tenantAPI(tenant, 'users', id, 'sessions'));
            toast(t('sessions.revoked_n', { n: r.revoked }));
          } catch (err) {
            toast(errorText(err), 'error');
          }
        },
      }, t('sessions.revoke_all'))));

  add(root, 
    h('p', { class: 'breadcrumb' }, link(tenantURL(tenant, 'users'), t('users.title')), ` · ${tenant}`),
    pageHead(ctx, u.name ? `${u.name} (${u.username})` : u.username),
    u.status !== 'active' ? notice(t('users.disabled_note'), 'warn') : null,
    profile, statusPanel, pwPanel, mfaPanel, sessionsPanel);
}
