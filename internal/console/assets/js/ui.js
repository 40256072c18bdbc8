// DOM helpers. Pages are built with elements and text nodes only, never
// from HTML strings: the page's CSP requires Trusted Types for script
// sinks and allows no policy, so assigning markup to an element would throw.

import { t, has } from './i18n.js';

// h creates an element. attrs: plain attributes, plus 'class', 'text',
// 'dataset' (object), on<event> (listener) and boolean properties
// (checked, disabled, hidden, required, ...); children: nodes, strings,
// arrays, or null/false (skipped).
export function h(tag, attrs, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (!svg && ['checked', 'disabled', 'hidden', 'required', 'readOnly', 'selected', 'value', 'multiple'].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// add appends children to el as h does: arrays flattened, null, undefined
// and false skipped (the DOM's own append would write them as text).
export function add(el, ...children) {
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let uid = 0;
export function newId(prefix) { uid += 1; return `${prefix}-${uid}`; }

// link is an <a> to a console page, routed without reloading.
export function link(href, text, attrs = {}) {
  return h('a', { href, ...attrs, dataset: { route: '' } }, text);
}

// ---------------------------------------------------------------- messages

export function toast(message, kind = 'info') {
  const box = document.getElementById('toast');
  const item = h('div', { class: ['toast-item', kind === 'error' && 'error'] }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 5000);
}

export function notice(message, kind = 'info', id) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : null, id }, message);
}

// errorText is what to show for an error of the admin API (ApiError)
// or anything else.
export function errorText(err) {
  if (err && err.code) {
    const title = has('error.' + err.code) ? t('error.' + err.code) : t('error.unknown');
    return err.message ? `${title} ${err.message}` : title;
  }
  return (err && err.message) || String(err);
}

// ---------------------------------------------------------------- forms

// field builds a labelled control with a hint and an error slot, the
// control named and marked data-field with the API member it sets, so
// that a validation error naming that member lands next to it.
export function field({ label, name, type = 'text', value, hint, required, readOnly, attrs = {}, options, rows, apiField }) {
  const id = newId('f');
  const hintId = hint ? id + '-hint' : null;
  const errId = id + '-err';
  const describedBy = [hintId, errId].filter(Boolean).join(' ');
  let control;
  if (type === 'select') {
    control = h('select', { id, name, required, disabled: readOnly, 'aria-describedby': describedBy, ...attrs },
      options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, text)));
  } else if (type === 'textarea') {
    control = h('textarea', { id, name, rows: rows || 3, required, readOnly, 'aria-describedby': describedBy, spellcheck: 'false', ...attrs });
    control.value = value ?? '';
  } else if (type === 'checkbox') {
    control = h('input', { id, name, type: 'checkbox', checked: !!value, disabled: readOnly, 'aria-describedby': describedBy, ...attrs });
  } else {
    control = h('input', { id, name, type, required, readOnly, 'aria-describedby': describedBy, ...attrs });
    control.value = value ?? '';
  }
  control.dataset.field = apiField || name;
  const hintEl = hint ? h('span', { id: hintId, class: 'hint' }, hint) : null;
  const errEl = h('span', { id: errId, class: 'field-error' });
  if (type === 'checkbox') {
    return h('div', { class: 'field check' }, h('label', { for: id }, label), h('div', { class: 'control' }, h('div', {}, control), hintEl, errEl));
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label, required ? ' *' : ''), h('div', { class: 'control' }, control, hintEl, errEl));
}

// checkGroup is a fieldset of checkboxes sharing a name.
export function checkGroup({ legend, name, options, values = [], hint, readOnly }) {
  const hintId = hint ? newId('hint') : null;
  const errId = newId('err');
  const fs = h('fieldset', { class: 'field-group', 'aria-describedby': [hintId, errId].filter(Boolean).join(' ') || null, dataset: { field: name } },
    h('legend', {}, legend),
    h('div', { class: 'checks' }, options.map(([v, text]) => h('label', {},
      h('input', { type: 'checkbox', name, value: v, checked: values.includes(v), disabled: readOnly }), text))),
    hint ? h('span', { id: hintId, class: 'hint' }, hint) : null,
    h('span', { id: errId, class: 'field-error' }));
  return fs;
}

// checkedValues returns the values of the checked boxes named name.
export function checkedValues(form, name) {
  return [...form.querySelectorAll(`input[type="checkbox"][name="${name}"]`)].filter((c) => c.checked).map((c) => c.value);
}

export function lines(text) {
  return String(text || '').split('\n').map((s) => s.trim()).filter(Boolean);
}

// clearErrors removes the error marks of a form.
export function clearErrors(form) {
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  form.querySelector('.form-error')?.remove();
}

// showFormError puts an API error next to the field it names (the
// member, or the list a member like redirect_uris[0] belongs to) and
// moves the focus there; otherwise at the top of the form.
export function showFormError(form, err) {
  clearErrors(form);
  const name = err && err.field ? String(err.field).replace(/\[\d+\]$/, '') : '';
  const target = name ? [...form.querySelectorAll('[data-field]')].find((el) => el.dataset.field === name || el.dataset.field === err.field) : null;
  if (target) {
    target.setAttribute('aria-invalid', 'true');
    const slot = target.closest('.field, .field-group')?.querySelector('.field-error');
    if (slot) slot.textContent = errorText(err);
    const focusable = target.matches('fieldset') ? target.querySelector('input') : target;
    focusable?.focus();
    return;
  }
  const box = notice(errorText(err), 'error');
  box.classList.add('form-error');
  box.tabIndex = -1;
  form.prepend(box);
  box.focus();
}

// submitting disables a form's buttons while fn runs.
export async function submitting(form, fn) {
  const buttons = [...form.querySelectorAll('button')];
  buttons.forEach((b) => { b.disabled = true; });
  try {
    return await fn();
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// numberOrUndefined reads a number input; '' is undefined (not sent).
export function numberOrUndefined(input) {
  const v = String(input.value).trim();
  return v === '' ? undefined : Number(v);
}

// ---------------------------------------------------------------- dialogs

// dialog opens a modal <dialog>: the rest of the page is inert while it
// is open (the browser keeps the focus inside) and Escape cancels it.
// The focus returns to where it was. It resolves with the value the
// closing button gave, or '' when cancelled.
function openDialog(build) {
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const dlg = h('dialog', { 'aria-labelledby': newId('dlg') });
    const close = (value) => dlg.close(value);
    build(dlg, close);
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(dlg.returnValue);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// confirmDialog asks before an action; resolves true to go ahead.
export async function confirmDialog({ title, message, confirm, danger = false }) {
  const value = await openDialog((dlg, close) => {
    const titleId = dlg.getAttribute('aria-labelledby');
    dlg.append(
      h('h2', { id: titleId }, title),
      h('p', {}, message),
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'secondary', id: 'dialog-cancel', onclick: () => close('') }, t('action.cancel')),
        h('button', { type: 'button', class: danger ? 'danger' : null, id: 'dialog-confirm', onclick: () => close('yes') }, confirm)));
  });
  return value === 'yes';
}

// secretDialog shows a secret once: it is not stored anywhere and cannot
// be shown again.
export async function secretDialog({ title, message, secret, label }) {
  await openDialog((dlg, close) => {
    const titleId = dlg.getAttribute('aria-labelledby');
    const out = h('output', { id: 'secret-value', 'aria-label': label }, secret);
    const copy = h('button', {
      type: 'button', class: 'secondary small', id: 'secret-copy',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(secret);
          copy.textContent = t('action.copied');
        } catch {
          getSelection().selectAllChildren(out);
        }
      },
    }, t('action.copy'));
    dlg.append(
      h('h2', { id: titleId }, title),
      h('p', {}, message),
      h('div', { class: 'secret-box' }, out, copy),
      notice(t('secret.once'), 'warn'),
      h('div', { class: 'form-actions' }, h('button', { type: 'button', id: 'secret-done', onclick: () => close('done') }, t('secret.done'))));
  });
}

// ---------------------------------------------------------------- tables

// table builds a table with a caption and column headers; rows are
// arrays of cells (nodes or text). An empty list says so.
export function table({ caption, columns, rows, id }) {
  const body = rows.length
    ? rows.map((cells) => h('tr', {}, cells.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', {}, c)))))
    : [h('tr', {}, h('td', { class: 'empty', colspan: columns.length }, t('list.empty')))];
  return h('div', { class: 'table-wrap' },
    h('table', { id },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, body)));
}

export function badge(text, kind) {
  return h('span', { class: ['badge', kind] }, text);
}

export function yesNo(v) {
  return v ? badge(t('common.yes'), 'ok') : badge(t('common.no'));
}
