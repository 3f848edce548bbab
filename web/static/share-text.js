// Share text (DOM): a dialog to send the room a snippet, text to copy with
// an optional title, up to 65,536 characters, exactly as typed: no trim,
// every space and line kept. The room shows it as text with a Copy button
// (view-room.js), and later joiners get it in welcome.chat.

import { $, setText } from './dom.js';

export const snippetMax = 65536; // characters (code points), as the server counts them
export const titleMax = 128;

/** chars counts characters as the server does: code points, not UTF-16 units. */
export function chars(s) {
  let n = 0;
  for (const _ of String(s)) n++;
  return n;
}

/**
 * snippetMessage builds the snippet request from the dialog's fields, or
 * says in words why it cannot be sent.
 */
export function snippetMessage(text, title) {
  const t = String(text ?? '');
  const ti = String(title ?? '').trim();
  if (t.trim() === '') return { error: 'There is no text to share.' };
  if (chars(t) > snippetMax) return { error: `The text is over ${snippetMax.toLocaleString('en')} characters.` };
  if (chars(ti) > titleMax) return { error: `The title is over ${titleMax} characters.` };
  return { msg: ti ? { kind: 'snippet', text: t, title: ti } : { kind: 'snippet', text: t } };
}

/**
 * shareTextView wires the dialog: c holds request (to the room) and
 * connected() (whether the room's socket is open).
 */
export function shareTextView({ request, connected }) {
  const dialog = $('share-text');
  const body = $('share-text-body');
  const title = $('share-text-name');
  const count = $('share-text-count');
  const state = $('share-text-state');
  const send = $('share-text-send');

  const renderCount = () => {
    const n = chars(body.value);
    setText(count, `${n.toLocaleString('en')} of ${snippetMax.toLocaleString('en')} characters`);
    count.dataset.over = String(n > snippetMax);
  };
  body.addEventListener('input', renderCount);

  $('share-text-btn').addEventListener('click', () => {
    setText(state, '');
    renderCount();
    dialog.showModal();
    body.focus();
  });
  $('share-text-cancel').addEventListener('click', () => dialog.close());

  $('share-text-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const { msg, error } = snippetMessage(body.value, title.value);
    if (error) {
      setText(state, error);
      return;
    }
    if (!connected()) {
      setText(state, 'Not connected to the room: try again once it is back.');
      return;
    }
    send.disabled = true;
    setText(state, 'Sharing…');
    try {
      // Settled by our own snippet coming back; a quiet timeout covers a
      // server that neither echoes nor refuses.
      await request(msg, { timeout: 15000, quiet: true });
      body.value = '';
      title.value = '';
      setText(state, '');
      dialog.close();
    } catch (err) {
      setText(state, err.code === 'unknown_kind'
        ? 'This server cannot take shared text.'
        : `Not shared: ${err.code}${err.message && err.message !== err.code ? ` (${err.message})` : ''}`);
    } finally {
      send.disabled = false;
    }
  });
}
