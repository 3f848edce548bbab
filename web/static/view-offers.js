// Offers (DOM): a share whose bytes are not in its frame (over the
// server's inline limit, or an upload still arriving) is shown as a card
// that says what it is (name, size, type, who, the server's thumbnail of
// an image) with Open, Save and Dismiss. Nothing of the file moves until
// the person asks: Open shows it from its URL as the file list does, Save
// downloads it. An upload still arriving shows its progress (the room's
// upload-progress frames) and offers Open and Save once it is in place.
// app.js routes `shared` frames without content or stream here, and the
// room's upload frames (offers).

import { h, clear, setText } from './dom.js';
import { cleanPath, safeURL, baseName, fileURL, formatSize, formatDate, nameOf } from './format.js';
import { typeLabel, fileType } from './types.js';
import { progressText } from './rate.js';

/**
 * offers returns {addOffer, onUpload}. c: shareCard and pushCard (the room
 * side's, to put the card among the other shares), openPath (opens a file
 * in the viewer from its URL), noteEvents (who has which file), mine(by)
 * (whether a share's `by` is this page).
 */
export function offers({ shareCard, pushCard, openPath, noteEvents = () => {}, mine = () => false }) {
  const arriving = new Map(); // path -> the card's finish(msg), for uploads still arriving

  function thumb(path, modified) {
    // ?v= is the file's time, as the list's thumbnails: a changed picture
    // is not shown from the browser's cache.
    const v = Date.parse(modified) || 0;
    const img = h('img', {
      class: 'offer-thumb', alt: '', loading: 'lazy', decoding: 'async', 'data-testid': 'offer-thumb',
      src: `/_/thumb/${fileURL(path).slice(1)}?v=${v}`,
      onerror: () => img.remove(),
    });
    return img;
  }

  function addOffer(msg) {
    const by = nameOf(msg.by);
    const path = cleanPath(msg.path);
    const url = safeURL(msg.url, path);
    const growing = msg.growing === true;
    const size = Number(msg.size);
    const info = () => [size >= 0 ? formatSize(size) : 'size not known yet', typeLabel(baseName(path), msg.type),
      msg.modified && !growing ? `modified ${formatDate(msg.modified)}` : ''].filter(Boolean).join(' · ');
    const body = h('div', { class: 'offer' });
    const actions = h('span', { class: 'contents' });
    const card = shareCard(path, by, msg.at, info(), body, [actions]);
    card.dataset.offer = 'true';
    if (growing) card.dataset.growing = 'true';
    card.dataset.state = growing ? 'arriving' : 'offered';

    const dismiss = h('button', {
      type: 'button', 'data-testid': 'dismiss-share', 'aria-label': `Dismiss ${path}`,
      onclick: () => {
        arriving.delete(path);
        const next = card.nextElementSibling || card.previousElementSibling;
        card.remove();
        next?.querySelector('button')?.focus();
      },
    }, 'Dismiss');
    const ready = () => {
      clear(actions).append(
        h('button', { type: 'button', 'data-testid': 'open-share', onclick: () => openPath(path), 'aria-label': `Open ${path}, shared by ${by}` }, 'Open'),
        h('a', { class: 'button', 'data-testid': 'save-share', href: `${url}${url.includes('?') ? '&' : '?'}download`, download: baseName(path), 'aria-label': `Save ${path}` }, 'Save'),
        dismiss);
    };

    if (growing) {
      const bar = h('progress', { max: '100', 'data-testid': 'share-progress', 'aria-label': `${by}'s upload of ${path}` });
      const status = h('span', { 'data-testid': 'share-status' }, `${by} is uploading it: Open and Save once it is in place.`);
      body.append(bar, h('p', { class: 'hint' }, status));
      actions.append(dismiss);
      arriving.set(path, (m) => {
        const total = Number(m.size);
        if (m.kind === 'upload-progress') {
          const got = Number(m.received) || 0;
          card.dataset.received = String(got);
          if (total > 0) bar.value = Math.min(100, Math.floor((got / total) * 100));
          setText(status, `${by} is uploading it: ${progressText(got, total)}`);
          return;
        }
        arriving.delete(path);
        bar.remove();
        if (m.kind === 'upload-finish') {
          card.dataset.state = 'offered';
          card.dataset.size = String(total);
          setText(status, `In place (${formatSize(total)}): nothing is fetched until you open or save it.`);
          noteEvents([{ action: 'share', who: by, path, via: 'http', at: new Date().toISOString() }]);
          ready();
        } else {
          card.dataset.state = 'failed';
          setText(status, m.reason === 'interrupted' ? `${by}'s upload was interrupted: nothing to fetch yet.` : `${by}'s upload did not finish${m.reason ? ` (${m.reason})` : ''}.`);
          status.dataset.testid = 'share-failed';
        }
      });
    } else {
      if (fileType(baseName(path), msg.type).thumb) body.append(thumb(path, msg.modified));
      body.append(h('p', { class: 'hint' }, 'Not fetched: Open or Save gets it.'));
      ready();
    }
    pushCard(card, [], mine(msg.by) ? '' : undefined); // no notice of our own share
  }

  /** onUpload takes the room's upload-progress, -finish and -abort frames. */
  function onUpload(msg) {
    arriving.get(cleanPath(msg.path))?.(msg);
  }

  return { addOffer, onUpload };
}
