// Shares that fill as they upload (DOM): someone in the room uploads with
// "share with the room as it uploads", and every page of the room receives
// the bytes as they reach the server. The card shows them arriving (a
// progress bar from file-start's expected size), checks the SHA-256 the
// server sends at file-end, and only then offers Open and Save, exactly as
// a finished share does. If the upload is cut off, the card says so and the
// bytes that came are dropped: a partial file is never offered as the file.
// The stream itself is requests.js's (follow); app.js routes `shared`
// frames with a stream here (growingShares).

import { h, clear, setText } from './dom.js';
import { cleanPath, safeURL, baseName, formatSize, formatDate, nameOf } from './format.js';
import { saveLink, renderBody } from './viewer.js';
import { isSVG } from './content.js';

/**
 * growingShares returns addGrowingShare(msg) for `shared` frames with a
 * stream. c: requests (the room's, with follow), viewer, from the room
 * side shareCard and pushCard (to put the card among the other shares),
 * and noteEvents (who has which file: the room received this one; the
 * server's feed records the upload, not a share).
 */
export function growingShares({ requests, viewer, shareCard, pushCard, noteEvents = () => {} }) {
  return function addGrowingShare(msg) {
    const by = nameOf(msg.by);
    const path = cleanPath(msg.path);
    const url = safeURL(msg.url, path);
    const urls = [];
    const bar = h('progress', { max: '100', 'data-testid': 'share-progress', 'aria-label': `${path} arriving from ${by}` });
    const status = h('span', { 'data-testid': 'share-status' }, `waiting for the first bytes of ${by}'s upload…`);
    const box = h('div', { class: 'growing' }, bar, h('p', { class: 'hint' }, status));
    const actions = h('span', { class: 'contents' }); // inside the card's row of actions
    const card = shareCard(path, by, msg.at, '', box, [actions]);
    card.dataset.growing = 'true';
    card.dataset.state = 'receiving';
    card.dataset.size = String(Number.isFinite(Number(msg.size)) ? Number(msg.size) : -1);
    const infoEl = h('span', { 'data-testid': 'share-info' });
    card.querySelector('.hint')?.append(infoEl);
    const renderInfo = () => {
      const size = Number(card.dataset.size);
      setText(infoEl, ` · ${[size >= 0 ? formatSize(size) : 'size not known yet', msg.type, msg.modified ? `modified ${formatDate(msg.modified)}` : '']
        .filter(Boolean).join(' · ')}${card.dataset.state === 'receiving' ? ' · as it uploads' : ''}`);
    };
    renderInfo();
    pushCard(card, urls);

    const fail = (code, message) => {
      card.dataset.state = 'failed';
      card.dataset.code = code;
      bar.remove();
      renderInfo();
      const why = {
        aborted: 'The upload was interrupted: nothing was kept. Ask for it again.',
        disconnected: 'The connection to the room was lost while it arrived: nothing was kept. When the upload is done, it is in the folder.',
        timeout: 'Nothing arrived for a long time: given up, nothing kept.',
        mismatch: 'The bytes that arrived do not match the SHA-256 the server sent: not offered. Download it from the folder instead.',
      }[code] || `It did not arrive (${code}${message ? `: ${message}` : ''}): nothing was kept.`;
      clear(box).append(h('p', { class: 'failed', 'data-testid': 'share-failed' }, why));
    };

    const following = requests.follow(msg, {
      onStart: (meta) => {
        card.dataset.size = String(meta.size);
        renderInfo();
        setText(status, `receiving as ${by} uploads…`);
      },
      onProgress: (received, size) => {
        if (size > 0) {
          const pct = Math.min(100, Math.floor((received / size) * 100));
          bar.value = pct;
          setText(status, `receiving as ${by} uploads: ${formatSize(received)} of ${formatSize(size)} (${pct}%)`);
        } else {
          bar.removeAttribute('value'); // the uploader did not say the size
          setText(status, `receiving as ${by} uploads: ${formatSize(received)}`);
        }
        card.dataset.received = String(received);
      },
      onDone: (file) => {
        bar.remove();
        card.dataset.size = String(file.size);
        card.dataset.state = 'done';
        renderInfo();
        noteEvents([{ action: 'share', who: by, path, via: 'ws', at: new Date().toISOString() }]);
        if (!file.blob) { // more than the page holds: the served file
          clear(box).append(h('p', { class: 'hint' }, `${formatSize(file.size)}: too large to keep in this page.`));
          actions.append(h('a', { class: 'button', href: `${url}${url.includes('?') ? '&' : '?'}download`, download: baseName(path), 'aria-label': `Download ${path}` }, 'Download'));
          return;
        }
        const verify = h('p', { class: 'verify', 'data-testid': 'verify', 'data-state': file.verify.state, 'data-sha256': file.sha256 }, file.verify.text);
        if (file.verify.state === 'bad') {
          // Not the file the server has: never offered as it.
          fail('mismatch', 'the bytes that arrived are not the uploaded file');
          box.prepend(verify);
          actions.append(h('a', { class: 'button', href: `${url}${url.includes('?') ? '&' : '?'}download`, download: baseName(path), 'aria-label': `Download ${path} from the folder` }, 'Download from the folder'));
          return;
        }
        const shown = { ...file, path, via: 'share', url };
        clear(box).append(verify);
        actions.append(
          h('button', {
            type: 'button', 'data-testid': 'open-share', 'aria-label': `Open ${path}, shared by ${by}`,
            onclick: async () => {
              viewer.loading(path, 'share');
              await viewer.show(shown);
            },
          }, 'Open'),
          saveLink(shown, urls, 'Save', 'button'));
        if (!isSVG(shown.type)) {
          renderBody(shown, urls, { limit: 4096, lines: 30 }).then((b) => box.append(b.node), () => {});
        }
      },
      onFail: fail,
    });
    if (!following) fail('bad_request', 'the server named no stream');
  };
}
