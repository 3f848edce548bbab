// filehub room page: joins the room over /ws, lists the served folder,
// fetches files privately (WebSocket `get` or AJAX) or shares them with the
// room, and shows the room's live feed, shares, members and chat.
//
// Wire format: see the protocol document of the project (kinds, fields and
// close codes are used here exactly as specified there). Every string from
// the server or from people is rendered as text (see dom.js).

import {
  h, $, clear, setText, cleanPath, fileURL, baseName, dirName, safeURL, formatSize, formatTime, formatDate,
  nameOf, idOf, httpErrorCode, storage,
} from './dom.js';
import { Connection } from './conn.js';
import { FeedState } from './feed.js';
import { qrSVG } from './qr.js';
import { Viewer, fromFrame, renderBody, sha256Check } from './viewer.js';

// A blocked resource or script would otherwise fail quietly; as a console
// error it is seen by people debugging and fails the browser tests.
document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`filehub: CSP violation of ${e.violatedDirective} by ${e.blockedURI || 'inline'}`);
});

const feedLimit = 200; // entries shown in the live feed (and held for dedupe)
const chatLimit = 200; // chat messages kept
const shareLimit = 50; // share cards kept (each may hold a Blob URL)
const requestTimeout = 20000; // ms for a reply to a request (a stream resets it)
const streamStall = 30000; // ms without a binary frame before a stream is given up
const whoThrottle = 2000; // ms between `who` refreshes for count-only presence
const nameKey = 'filehub.name';

class ReqError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

// ---------------------------------------------------------------- state

const params = new URLSearchParams(location.search);
const room = (params.get('room') || '').trim() || 'lobby';

const S = {
  you: null, // {id, name} from the welcome
  count: 0,
  members: new Map(), // id -> name
  limits: { inline: 0, upload: 0, message: 0 },
  dir: '', // current folder: '' or 'a/b/'
  whoStale: false,
};

const feed = new FeedState(feedLimit);
const viewer = new Viewer($('viewer'));
const pending = new Map(); // request id -> {kind, path, resolve, reject, onProgress, timer, stream}
const streams = new Map(); // stream number -> {p, meta, chunks, received}
let nextId = 0;
// Request ids are unique per page, so that a reply can never be taken for
// one of another page's requests even if a server echoed ids to the room.
const idPrefix = `${Math.random().toString(36).slice(2, 8)}-`;

const conn = new Connection({
  room,
  name: '',
  since: () => feed.lastSeq,
  onFrame: (msg) => {
    try {
      onFrame(msg);
    } catch (err) {
      // One bad frame must not take the page down.
      console.warn('filehub: frame handling failed', msg?.kind, err);
    }
  },
  onBinary,
  onState: renderStatus,
});

// ---------------------------------------------------------------- requests

/**
 * request sends msg with a fresh id and resolves with the reply carrying
 * that id (for `get`: the whole file, after its stream if any), or rejects
 * with a ReqError: the server's `error`, or `disconnected` / `timeout`.
 */
function request(msg, { onProgress, timeout = requestTimeout, quiet = false } = {}) {
  return new Promise((resolve, reject) => {
    const id = `${idPrefix}${++nextId}`;
    const p = { id, kind: msg.kind, path: msg.path === undefined ? undefined : cleanPath(msg.path), text: msg.text, resolve, reject, onProgress };
    if (!conn.send({ ...msg, id })) {
      reject(new ReqError('disconnected', 'not connected to the room'));
      return;
    }
    pending.set(id, p);
    arm(p, timeout, quiet);
  });
}

function arm(p, ms, quiet = false) {
  clearTimeout(p.timer);
  p.timer = setTimeout(() => {
    if (quiet) settle(p, null);
    else fail(p, 'timeout', 'no answer from the server');
  }, ms);
}

function settle(p, value) {
  if (!pending.delete(p.id)) return;
  clearTimeout(p.timer);
  p.resolve(value);
}

function fail(p, code, message) {
  if (!pending.delete(p.id)) return;
  clearTimeout(p.timer);
  if (p.stream !== undefined) streams.delete(p.stream);
  p.reject(new ReqError(code, message));
}

/** replyTo finds the request a reply belongs to: by id, else by kind and path. */
function replyTo(msg, kinds) {
  const byID = typeof msg.id === 'string' ? pending.get(msg.id) : undefined;
  if (byID && kinds.includes(byID.kind)) return byID;
  const path = msg.path === undefined ? undefined : cleanPath(msg.path);
  for (const p of pending.values()) {
    if (kinds.includes(p.kind) && (path === undefined || p.path === undefined || p.path === path)) return p;
  }
  return null;
}

function failAll(code, message) {
  for (const p of [...pending.values()]) fail(p, code, message);
  streams.clear();
}

// ---------------------------------------------------------------- frames

function onFrame(msg) {
  switch (msg.kind) {
    case 'welcome': return onWelcome(msg);
    case 'presence': return onPresence(msg);
    case 'members': return onMembers(msg);
    case 'count': {
      // This server's coalesced presence for crowded rooms: {count, joined, left}.
      if (Number.isFinite(msg.count)) S.count = msg.count;
      refreshMembersSoon();
      return renderMembers();
    }
    case 'feed': return onFeed(msg);
    case 'file': return onFile(msg);
    case 'file-start': return onFileStart(msg);
    case 'file-end': return onFileEnd(msg);
    case 'shared': return onShared(msg);
    case 'listing': {
      const p = replyTo(msg, ['list']);
      if (p) settle(p, msg);
      return undefined;
    }
    case 'chat': {
      // Our own message coming back is the confirmation that it was sent.
      if (S.you && idOf(msg.from) === S.you.id) {
        const p = [...pending.values()].find((q) => q.kind === 'chat' && q.text === msg.text);
        if (p) settle(p, msg);
      }
      return addChat(msg);
    }
    case 'upload-progress':
    case 'upload-finish':
    case 'upload-abort': return onRoomUpload(msg);
    case 'pong': {
      const p = replyTo(msg, ['ping']);
      if (p) settle(p, msg);
      return undefined;
    }
    case 'error': return onError(msg);
    default: return undefined; // a newer server's kind: ignored, as the protocol allows
  }
}

function onWelcome(msg) {
  S.you = { id: idOf(msg.you), name: nameOf(msg.you) };
  S.limits = { inline: 0, upload: 0, message: 0, ...(msg.limits || {}) };
  applyMembers(msg);
  renderYou(typeof msg.room === 'string' && msg.room ? msg.room : room);
  for (const e of feed.welcome(msg.feed)) addFeed(e, false);
  setupUpload();
  loadListing(S.dir);
}

function onPresence(msg) {
  if (typeof msg.id === 'string' && pending.get(msg.id)?.kind === 'rename') settle(pending.get(msg.id), msg);
  const who = msg.who;
  if (who && typeof who === 'object') {
    const id = idOf(who);
    if (msg.event === 'leave') S.members.delete(id);
    else S.members.set(id, nameOf(who));
    if (msg.event === 'rename' && S.you && id === S.you.id) {
      S.you.name = nameOf(who);
      renderYou();
    }
  } else {
    // Count-only presence (a big room): refresh the list when it is seen.
    refreshMembersSoon();
  }
  if (Number.isFinite(msg.count)) S.count = msg.count;
  renderMembers();
}

function onMembers(msg) {
  const p = replyTo(msg, ['who']);
  applyMembers(msg);
  if (p) settle(p, msg);
}

function applyMembers(msg) {
  if (Array.isArray(msg.members)) {
    S.members = new Map(msg.members.map((m) => [idOf(m), nameOf(m)]));
  }
  S.count = Number.isFinite(msg.count) ? msg.count : S.members.size;
  renderMembers();
}

let whoTimer = 0;
function refreshMembersSoon() {
  if (document.visibilityState !== 'visible') {
    S.whoStale = true;
    return;
  }
  if (whoTimer) return;
  whoTimer = setTimeout(() => {
    whoTimer = 0;
    S.whoStale = false;
    request({ kind: 'who' }).catch(() => {});
  }, whoThrottle);
}

function onFeed(msg) {
  const e = feed.live(msg.event);
  if (!e) return;
  addFeed(e, true);
  if (e.action === 'upload' && dirName(e.path) === S.dir) refreshListingSoon();
}

function onFile(msg) {
  const p = replyTo(msg, ['get']);
  if (p) settle(p, fromFrame(msg));
}

function onFileStart(msg) {
  const p = replyTo(msg, ['get']);
  if (!p || p.stream !== undefined) return;
  const meta = fromFrame({ ...msg, content: undefined });
  p.stream = msg.stream;
  streams.set(msg.stream, { p, meta, chunks: [], received: 0, last: 0 });
  arm(p, streamStall);
  p.onProgress?.(0, Number(msg.size) || 0);
}

function onBinary(buf) {
  if (!(buf instanceof ArrayBuffer) || buf.byteLength < 4) return;
  const n = new DataView(buf).getUint32(0, false);
  const st = streams.get(n);
  if (!st) return; // a stream we gave up on, or not ours
  const chunk = new Uint8Array(buf, 4);
  st.chunks.push(chunk);
  st.received += chunk.length;
  arm(st.p, streamStall);
  const now = performance.now();
  if (now - st.last > 80) {
    st.last = now;
    st.p.onProgress?.(st.received, Number(st.meta.size) || 0);
  }
}

async function onFileEnd(msg) {
  const st = streams.get(msg.stream);
  if (!st) return;
  streams.delete(msg.stream);
  const bytes = new Uint8Array(st.received);
  let off = 0;
  for (const c of st.chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  st.p.onProgress?.(st.received, Number(st.meta.size) || st.received);
  let verify;
  try {
    verify = await sha256Check(bytes, msg.sha256);
  } catch (err) {
    verify = { state: 'unknown', text: `not verified (${err?.message || err})` };
  }
  settle(st.p, { ...st.meta, bytes, sha256: msg.sha256, verify });
}

function onShared(msg) {
  addShare(msg);
  if (!S.you || idOf(msg.by) !== S.you.id) return;
  const p = replyTo(msg, ['share']);
  if (p) settle(p, msg);
}

function onError(msg) {
  const code = String(msg.code || 'internal');
  const message = String(msg.message || '');
  const p = typeof msg.id === 'string' ? pending.get(msg.id) : null;
  if (p) {
    fail(p, code, message);
    return;
  }
  if (msg.stream !== undefined && streams.has(msg.stream)) {
    const st = streams.get(msg.stream);
    fail(st.p, code, message);
    return;
  }
  showNotice(`${code}${message ? `: ${message}` : ''}`);
}

// ---------------------------------------------------------------- status

const statusEl = $('status');
const statusText = $('status-text');
const statusCount = $('status-count');
const retryBtn = $('retry-btn');
let lastStatus = '';

function renderStatus(s) {
  statusEl.dataset.state = s.state;
  let text;
  let count = '';
  switch (s.state) {
    case 'connecting':
      text = 'connecting…';
      break;
    case 'open':
      text = 'connected';
      if (s.rtt !== null && s.rtt !== undefined) count = ` · ${s.rtt} ms`;
      break;
    case 'reconnecting':
      text = `${s.reason}: reconnecting`;
      count = ` in ${s.retryIn} s`;
      break;
    case 'refused':
      text = `refused: ${s.message || s.code} (${s.status || ''} ${s.code})`;
      break;
    default:
      text = 'closed';
  }
  if (text !== lastStatus) {
    setText(statusText, text);
    lastStatus = text;
  }
  setText(statusCount, count);
  statusEl.title = s.state === 'open' && s.rtt != null ? `round trip ${s.rtt} ms` : '';
  retryBtn.hidden = !(s.state === 'reconnecting' || s.state === 'refused');
  if (s.state !== 'open') {
    failAll('disconnected', 'the connection to the room was lost');
    if (viewer.root.dataset.state === 'loading') viewer.error(viewer.root.dataset.path, 'disconnected', 'the connection was lost; try again');
  }
  if (s.state === 'refused') {
    const why = {
      401: 'This server needs an access token: reload the page to enter it.',
      403: 'The server refused this page (its origin or your access).',
    }[s.status] || 'The server refused to join this room with these settings (room names use A-Z a-z 0-9 . _ - ; names are 1-32 characters).';
    showNotice(`Could not join: ${s.message || s.code}. ${why}`, true);
  } else if (s.state === 'open') {
    hideNotice(true);
  }
}

retryBtn.addEventListener('click', () => {
  if (conn.state.state === 'refused') conn.start();
  else conn.retryNow();
});
window.addEventListener('online', () => conn.retryNow());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && S.whoStale) refreshMembersSoon();
});
// Leaving (or entering the back/forward cache) closes the socket cleanly, so
// the room sees the leave at once; coming back from the cache rejoins.
window.addEventListener('pagehide', () => conn.stop());
window.addEventListener('pageshow', (e) => {
  if (e.persisted) conn.start();
});

const noticeEl = $('notice');
let noticeTimer = 0;
let noticeSticky = false;
function showNotice(text, sticky = false) {
  clearTimeout(noticeTimer);
  setText(noticeEl, text);
  noticeEl.hidden = false;
  noticeSticky = sticky;
  if (!sticky) noticeTimer = setTimeout(() => hideNotice(), 10000);
}
function hideNotice(evenSticky = false) {
  if (noticeSticky && !evenSticky) return;
  noticeEl.hidden = true;
  noticeSticky = false;
}

// ---------------------------------------------------------------- you, members

function renderYou(roomName) {
  if (roomName) {
    setText($('room-name'), roomName);
    document.title = `${roomName} · filehub`;
  }
  setText($('you-name'), S.you ? S.you.name : '…');
}

function renderMembers() {
  setText($('member-count'), String(S.count));
  const list = clear($('members'));
  const sorted = [...S.members].sort((a, b) => a[1].localeCompare(b[1]));
  for (const [id, name] of sorted) {
    const me = S.you && id === S.you.id;
    list.append(h('li', { class: me ? 'me' : null, 'data-id': id }, name, me ? ' (you)' : ''));
  }
  const more = $('members-more');
  const hidden = S.count - S.members.size;
  more.hidden = hidden <= 0;
  setText(more, hidden > 0 ? `and ${hidden} more` : '');
}

// ---------------------------------------------------------------- feed

const feedList = $('feed');

function addFeed(e, fresh) {
  // A folder downloaded as a zip is reported as its URL: "docs/?zip", "?zip".
  const zip = typeof e.path === 'string' && e.path.endsWith('?zip');
  const path = cleanPath(zip ? e.path.slice(0, -'?zip'.length) : e.path);
  const link = zip ? zipLink(path) : fileLink(path);
  let what;
  switch (e.action) {
    case 'fetch': what = [' fetched ', link, zip ? ' as zip' : '', ` via ${e.via || '?'}`]; break;
    case 'share': what = [' shared ', link, ' with the room']; break;
    case 'upload': what = [' uploaded ', link]; break;
    default: what = [` ${e.action} `, link];
  }
  const li = h('li', { class: fresh ? 'fresh' : null, 'data-seq': e.seq, 'data-epoch': e.epoch, 'data-action': e.action, 'data-testid': 'feed-entry' },
    h('span', { class: 'who' }, nameOf(e.who)),
    what,
    e.bytes > 0 && e.action !== 'share' ? ` (${formatSize(e.bytes)})` : '',
    ' · ',
    h('time', { class: 'at', datetime: String(e.at || '') }, formatTime(e.at)));
  feedList.prepend(li);
  while (feedList.children.length > feedLimit) feedList.lastElementChild.remove();
  $('feed-empty').hidden = true;
}

/** zipURL is the URL of a folder ('' or 'a/b/') downloaded as one zip file. */
function zipURL(dir) {
  return `${fileURL(dir, true)}?zip`;
}

/** zipLink is a link that downloads a folder as a zip. */
function zipLink(dir) {
  return h('a', { href: zipURL(dir), download: '' }, dir ? `${dir}/` : 'all files');
}

/** fileLink is a link to a file that opens it in the viewer (middle-click: raw). */
function fileLink(path) {
  return h('a', {
    href: fileURL(path),
    onclick: (ev) => {
      if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      viewFile(path, 'ws');
    },
  }, path);
}

// ---------------------------------------------------------------- files

const listingBody = $('listing');
const listingState = $('listing-state');
let listingTimer = 0;

function refreshListingSoon() {
  clearTimeout(listingTimer);
  listingTimer = setTimeout(() => loadListing(S.dir), 300);
}

async function httpListing(dir) {
  const r = await fetch(fileURL(dir, true), { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!r.ok) throw await httpError(r);
  return r.json();
}

async function loadListing(dir) {
  S.dir = dir;
  renderCrumbs();
  let res;
  try {
    const path = dir.replace(/\/$/, '');
    res = conn.isOpen ? await request(path ? { kind: 'list', path } : { kind: 'list' }) : await httpListing(dir);
  } catch (err) {
    if (S.dir !== dir) return;
    if (err.code === 'not_found' || err.code === 'forbidden') {
      clear(listingBody);
      setText(listingState, `${err.code}: cannot list ${dir || '/'}`);
      return;
    }
    try {
      res = await httpListing(dir);
    } catch (err2) {
      setText(listingState, `${err2.code || 'error'}: could not list ${dir || '/'}`);
      return;
    }
  }
  if (S.dir !== dir) return; // navigated elsewhere meanwhile
  renderListing(Array.isArray(res?.entries) ? res.entries : []);
}

function renderCrumbs() {
  const zip = $('zip-link');
  zip.href = zipURL(S.dir);
  zip.setAttribute('aria-label', `Download ${S.dir || 'all files'} as one zip file`);
  const ol = clear($('crumbs'));
  const parts = cleanPath(S.dir).split('/').filter(Boolean);
  const crumb = (label, dir, current) => h('li', null, h('button', {
    type: 'button', 'aria-current': current ? 'location' : null, onclick: () => loadListing(dir),
    'aria-label': current ? `${label} (current folder)` : `Open folder ${label}`,
  }, label));
  ol.append(crumb('files', '', parts.length === 0));
  parts.forEach((p, i) => ol.append(crumb(p, `${parts.slice(0, i + 1).join('/')}/`, i === parts.length - 1)));
}

function renderListing(entries) {
  clear(listingBody);
  const sorted = [...entries].sort((a, b) => (b.dir ? 1 : 0) - (a.dir ? 1 : 0) || String(a.name).localeCompare(String(b.name)));
  if (S.dir) {
    const up = dirName(S.dir.replace(/\/$/, ''));
    listingBody.append(h('tr', { class: 'dir' },
      h('td', { class: 'name' }, h('button', { type: 'button', onclick: () => loadListing(up), 'aria-label': 'Up one folder' }, '..')),
      h('td', { class: 'num' }), h('td')));
  }
  for (const e of sorted) {
    const name = String(e.name ?? '');
    if (!name) continue;
    const path = S.dir + name.replace(/\/$/, '');
    if (e.dir) {
      const dir = `${path}/`;
      listingBody.append(h('tr', { class: 'dir', 'data-path': dir, 'data-testid': 'entry' },
        h('td', { class: 'name' }, h('button', { type: 'button', onclick: () => loadListing(dir), 'aria-label': `Open folder ${name}` }, name),
          h('span', { class: 'sub' }, ['folder', formatDate(e.modified)].filter(Boolean).join(' · '))),
        h('td', { class: 'num' }, '—'),
        h('td', null, h('div', { class: 'actions' },
          h('button', { type: 'button', onclick: () => loadListing(dir), 'aria-label': `Open folder ${name}` }, 'Open'),
          h('a', { class: 'button', 'data-testid': 'zip', href: zipURL(dir), download: `${name}.zip`, 'aria-label': `Download folder ${name} as a zip file` }, 'Zip')))));
      continue;
    }
    listingBody.append(h('tr', { 'data-path': path, 'data-testid': 'entry' },
      h('td', { class: 'name' }, h('button', { type: 'button', onclick: () => viewFile(path, 'ws'), title: 'View privately' }, name),
        h('span', { class: 'sub' }, [formatDate(e.modified), String(e.type || '').replace(/;.*$/, '')].filter(Boolean).join(' · '))),
      h('td', { class: 'num' }, formatSize(e.size)),
      h('td', null, h('div', { class: 'actions' },
        h('button', { type: 'button', 'data-testid': 'view', onclick: () => viewFile(path, 'ws'), 'aria-label': `View ${name} (only you, over WebSocket)` }, 'View'),
        h('button', { type: 'button', 'data-testid': 'share', onclick: () => shareFile(path), 'aria-label': `Share ${name} with the room` }, 'Share'),
        h('button', { type: 'button', 'data-testid': 'ajax', onclick: () => viewFile(path, 'http'), 'aria-label': `Fetch ${name} by AJAX (HTTP)` }, 'AJAX'),
        h('a', { class: 'button', 'data-testid': 'download', href: `${fileURL(path)}?download`, download: name, 'aria-label': `Download ${name}` }, 'Download')))));
  }
  setText(listingState, sorted.length === 0 ? 'This folder is empty.' : `${sorted.length} ${sorted.length === 1 ? 'entry' : 'entries'}`);
}

function viewerProgress(path) {
  return (received, size) => viewer.progress(path, received, size);
}

async function viewFile(path, via) {
  viewer.loading(path, via);
  try {
    const f = via === 'http' ? await httpGet(path, viewerProgress(path)) : await wsGet(path, viewerProgress(path));
    viewer.show({ ...f, via });
  } catch (err) {
    viewer.error(path, err.code || 'error', err.message);
  }
}

async function shareFile(path) {
  try {
    await request({ kind: 'share', path });
    setText(listingState, `Shared ${path} with the room.`);
  } catch (err) {
    setText(listingState, `Could not share ${path}: ${err.code}${err.message ? ` (${err.message})` : ''}`);
  }
}

function wsGet(path, onProgress) {
  return request({ kind: 'get', path }, { onProgress });
}

async function httpError(r) {
  let code = httpErrorCode(r.status);
  let message = `HTTP ${r.status}`;
  try {
    const body = await r.json();
    if (body?.error?.message) message = String(body.error.message);
    if (code.startsWith('http_') && body?.error?.code) code = String(body.error.code);
  } catch {
    // Not JSON (a plain-text error page): the status says enough.
  }
  return new ReqError(code, message);
}

/**
 * httpGet fetches a file with plain same-origin fetch(): the session cookie
 * set by the WebSocket upgrade goes with it, so the room's feed shows this
 * person's name with "via http".
 */
async function httpGet(path, onProgress, url = fileURL(path)) {
  let r;
  try {
    r = await fetch(url, { cache: 'no-store' });
  } catch {
    throw new ReqError('network', 'the server could not be reached');
  }
  if (!r.ok) throw await httpError(r);
  const size = Number(r.headers.get('Content-Length')) || 0;
  const chunks = [];
  let received = 0;
  if (r.body) {
    const reader = r.body.getReader();
    let last = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.length;
      const now = performance.now();
      if (onProgress && now - last > 80) {
        last = now;
        onProgress(received, size);
      }
    }
  } else {
    const b = new Uint8Array(await r.arrayBuffer());
    chunks.push(b);
    received = b.length;
  }
  const bytes = new Uint8Array(received);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  onProgress?.(received, size || received);
  return {
    path,
    size: received,
    type: r.headers.get('Content-Type') || '',
    modified: r.headers.get('Last-Modified') || '',
    bytes,
  };
}

// ---------------------------------------------------------------- the form

const form = $('get-form');
const result = $('get-result');

function formResult(state, ...parts) {
  result.dataset.state = state;
  clear(result).append(...parts.filter((p) => p !== null && p !== undefined));
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const path = cleanPath($('get-path').value);
  const via = form.elements.via.value;
  const toRoom = form.elements.to.value === 'room';
  if (!path) {
    result.dataset.code = 'bad_request';
    formResult('error', h('span', { class: 'code', 'data-testid': 'get-result-code' }, 'bad_request'), ' type a path first');
    return;
  }
  delete result.dataset.code;
  const bar = h('progress', { max: '100', 'aria-label': `Fetching ${path}` });
  formResult('loading', `${toRoom && via === 'ws' ? 'sharing' : 'fetching'} ${path}… `, bar);
  const onProgress = (received, size) => {
    if (size > 0) bar.value = Math.min(100, Math.floor((received / size) * 100));
  };
  const how = via === 'http' ? 'AJAX (HTTP)' : 'WebSocket';
  try {
    if (toRoom) {
      if (via === 'http') {
        const f = await httpGet(path, onProgress);
        await request({ kind: 'share', path });
        formResult('ok', `✓ fetched ${path} (${formatSize(f.size)}) by AJAX and shared it with the room`);
      } else {
        await request({ kind: 'share', path });
        formResult('ok', `✓ shared ${path} with the room`);
      }
    } else {
      const f = via === 'http' ? await httpGet(path, onProgress) : await wsGet(path, onProgress);
      viewer.show({ ...f, via });
      formResult('ok', `✓ ${path}: ${formatSize(f.size ?? f.bytes?.length)} via ${how}, only for you (see the viewer)`);
    }
    result.dataset.code = 'ok';
  } catch (err) {
    const code = err.code || 'error';
    result.dataset.code = code;
    formResult('error', h('span', { class: 'code', 'data-testid': 'get-result-code' }, code), ` ${path} via ${how}${err.message && err.message !== code ? `: ${err.message}` : ''}`);
  }
});

// ---------------------------------------------------------------- shares

const sharesList = $('shares');
const shareURLs = new WeakMap(); // card -> Blob URLs to revoke when it goes

function addShare(msg) {
  const by = nameOf(msg.by);
  const path = cleanPath(msg.path);
  const url = safeURL(msg.url, path);
  const urls = [];
  const file = fromFrame(msg);
  const inline = file.text !== undefined || file.bytes !== undefined;
  let preview = null;
  if (inline) preview = renderBody(file, urls, { limit: 4096, lines: 30 }).node;
  const card = h('li', { class: 'card', 'data-testid': 'share-card', 'data-path': path },
    h('header', null, h('span', null, h('span', { class: 'who' }, by), ' shared ', h('span', { class: 'path' }, path))),
    h('p', { class: 'hint' }, h('time', { class: 'at' }, formatTime(msg.at)), ' · ',
      [formatSize(msg.size), msg.type, msg.modified ? `modified ${formatDate(msg.modified)}` : ''].filter(Boolean).join(' · ')),
    preview,
    h('div', { class: 'actions' },
      h('button', { type: 'button', 'data-testid': 'open-share', onclick: () => openShared(msg, path, url), 'aria-label': `Open ${path}, shared by ${by}` }, 'Open'),
      h('a', { class: 'button', href: `${url}${url.includes('?') ? '&' : '?'}download`, download: baseName(path), 'aria-label': `Download ${path}` }, 'Download')));
  shareURLs.set(card, urls);
  sharesList.prepend(card);
  while (sharesList.children.length > shareLimit) {
    const old = sharesList.lastElementChild;
    for (const u of shareURLs.get(old) || []) URL.revokeObjectURL(u);
    old.remove();
  }
  $('shares-empty').hidden = true;
}

async function openShared(msg, path, url) {
  const file = fromFrame(msg);
  if (file.text !== undefined || file.bytes !== undefined) {
    viewer.show({ ...file, via: 'share' });
    return;
  }
  viewer.loading(path, 'http');
  try {
    viewer.show({ ...(await httpGet(path, viewerProgress(path), url)), via: 'http' });
  } catch (err) {
    viewer.error(path, err.code || 'error', err.message);
  }
}

// ---------------------------------------------------------------- chat

const chatLog = $('chat-log');

function addChat(msg) {
  const mine = S.you && idOf(msg.from) === S.you.id;
  chatLog.append(h('li', { class: mine ? 'mine' : null, 'data-testid': 'chat-message' },
    h('span', { class: 'who' }, nameOf(msg.from)), ': ', String(msg.text ?? ''), ' · ', h('time', { class: 'at' }, formatTime(msg.at))));
  while (chatLog.children.length > chatLimit) chatLog.firstElementChild.remove();
  chatLog.scrollTop = chatLog.scrollHeight;
}

$('chat-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  if (!text) return;
  input.value = '';
  try {
    // Settled by our own message coming back (chat frames carry no id), or
    // failed by an error frame carrying the id (rate_limited, too_large); a
    // quiet timeout covers a server that does neither.
    await request({ kind: 'chat', text }, { timeout: 10000, quiet: true });
  } catch (err) {
    input.value = text;
    showNotice(`Message not sent: ${err.code}${err.message && err.message !== err.code ? ` (${err.message})` : ''}`);
  }
});

// ---------------------------------------------------------------- uploads

const uploadsList = $('uploads');
const roomUploads = new Map(); // "who|path" -> <li>
let uploadWired = false;

function setupUpload() {
  const on = Number(S.limits.upload) > 0;
  $('upload').hidden = !on;
  if (!on) return;
  setText($('upload-limit'), `Up to ${formatSize(S.limits.upload)} per file, into the folder shown above. Everyone in the room sees uploads.`);
  if (uploadWired) return;
  uploadWired = true;
  const input = $('upload-input');
  input.addEventListener('change', () => {
    for (const f of input.files) uploadFile(f, false);
    input.value = '';
  });
  const zone = $('files');
  zone.addEventListener('dragover', (e) => {
    if (!e.dataTransfer || ![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    $('dropzone').classList.add('over');
  });
  zone.addEventListener('dragleave', (e) => {
    if (!zone.contains(e.relatedTarget)) $('dropzone').classList.remove('over');
  });
  zone.addEventListener('drop', (e) => {
    $('dropzone').classList.remove('over');
    if (!e.dataTransfer || e.dataTransfer.files.length === 0) return;
    e.preventDefault();
    if ($('upload').hidden) return;
    for (const f of e.dataTransfer.files) uploadFile(f, false);
  });
}

// Uploads are resumable (PUT /path?resume=KEY, see the README): after a
// dropped connection the page asks the server how much it holds (HEAD,
// Upload-Offset) and sends the rest with Content-Range, after a backoff.
const uploadBackoff = [1000, 2000, 4000, 8000, 15000, 30000]; // ms before each new try
const uploadTries = 8; // tries in a row without progress before giving up

/** uploadKey names one upload for the server: 128 random bits in hex. */
function uploadKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function uploadFile(file, overwrite, li) {
  const path = S.dir + file.name;
  const label = h('span', null, `Uploading ${path}…`);
  const bar = h('progress', { max: '100', value: '0', 'aria-label': `Upload of ${path}` });
  const row = li || h('li', { 'data-testid': 'upload', 'data-path': path });
  row.dataset.state = 'uploading';
  clear(row).append(label, bar);
  if (!li) uploadsList.prepend(row);
  const done = (state, ...text) => {
    row.dataset.state = state;
    clear(row).append(...text);
  };
  if (file.size > S.limits.upload) {
    done('error', h('span', { class: 'code' }, 'too_large'), ` ${path}: ${formatSize(file.size)} is over the limit of ${formatSize(S.limits.upload)}`);
    return;
  }
  const stateURL = `${fileURL(path)}?resume=${uploadKey()}`;
  const putURL = `${stateURL}${overwrite ? '&overwrite=1' : ''}`;
  const pct = (n) => (file.size > 0 ? Math.min(100, Math.floor((n / file.size) * 100)) : 100);
  let tries = 0; // in a row, without progress

  const send = (offset) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', putURL);
    if (offset > 0) xhr.setRequestHeader('Content-Range', `bytes ${offset}-${file.size - 1}/${file.size}`);
    xhr.upload.addEventListener('progress', (e) => {
      const sent = offset + e.loaded;
      if (e.loaded > 0) tries = 0;
      row.dataset.state = 'uploading';
      bar.value = pct(sent);
      setText(label, `Uploading ${path}: ${formatSize(sent)} of ${formatSize(file.size)} (${pct(sent)}%)`);
    });
    xhr.addEventListener('load', () => {
      const held = xhr.getResponseHeader('Upload-Offset');
      if (xhr.status === 200 || xhr.status === 201) {
        done('ok', `✓ uploaded ${path} (${formatSize(file.size)})${xhr.status === 200 ? ', replaced the old one' : ''}`);
        refreshListingSoon();
      } else if (xhr.status === 409 && held !== null) {
        // The server holds another count than we thought: go on from there.
        resumeAt(Number(held));
      } else if (xhr.status === 409) {
        done('exists', `${path} already exists. `,
          h('button', { type: 'button', class: 'small danger', onclick: () => uploadFile(file, true, row) }, 'Overwrite'), ' ',
          h('button', { type: 'button', class: 'small', onclick: () => done('cancelled', `kept the existing ${path}`) }, 'Keep it'));
      } else if (xhr.status >= 500) {
        lost(`HTTP ${xhr.status}`); // a proxy in between, or the server busy: worth another try
      } else {
        done('error', h('span', { class: 'code' }, httpErrorCode(xhr.status)), ` ${path}: upload failed (HTTP ${xhr.status})`);
      }
    });
    xhr.addEventListener('error', () => lost('connection lost'));
    xhr.send(offset > 0 ? file.slice(offset) : file);
  };

  const resumeAt = (offset) => {
    if (!Number.isFinite(offset) || offset < 0 || offset > file.size) offset = 0;
    row.dataset.state = 'resuming';
    bar.value = pct(offset);
    setText(label, `Resuming ${path} at ${pct(offset)}%…`);
    send(offset);
  };

  const lost = (why) => {
    if (tries >= uploadTries) {
      done('error', h('span', { class: 'code' }, 'network'), ` ${path}: upload failed (${why}; gave up after ${tries} tries)`);
      return;
    }
    const wait = uploadBackoff[Math.min(tries, uploadBackoff.length - 1)];
    tries++;
    row.dataset.state = 'resuming';
    setText(label, `${why}: resuming ${path} at ${bar.value}% in ${Math.round(wait / 1000)} s…`);
    setTimeout(probe, wait);
  };

  // probe asks how many bytes the server holds, then sends the rest.
  const probe = async () => {
    let r;
    try {
      r = await fetch(stateURL, { method: 'HEAD', cache: 'no-store' });
    } catch {
      lost('server unreachable');
      return;
    }
    if (r.status >= 500) {
      lost(`HTTP ${r.status}`);
      return;
    }
    if (!r.ok) {
      done('error', h('span', { class: 'code' }, httpErrorCode(r.status)), ` ${path}: upload failed (HTTP ${r.status})`);
      return;
    }
    resumeAt(Number(r.headers.get('Upload-Offset')));
  };

  send(0);
}

function onRoomUpload(msg) {
  const by = msg.by;
  if (S.you && (idOf(by) ? idOf(by) === S.you.id : nameOf(by) === S.you.name)) return; // our own: the XHR shows it
  const path = cleanPath(msg.path);
  const key = `${idOf(by) || nameOf(by)}|${path}`;
  let li = roomUploads.get(key);
  if (!li) {
    li = h('li', { class: 'room', 'data-testid': 'room-upload', 'data-path': path });
    roomUploads.set(key, li);
    uploadsList.prepend(li);
  }
  const size = Number(msg.size) || 0;
  if (msg.kind === 'upload-progress') {
    const received = Number(msg.received) || 0;
    const pct = size > 0 ? Math.min(100, Math.floor((received / size) * 100)) : 0;
    const bar = h('progress', { max: '100', 'aria-label': `Upload of ${path} by ${nameOf(by)}` });
    if (size > 0) bar.value = pct; // else indeterminate: the uploader did not say the size
    clear(li).append(h('span', null, `${nameOf(by)} is uploading ${path}: ${formatSize(received)}${size > 0 ? ` of ${formatSize(size)} (${pct}%)` : ''}`), bar);
  } else if (msg.kind === 'upload-abort') {
    li.dataset.state = 'error';
    clear(li).append(msg.reason === 'interrupted'
      ? `${nameOf(by)}'s upload of ${path} was interrupted at ${formatSize(msg.received)}; it may resume`
      : `${nameOf(by)}'s upload of ${path} did not finish${msg.reason ? ` (${msg.reason})` : ''}`);
    roomUploads.delete(key);
    setTimeout(() => li.remove(), 15000);
  } else {
    li.dataset.state = 'ok';
    clear(li).append(`✓ ${nameOf(by)} uploaded ${path} (${formatSize(size)})`);
    roomUploads.delete(key);
    setTimeout(() => li.remove(), 15000);
    if (dirName(path) === S.dir) refreshListingSoon();
  }
  // Uploads need the section visible even where this page cannot upload.
  $('upload').hidden = false;
}

// ---------------------------------------------------------------- invite

function inviteURL() {
  const u = new URL('/', location.href);
  u.searchParams.set('room', room);
  return u.href;
}

function setupInvite() {
  const link = inviteURL();
  $('invite-link').value = link;
  try {
    $('qr').append(qrSVG(link, `QR code of ${link}`));
  } catch (err) {
    $('qr').append(h('p', { class: 'hint' }, 'The link is too long for a QR code.'));
  }
  if (/^(127\.|localhost$|\[::1\]$)/.test(location.hostname)) {
    $('qr').append(h('figcaption', { class: 'hint' }, 'This address only works on this computer. For a phone, start filehub on a network address (for example -addr 0.0.0.0:8080) and open the page through it.'));
  }
  const btn = $('invite-btn');
  btn.addEventListener('click', () => {
    const open = $('invite').hidden;
    $('invite').hidden = !open;
    btn.setAttribute('aria-expanded', String(open));
  });
  $('copy-btn').addEventListener('click', async () => {
    const input = $('invite-link');
    try {
      await navigator.clipboard.writeText(input.value);
      setText($('copy-state'), 'Copied.');
    } catch {
      input.select();
      setText($('copy-state'), 'Press Ctrl+C (or ⌘C) to copy the selected link.');
    }
  });
}

// ---------------------------------------------------------------- joining

const joinDialog = $('join');
let joinMode = 'join';

function askName(mode) {
  joinMode = mode;
  setText($('join-title'), mode === 'join' ? 'Join the room' : 'Change your name');
  setText($('join-submit'), mode === 'join' ? 'Join' : 'Change');
  $('join-name').value = mode === 'join' ? '' : S.you?.name || '';
  joinDialog.showModal();
  $('join-name').focus();
}

$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = $('join-name').value.trim();
  if (!name) return;
  storage.set(nameKey, name);
  joinDialog.close();
  if (joinMode === 'join') {
    join(name);
    return;
  }
  conn.name = name;
  request({ kind: 'rename', name }, { timeout: 5000, quiet: true }).catch((err) => {
    showNotice(`Could not change your name: ${err.code}${err.message ? ` (${err.message})` : ''}`);
  });
});

joinDialog.addEventListener('cancel', () => {
  // Escape on the first question: join anyway; the server picks guest-XXXX.
  if (joinMode === 'join') setTimeout(() => join(''), 0);
});

$('rename-btn').addEventListener('click', () => askName('rename'));

function join(name) {
  if (conn.ws || conn.state.state === 'open') return;
  conn.name = name;
  conn.start();
}

renderYou(room);
renderCrumbs();
setupInvite();
const given = (params.get('name') || '').trim();
const remembered = storage.get(nameKey) || '';
if (given || remembered) join(given || remembered);
else askName('join');
