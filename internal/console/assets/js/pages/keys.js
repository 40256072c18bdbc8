// Signing keys: a tenant's keys (next, current, and retired ones still
// published), and rotation. Every key listed is in the tenant's JWKS.

import { api } from '../api.js';
import { h, add, table, badge, toast, confirmDialog, errorText, checkGroup, checkedValues, notice } from '../ui.js';
import { t, fmtTime } from '../i18n.js';
import { pageHead, tenantAPI } from './common.js';

const ALGS = ['RS256', 'RS512', 'ES256', 'EdDSA'];

function stateBadge(state) {
  return badge(t('keys.state_' + state), { current: 'ok', next: null, retired: 'warn' }[state]);
}

export async function keysPage(ctx, root) {
  const tenant = ctx.tenant;
  const [list, x] = await Promise.all([api('GET', tenantAPI(tenant, 'keys')), api('GET', tenantAPI(tenant))]);
  const keys = list.items.slice().sort((a, b) => a.alg.localeCompare(b.alg) || b.generation - a.generation);
  // The tenant's JWKS is served on its first domain, on this server's
  // scheme and port.
  const jwks = x.domains.length ? `${location.protocol}//${x.domains[0]}${location.port ? ':' + location.port : ''}/api/v1/oauth2/keys` : '';

  const form = h('form', { id: 'rotate-form', class: 'settings', novalidate: true },
    checkGroup({ legend: t('keys.algorithms'), name: 'algorithms', options: ALGS.map((a) => [a, a]), values: ALGS, hint: t('keys.algorithms_hint') }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', id: 'rotate-keys' }, t('keys.rotate'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const algorithms = checkedValues(form, 'algorithms');
    if (!algorithms.length) {
      toast(t('keys.pick_one'), 'error');
      return;
    }
    const ok = await confirmDialog({ title: t('keys.rotate_title'), message: t('keys.rotate_confirm', { algs: algorithms.join(', '), tenant }), confirm: t('keys.rotate') });
    if (!ok) return;
    try {
      await api('POST', tenantAPI(tenant, 'keys', 'rotate'), algorithms.length === ALGS.length ? {} : { algorithms });
      toast(t('keys.rotated'));
      ctx.reload();
    } catch (err) {
      toast(errorText(err), 'error');
    }
  });

  add(root, 
    pageHead(ctx, t('keys.title')),
    h('p', { class: 'hint' }, t('keys.intro')),
    h('section', { class: 'panel', 'aria-labelledby': 'jwks-heading' },
      h('h2', { id: 'jwks-heading' }, t('keys.jwks')),
      jwks ? h('p', {}, t('keys.jwks_at'), ' ', h('code', { id: 'jwks-url' }, jwks)) : notice(t('keys.no_domain'), 'warn'),
      h('p', {}, t('keys.kids')),
      h('ul', { id: 'jwks-kids' }, keys.map((k) => h('li', {}, h('code', {}, k.kid), ` (${k.alg}, ${t('keys.state_' + k.state)})`)))),
    table({
      id: 'keys-table',
      caption: t('keys.caption', { tenant }),
      columns: [t('keys.kid'), t('keys.alg'), t('keys.generation'), t('keys.state'), t('keys.created'), t('keys.activates'), t('keys.retain')],
      rows: keys.map((k) => [
        h('code', {}, k.kid),
        k.alg,
        String(k.generation),
        stateBadge(k.state),
        fmtTime(k.created_at),
        fmtTime(k.activates_at),
        k.retain_until ? fmtTime(k.retain_until) : '—',
      ]),
    }),
    h('section', { class: 'panel', 'aria-labelledby': 'rotate-heading' },
      h('h2', { id: 'rotate-heading' }, t('keys.rotate_heading')),
      h('p', { class: 'hint' }, t('keys.rotate_hint')),
      form));
}
