// Sessions: a tenant's live sessions, by user and/or application; revoke
// one, or all of a user.

import { api, query } from '../api.js';
import { h, add, link, table, toast, confirmDialog, errorText, badge } from '../ui.js';
import { t, fmtTime } from '../i18n.js';
import { PAGE, pageHead, tenantURL, tenantAPI, searchForm, searchInput, pager } from './common.js';

export async function sessionsList(ctx, root) {
  const tenant = ctx.tenant;
  const userID = ctx.query.get('user_id') || '';
  const clientID = ctx.query.get('client_id') || '';
  const list = await api('GET', tenantAPI(tenant, 'sessions') + query({ user_id: userID, client_id: clientID, cursor: ctx.query.get('cursor'), limit: PAGE }));

  // The sessions name users by id: look up their user names, once each.
  const names = new Map();
  await Promise.all([...new Set(list.items.map((s) => s.user_id))].map(async (id) => {
    try {
      names.set(id, (await api('GET', tenantAPI(tenant, 'users', id))).username);
    } catch {
      // A user removed meanwhile: the id is shown.
    }
  }));
  const who = names.get(userID) || userID;

  const revoke = (s) => async () => {
    const ok = await confirmDialog({
      title: t('sessions.revoke_title'),
      message: t('sessions.revoke_confirm', { user: names.get(s.user_id) || s.user_id, app: s.client_id }),
      confirm: t('sessions.revoke'),
      danger: true,
    });
    if (!ok) return;
    try {
      await api('DELETE', tenantAPI(tenant, 'sessions', s.id));
      toast(t('sessions.revoked'));
      ctx.reload();
    } catch (err) {
      toast(errorText(err), 'error');
    }
  };

  const actions = [];
  if (userID) {
    actions.push(h('button', {
      type: 'button', class: 'danger', id: 'revoke-all',
      onclick: async () => {
        if (!await confirmDialog({ title: t('sessions.revoke_all_title'), message: t('sessions.revoke_all_confirm', { name: who }), confirm: t('sessions.revoke_all'), danger: true })) return;
        try {
          const r = await api('DELETE', tenantAPI(tenant, 'users', userID, 'sessions'));
          toast(t('sessions.revoked_n', { n: r.revoked }));
          ctx.reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      },
    }, t('sessions.revoke_all')));
  }

  const caption = userID || clientID
    ? t('sessions.caption_filtered', { tenant, user: who || '—', app: clientID || '—' })
    : t('sessions.caption', { tenant });
  add(root, 
    pageHead(ctx, t('sessions.title'), ...actions),
    h('p', { class: 'hint' }, t('sessions.intro')),
    searchForm(ctx, [
      { name: 'user_id', label: t('sessions.user_id'), control: searchInput('user_id', userID) },
      { name: 'client_id', label: t('sessions.client_id'), control: searchInput('client_id', clientID) },
    ]),
    table({
      id: 'sessions-table',
      caption,
      columns: [t('sessions.user'), t('sessions.application'), t('sessions.device'), t('sessions.ip'), t('sessions.created'), t('sessions.expires'), t('sessions.rotated'), t('sessions.actions')],
      rows: list.items.map((s) => [
        link(tenantURL(tenant, 'users', s.user_id), names.get(s.user_id) || s.user_id),
        link(tenantURL(tenant, 'applications', s.client_id), s.client_id),
        [h('code', {}, s.device.fingerprint), s.device.os_version || s.device.agent ? h('div', { class: 'hint' }, [s.device.os_version, s.device.agent].filter(Boolean).join(' · ')) : null],
        s.device.ip,
        fmtTime(s.created_at),
        fmtTime(s.expires_at),
        s.rotated_at ? fmtTime(s.rotated_at) : badge(t('common.never')),
        h('button', {
          type: 'button', class: 'danger small', dataset: { session: s.id, client: s.client_id },
          'aria-label': t('sessions.revoke_label', { user: names.get(s.user_id) || s.user_id, app: s.client_id }),
          onclick: revoke(s),
        }, t('sessions.revoke')),
      ]),
    }),
    pager(ctx, list.next_cursor));
}
