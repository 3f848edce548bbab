// filehub room page: the module that wires the models to the DOM. The
// models hold the state and the protocol, with no DOM (conn.js: the socket;
// requests.js: requests, replies and streams; feed.js: the room's history;
// members.js: who is here; uploads.js: uploads; listing.js: the live
// listing; holders.js: who has which file; route.js: the room and folder in
// the URL; order.js: sort and filter; types.js: short types and previews;
// rate.js: speed and time left); the views draw (view-files.js: the
// listing, its menus, the form, uploads; view-room.js: members, feed,
// shares, chat; view-growing.js: shares that fill as they upload;
// view-offers.js: shares offered, fetched only when asked;
// viewer.js: one file, previewed from its URL, and the gallery).
// This module routes the room's frames, shows the connection, lays the
// sections out (one at a time on a phone) and asks for a name.
//
// Wire format: see the protocol document of the project (kinds, fields and
// close codes are used here exactly as specified there). Every string from
// the server or from people is rendered as text (see dom.js).

import { h, $, clear, setText, storage, narrow, roving } from './dom.js';
import { nameOf, idOf } from './format.js';
import { Connection } from './conn.js';
import { FeedState, ChatState, sharesIn } from './feed.js';
import { Members, PresenceNotes } from './members.js';
import { Requests } from './requests.js';
import { qrSVG } from './qr.js';
import { Viewer } from './viewer.js';
import { filesView } from './view-files.js';
import { roomView } from './view-room.js';
import { dropsView } from './view-drops.js';
import { shareTextView } from './share-text.js';
import { growingShares } from './view-growing.js';
import { offers } from './view-offers.js';
import { parseRoute, routeURL } from './route.js';

// A blocked resource or script would otherwise fail quietly; as a console
// error it is seen by people debugging and fails the browser tests.
document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`filehub: CSP violation of ${e.violatedDirective} by ${e.blockedURI || 'inline'}`);
});

const feedLimit = 200; // feed events held for dedupe (as many as the feed shows)
const chatLimit = 200; // chat messages remembered for dedupe
const nameKey = 'filehub.name';

// ---------------------------------------------------------------- state

const params = new URLSearchParams(location.search);
// The room and the folder are in the URL (route.js): Back and Forward move
// between folders, a reload stays, a copied link opens the same folder.
const route = parseRoute(location.search);
const room = route.room;

const S = {
  you: null, // {id, name} from the welcome
  limits: { inline: 0, upload: 0, message: 0 },
  dir: route.dir, // current folder: '' or 'a/b/'
  folder: 'files', // the root's name: the served folder's, from /_/info
  snippets: true, // false once the server said it does not know `snippet`
};

const feed = new FeedState(feedLimit);
const chat = new ChatState(chatLimit);
const members = new Members();
const presenceNotes = new PresenceNotes();

const conn = new Connection({
  room,
  name: '',
  position: () => feed.position(),
  was: () => S.you?.id || '',
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
      if (!(S.you && idOf(msg.who) === S.you.id)) {
        const line = presenceNotes.take(msg);
        if (line) note('presence', line.text, line.fresh);
      }
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
      {
        const line = presenceNotes.count(msg);
        if (line) note('presence', line.text, line.fresh);
      }
      return renderMembers();
    case 'members':
      if (answered) members.reply(msg);
      return renderMembers();
    case 'feed': return onFeed(msg);
    case 'shared':
      // Three kinds (protocol.md, Offers and inline shares): followed on a
      // stream, inline, or an offer that moves no bytes until asked.
      if (Number.isInteger(msg.stream)) return addGrowingShare(msg);
      return typeof msg.content === 'string' ? addShare(msg) : addOffer(msg);
    case 'chat':
    case 'snippet': {
      feed.note(msg.seq);
      const m = chat.live(msg);
      if (m) addChat(m, true);
      return undefined;
    }
    case 'fs':
      markShares(msg);
      return files.onFs(msg);
    case 'upload-progress':
    case 'upload-finish':
    case 'upload-abort':
      offerUploads(msg);
      drops.onUpload(msg);
      if (msg.kind === 'upload-finish' && String(idOf(msg.by)).startsWith('drop-')) {
        arrived('files', `${nameOf(msg.by)} sent ${msg.path} through a drop link`, $('upload'));
      }
      return onRoomUpload(msg);
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
  files.noteEvents(events);
  for (const m of Array.isArray(msg.chat) ? msg.chat : []) feed.note(m?.seq);
  for (const m of chat.welcome(msg.chat)) addChat(m, false);
  sendPending(); // what was typed while the room was away
  setupUpload();
  files.joined(first);
}

function onFeed(msg) {
  const e = feed.live(msg.event);
  if (!e) return;
  if (e.afterGap) addGap();
  addFeed(e, true);
  files.noteEvents([e]);
  // An upload this page shared as it went: the others had a card from the
  // start; ours comes now, so that Shared lists our own shares too.
  if (e.action === 'share' && e.via === 'http' && S.you && e.who === S.you.name) addShareFromFeed(e);
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
  if (document.visibilityState !== 'visible') return;
  conn.check();
  unread = 0;
  renderTitle();
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

const panes = { shared: () => document.querySelector('.panel.shares'), chat: () => $('chat'), room: () => document.querySelector('.panel.feed'), files: () => $('files') };

/**
 * arrived counts something new in a section: in the title while the page
 * is hidden ("(3) room · filehub": chat, shares, drop uploads), on the
 * phone's tab when that section is not shown, and on a desktop as a
 * compact notice when the section is off the screen (what: the words;
 * where: the element to show, default the section).
 */
function arrived(tab, what = '', where = null) {
  if (tab !== 'room' && what && document.visibilityState !== 'visible') {
    unread++;
    renderTitle();
  }
  if (narrow.matches) {
    if (layout.dataset.tab === tab) return;
    unseen[tab]++;
    const b = tabButtons.find((x) => x.dataset.tab === tab);
    if (b) renderBadge(b);
    return;
  }
  if (!what) return;
  const el = where || panes[tab]?.();
  if (!el || onScreen(el)) return;
  toast(what, el);
}

function onScreen(el) {
  const r = el.getBoundingClientRect();
  return r.bottom > 0 && r.top < window.innerHeight && r.height > 0;
}

// The compact notice: one line, the newest news, gone after a while or
// when what it tells of comes into view.
const toastEl = $('toast');
let toastTarget = null;
let toastTimer = 0;
function toast(what, el) {
  setText($('toast-text'), what);
  toastTarget = el;
  toastEl.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(hideToast, 12000);
}
function hideToast() {
  toastEl.hidden = true;
  toastTarget = null;
}
$('toast-show').addEventListener('click', () => {
  const el = toastTarget;
  hideToast();
  if (!el) return;
  el.scrollIntoView({ block: 'nearest' });
  const focus = el.querySelector('[data-testid=share-card] button, #chat-input') || el;
  focus.focus({ preventScroll: true });
});
$('toast-close').addEventListener('click', hideToast);
window.addEventListener('scroll', () => {
  if (toastTarget && onScreen(toastTarget)) hideToast();
}, { passive: true });

for (const b of tabButtons) b.addEventListener('click', () => showTab(b.dataset.tab));

// Skip links: to Files, Shared and Chat, one Tab stop (arrows choose); on
// a phone they show the section first. Where they lead takes the focus
// (the chat: its input).
roving(document.querySelector('nav.skips'), 'a.skip');
for (const a of document.querySelectorAll('a.skip[data-skip]')) {
  a.addEventListener('click', (ev) => {
    const target = document.querySelector(a.getAttribute('href'));
    if (!target) return;
    ev.preventDefault();
    if (narrow.matches) showTab(a.dataset.skip);
    target.focus();
    target.scrollIntoView({ block: 'nearest' });
  });
}

// Escape closes the panel or dialog it is pressed in, or else the last
// one opened: Invite, Receive files (dialogs close themselves), and gives
// the focus back to the button that opened it.
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' || e.defaultPrevented || document.querySelector('dialog[open]')) return;
  for (const [panel, btn] of [[$('drops'), $('drops-btn')], [$('invite'), $('invite-btn')]]) {
    if (panel.hidden) continue;
    if (!panel.contains(document.activeElement) && document.activeElement !== btn && document.activeElement !== document.body) continue;
    e.preventDefault();
    btn.click();
    btn.focus();
    return;
  }
});

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
    if (document.activeElement instanceof HTMLElement && !viewerPanel.contains(document.activeElement)) viewerOpener = document.activeElement;
    if (!narrow.matches) {
      // Scrolled to when its top is off screen, each time something opens.
      const r = viewerPanel.getBoundingClientRect();
      if (r.top < 0 || r.top > window.innerHeight - 120) viewerPanel.scrollIntoView({ block: 'start' });
      return;
    }
    if (wasOpen) return;
    document.body.classList.add('overlay');
    history.pushState({ filehubViewer: true }, '');
    viewerHistory = true;
    viewerPanel.focus({ preventScroll: true });
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
window.addEventListener('popstate', (e) => {
  if (viewerHistory && !e.state?.filehubViewer) closeViewer(true);
  // Back or Forward to another folder: show it (the URL says which).
  const dir = parseRoute(location.search).dir;
  if (dir !== S.dir) files.showFolder(dir);
});
document.addEventListener('keydown', (e) => {
  if (!viewerPanel.hasAttribute('data-open') || $('join').open) return;
  // On a phone the viewer covers everything; on a wide screen Escape
  // closes it only from inside it.
  if (e.key === 'Escape') {
    if (narrow.matches || viewerPanel.contains(document.activeElement)) closeViewer();
    return;
  }
  // The gallery: arrows go to the previous and next file, unless the keys
  // are someone's typing or a video's seeking.
  if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
  if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
  const t = document.activeElement;
  if (t instanceof HTMLElement && (t.matches('input, textarea, select, video, audio, [contenteditable]') || t.closest('[role=menu]') ||
    (t.closest('pre, .markdown') && t.scrollWidth > t.clientWidth))) return;
  if (viewer.step(e.key === 'ArrowLeft' ? -1 : 1)) e.preventDefault();
});
// And by swipe, on a touch screen: a horizontal stroke over the picture.
{
  let start = null;
  viewerRoot.addEventListener('pointerdown', (e) => {
    start = e.pointerType === 'mouse' || !e.target.closest('.stage') ? null : { x: e.clientX, y: e.clientY };
  });
  viewerRoot.addEventListener('pointerup', (e) => {
    if (!start) return;
    const dx = e.clientX - start.x;
    const dy = e.clientY - start.y;
    start = null;
    if (Math.abs(dx) > 50 && Math.abs(dx) > 2 * Math.abs(dy)) viewer.step(dx < 0 ? 1 : -1);
  });
  viewerRoot.addEventListener('pointercancel', () => {
    start = null;
  });
}

// ---------------------------------------------------------------- views

const files = filesView({
  S, request, viewer, connected: () => conn.isOpen,
  // Wired here, not by a setter: the room side is made after the files
  // side (it opens files), and takes the notes only once frames come.
  note: (kind, text, fresh) => note(kind, text, fresh),
  // A folder opened: a new entry in the history, so that Back comes back.
  onNavigate: (dir) => history.pushState({ filehubDir: dir }, '', routeURL(location.search, { room, dir })),
  // The folder shown was removed: the URL names the one shown instead.
  onReplace: (dir) => history.replaceState({ filehubDir: dir }, '', routeURL(location.search, { room, dir })),
});
const { renderCrumbs, setupUpload, onRoomUpload } = files;
const { renderMembers, addFeed, addGap, addShare, addShareFromFeed, addChat, note, shareCard, pushCard, markShares, sendPending } = roomView({
  S, members, request, viewer, showNotice, arrived, openPath: files.openPath, zipURL: files.zipURL, connected: () => conn.isOpen,
});
const { addOffer, onUpload: offerUploads } = offers({
  shareCard, pushCard, openPath: files.openPath, noteEvents: files.noteEvents, mine: (by) => Boolean(S.you && idOf(by) === S.you.id),
});
const addGrowingShare = growingShares({ requests, viewer, shareCard, pushCard, noteEvents: files.noteEvents });

// Drop links and shared text: their own modules, wired here.
let inviteBase = null; // the address for other devices, when this page is on a loopback one
const drops = dropsView({ S, room, base: () => inviteBase });
shareTextView({ request, connected: () => conn.isOpen });

let titleRoom = room;
let unread = 0; // chat, shares and drop uploads that came while the page was hidden: "(3) room · filehub"

function renderTitle() {
  document.title = `${unread > 0 ? `(${unread}) ` : ''}${titleRoom} · filehub`;
}

function renderYou(roomName) {
  if (roomName) {
    setText($('room-name'), roomName);
    titleRoom = roomName;
    renderTitle();
  }
  setText($('you-name'), S.you ? S.you.name : '…');
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
    select.onchange = () => {
      inviteBase = select.value;
      showInvite(roomURL(select.value));
    };
    inviteBase = lan[0];
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
  // The server says so to a visitor from another machine when it has no
  // token: whoever is on this network can read everything it serves.
  $('open-warning').hidden = info?.open !== true;
  if (typeof info?.folder === 'string' && info.folder.trim()) {
    S.folder = info.folder.trim();
    renderCrumbs();
  }
  if (info) setupInvite(info);
});
const given = (params.get('name') || '').trim();
const remembered = storage.get(nameKey) || '';
if (given || remembered) join(given || remembered);
else {
  // Someone new, from a link: the folder it names shows (over HTTP) behind
  // the question of their name; joining lists it again over the room.
  askName('join');
  files.loadListing(S.dir);
}

