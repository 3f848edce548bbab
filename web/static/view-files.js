// The files side of the page (DOM): the listing and its folder path, kept
// live by the room's fs frames, with who in the room has each file; one
// primary action per row (its name opens it) and a menu for the rest; the
// type icons and thumbnails, list or grid; sort, filter and the search of
// all folders; the form that requests any path, and the upload rows. The
// models it drives are listing.js, holders.js, requests.js, uploads.js,
// types.js, order.js and route.js; app.js gives it the page's state and
// wires it to the room and the URL (filesView).

import { h, $, clear, setText, narrow, storage } from './dom.js';
import { cleanPath, fileURL, baseName, dirName, formatSize, formatWhen, nameOf, idOf, httpErrorCode, isolated } from './format.js';
import { httpGet, httpListing } from './requests.js';
import { fileType, isImageFolder } from './types.js';
import { icon } from './icons.js';
import { parseOrder, orderString, matcher } from './order.js';
import { crumbsOf } from './route.js';
import { Rate, progressText } from './rate.js';
import { Upload } from './uploads.js';
import { viaText } from './viewer.js';
import { Listing, FsNotes, dirKey } from './listing.js';
import { Holders, holdersLine, howText } from './holders.js';

const openMax = 1 << 30; // bytes: larger files are downloaded, never read into the page
const holdersLimit = 200; // feed events who-has-it counts: as many as the room keeps

/** zipURL is the URL of a folder ('' or 'a/b/') downloaded as one zip file. */
function zipURL(dir) {
  return `${fileURL(dir, true)}?zip`;
}

/**
 * filesView makes the files side of the page: c holds S (the page's state:
 * dir, folder, limits, you), request (to the room), viewer, connected()
 * (whether the room's socket is open), note(kind, text, fresh) (a line of
 * the page's own in the room's feed), onNavigate(dir) (a folder opened:
 * app.js puts it in the URL) and onReplace(dir) (the folder shown was
 * removed: its parent is shown instead). Everything it finds in the
 * document, it finds here, when it is made.
 */
export function filesView(c) {
  const { S, request, viewer, connected } = c;
  const room = { note: c.note || (() => {}) };
  const onNavigate = c.onNavigate || (() => {});
  const onReplace = c.onReplace || (() => {});


  // ---------------------------------------------------------------- files

  // The listing is live: listing.js holds the shown folder's entries and
  // applies the room's fs frames to them; this part draws the difference,
  // row by row, so that the person keeps their place: rows that did not
  // change are never rebuilt (focus stays where it was), and what appears
  // above the part of the page on screen does not push it away.

  const listingBody = $('listing');
  const listingState = $('listing-state');
  // Says why the page shows another folder than the one opened (it was removed).
  const listingNote = h('p', { class: 'hint note', 'data-testid': 'listing-note', role: 'status', hidden: true });
  listingBody.closest('.tablewrap').before(listingNote);

  const fsCoalesce = 100; // ms: fs frames arriving within this are drawn together
  const listing = new Listing();
  const holders = new Holders(holdersLimit);
  const fsNotes = new FsNotes();
  const rows = new Map(); // name -> <tr> of the folder drawn
  let rowsDir = null; // the folder whose rows are drawn
  let fsSeen = false; // the server sends fs frames: uploads need no refresh of the listing
  let fsQueue = [];
  let fsTimer = 0;
  let listingTimer = 0;

  function refreshListingSoon() {
    clearTimeout(listingTimer);
    listingTimer = setTimeout(() => loadListing(S.dir, { force: true }), 300);
  }

  /**
   * loadListing opens a folder ('' or 'a/b/'): its cached rows at once when
   * it was shown before, then a listing from the server when it is not known
   * or may have changed (force: ask anyway). gone: the folder replaces one
   * that was removed; when it is gone too, its parent is tried.
   */
  async function loadListing(dir, { force = false, gone = '' } = {}) {
    dir = dirKey(dir);
    if (!gone) setNote('');
    S.dir = dir;
    renderCrumbs();
    const { entries, list } = listing.open(dir);
    if (entries && rowsDir !== dir) drawAll(entries);
    if (!list && !force) return;
    listing.begin();
    let res;
    try {
      const path = dir.replace(/\/$/, '');
      res = connected() ? await request(path ? { kind: 'list', path } : { kind: 'list' }) : await httpListing(fileURL(dir, true));
    } catch (err) {
      if (err.code === 'not_found' || err.code === 'forbidden') {
        listing.fail(dir);
        if (S.dir !== dir) return;
        if (dir !== '' && (gone || (err.code === 'not_found' && rowsDir === dir))) {
          // Removed meanwhile: the nearest folder above that still exists.
          listing.forget(dir);
          loadListing(dirName(dir.replace(/\/$/, '')), { gone: gone || dir });
          return;
        }
        clearRows(dir);
        setText(listingState, `${err.code}: cannot list ${isolated(dir || '/')}`);
        return;
      }
      try {
        res = await httpListing(fileURL(dir, true));
      } catch (err2) {
        listing.fail(dir);
        if (S.dir === dir) setText(listingState, `${err2.code || 'error'}: could not list ${isolated(dir || '/')}`);
        return;
      }
    }
    if (S.dir !== dir) return; // navigated elsewhere meanwhile
    const d = listing.load(dir, Array.isArray(res?.entries) ? res.entries : []);
    if (!d) return;
    if (gone) {
      setNote(`The folder ${isolated(gone)} was removed; this is the nearest folder that still exists.`);
      onReplace(dir);
    }
    if (d.whole || rowsDir !== dir) drawAll(listing.sorted());
    else drawDiff(d);
  }

  function setNote(text) {
    listingNote.hidden = !text;
    setText(listingNote, text);
  }

  function renderCrumbs() {
    const zip = $('zip-link');
    zip.href = zipURL(S.dir);
    zip.setAttribute('aria-label', `Download ${S.dir || S.folder} as one zip file`);
    const ol = clear($('crumbs'));
    const all = crumbsOf(S.dir, S.folder);
    all.forEach((c, i) => {
      const current = i === all.length - 1;
      ol.append(h('li', null, h('button', {
        // The current folder is said, not a Tab stop: it leads nowhere new.
        type: 'button', 'aria-current': current ? 'location' : null, tabindex: current ? '-1' : null, onclick: () => openFolder(c.dir),
        'aria-label': current ? `${c.name} (current folder)` : `Open folder ${c.name}`,
      }, c.name)));
    });
  }

  /**
   * openFolder is a person opening a folder: it goes in the URL (Back comes
   * back here), and the folder is shown from its top, its path in view.
   */
  function openFolder(dir) {
    dir = dirKey(dir);
    if (dir !== S.dir) onNavigate(dir);
    showFolder(dir);
  }

  /** showFolder shows dir from its top (also for Back and Forward: the URL is there already). */
  function showFolder(dir) {
    dir = dirKey(dir);
    closeMenu();
    if (dir !== S.dir) {
      filterInput.value = '';
      searchResults(null);
    }
    loadListing(dir);
    const crumbs = $('crumbs');
    const hdr = document.querySelector('header.top');
    const top = hdr && getComputedStyle(hdr).position === 'sticky' ? hdr.getBoundingClientRect().bottom : 0;
    if (crumbs.getBoundingClientRect().top < top) $('files').scrollIntoView({ block: 'start' });
  }

  function clearRows(dir) {
    clear(listingBody);
    rows.clear();
    rowsDir = dir;
  }

  /** drawAll draws the shown folder from scratch (another folder was shown). */
  function drawAll(entries) {
    clearRows(listing.dir);
    if (listing.dir) {
      const up = dirName(listing.dir.replace(/\/$/, ''));
      listingBody.append(h('tr', { class: 'dir up', 'data-testid': 'up' },
        h('td', { class: 'name' }, h('div', { class: 'cell' }, h('span', { class: 'ico' }, icon('folder')),
          h('button', { type: 'button', class: 'open', tabindex: '-1', onclick: () => openFolder(up), 'aria-label': 'Up one folder' }, h('span', { class: 'nm' }, '..'), h('span', { class: 'sub' }, 'Up one folder')))),
        h('td', { class: 'num' }), h('td', { class: 'acts' })));
    }
    for (const e of entries) {
      const tr = makeRow(e);
      rows.set(e.name, tr);
      listingBody.append(tr);
    }
    renderView();
    applyFilter();
  }

  function renderCount() {
    const n = rows.size;
    const shown = [...rows.values()].filter((tr) => !tr.hidden).length;
    if (n === 0) setText(listingState, 'This folder is empty.');
    else if (shown < n) setText(listingState, `${shown} of ${n} ${n === 1 ? 'entry' : 'entries'} match`);
    else setText(listingState, `${n} ${n === 1 ? 'entry' : 'entries'}`);
    searchOffer.hidden = !(search.available && filterInput.value.trim());
  }

  /**
   * drawDiff draws what changed in the shown folder: rows added in their
   * place, changed ones updated where they are, removed ones taken out, the
   * added and changed briefly highlighted. What the person looks at stays
   * where it is on the screen.
   */
  function drawDiff({ added = [], changed = [], removed = [] }) {
    if (added.length + changed.length + removed.length === 0) return;
    const anchor = anchorOf(new Set(removed));
    const focused = document.activeElement instanceof HTMLElement && listingBody.contains(document.activeElement) ? document.activeElement.closest('tr') : null;
    let refocus = null;
    for (const name of removed) {
      const tr = rows.get(name);
      if (!tr) continue;
      rows.delete(name);
      if (tr === focused) refocus = tr.nextElementSibling || tr.previousElementSibling;
      tr.remove();
    }
    const moved = []; // a file that became a folder (or back): a new row, in the folders' place
    for (const name of changed) {
      const e = listing.get(name);
      const tr = rows.get(name);
      if (!e || !tr) continue;
      if ((tr.dataset.kind === 'dir') !== e.dir) {
        if (tr === focused) refocus = tr.nextElementSibling || tr.previousElementSibling;
        tr.remove();
        rows.delete(name);
        moved.push(name);
      } else {
        fillRow(tr, e);
        flash(tr, 'change');
      }
    }
    if (added.length + moved.length > 0) {
      const fresh = new Map(); // <tr> -> how it is highlighted
      for (const name of [...added, ...moved]) {
        const e = listing.get(name);
        if (!e || rows.has(name)) continue;
        const tr = makeRow(e);
        rows.set(name, tr);
        fresh.set(tr, moved.includes(name) ? 'change' : 'add');
      }
      // Existing rows are in order already and never move (moving a row
      // would take the focus from it); new ones go in before the first row
      // that sorts after them.
      let cursor = listingBody.querySelector('tr[data-testid=entry]');
      for (const e of listing.sorted()) {
        const tr = rows.get(e.name);
        if (!tr) continue;
        if (fresh.has(tr)) {
          listingBody.insertBefore(tr, cursor);
          flash(tr, fresh.get(tr));
        } else if (tr === cursor) {
          cursor = tr.nextElementSibling;
        }
      }
    }
    if (refocus?.isConnected) refocus.querySelector('button')?.focus({ preventScroll: true });
    applyFilter(); // before measuring: new rows may be hidden
    if (anchor) {
      const shift = anchor.el.getBoundingClientRect().top - anchor.top;
      if (Math.abs(shift) >= 1) window.scrollBy(0, shift);
    }
  }

  // Where the person's attention was last: the mouse (or a finger), or the
  // keyboard's focus. On a wide screen the listing is one column of three: a
  // row that appears above the screen moves either that column or the others,
  // so the page keeps still the column the person is looking at.
  let pointerX = null; // x of the last pointer event
  let attention = 'pointer';
  const onPointer = (e) => {
    pointerX = e.clientX;
    attention = 'pointer';
  };
  document.addEventListener('pointermove', onPointer, { passive: true });
  document.addEventListener('pointerdown', onPointer, { passive: true });
  document.addEventListener('keydown', () => {
    attention = 'focus';
  }, { passive: true });

  /**
   * anchorOf picks what is at the top of the screen (below the sticky
   * header) in the column the person looks at, to keep it where it is: rows
   * that appear above the screen then do not push what the person reads, and
   * rows that appear on the screen push down what is below them, as a list
   * does. skip: names of rows that are going away.
   */
  function anchorOf(skip) {
    const hdr = document.querySelector('header.top');
    const top = hdr && getComputedStyle(hdr).position === 'sticky' ? hdr.getBoundingClientRect().bottom : 0;
    let x = null;
    const focused = document.activeElement;
    if (attention === 'focus' && focused instanceof HTMLElement && focused !== document.body) {
      const r = focused.getBoundingClientRect();
      if (r.width > 0 && r.bottom > top && r.top < window.innerHeight) x = r.left + r.width / 2;
    }
    if (x === null && pointerX !== null && pointerX < window.innerWidth) x = pointerX;
    if (x === null) {
      const r = listingBody.getBoundingClientRect();
      x = r.left + r.width / 2;
    }
    const layout = $('layout');
    for (let y = top + 2; y < Math.min(window.innerHeight, top + 240); y += 12) {
      const el = document.elementFromPoint(x, y);
      if (!el || !layout.contains(el) || el === layout || el.classList.contains('col')) continue; // a gap
      if (narrow.matches && el.closest('.viewer[data-open]')) return null; // the viewer covers the page
      const row = el.closest('#listing tr');
      if (row && skip.has(row.dataset.name)) continue;
      const a = row || el;
      return { el: a, top: a.getBoundingClientRect().top };
    }
    return null;
  }

  /** flash highlights a row that appeared or changed (style.css: without motion when so asked). */
  function flash(tr, how) {
    tr.classList.remove('live');
    tr.dataset.live = how;
    void tr.offsetWidth; // restarts the animation of a row highlighted before
    tr.classList.add('live');
  }

  function entryPath(name) {
    return listing.dir + name;
  }

  /**
   * makeRow builds the row of an entry; fillRow fills what changes. One
   * primary action per row: its name opens it (a folder; a file in the
   * viewer, or a download when there is nothing to show); everything else
   * is in its menu (openMenu).
   */
  function makeRow(e) {
    const name = e.name;
    const path = entryPath(name);
    const kind = e.dir ? 'dir' : 'file';
    const key = e.dir ? `${path}/` : path;
    const tr = h('tr', { class: e.dir ? 'dir' : null, 'data-path': key, 'data-name': name, 'data-kind': kind, 'data-testid': 'entry' },
      h('td', { class: 'name' }, h('div', { class: 'cell' },
        h('span', { class: 'ico' }),
        h('button', {
          type: 'button', class: 'open', tabindex: '-1', 'data-testid': 'open', onclick: () => (e.dir ? openFolder(key) : openEntry(name)),
        }, h('span', { class: 'nm' }, name), h('span', { class: 'sub' })),
        e.dir ? null : h('span', { class: 'holders', 'data-testid': 'holders', hidden: true }))),
      h('td', { class: 'num' }),
      h('td', { class: 'acts' }, h('button', {
        type: 'button', class: 'more', tabindex: '-1', 'data-testid': 'menu', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
        'aria-label': `More for ${name}`, title: 'Share, download, copy link…', onclick: (ev) => toggleMenu(ev.currentTarget, tr),
      }, h('span', { 'aria-hidden': 'true' }, '⋯'))));
    fillRow(tr, e);
    return tr;
  }

  function fillRow(tr, e) {
    const t = fileType(e.name, e.type, e.dir);
    const ico = tr.querySelector('.ico');
    if (ico.dataset.icon !== t.icon || ico.dataset.modified !== e.modified) {
      clear(ico).append(icon(t.icon));
      ico.dataset.icon = t.icon;
      ico.dataset.modified = e.modified;
      delete ico.dataset.thumb;
      if (t.thumb) addThumb(ico, entryPath(e.name), e.modified);
    }
    tr.dataset.preview = t.preview;
    const sub = tr.querySelector('.sub');
    setText(sub, [t.label, formatWhen(e.modified)].filter(Boolean).join(' · '));
    if (e.dir) {
      setText(tr.querySelector('td.num'), '');
      return;
    }
    setText(tr.querySelector('td.num'), formatSize(e.size));
    fillHolders(tr, entryPath(e.name));
  }

  /**
   * addThumb puts the server's thumbnail of an image over its icon
   * (GET /_/thumb/PATH: a small JPEG, 404 when it cannot make one). Lazy: only
   * rows near the screen ask; the listing never waits for it; on any error
   * the icon stays.
   */
  function addThumb(ico, path, modified) {
    // ?v= is the file's time: the server lets a browser keep a thumbnail a
    // few minutes, and a changed picture must not show the old one.
    const v = Date.parse(modified) || 0;
    const img = h('img', {
      class: 'thumb', alt: '', loading: 'lazy', decoding: 'async', 'data-testid': 'thumb',
      src: `/_/thumb/${fileURL(path).slice(1)}?v=${v}`,
      onload: () => {
        ico.dataset.thumb = 'ok';
      },
      onerror: () => {
        ico.dataset.thumb = 'none';
        img.remove();
      },
    });
    ico.append(img);
  }

  /** fillHolders shows who in the room has the file: "ann, bob and 3 others". */
  function fillHolders(tr, path) {
    const el = tr.querySelector('.holders');
    if (!el) return;
    const who = holders.of(path);
    const line = holdersLine(who, S.you?.name || '');
    el.hidden = !line;
    clear(el);
    if (!line) return;
    el.append(h('span', { class: 'sr' }, 'Has it: '));
    if (line.room) el.append(h('span', { class: 'chip room', 'data-testid': 'holder' }, 'everyone'));
    for (const n of line.names) el.append(h('span', { class: n === 'you' ? 'chip me' : 'chip', 'data-testid': 'holder' }, n));
    if (line.more > 0) el.append(h('span', { class: 'chip more' }, `+${line.more}`));
    const how = [];
    if (who.room) how.push(`${who.sharedBy || 'someone'} shared it with the room`);
    for (const p of who.people) if (p.action !== 'share') how.push(howText(p));
    el.title = `Has it: ${line.text}. ${how.join('; ')}.`;
    el.dataset.text = line.text;
  }

  // ---------------------------------------------------------------- opening, the row's menu

  /**
   * openEntry is the primary action of a file's row: the viewer shows it from
   * its URL (viewer.preview), with the folder's other viewable files as its
   * gallery; a file with nothing to show is downloaded, by the browser, at
   * HTTP speed (never through the page's memory).
   */
  function openEntry(name) {
    const e = listing.get(name);
    if (!e || e.dir) return;
    const path = entryPath(name);
    const t = fileType(name, e.type);
    if (t.preview === 'none') {
      download(path);
      return;
    }
    const list = galleryOf(name);
    const go = (x, index) => viewer.preview(x, { list, index, go });
    const index = list.findIndex((x) => x.path === path);
    go(list[index] || { path, size: e.size, type: e.type, modified: e.modified }, Math.max(index, 0));
  }

  /**
   * galleryOf lists what Previous and Next go through from name: the files
   * of the folder shown that the viewer can show, in the listing's order and
   * filter; from an image, its images only (a photo folder's gallery).
   */
  function galleryOf(name) {
    const from = listing.get(name);
    const image = ['image', 'svg'].includes(fileType(name, from?.type).preview);
    const out = [];
    for (const e of listing.sorted()) {
      if (e.dir || rows.get(e.name)?.hidden) continue;
      const p = fileType(e.name, e.type).preview;
      if (p === 'none' || (image && p !== 'image' && p !== 'svg')) continue;
      out.push({ path: entryPath(e.name), size: e.size, type: e.type, modified: e.modified });
    }
    return out;
  }

  /**
   * openPath opens any file of the folder as the listing's rows do (the
   * feed's links, shares not held in the page): the viewer from its URL, or
   * the browser's download when there is nothing to show. meta: what is
   * known of it ({size, type, modified}).
   */
  function openPath(path, meta = {}) {
    path = cleanPath(path);
    const e = dirName(path) === listing.dir ? listing.get(baseName(path)) : null;
    const m = { size: Number(e?.size ?? meta.size) || 0, type: String(e?.type ?? meta.type ?? ''), modified: String(e?.modified ?? meta.modified ?? '') };
    if (fileType(baseName(path), m.type).preview === 'none') {
      download(path);
      return;
    }
    viewer.preview({ path, ...m });
  }

  /** download saves a file with the browser's own download (its progress, its speed). */
  function download(path) {
    const a = h('a', { href: `${fileURL(path)}?download`, download: baseName(path), hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setText(listingState, `Downloading ${isolated(baseName(path))}: your browser shows its progress.`);
  }

  // One menu at a time, built when opened, inside its row (so that a row's
  // actions are found from the row). On a phone it is a sheet at the bottom.
  let menu = null; // {el, button, tr}

  function toggleMenu(button, tr) {
    if (menu?.button === button) {
      closeMenu(true);
      return;
    }
    openMenu(button, tr);
  }

  function closeMenu(refocus = false) {
    if (!menu) return;
    const { el, button } = menu;
    menu = null;
    el.remove();
    button.setAttribute('aria-expanded', 'false');
    if (refocus && button.isConnected) button.focus({ preventScroll: true });
  }

  function menuItem(testid, label, action, extra = {}) {
    const tag = extra.href ? 'a' : 'button';
    return h(tag, {
      type: tag === 'button' ? 'button' : null, role: 'menuitem', tabindex: '-1', 'data-testid': testid, class: 'item', ...extra,
      onclick: () => {
        closeMenu(true);
        action?.();
      },
    }, label);
  }

  function openMenu(button, tr) {
    closeMenu();
    const name = tr.dataset.name;
    const e = listing.get(name);
    if (!e) return;
    const path = entryPath(name);
    const items = e.dir ? [
      menuItem('open-folder', 'Open', () => openFolder(`${path}/`)),
      menuItem('zip', 'Download as zip', null, { href: zipURL(`${path}/`), download: `${name}.zip` }),
      menuItem('copy-link', 'Copy link to this folder', () => copyLink(folderLink(`${path}/`), name)),
    ] : [
      menuItem('share', 'Share with the room', () => shareFile(path), { title: 'Everyone in the room gets it' }),
      menuItem('download', 'Download', null, { href: `${fileURL(path)}?download`, download: name }),
      menuItem('copy-link', 'Copy link', () => copyLink(new URL(fileURL(path), location.origin).href, name)),
      h('p', { class: 'menu-label', role: 'presentation' }, 'Fetch into the page, only for you:'),
      menuItem('view', 'over the live connection', () => viewFile(path, 'ws', Number(listing.get(name)?.size ?? e.size)), { title: viaText.ws[1] }),
      menuItem('open-http', 'over HTTP', () => viewFile(path, 'http', Number(listing.get(name)?.size ?? e.size)), { title: viaText.http[1] }),
    ];
    const el = h('div', { class: 'rowmenu', role: 'menu', id: 'row-menu', 'data-testid': 'row-menu', 'aria-label': `Actions for ${name}` },
      h('p', { class: 'menu-title', role: 'presentation' }, name), ...items);
    el.addEventListener('keydown', menuKeys);
    button.after(el);
    button.setAttribute('aria-expanded', 'true');
    menu = { el, button, tr };
    if (!narrow.matches) {
      // Below the button, or above it when there is no room below.
      const r = button.getBoundingClientRect();
      const m = el.getBoundingClientRect();
      if (r.bottom + m.height > window.innerHeight && r.top - m.height > 0) el.classList.add('up');
    }
    el.querySelector('[role=menuitem]')?.focus({ preventScroll: true });
  }

  function menuKeys(ev) {
    const items = [...menu.el.querySelectorAll('[role=menuitem]')];
    const i = items.indexOf(document.activeElement);
    let j = null;
    if (ev.key === 'ArrowDown') j = (i + 1) % items.length;
    else if (ev.key === 'ArrowUp') j = (i - 1 + items.length) % items.length;
    else if (ev.key === 'Home') j = 0;
    else if (ev.key === 'End') j = items.length - 1;
    else if (ev.key === 'Escape' || ev.key === 'Tab') {
      if (ev.key === 'Escape') ev.preventDefault();
      closeMenu(ev.key === 'Escape');
      return;
    }
    if (j === null) return;
    ev.preventDefault();
    items[j].focus();
  }

  document.addEventListener('pointerdown', (ev) => {
    if (menu && !menu.el.contains(ev.target) && !menu.button.contains(ev.target)) closeMenu();
  }, true);

  /** folderLink is the page's link to a folder in this room (what Back and reload keep). */
  function folderLink(dir) {
    const u = new URL(location.href);
    if (dir) u.searchParams.set('dir', dir);
    else u.searchParams.delete('dir');
    u.searchParams.delete('name');
    return u.href.replace(/%2F/gi, '/');
  }

  async function copyLink(link, name) {
    try {
      await navigator.clipboard.writeText(link);
      setText(listingState, `Copied the link to ${isolated(name)}.`);
    } catch {
      setText(listingState, `The link to ${isolated(name)}: ${link}`);
    }
  }

  // ---------------------------------------------------------------- sort, filter, view, search

  const orderKey = 'filehub.order';
  // List or grid, as chosen for a folder while the page is open (a grid for
  // the photos does not make every folder a grid); unchosen: types.js decides.
  const viewChoice = new Map();
  const filterInput = $('filter');
  const sortSelect = $('sort');
  const viewButtons = [...document.querySelectorAll('[data-view-choice]')];
  const searchOffer = $('search-offer');
  const searchList = $('search-results');
  // search: whether GET /_/search answers (probed once; hidden when it does not).
  const search = { available: false, token: 0, timer: 0 };
  // searchPause is how long typing must pause before the tree is searched.
  const searchPause = 200;

  {
    const order = parseOrder(storage.get(orderKey));
    sortSelect.value = orderString(order);
    listing.sortBy(order);
    sortSelect.addEventListener('change', () => {
      const o = parseOrder(sortSelect.value);
      storage.set(orderKey, orderString(o));
      listing.sortBy(o);
      if (listing.loaded) drawAll(listing.sorted());
    });
    filterInput.addEventListener('input', () => {
      applyFilter();
      const q = filterInput.value.trim();
      clearTimeout(search.timer);
      if (!q) {
        searchResults(null);
        return;
      }
      // Search as you type: the whole tree, once typing pauses (the
      // server answers from memory in a few milliseconds). One letter
      // matches half the tree; two is where it starts to narrow.
      if (search.available && q.length >= 2) search.timer = setTimeout(() => runSearch(q), searchPause);
    });
    filterInput.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && search.available && filterInput.value.trim()) {
        clearTimeout(search.timer);
        runSearch(filterInput.value.trim());
      }
      if (ev.key === 'Escape' && filterInput.value) {
        filterInput.value = '';
        applyFilter();
        searchResults(null);
      }
    });
    for (const b of viewButtons) {
      b.addEventListener('click', () => {
        viewChoice.set(listing.dir, b.dataset.viewChoice);
        renderView();
      });
      b.addEventListener('keydown', (ev) => {
        if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
        ev.preventDefault();
        const other = viewButtons.find((x) => x !== b);
        other.click();
        other.focus();
      });
    }
    $('search-btn').addEventListener('click', () => runSearch(filterInput.value.trim()));
  }

  /** applyFilter hides the rows whose names do not match what is typed in the filter. */
  function applyFilter() {
    const match = matcher(filterInput.value);
    for (const [name, tr] of rows) tr.hidden = !match(name);
    renderCount();
    rove(roveRow);
  }

  // The listing is one Tab stop, however long: the current row's name (a
  // roving tabindex). Up and Down, Home and End move between rows; Right
  // goes to the row's menu button, Left back to its name.
  let roveRow = null;
  function rove(tr) {
    if (!tr || !tr.isConnected || tr.hidden) tr = listingBody.querySelector('tr:not([hidden])');
    if (roveRow && roveRow !== tr) roveRow.querySelector('button.open')?.setAttribute('tabindex', '-1');
    roveRow = tr;
    tr?.querySelector('button.open')?.setAttribute('tabindex', '0');
  }

  function siblingRow(tr, next) {
    let r = next ? tr.nextElementSibling : tr.previousElementSibling;
    while (r && r.hidden) r = next ? r.nextElementSibling : r.previousElementSibling;
    return r;
  }

  listingBody.addEventListener('focusin', (ev) => {
    const tr = ev.target instanceof Element ? ev.target.closest('tr') : null;
    if (tr && tr !== roveRow) rove(tr);
  });
  listingBody.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey || !(ev.target instanceof Element)) return;
    if (ev.target.closest('[role=menu]')) return; // the menu has keys of its own
    const tr = ev.target.closest('tr');
    if (!tr) return;
    let to = null;
    switch (ev.key) {
      case 'ArrowDown': to = siblingRow(tr, true); break;
      case 'ArrowUp': to = siblingRow(tr, false); break;
      case 'Home': to = listingBody.querySelector('tr:not([hidden])'); break;
      case 'End': to = [...listingBody.querySelectorAll('tr:not([hidden])')].pop(); break;
      case 'ArrowRight':
        if (!ev.target.matches('button.open')) return;
        ev.preventDefault();
        tr.querySelector('button.more')?.focus();
        return;
      case 'ArrowLeft':
        if (!ev.target.matches('button.more')) return;
        ev.preventDefault();
        tr.querySelector('button.open')?.focus();
        return;
      default: return;
    }
    ev.preventDefault();
    const b = to?.querySelector('button.open');
    if (b) {
      b.focus();
      b.scrollIntoView({ block: 'nearest' });
    }
  });

  /**
   * renderView draws the listing as a list or as a grid of thumbnails: the
   * person's choice for this folder, else a grid for a folder of pictures.
   */
  function renderView() {
    const chosen = viewChoice.get(listing.dir);
    const grid = chosen ? chosen === 'grid' : isImageFolder(listing.sorted());
    const table = listingBody.closest('table');
    table.dataset.view = grid ? 'grid' : 'list';
    for (const b of viewButtons) {
      const on = (b.dataset.viewChoice === 'grid') === grid;
      b.setAttribute('aria-pressed', String(on));
      b.tabIndex = on ? 0 : -1; // one Tab stop; the arrows switch
    }
  }

  /** probeSearch asks once whether the server searches the tree (GET /_/search). */
  async function probeSearch() {
    try {
      const r = await fetch('/_/search?q=a&limit=1', { headers: { Accept: 'application/json' }, cache: 'no-store' });
      search.available = r.ok;
    } catch {
      search.available = false;
    }
    renderCount();
  }

  /**
   * searchEntries reads a search answer (GET /_/search: {q, path, total,
   * results: [{path, name, dir, size, modified, type, match}]}); an array or
   * {entries} is taken too.
   */
  function searchEntries(body) {
    const list = Array.isArray(body) ? body : Array.isArray(body?.results) ? body.results : Array.isArray(body?.entries) ? body.entries : [];
    return list.filter((x) => x && typeof x.path === 'string' && cleanPath(x.path) !== '');
  }

  async function runSearch(q) {
    if (!q) return;
    const token = ++search.token;
    // While typing, the last results stay until the new ones come.
    if (searchList.hidden) searchResults([], `Searching all folders for “${q}”…`);
    let found;
    let total;
    try {
      const r = await fetch(`/_/search?q=${encodeURIComponent(q)}`, { headers: { Accept: 'application/json' }, cache: 'no-store' });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const body = await r.json();
      found = searchEntries(body);
      total = Number(body?.total);
    } catch (err) {
      if (token === search.token) searchResults([], `Search failed: ${err.message}`);
      return;
    }
    if (token !== search.token) return;
    const more = Number.isFinite(total) && total > found.length ? `the best ${found.length} of ${total}` : `${found.length}`;
    searchResults(found, found.length === 0 ? `Nothing found for “${q}”.` : `${more} found for “${q}” in all folders:`);
  }

  /** searchResults shows results of a search of the whole tree (null: none shown). */
  function searchResults(list, text = '') {
    clear(searchList);
    searchList.hidden = list === null;
    if (list === null) {
      // Hidden for good: a search still waiting to start, or an answer
      // still on its way, must not show the list again.
      clearTimeout(search.timer);
      search.token++;
      return;
    }
    searchList.append(h('li', { class: 'hint', role: 'status' }, text));
    for (const x of list) {
      const path = cleanPath(x.path);
      const dir = !!x.dir || String(x.path).endsWith('/');
      const t = fileType(baseName(path), x.type, dir);
      const open = () => {
        searchResults(null);
        filterInput.value = '';
        if (dir) {
          openFolder(`${path}/`);
          return;
        }
        openFolder(dirName(path));
        viewer.preview({ path, size: Number(x.size) || 0, type: String(x.type || ''), modified: String(x.modified || '') });
      };
      searchList.append(h('li', { 'data-testid': 'search-result', 'data-path': path },
        h('span', { class: 'ico' }, icon(t.icon)),
        h('button', { type: 'button', class: 'open', onclick: open }, path),
        h('span', { class: 'sub' }, [t.label, Number.isFinite(Number(x.size)) && !dir ? formatSize(x.size) : ''].filter(Boolean).join(' · '))));
    }
  }

  // ---------------------------------------------------------------- the room's news

  /**
   * noteEvents takes feed events (new ones, oldest first): who has which
   * file, and uploads, which the feed tells of itself.
   */
  function noteEvents(events) {
    const touched = new Set();
    for (const e of events) {
      for (const p of holders.add(e)) touched.add(p);
      if (e.action === 'upload' && typeof e.path === 'string') {
        fsNotes.uploaded(e.path);
        // A server that does not send fs frames: list the folder again.
        if (!fsSeen && dirName(e.path) === S.dir) refreshListingSoon();
      }
    }
    for (const p of touched) {
      if (dirName(p) !== listing.dir) continue;
      const tr = rows.get(p.slice(listing.dir.length));
      if (tr) fillHolders(tr, p);
    }
  }

  /** onFs takes an fs frame: the folder changed. Frames close together are drawn together. */
  function onFs(msg) {
    fsSeen = true;
    fsQueue.push(msg);
    if (!fsTimer) fsTimer = setTimeout(flushFs, fsCoalesce);
  }

  function flushFs() {
    fsTimer = 0;
    const frames = fsQueue;
    fsQueue = [];
    for (const n of fsNotes.take(frames)) room.note(n.kind, n.text, n.fresh);
    markViewed(frames);
    const r = listing.apply(frames);
    if (r.gone !== null) {
      loadListing(r.gone, { gone: r.goneFrom });
      return;
    }
    if (rowsDir === listing.dir && listing.loaded) drawDiff(r);
  }

  /** markViewed says in the viewer when the file it shows changed or went. */
  function markViewed(frames) {
    const root = viewer.root;
    if (root.dataset.state !== 'shown') return;
    const path = root.dataset.path;
    let what = '';
    for (const f of frames) {
      const p = cleanPath(f.path);
      if (p === path) what = f.op === 'remove' ? 'removed' : 'changed';
      else if (f.op === 'remove' && path.startsWith(`${p}/`)) what = 'removed';
    }
    if (!what) return;
    root.querySelector('[data-testid=viewer-stale]')?.remove();
    const note = h('p', { class: 'hint stale', 'data-testid': 'viewer-stale', 'data-state': what },
      what === 'removed' ? 'This file was removed from the folder since you opened it. ' : 'This file changed in the folder since you opened it. ');
    if (what === 'changed') {
      const again = root.dataset.kind ? () => openEntry(baseName(path)) : () => viewFile(path, 'ws', 0);
      note.append(h('button', { type: 'button', class: 'small', onclick: again }, 'Open it again'));
    }
    root.querySelector('[data-testid=viewer-path]')?.after(note);
  }

  /**
   * joined takes a welcome: the first lists the folder; after a reconnect
   * every listing may be out of date (fs frames are not in the room's
   * history), so the shown folder is listed again and drawn as a difference.
   */
  function joined(first) {
    if (first) {
      loadListing(S.dir);
      return;
    }
    listing.invalidate();
    loadListing(S.dir, { force: true });
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
    viewer.root.append(h('p', null, h('a', { class: 'button', href: `${fileURL(path)}?download`, download: baseName(path) }, `Download ${baseName(path)}`)));
  }

  async function shareFile(path) {
    try {
      await request({ kind: 'share', path });
      setText(listingState, `Shared ${isolated(path)} with the room.`);
    } catch (err) {
      setText(listingState, `Could not share ${isolated(path)}: ${err.code}${err.message ? ` (${err.message})` : ''}`);
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
    formResult('loading', `${toRoom && via === 'ws' ? 'sharing' : 'fetching'} ${isolated(path)}… `, bar);
    const barText = h('span', { class: 'hint' });
    result.append(' ', barText);
    const rate = new Rate();
    const onProgress = (received, size) => {
      if (size > 0) bar.value = Math.min(100, Math.floor((received / size) * 100));
      rate.add(received);
      setText(barText, progressText(received, size, rate));
    };
    const how = viaText[via][0];
    try {
      if (toRoom) {
        if (via === 'http') {
          const f = await httpGet(path, { onProgress });
          await request({ kind: 'share', path });
          formResult('ok', `✓ fetched ${isolated(path)} (${formatSize(f.size)}) ${how} and shared it with the room`);
        } else {
          await request({ kind: 'share', path });
          formResult('ok', `✓ shared ${isolated(path)} with the room`);
        }
      } else {
        const f = await fetchFile(path, via, onProgress);
        formResult('ok', `✓ ${isolated(path)}: ${formatSize(f.size)} ${how}, only for you (see the viewer)`);
        await viewer.show({ ...f, via, url: fileURL(path) });
      }
      result.dataset.code = 'ok';
    } catch (err) {
      const code = err.code || 'error';
      result.dataset.code = code;
      formResult('error', h('span', { class: 'code', 'data-testid': 'get-result-code' }, code), ` ${isolated(path)} ${how}${err.message && err.message !== code ? `: ${err.message}` : ''}`);
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
      for (const f of input.files) uploadFile(f, false, null, sharing());
      input.value = '';
    });
    const share = $('upload-share');
    const renderShare = () => {
      $('upload-share-hint').hidden = !share.checked;
    };
    share.addEventListener('change', renderShare);
    renderShare();
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
      for (const f of e.dataTransfer.files) uploadFile(f, false, null, sharing());
    });
  }

  /** sharing says whether uploads started now go to the room as they upload. */
  function sharing() {
    return $('upload-share').checked;
  }

  /**
   * uploadFile uploads one file into the folder shown, with a row that shows
   * its progress and a Cancel button. share: a plain PUT that the room
   * receives as it arrives (no resume); otherwise a resumable upload.
   */
  function uploadFile(file, overwrite, li, share) {
    const path = S.dir + file.name;
    const row = li || h('li', { 'data-testid': 'upload', 'data-path': path });
    if (!li) uploadsList.prepend(row);
    row.dataset.share = share ? 'true' : 'false';
    const show = (state, ...parts) => {
      row.dataset.state = state;
      clear(row).append(...parts);
    };
    if (file.size > S.limits.upload) {
      show('error', h('span', { class: 'code' }, 'too_large'), ` ${path}: ${formatSize(file.size)} is over the limit of ${formatSize(S.limits.upload)}`);
      return;
    }
    fsNotes.uploaded(path); // the feed tells of it: not "appeared" as well
    const doing = share ? 'Uploading and sharing' : 'Uploading';
    const label = h('span', null, `${doing} ${path}…`);
    const bar = h('progress', { max: '100', value: '0', 'aria-label': `Upload of ${path}` });
    const note = share ? h('span', { class: 'hint' }, ' Shared with the room as it uploads: it can’t resume if interrupted.') : null;
    const pct = (n) => (file.size > 0 ? Math.min(100, Math.floor((n / file.size) * 100)) : 100);
    const rate = new Rate(); // speed and time left
    const up = new Upload({
      file,
      url: fileURL(path),
      overwrite,
      share,
      codeOf: httpErrorCode,
      onState: (s) => {
        switch (s.state) {
          case 'uploading':
          case 'resuming':
            if (row.dataset.state !== s.state || !row.contains(bar)) show(s.state, label, note, bar, cancel);
            bar.value = pct(s.sent);
            rate.add(s.sent);
            if (s.state === 'uploading') setText(label, `${doing} ${path}: ${progressText(s.sent, file.size, rate)}`);
            else if (s.wait > 0) setText(label, `${s.why}: resuming ${path} at ${pct(s.sent)}% in ${Math.round(s.wait / 1000)} s…`);
            else setText(label, `Resuming ${path} at ${pct(s.sent)}%…`);
            return;
          case 'ok':
            show('ok', `✓ uploaded ${path} (${formatSize(file.size)})${s.replaced ? ', replaced the old one' : ''}${share ? ', shared with the room as it uploaded' : ''}`);
            if (!fsSeen) refreshListingSoon();
            return;
          case 'exists':
            show('exists', `${path} already exists. `,
              h('button', { type: 'button', class: 'small danger', onclick: () => uploadFile(file, true, row, share) }, 'Overwrite'), ' ',
              h('button', { type: 'button', class: 'small', onclick: () => show('cancelled', `kept the existing ${path}`) }, 'Keep it'));
            return;
          case 'cancelled':
            show('cancelled', `cancelled the upload of ${path}${share ? '; the room was told it did not finish' : ''}`);
            return;
          default:
            show('error', h('span', { class: 'code' }, s.code), ` ${path}: upload failed (${s.why})`);
        }
      },
    });
    const cancel = h('button', { type: 'button', class: 'small', 'data-testid': 'upload-cancel', onclick: () => up.cancel(), 'aria-label': `Cancel the upload of ${path}` }, 'Cancel');
    up.start();
  }

  function onRoomUpload(msg) {
    const by = msg.by;
    if (S.you && (idOf(by) ? idOf(by) === S.you.id : nameOf(by) === S.you.name)) return; // our own: the upload row shows it
    const path = cleanPath(msg.path);
    fsNotes.uploaded(path); // the feed tells of it: not "appeared" as well
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
      if (!li.rate) li.rate = new Rate();
      li.rate.add(received);
      clear(li).append(h('span', null, `${nameOf(by)} is uploading ${path}: ${progressText(received, size, li.rate)}`), bar);
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
      if (!fsSeen && dirName(path) === S.dir) refreshListingSoon();
    }
    // Uploads need the section visible even where this page cannot upload.
    $('upload').hidden = false;
  }



  probeSearch();
  return {
    loadListing, refreshListingSoon, renderCrumbs, viewFile, viewerProgress, setupUpload, onRoomUpload, zipURL,
    onFs, noteEvents, joined, showFolder, closeMenu, openPath,
  };
}
