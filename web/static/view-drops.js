// The owner's drop links (DOM): make a link for a folder (the one shown,
// by default), copy it or show its QR code, list the live ones and revoke
// them. The requests and rules are drops.js; app.js wires this view.

import { h, $, clear, setText } from './dom.js';
import { qrSVG } from './qr.js';
import { expiries, dropRequest, dropURL, limitWords, untilWords, dropsAPI } from './drops.js';

/**
 * dropsView wires the panel: c holds S (the page's state: dir, the folder
 * shown), room (the page's room, told of the link's uploads) and base()
 * (the address for other devices, or null for this page's own).
 */
export function dropsView({ S, room, base }) {
  const api = dropsAPI();
  const panel = $('drops');
  const btn = $('drops-btn');
  const form = $('drop-form');
  const pathIn = $('drop-path');
  const expiresIn = $('drop-expires');
  const result = $('drop-result');
  const listEl = $('drop-list');
  const emptyEl = $('drop-empty');
  let pathTouched = false;

  for (const [value, words] of expiries) expiresIn.append(h('option', { value, selected: value === '24h' }, words));
  pathIn.addEventListener('input', () => {
    pathTouched = true;
  });

  const urlOf = (link) => dropURL(link, base());

  /** copyButton copies text, saying so on itself. */
  function copyButton(text, label) {
    const b = h('button', { type: 'button', class: 'small', 'data-testid': 'drop-copy', 'aria-label': label }, 'Copy');
    b.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(text);
        setText(b, 'Copied');
      } catch {
        setText(b, 'Select and copy');
      }
    });
    return b;
  }

  function qrFigure(url) {
    const fig = h('figure', { class: 'qr', 'data-testid': 'drop-qr' });
    try {
      fig.append(qrSVG(url, `QR code of the drop link ${url}`));
    } catch {
      fig.append(h('p', { class: 'hint' }, 'The link is too long for a QR code.'));
    }
    if (/^(127\.|localhost$|\[::1\]$)/.test(new URL(url).hostname)) {
      fig.append(h('figcaption', { class: 'hint' }, 'This address only works on this computer: start filehub on a network address (for example -addr 0.0.0.0:8080) for other devices.'));
    }
    return fig;
  }

  function item(link) {
    const url = urlOf(link);
    const where = link.path ? link.path : 'the top folder';
    const qrSlot = h('div', { class: 'drop-qr' });
    const qrBtn = h('button', { type: 'button', class: 'small', 'aria-expanded': 'false' }, 'QR code');
    qrBtn.addEventListener('click', () => {
      const open = qrSlot.childElementCount === 0;
      clear(qrSlot);
      if (open) qrSlot.append(qrFigure(url));
      qrBtn.setAttribute('aria-expanded', String(open));
    });
    const revoke = h('button', { type: 'button', class: 'small danger', 'data-testid': 'drop-revoke' }, 'Revoke');
    revoke.addEventListener('click', async () => {
      revoke.disabled = true;
      try {
        await api.revoke(link.id);
        await refresh();
      } catch (err) {
        revoke.disabled = false;
        setText(result, `Could not revoke the link: ${err.message}`);
      }
    });
    const link2 = h('input', { type: 'text', readonly: true, value: url, 'aria-label': 'The drop link', 'data-testid': 'drop-url' });
    return h('li', { class: 'card', 'data-testid': 'drop-item' },
      h('p', null, 'from ', h('strong', null, link.label || 'drop link'), ' into ', h('span', { class: 'path' }, where)),
      h('p', { class: 'hint' }, [untilWords(link.expires), limitWords(link), link.room ? `room ${link.room}` : ''].filter(Boolean).join(' · ')),
      h('div', { class: 'row' }, link2),
      h('div', { class: 'actions start' }, copyButton(url, `Copy the drop link to ${where}`), qrBtn, revoke),
      qrSlot);
  }

  async function refresh() {
    let links;
    try {
      links = await api.list();
    } catch (err) {
      setText(emptyEl, `The drop links cannot be listed: ${err.message}`);
      emptyEl.hidden = false;
      return;
    }
    clear(listEl);
    for (const l of links) listEl.append(item(l));
    setText(emptyEl, 'No live drop links.');
    emptyEl.hidden = links.length > 0;
  }

  function open(show) {
    panel.hidden = !show;
    btn.setAttribute('aria-expanded', String(show));
    if (!show) return;
    if (!pathTouched) pathIn.value = S.dir;
    refresh();
  }

  btn.addEventListener('click', () => open(panel.hidden));
  $('drops-close').addEventListener('click', () => open(false));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const { body, error } = dropRequest({
      path: pathIn.value.trim(),
      expires: expiresIn.value,
      maxMiB: $('drop-max-mib').value,
      maxFiles: $('drop-max-files').value,
      label: $('drop-label').value,
      room,
    });
    if (error) {
      setText(result, error);
      return;
    }
    const submit = form.querySelector('button[type=submit]');
    submit.disabled = true;
    setText(result, 'Creating…');
    try {
      const link = await api.create(body);
      setText(result, `Created: anyone with the link below can send files to ${link.path || 'the top folder'} ${untilWords(link.expires)}.`);
      await refresh();
      listEl.querySelector('[data-testid=drop-url]')?.select();
    } catch (err) {
      setText(result, `Not created: ${err.message}`);
    } finally {
      submit.disabled = false;
    }
  });

  // The room's upload frames of a drop link ("drop-" ids): the open
  // panel's counts follow them, at most once a second.
  let recountTimer = 0;
  function onUpload(msg) {
    if (panel.hidden || !String(msg?.by?.id ?? '').startsWith('drop-')) return;
    if (msg.kind === 'upload-progress' && Number(msg.received) > 0) return; // the start and the end change the counts
    if (recountTimer) return;
    recountTimer = setTimeout(() => {
      recountTimer = 0;
      refresh();
    }, msg.kind === 'upload-progress' ? 200 : 0);
  }

  return { open, refresh, onUpload };
}
