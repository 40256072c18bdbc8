// Dashboard: logins, token issuance and failures over the last hour, per
// minute, from GET /stats (counted by the database from the audit log).

import { api, query } from '../api.js';
import { h, add, notice, errorText } from '../ui.js';
import { t, fmtNumber, fmtClock } from '../i18n.js';
import { barChart } from '../chart.js';
import { pageHead, withQuery } from './common.js';

// The charts are redrawn this often while the page is shown, in place:
// the focus stays where it is.
const REFRESH_MS = 30_000;

export async function dashboard(ctx, root) {
  const scope = ctx.query.get('tenant') || '';
  const body = h('div', { id: 'dashboard-body' });

  const draw = async () => {
    const stats = await api('GET', '/stats' + query({ tenant: scope }));
    if (!ctx.alive()) return;
    body.replaceChildren(...content(stats));
  };

  const refresh = h('button', {
    type: 'button', class: 'secondary', id: 'dashboard-refresh',
    onclick: () => draw().catch((err) => body.prepend(notice(errorText(err), 'error'))),
  }, t('action.refresh'));

  const picker = h('select', {
    id: 'dashboard-tenant',
    onchange: (e) => ctx.navigate(withQuery({ tenant: e.target.value })),
  },
  h('option', { value: '' }, ctx.me.system_admin ? t('dashboard.all_tenants') : t('dashboard.my_tenants')),
  ctx.tenants.map((x) => h('option', { value: x.id, selected: x.id === scope }, x.id === 'system' ? t('tenant.system_label') : `${x.name || x.id} (${x.id})`)));

  add(root, 
    pageHead(ctx, t('dashboard.title'), refresh),
    h('div', { class: 'search' }, h('label', {}, t('dashboard.scope'), picker)),
    body);
  await draw();
  const timer = setInterval(() => { draw().catch(() => {}); }, REFRESH_MS);
  ctx.onLeave(() => clearInterval(timer));
}

function content(stats) {
  const since = new Date(stats.since);
  const until = new Date(stats.until);
  const n = Math.max(1, Math.round((until - since) / (stats.bucket * 1000)));
  const get = (type) => stats.series.find((s) => s.type === type) || { counts: new Array(n).fill(0), total: 0 };
  const logins = get('login.success');
  const tokens = get('token.issued');
  const failures = get('login.failure');
  const lockouts = get('login.lockout');
  const rotations = get('session.rotated');
  const revocations = get('session.revoked');
  const recoveryCodes = get('mfa.recovery_code_used');
  const enrolled = get('mfa.enrolled');
  const disabled = get('mfa.disabled');
  const card = (cls, id, label, value, sub) => h('div', { class: `card ${cls}`, id },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, fmtNumber(value)),
    sub ? h('div', { class: 'sub' }, sub) : null);
  const chart = (id, title, series) => barChart({ id, title, series, since, bucket: stats.bucket });
  return [
    h('p', { class: 'hint', id: 'dashboard-window' }, t('dashboard.window', { from: fmtClock(since), to: fmtClock(until), bucket: stats.bucket / 60 })),
    h('div', { class: 'cards' },
      card('logins', 'card-logins', t('dashboard.logins'), logins.total),
      card('tokens', 'card-tokens', t('dashboard.tokens'), tokens.total),
      card('failures', 'card-failures', t('dashboard.failures'), failures.total, t('dashboard.lockouts', { n: fmtNumber(lockouts.total) })),
      card('rotations', 'card-rotations', t('dashboard.rotations'), rotations.total, t('dashboard.revocations', { n: fmtNumber(revocations.total) })),
      card('mfa', 'card-mfa', t('dashboard.mfa'), recoveryCodes.total,
        t('dashboard.mfa_changes', { added: fmtNumber(enrolled.total), removed: fmtNumber(disabled.total) }))),
    h('div', { class: 'charts' },
      chart('chart-logins', t('dashboard.chart_logins'), [{ label: t('dashboard.logins'), cls: 'logins', counts: logins.counts }]),
      chart('chart-tokens', t('dashboard.chart_tokens'), [{ label: t('dashboard.tokens'), cls: 'tokens', counts: tokens.counts }]),
      chart('chart-failures', t('dashboard.chart_failures'), [
        { label: t('dashboard.failures'), cls: 'failures', counts: failures.counts },
        { label: t('dashboard.lockouts_label'), cls: 'lockouts', counts: lockouts.counts },
      ]),
      chart('chart-sessions', t('dashboard.chart_sessions'), [
        { label: t('dashboard.rotations'), cls: 'rotations', counts: rotations.counts },
        { label: t('dashboard.revocations_label'), cls: 'revocations', counts: revocations.counts },
      ]),
      chart('chart-mfa', t('dashboard.chart_mfa'), [
        { label: t('dashboard.mfa'), cls: 'recovery', counts: recoveryCodes.counts },
        { label: t('dashboard.mfa_enrolled_label'), cls: 'enrolled', counts: enrolled.counts },
        { label: t('dashboard.mfa_disabled_label'), cls: 'disabled', counts: disabled.counts },
      ])),
  ];
}
