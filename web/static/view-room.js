// The room side of the page (DOM): members, the live feed, the cards of
// what was shared, and the chat. The models it shows are members.js and
// feed.js; app.js routes frames here (roomView).

import { h, $, clear, setText } from './dom.js';
import { cleanPath, fileURL, baseName, safeURL, formatSize, formatTime, formatDate, nameOf, idOf } from './format.js';
import { isSVG } from './content.js';
import { whoLimit } from './members.js';
import { fileFromFrame } from './requests.js';
import { renderBody, saveLink } from './viewer.js';
import { typeLabel } from './types.js';

const feedLimit = 200; // entries shown in the live feed
const chatLimit = 200; // chat messages kept
const shareLimit = 50; // share cards kept (each may hold a Blob URL)
const chatMax = 4096; // characters of a chat message; longer or multi-line text is a snippet

// Given by roomView.
let S;
let members;
let request;
let viewer;
let showNotice;
let arrived;
let openPath;
let zipURL;

function renderMembers() {
  setText($('member-count'), String(members.count));
  const list = clear($('members'));
  const shown = members.sorted().slice(0, whoLimit);
  for (const [id, name] of shown) {
    const me = S.you && id === S.you.id;
    list.append(h('li', { class: me ? 'me' : null, 'data-id': id }, name, me ? ' (you)' : ''));
  }
  const more = members.count - shown.length;
  const moreEl = $('members-more');
  moreEl.hidden = more <= 0;
  setText(moreEl, more > 0 ? `and ${more} more` : '');
  const open = $('members-open');
  open.hidden = members.exact && more <= 0;
  setText(open, members.exact ? 'Show who is here' : 'Refresh the list');
}

$('members-open').addEventListener('click', async () => {
  const btn = $('members-open');
  btn.disabled = true;
  try {
    await request(members.whoRequest());
  } catch (err) {
    showNotice(`Could not list the members: ${err.code}`);
  } finally {
    btn.disabled = false;
  }
});

// ---------------------------------------------------------------- feed

const feedList = $('feed');

/** feedWords says what an event did, in plain words, with the technical name as a tooltip. */
function feedWords(e, link, zip) {
  switch (e.action) {
    case 'fetch':
      if (zip) return [[' downloaded ', link, ' as a zip'], 'HTTP GET ?zip'];
      if (e.via === 'http') return [[' opened ', link, ' over HTTP'], 'via http: a plain HTTP GET'];
      if (e.via === 'ws') return [[' opened ', link], 'via ws: a get request on the WebSocket'];
      return [[' opened ', link], `via ${e.via || '?'}`];
    case 'share': return [[' shared ', link, ' with the room'], 'share'];
    case 'upload':
      if (e.via === 'drop') return [[' uploaded ', link, ' through a drop link'], 'via drop: PUT /_/drop/…'];
      return [[' uploaded ', link], `via ${e.via || 'http'}: HTTP PUT`];
    default: return [[` ${e.action} `, link], String(e.via || '')];
  }
}

function addFeed(e, fresh) {
  // A folder downloaded as a zip is reported as its URL: "docs/?zip", "?zip".
  const zip = typeof e.path === 'string' && e.path.endsWith('?zip');
  const path = cleanPath(zip ? e.path.slice(0, -'?zip'.length) : e.path);
  const link = zip ? zipLink(path) : fileLink(path);
  const [what, tip] = feedWords(e, link, zip);
  const li = h('li', {
    class: fresh ? 'fresh' : null, title: tip, 'data-seq': e.seq, 'data-run': e.run, 'data-action': e.action, 'data-via': e.via, 'data-testid': 'feed-entry',
  },
  h('span', { class: 'who' }, nameOf(e.who)),
  what,
  e.bytes > 0 && e.action !== 'share' ? ` (${formatSize(e.bytes)})` : '',
  ' · ',
  h('time', { class: 'at', datetime: String(e.at || '') }, formatTime(e.at)));
  feedList.prepend(li);
  trimFeed();
  if (fresh) arrived('room');
}

/** addGap says in the feed that the page was away and may have missed something. */
function addGap() {
  feedList.prepend(h('li', { class: 'gap', 'data-testid': 'feed-gap' },
    'Some activity was missed while you were away. ', h('time', { class: 'at' }, formatTime(new Date()))));
  trimFeed();
}

/**
 * note shows a line of the page's own in the feed, such as "report.pdf
 * and 199 others appeared" (listing.js's FsNotes): kind names it, fresh
 * false updates the last line of that kind rather than adding one.
 */
const notes = new Map(); // kind -> its last <li>
function note(kind, text, fresh) {
  let li = notes.get(kind);
  if (fresh || !li?.isConnected) {
    li = h('li', { class: 'note', 'data-testid': 'feed-note', 'data-kind': kind });
    notes.set(kind, li);
  }
  clear(li).append(h('span', { class: 'text' }, text), ' · ', h('time', { class: 'at' }, formatTime(new Date())));
  feedList.prepend(li); // the top of the feed, also when updated
  trimFeed();
  if (fresh) arrived('room');
}

function trimFeed() {
  while (feedList.children.length > feedLimit) feedList.lastElementChild.remove();
  $('feed-empty').hidden = feedList.children.length > 0;
}

/** zipLink is a link that downloads a folder as a zip. */
function zipLink(dir) {
  return h('a', { href: zipURL(dir), download: '' }, dir ? `${dir}/` : 'all files');
}

/** fileLink is a link to a file that opens it in the viewer (middle-click: the served file). */
function fileLink(path) {
  return h('a', {
    href: fileURL(path),
    onclick: (ev) => {
      if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      openPath(path);
    },
  }, path);
}

// ---------------------------------------------------------------- shares

const sharesList = $('shares');
const shareURLs = new WeakMap(); // card -> Blob URLs to revoke when it goes
const shareKeys = new Set(); // run/seq of the shares listed from the feed

function shareCard(path, by, at, info, preview, actions) {
  return h('li', { class: 'card', 'data-testid': 'share-card', 'data-path': path },
    h('header', null, h('span', null, h('span', { class: 'who' }, by), ' shared ', h('span', { class: 'path' }, path))),
    h('p', { class: 'hint' }, h('time', { class: 'at' }, formatTime(at)), info ? ` · ${info}` : ''),
    preview,
    h('div', { class: 'actions start' }, actions));
}

function pushCard(card, urls) {
  shareURLs.set(card, urls);
  sharesList.prepend(card);
  while (sharesList.children.length > shareLimit) {
    const old = sharesList.lastElementChild;
    for (const u of shareURLs.get(old) || []) URL.revokeObjectURL(u);
    old.remove();
  }
  $('shares-empty').hidden = true;
  arrived('shared');
}

/** addShare shows a `shared` frame: the file, inline when it was small. */
function addShare(msg) {
  const by = nameOf(msg.by);
  const path = cleanPath(msg.path);
  const url = safeURL(msg.url, path);
  const urls = [];
  const file = fileFromFrame(msg);
  const inline = file.text !== undefined || file.blob !== undefined;
  let preview = null;
  if (isSVG(file.type)) {
    // Not fetched by every member of the room: Open shows it.
    preview = h('p', { class: 'hint' }, 'An SVG image: Open shows it.');
  } else if (inline) {
    preview = h('div', { class: 'preview' }); // filled below; the card keeps its place in the order
  }
  const info = [formatSize(msg.size), typeLabel(baseName(path), msg.type), msg.modified ? `modified ${formatDate(msg.modified)}` : ''].filter(Boolean).join(' · ');
  const card = shareCard(path, by, msg.at, info, preview, [
    h('button', { type: 'button', 'data-testid': 'open-share', onclick: () => openShared(file, inline, path, url), 'aria-label': `Open ${path}, shared by ${by}` }, 'Open'),
    inline ? saveLink(file, urls, 'Save', 'button') : h('a', { class: 'button', href: `${url}${url.includes('?') ? '&' : '?'}download`, download: baseName(path), 'aria-label': `Download ${path}` }, 'Download'),
  ]);
  pushCard(card, urls);
  if (inline && !isSVG(file.type)) {
    renderBody(file, urls, { limit: 4096, lines: 30 }).then((b) => preview.replaceWith(b.node), () => preview.remove());
  }
}

/** addShareFromFeed lists a share the page heard of from the room's history. */
function addShareFromFeed(e) {
  const key = `${e.run}/${e.seq}`;
  if (shareKeys.has(key)) return;
  shareKeys.add(key);
  const path = cleanPath(e.path);
  const by = nameOf(e.who);
  pushCard(shareCard(path, by, e.at, 'earlier in the room', null, [
    h('button', { type: 'button', 'data-testid': 'open-share', onclick: () => openPath(path), 'aria-label': `Open ${path}, shared by ${by}` }, 'Open'),
    h('a', { class: 'button', href: `${fileURL(path)}?download`, download: baseName(path), 'aria-label': `Download ${path}` }, 'Download'),
  ]), []);
}

async function openShared(file, inline, path, url) {
  if (inline) {
    viewer.loading(path, 'share');
    await viewer.show({ ...file, via: 'share', url });
    return;
  }
  // Not in the frame (too large to inline): from its URL, as the listing
  // opens it, never read whole into the page.
  openPath(path, file);
}

// ---------------------------------------------------------------- chat

const chatLog = $('chat-log');
const chatInput = $('chat-input');

function addChat(msg, fresh) {
  const mine = S.you && idOf(msg.from) === S.you.id;
  const who = h('span', { class: 'who' }, nameOf(msg.from));
  const at = h('time', { class: 'at' }, formatTime(msg.at));
  let li;
  if (msg.kind === 'snippet') {
    const text = String(msg.text ?? '');
    const copy = h('button', { type: 'button', class: 'small', 'aria-label': 'Copy the snippet' }, 'Copy');
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(text);
        setText(copy, 'Copied');
      } catch {
        setText(copy, 'Select and copy');
      }
    });
    li = h('li', { class: mine ? 'snippet mine' : 'snippet', 'data-testid': 'chat-message' },
      who, ': ', h('span', { class: 'title' }, String(msg.title || 'snippet')), ' · ', at, ' ', copy,
      h('pre', { tabindex: '0' }, text));
  } else {
    li = h('li', { class: mine ? 'mine' : null, 'data-testid': 'chat-message' }, who, ': ', h('span', { class: 'text' }, String(msg.text ?? '')), ' · ', at);
  }
  chatLog.append(li);
  while (chatLog.children.length > chatLimit) chatLog.firstElementChild.remove();
  chatLog.scrollTop = chatLog.scrollHeight;
  if (fresh && !mine) arrived('chat');
}

async function sendChat(text) {
  // Settled by our own message coming back (chat frames carry no id), or
  // failed by an error frame carrying the id (rate_limited, too_large); a
  // quiet timeout covers a server that does neither.
  const snippet = S.snippets && (text.includes('\n') || text.length > chatMax);
  try {
    await request(snippet ? { kind: 'snippet', text } : { kind: 'chat', text }, { timeout: 10000, quiet: true });
  } catch (err) {
    if (snippet && err.code === 'unknown_kind' && text.length <= chatMax) {
      S.snippets = false; // an older server: multi-line text goes as chat
      await sendChat(text);
      return;
    }
    throw err;
  }
}

$('chat-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = chatInput.value.trim();
  if (!text) return;
  chatInput.value = '';
  try {
    await sendChat(text);
  } catch (err) {
    chatInput.value = text;
    showNotice(`Message not sent: ${err.code}${err.message && err.message !== err.code ? ` (${err.message})` : ''}`);
  }
});

chatInput.addEventListener('keydown', (e) => {
  // Enter sends, Shift+Enter starts a new line (a snippet); not while an
  // input method is composing.
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('chat-form').requestSubmit();
  }
});


/**
 * roomView wires the room side to the page: c holds S, members (the
 * model), request, viewer, showNotice, arrived (counts news for a hidden
 * section) and, from filesView, openPath and zipURL.
 */
export function roomView(c) {
  ({ S, members, request, viewer, showNotice, arrived, openPath, zipURL } = c);
  return { renderMembers, addFeed, addGap, addShare, addShareFromFeed, addChat, note, shareCard, pushCard };
}
