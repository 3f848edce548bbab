// filehub room page, the one module that touches the DOM for the room: it
// wires the models (conn.js: the socket; requests.js: requests, replies and
// streams; feed.js: the room's history; members.js: who is here; uploads.js:
// resumable uploads) to the page. Files are opened privately (a WebSocket
// `get`, or plain HTTP) or shared with the room; the room's live feed,
// shares, members and chat are shown beside them, or one tap apart on a
// phone.
//
// Wire format: see the protocol document of the project (kinds, fields and
// close codes are used here exactly as specified there). Every string from
// the server or from people is rendered as text (see dom.js).

import { h, $, clear, setText, storage, narrow } from './dom.js';
import {
  cleanPath, fileURL, baseName, dirName, safeURL, formatSize, formatTime, formatDate, nameOf, idOf, httpErrorCode,
} from './format.js';
import { isSVG } from './content.js';
import { Connection } from './conn.js';
import { FeedState, ChatState, sharesIn } from './feed.js';
import { Members, whoLimit } from './members.js';
import { Requests, httpGet, httpListing, fileFromFrame } from './requests.js';
import { Upload } from './uploads.js';
import { qrSVG } from './qr.js';
import { Viewer, renderBody, saveLink, viaText } from './viewer.js';

// A blocked resource or script would otherwise fail quietly; as a console
// error it is seen by people debugging and fails the browser tests.
document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`filehub: CSP violation of ${e.violatedDirective} by ${e.blockedURI || 'inline'}`);
});

const feedLimit = 200; // entries shown in the live feed (and held for dedupe)
const chatLimit = 200; // chat messages kept
const shareLimit = 50; // share cards kept (each may hold a Blob URL)
const openMax = 1 << 30; // bytes: larger files are downloaded, never read into the page
const chatMax = 4096; // characters of a chat message; longer or multi-line text is a snippet
const nameKey = 'filehub.name';

// ---------------------------------------------------------------- state

const params = new URLSearchParams(location.search);
const room = (params.get('room') || '').trim() || 'lobby';

const S = {
  you: null, // {id, name} from the welcome
  limits: { inline: 0, upload: 0, message: 0 },
  dir: '', // current folder: '' or 'a/b/'
  folder: 'files', // the root's name: the served folder's, from /_/info
  snippets: true, // false once the server said it does not know `snippet`
};

const feed = new FeedState(feedLimit);
const chat = new ChatState(chatLimit);
const members = new Members();

const conn = new Connection({
  room,
  name: '',
  position: () => feed.position(),
  onFrame: (msg) => {
    try {
      onFrame(msg);
    } catch (err) {
      // One bad frame must not take the page down.
      console.warn('filehub: frame handling failed', msg?.kind, err);
    }
  },
  onBinary: (buf) => requests.binary(buf),
  onState: renderStatus,
});

const requests = new Requests({ send: (msg) => conn.send(msg) });
const request = (msg, opts) => requests.request(msg, opts);

// ---------------------------------------------------------------- frames

function onFrame(msg) {
  const answered = requests.handle(msg, S.you?.id);
  switch (msg.kind) {
    case 'welcome': return onWelcome(msg);
    case 'presence': {
      const who = members.presence(msg);
      if (who && msg.event === 'rename' && S.you && who.id === S.you.id) {
        S.you.name = who.name;
        renderYou();
      }
      return renderMembers();
    }
    case 'count':
      // A crowded room's coalesced presence: the count changes, the list
      // goes stale, and nobody asks `who` because of it.
      members.countFrame(msg);
      return renderMembers();
    case 'members':
      if (answered) members.reply(msg);
      return renderMembers();
    case 'feed': return onFeed(msg);
    case 'shared': return addShare(msg);
    case 'chat':
    case 'snippet': {
      const m = chat.live(msg);
      if (m) addChat(m, true);
      return undefined;
    }
    case 'fs': return onFs(msg);
    case 'upload-progress':
    case 'upload-finish':
    case 'upload-abort': return onRoomUpload(msg);
    case 'error':
      if (!answered) showNotice(`${msg.code || 'error'}${msg.message ? `: ${msg.message}` : ''}`);
      return undefined;
    default: return undefined; // replies, and a newer server's kinds: ignored, as the protocol allows
  }
}

let joined = false;

function onWelcome(msg) {
  const first = !joined;
  joined = true;
  S.you = { id: idOf(msg.you), name: nameOf(msg.you) };
  S.limits = { inline: 0, upload: 0, message: 0, ...(msg.limits || {}) };
  members.welcome(msg);
  renderMembers();
  renderYou(typeof msg.room === 'string' && msg.room ? msg.room : room);
  const { events, missed } = feed.join(msg, conn.joinedWith);
  if (missed) addGap();
  for (const e of events) addFeed(e, false);
  for (const e of sharesIn(events)) addShareFromFeed(e);
  for (const m of chat.welcome(msg.chat)) addChat(m, false);
  setupUpload();
  // After a recovered reconnect the listing is still right, unless the
  // events missed meanwhile touched this folder.
  if (first || missed) loadListing(S.dir);
  else if (events.some((e) => e.action === 'upload' && dirName(e.path) === S.dir)) refreshListingSoon();
}

function onFeed(msg) {
  const e = feed.live(msg.event);
  if (!e) return;
  if (e.afterGap) addGap();
  addFeed(e, true);
  if (e.action === 'upload' && dirName(e.path) === S.dir) refreshListingSoon();
}

function onFs(msg) {
  const path = cleanPath(msg.path);
  if (dirName(path) === S.dir || `${path}/` === S.dir) refreshListingSoon();
}

// ---------------------------------------------------------------- status

const statusEl = $('status');
const statusText = $('status-text');
const statusCount = $('status-count');
const retryBtn = $('retry-btn');
const viewerRoot = $('viewer');

function renderStatus(s) {
  statusEl.dataset.state = s.state;
  statusEl.dataset.checking = s.checking ? 'true' : 'false';
  let text;
  let count = '';
  switch (s.state) {
    case 'connecting':
      text = 'connecting…';
      break;
    case 'open':
      text = s.checking ? 'checking…' : 'connected';
      if (!s.checking && s.rtt !== null && s.rtt !== undefined) count = ` · ${s.rtt} ms`;
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
  if (statusText.textContent !== text) setText(statusText, text);
  setText(statusCount, count);
  statusEl.title = s.state === 'open' && s.rtt != null ? `round trip ${s.rtt} ms` : '';
  retryBtn.hidden = !(s.state === 'reconnecting' || s.state === 'refused');
  if (s.state !== 'open') {
    requests.failAll('disconnected', 'the connection to the room was lost');
    if (viewerRoot.dataset.state === 'loading') viewer.error(viewerRoot.dataset.path, 'disconnected', 'the connection was lost; try again');
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
// Coming back (a tab shown again, a phone woken, the network back): make
// sure the socket is alive now rather than at the next regular ping.
window.addEventListener('online', () => conn.check());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') conn.check();
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

// ---------------------------------------------------------------- sections (phone)

// On a narrow screen one section shows at a time, chosen in the bottom bar;
// the bar counts what arrived in a hidden section. On a wide screen all
// show and the bar is hidden.
const layout = $('layout');
const tabButtons = [...$('tabbar').querySelectorAll('button[data-tab]')];
const unseen = { files: 0, shared: 0, room: 0, chat: 0 };

function showTab(tab) {
  layout.dataset.tab = tab;
  unseen[tab] = 0;
  for (const b of tabButtons) {
    const on = b.dataset.tab === tab;
    if (on) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
    renderBadge(b);
  }
  if (narrow.matches) window.scrollTo(0, 0);
}

function renderBadge(b) {
  const badge = b.querySelector('.badge');
  if (!badge) return;
  const n = unseen[b.dataset.tab];
  badge.hidden = n === 0;
  setText(badge, n > 99 ? '99+' : String(n));
}

/** arrived counts something new in a section that a phone does not show now. */
function arrived(tab) {
  if (!narrow.matches || layout.dataset.tab === tab) return;
  unseen[tab]++;
  const b = tabButtons.find((x) => x.dataset.tab === tab);
  if (b) renderBadge(b);
}

for (const b of tabButtons) b.addEventListener('click', () => showTab(b.dataset.tab));

// ---------------------------------------------------------------- the viewer in view

// What Open opens comes into view: on a phone the viewer covers the screen
// (with Close, Escape and the back button closing it); on a wide screen it
// is scrolled to when it is not on screen.
const viewerPanel = $('viewer-panel');
const viewerClose = $('viewer-close');
let viewerOpener = null;
let viewerHistory = false;

const viewer = new Viewer(viewerRoot, {
  onOpen: () => {
    const wasOpen = viewerPanel.hasAttribute('data-open');
    viewerPanel.setAttribute('data-open', '');
    viewerClose.hidden = false;
    if (wasOpen) return;
    if (document.activeElement instanceof HTMLElement && !viewerPanel.contains(document.activeElement)) viewerOpener = document.activeElement;
    if (narrow.matches) {
      document.body.classList.add('overlay');
      history.pushState({ filehubViewer: true }, '');
      viewerHistory = true;
      viewerPanel.focus({ preventScroll: true });
    } else {
      const r = viewerPanel.getBoundingClientRect();
      if (r.top < 0 || r.top > window.innerHeight - 120) viewerPanel.scrollIntoView({ block: 'start', behavior: 'smooth' });
    }
  },
});

function closeViewer(fromHistory = false) {
  if (!viewerPanel.hasAttribute('data-open')) return;
  if (viewerHistory && !fromHistory) {
    history.back(); // comes back here through popstate
    return;
  }
  viewerHistory = false;
  viewerPanel.removeAttribute('data-open');
  document.body.classList.remove('overlay');
  viewerClose.hidden = true;
  viewer.empty();
  viewerOpener?.focus({ preventScroll: !narrow.matches });
  viewerOpener = null;
}

viewerClose.addEventListener('click', () => closeViewer());
window.addEventListener('popstate', () => {
  if (viewerHistory) closeViewer(true);
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && viewerPanel.hasAttribute('data-open') && !$('join').open) closeViewer();
});

// ---------------------------------------------------------------- you, members

function renderYou(roomName) {
  if (roomName) {
    setText($('room-name'), roomName);
    document.title = `${roomName} · filehub`;
  }
  setText($('you-name'), S.you ? S.you.name : '…');
}

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

function trimFeed() {
  while (feedList.children.length > feedLimit) feedList.lastElementChild.remove();
  $('feed-empty').hidden = feedList.children.length > 0;
}

/** zipURL is the URL of a folder ('' or 'a/b/') downloaded as one zip file. */
function zipURL(dir) {
  return `${fileURL(dir, true)}?zip`;
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

async function loadListing(dir) {
  S.dir = dir;
  renderCrumbs();
  let res;
  try {
    const path = dir.replace(/\/$/, '');
    res = conn.isOpen ? await request(path ? { kind: 'list', path } : { kind: 'list' }) : await httpListing(fileURL(dir, true));
  } catch (err) {
    if (S.dir !== dir) return;
    if (err.code === 'not_found' || err.code === 'forbidden') {
      clear(listingBody);
      setText(listingState, `${err.code}: cannot list ${dir || '/'}`);
      return;
    }
    try {
      res = await httpListing(fileURL(dir, true));
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
  zip.setAttribute('aria-label', `Download ${S.dir || S.folder} as one zip file`);
  const ol = clear($('crumbs'));
  const parts = cleanPath(S.dir).split('/').filter(Boolean);
  const crumb = (label, dir, current) => h('li', null, h('button', {
    type: 'button', 'aria-current': current ? 'location' : null, onclick: () => loadListing(dir),
    'aria-label': current ? `${label} (current folder)` : `Open folder ${label}`,
  }, label));
  ol.append(crumb(S.folder, '', parts.length === 0));
  parts.forEach((p, i) => ol.append(crumb(p, `${parts.slice(0, i + 1).join('/')}/`, i === parts.length - 1)));
}

function renderListing(entries) {
  clear(listingBody);
  const sorted = [...entries].sort((a, b) => (b.dir ? 1 : 0) - (a.dir ? 1 : 0) || String(a.name).localeCompare(String(b.name)));
  if (S.dir) {
    const up = dirName(S.dir.replace(/\/$/, ''));
    listingBody.append(h('tr', { class: 'dir up' },
      h('td', { class: 'name' }, h('button', { type: 'button', onclick: () => loadListing(up), 'aria-label': 'Up one folder' }, '..')),
      h('td', { class: 'num' }), h('td', { class: 'acts' })));
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
        h('td', { class: 'acts' }, h('div', { class: 'actions' },
          h('button', { type: 'button', onclick: () => loadListing(dir), 'aria-label': `Open folder ${name}` }, 'Open'),
          h('a', { class: 'button', 'data-testid': 'zip', href: zipURL(dir), download: `${name}.zip`, 'aria-label': `Download folder ${name} as a zip file` }, 'Zip')))));
      continue;
    }
    const size = Number(e.size);
    listingBody.append(h('tr', { 'data-path': path, 'data-testid': 'entry' },
      h('td', { class: 'name' }, h('button', { type: 'button', onclick: () => viewFile(path, 'ws', size), title: `Open ${name}, only for you` }, name),
        h('span', { class: 'sub' }, [formatDate(e.modified), String(e.type || '').replace(/;.*$/, '')].filter(Boolean).join(' · '))),
      h('td', { class: 'num' }, formatSize(e.size)),
      h('td', { class: 'acts' }, h('div', { class: 'actions' },
        h('button', {
          type: 'button', 'data-testid': 'view', onclick: () => viewFile(path, 'ws', size),
          title: `Only you see it. ${viaText.ws[1]}`, 'aria-label': `Open ${name}, only for you`,
        }, 'Open'),
        h('button', {
          type: 'button', 'data-testid': 'share', onclick: () => shareFile(path),
          title: 'Everyone in the room gets it', 'aria-label': `Share ${name} with the room`,
        }, 'Share'),
        h('button', {
          type: 'button', 'data-testid': 'open-http', onclick: () => viewFile(path, 'http', size),
          title: `Only you see it. ${viaText.http[1]}`, 'aria-label': `Open ${name} over HTTP, only for you`,
        }, 'Open over HTTP'),
        h('a', {
          class: 'button', 'data-testid': 'download', href: `${fileURL(path)}?download`, download: name,
          title: 'Save it with the browser', 'aria-label': `Download ${name}`,
        }, 'Download')))));
  }
  setText(listingState, sorted.length === 0 ? 'This folder is empty.' : `${sorted.length} ${sorted.length === 1 ? 'entry' : 'entries'}`);
}

function viewerProgress(path) {
  return (received, size) => viewer.progress(path, received, size);
}

/** fetchFile gets a file privately, over the room's socket or plain HTTP. */
function fetchFile(path, via, onProgress) {
  return via === 'http' ? httpGet(path, { onProgress }) : request({ kind: 'get', path }, { onProgress });
}

async function viewFile(path, via, size) {
  if (size > openMax) {
    tooLargeToOpen(path, size);
    return;
  }
  viewer.loading(path, via);
  try {
    const f = await fetchFile(path, via, viewerProgress(path));
    await viewer.show({ ...f, via, url: fileURL(path) });
  } catch (err) {
    viewer.error(path, err.code || 'error', err.message);
  }
}

function tooLargeToOpen(path, size) {
  viewer.error(path, 'too_large', `${formatSize(size)} is more than this page opens (${formatSize(openMax)}).`);
  viewerRoot.append(h('p', null, h('a', { class: 'button', href: `${fileURL(path)}?download`, download: baseName(path) }, `Download ${baseName(path)}`)));
}

async function shareFile(path) {
  try {
    await request({ kind: 'share', path });
    setText(listingState, `Shared ${path} with the room.`);
  } catch (err) {
    setText(listingState, `Could not share ${path}: ${err.code}${err.message ? ` (${err.message})` : ''}`);
  }
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
  const how = viaText[via][0];
  try {
    if (toRoom) {
      if (via === 'http') {
        const f = await httpGet(path, { onProgress });
        await request({ kind: 'share', path });
        formResult('ok', `✓ fetched ${path} (${formatSize(f.size)}) ${how} and shared it with the room`);
      } else {
        await request({ kind: 'share', path });
        formResult('ok', `✓ shared ${path} with the room`);
      }
    } else {
      const f = await fetchFile(path, via, onProgress);
      formResult('ok', `✓ ${path}: ${formatSize(f.size)} ${how}, only for you (see the viewer)`);
      await viewer.show({ ...f, via, url: fileURL(path) });
    }
    result.dataset.code = 'ok';
  } catch (err) {
    const code = err.code || 'error';
    result.dataset.code = code;
    formResult('error', h('span', { class: 'code', 'data-testid': 'get-result-code' }, code), ` ${path} ${how}${err.message && err.message !== code ? `: ${err.message}` : ''}`);
  }
});

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
async function addShare(msg) {
  const by = nameOf(msg.by);
  const path = cleanPath(msg.path);
  const url = safeURL(msg.url, path);
  const urls = [];
  const file = fileFromFrame(msg);
  const inline = file.text !== undefined || file.blob !== undefined;
  let preview = null;
  if (isSVG(file.type)) {
    // Not fetched for every member of the room: Open shows it.
    preview = h('p', { class: 'hint' }, 'An SVG image: Open shows it.');
  } else if (inline) {
    preview = (await renderBody(file, urls, { limit: 4096, lines: 30 })).node;
  }
  const info = [formatSize(msg.size), msg.type, msg.modified ? `modified ${formatDate(msg.modified)}` : ''].filter(Boolean).join(' · ');
  const card = shareCard(path, by, msg.at, info, preview, [
    h('button', { type: 'button', 'data-testid': 'open-share', onclick: () => openShared(file, inline, path, url), 'aria-label': `Open ${path}, shared by ${by}` }, 'Open'),
    inline ? saveLink(file, urls, 'Save', 'button') : h('a', { class: 'button', href: `${url}${url.includes('?') ? '&' : '?'}download`, download: baseName(path), 'aria-label': `Download ${path}` }, 'Download'),
  ]);
  pushCard(card, urls);
}

/** addShareFromFeed lists a share the page heard of from the room's history. */
function addShareFromFeed(e) {
  const key = `${e.run}/${e.seq}`;
  if (shareKeys.has(key)) return;
  shareKeys.add(key);
  const path = cleanPath(e.path);
  const by = nameOf(e.who);
  pushCard(shareCard(path, by, e.at, 'earlier in the room', null, [
    h('button', { type: 'button', 'data-testid': 'open-share', onclick: () => viewFile(path, 'ws'), 'aria-label': `Open ${path}, shared by ${by}` }, 'Open'),
    h('a', { class: 'button', href: `${fileURL(path)}?download`, download: baseName(path), 'aria-label': `Download ${path}` }, 'Download'),
  ]), []);
}

async function openShared(file, inline, path, url) {
  if (inline) {
    viewer.loading(path, 'share');
    await viewer.show({ ...file, via: 'share', url });
    return;
  }
  viewer.loading(path, 'http');
  try {
    await viewer.show({ ...(await httpGet(path, { onProgress: viewerProgress(path), url })), via: 'http', url });
  } catch (err) {
    viewer.error(path, err.code || 'error', err.message);
  }
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
    li = h('li', { class: mine ? 'mine' : null, 'data-testid': 'chat-message' }, who, ': ', String(msg.text ?? ''), ' · ', at);
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

function uploadFile(file, overwrite, li) {
  const path = S.dir + file.name;
  const row = li || h('li', { 'data-testid': 'upload', 'data-path': path });
  if (!li) uploadsList.prepend(row);
  const show = (state, ...parts) => {
    row.dataset.state = state;
    clear(row).append(...parts);
  };
  if (file.size > S.limits.upload) {
    show('error', h('span', { class: 'code' }, 'too_large'), ` ${path}: ${formatSize(file.size)} is over the limit of ${formatSize(S.limits.upload)}`);
    return;
  }
  const label = h('span', null, `Uploading ${path}…`);
  const bar = h('progress', { max: '100', value: '0', 'aria-label': `Upload of ${path}` });
  const pct = (n) => (file.size > 0 ? Math.min(100, Math.floor((n / file.size) * 100)) : 100);
  const up = new Upload({
    file,
    url: fileURL(path),
    overwrite,
    codeOf: httpErrorCode,
    onState: (s) => {
      switch (s.state) {
        case 'uploading':
        case 'resuming':
          if (row.dataset.state !== s.state || !row.contains(bar)) show(s.state, label, bar, cancel);
          bar.value = pct(s.sent);
          if (s.state === 'uploading') setText(label, `Uploading ${path}: ${formatSize(s.sent)} of ${formatSize(file.size)} (${pct(s.sent)}%)`);
          else if (s.wait > 0) setText(label, `${s.why}: resuming ${path} at ${pct(s.sent)}% in ${Math.round(s.wait / 1000)} s…`);
          else setText(label, `Resuming ${path} at ${pct(s.sent)}%…`);
          return;
        case 'ok':
          show('ok', `✓ uploaded ${path} (${formatSize(file.size)})${s.replaced ? ', replaced the old one' : ''}`);
          refreshListingSoon();
          return;
        case 'exists':
          show('exists', `${path} already exists. `,
            h('button', { type: 'button', class: 'small danger', onclick: () => uploadFile(file, true, row) }, 'Overwrite'), ' ',
            h('button', { type: 'button', class: 'small', onclick: () => show('cancelled', `kept the existing ${path}`) }, 'Keep it'));
          return;
        case 'cancelled':
          show('cancelled', `cancelled the upload of ${path}`);
          return;
        default:
          show('error', h('span', { class: 'code' }, s.code), ` ${path}: upload failed (${s.why})`);
      }
    },
  });
  const cancel = h('button', { type: 'button', class: 'small', onclick: () => up.cancel(), 'aria-label': `Cancel the upload of ${path}` }, 'Cancel');
  up.start();
}

function onRoomUpload(msg) {
  const by = msg.by;
  if (S.you && (idOf(by) ? idOf(by) === S.you.id : nameOf(by) === S.you.name)) return; // our own: the upload row shows it
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

// ---------------------------------------------------------------- invite, folder name

function isLoopback(host) {
  return /^(127\.|localhost$|\[::1\]$)/.test(host);
}

function roomURL(base) {
  const u = new URL('/', base);
  u.searchParams.set('room', room);
  return u.href;
}

function showInvite(link) {
  $('invite-link').value = link;
  const qr = clear($('qr'));
  try {
    qr.append(qrSVG(link, `QR code of ${link}`));
  } catch {
    qr.append(h('p', { class: 'hint' }, 'The link is too long for a QR code.'));
  }
  if (isLoopback(new URL(link).hostname)) {
    qr.append(h('figcaption', { class: 'hint' }, 'This address only works on this computer. For a phone, start filehub on a network address (for example -addr 0.0.0.0:8080) and open the page through it.'));
  }
}

/**
 * setupInvite shows the link to this room. On a loopback address it offers
 * the server's network addresses instead (from /_/info), so that a phone can
 * scan the QR code.
 */
function setupInvite(info) {
  const lan = isLoopback(location.hostname) && Array.isArray(info?.urls)
    ? info.urls.filter((u) => typeof u === 'string' && /^https?:\/\//.test(u)) : [];
  if (lan.length > 0) {
    const select = clear($('invite-addr'));
    for (const u of lan) select.append(h('option', { value: u }, u));
    $('invite-addrs').hidden = lan.length < 2;
    select.onchange = () => showInvite(roomURL(select.value));
    showInvite(roomURL(lan[0]));
  } else {
    showInvite(roomURL(location.href));
  }
}

async function loadInfo() {
  try {
    const r = await fetch('/_/info', { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (!r.ok) return null;
    return await r.json();
  } catch {
    return null; // an older server: the defaults stand
  }
}

{
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
setupInvite(null);
loadInfo().then((info) => {
  if (typeof info?.folder === 'string' && info.folder.trim()) {
    S.folder = info.folder.trim();
    renderCrumbs();
  }
  if (info) setupInvite(info);
});
const given = (params.get('name') || '').trim();
const remembered = storage.get(nameKey) || '';
if (given || remembered) join(given || remembered);
else askName('join');
