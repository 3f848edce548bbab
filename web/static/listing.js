// The listing as this page holds it, kept apart from the DOM: the folder
// shown and its entries, the `fs` frames applied to them, the listings of
// folders seen before (a cache, marked stale when they change), and the
// feed's coalesced notes of files that appeared or went. view-files.js only
// draws what these say.
//
// The rules (see the wire contract, `fs`):
//   - An fs frame names one path of the served folder: add, change or
//     remove. A removed folder is one remove for the folder: its subtree
//     goes with it.
//   - A change in the folder shown changes its entries at once (the view
//     draws the difference, highlighted). A change elsewhere is not fetched:
//     the cached listing of that folder, if any, is marked stale and listed
//     again when the person opens it.
//   - A remove of the folder shown, or of one of its ancestors, sends the
//     page to the nearest folder that still exists: the removed one's parent.
//   - fs frames are not part of the room's history: after any reconnect
//     every listing may be out of date (all stale, the shown one listed again).

import { cleanPath, dirName, isolated } from './format.js';
import { comparator } from './order.js';

/** cacheLimit is how many folders' listings are kept besides the shown one. */
export const cacheLimit = 16;

/** compareEntries orders a listing: folders first, then by name. */
export function compareEntries(a, b) {
  return (b.dir ? 1 : 0) - (a.dir ? 1 : 0) || String(a.name).localeCompare(String(b.name));
}

/** entryOf makes a listing entry of a server's entry or an fs frame ({path} or {name}). */
function entryOf(e, name) {
  return {
    name,
    dir: !!e.dir,
    size: Number.isFinite(Number(e.size)) ? Number(e.size) : 0,
    modified: typeof e.modified === 'string' ? e.modified : '',
    type: typeof e.type === 'string' ? e.type : '',
  };
}

/** dirKey is the form of a folder in this module: '' or 'a/b/'. */
export function dirKey(d) {
  const c = cleanPath(d);
  return c === '' ? '' : `${c}/`;
}

/** sameEntry says whether two entries draw the same (times compared as times: UTC or not). */
function sameEntry(a, b) {
  const ta = Date.parse(a.modified);
  const tb = Date.parse(b.modified);
  const sameTime = a.modified === b.modified || (Number.isFinite(ta) && ta === tb);
  return a.dir === b.dir && a.size === b.size && sameTime && (a.type === b.type || !a.type || !b.type);
}

/**
 * Listing holds the shown folder's entries (by name) and a bounded cache of
 * other folders' entries. The view calls open() when a person opens a
 * folder, begin() when it asks the server for a listing, load() with the
 * answer, and apply() with fs frames; each says what to draw.
 */
export class Listing {
  constructor(limit = cacheLimit) {
    this.limit = limit;
    /** dir is the folder shown: '' or 'a/b/'. */
    this.dir = '';
    /** entries maps a name to {name, dir, size, modified, type}. */
    this.entries = new Map();
    /** loaded: entries hold a listing of dir (perhaps a stale one from the cache). */
    this.loaded = false;
    this.cache = new Map(); // dir -> Map of entries, least recently shown first
    this.stale = new Set(); // folders whose listing may be out of date
    // The fs frames that came while a listing was on its way: the server may
    // have read the folder before or after them, so they are applied again
    // on top of its answer (applying a frame twice changes nothing).
    this.flight = null; // {dir, frames, n: listings on their way}
    /** compare orders sorted(): by name unless sortBy says otherwise. */
    this.compare = comparator({ key: 'name' });
  }

  /** sortBy sets the order of sorted(): {key: 'name' | 'size' | 'date', desc} (order.js). */
  sortBy(order) {
    this.compare = comparator(order);
  }

  /**
   * open shows dir. It returns {entries, list}: the cached entries to draw
   * at once (null when the folder was never listed) and whether to ask the
   * server for a listing (never listed, or stale).
   */
  open(dir) {
    dir = dirKey(dir);
    if (dir !== this.dir) {
      this.keep();
      this.dir = dir;
      const cached = this.cache.get(dir);
      this.entries = cached ? new Map(cached) : new Map();
      this.loaded = !!cached;
      this.flight = null;
    }
    return { entries: this.loaded ? this.sorted() : null, list: !this.loaded || this.stale.has(dir) };
  }

  /** keep puts the shown folder's entries in the cache. */
  keep() {
    if (!this.loaded) return;
    this.remember(this.dir);
  }

  // remember caches the shown folder's entries as dir's, the newest of the cache.
  remember(dir) {
    this.cache.delete(dir);
    this.cache.set(dir, new Map(this.entries));
    while (this.cache.size > this.limit) {
      const oldest = this.cache.keys().next().value;
      this.cache.delete(oldest);
      this.stale.delete(oldest);
    }
  }

  /** begin says that a listing of the shown folder was asked for; load() or fail() follows. */
  begin() {
    if (!this.flight || this.flight.dir !== this.dir) this.flight = { dir: this.dir, frames: [], n: 0 };
    this.flight.n++;
  }

  /** fail says that a listing asked for will not come. */
  fail(dir) {
    if (this.flight && this.flight.dir === dirKey(dir) && --this.flight.n <= 0) this.flight = null;
  }

  /**
   * load takes a listing of dir (the server's entries) and returns what to
   * draw: {whole: true} when nothing of dir was drawn before, else the
   * difference to what was: {added, changed, removed} (names). null when
   * dir is no longer the folder shown.
   */
  load(dir, list) {
    dir = dirKey(dir);
    if (dir !== this.dir) return null;
    const before = this.loaded ? this.entries : null;
    const next = new Map();
    for (const e of Array.isArray(list) ? list : []) {
      const name = String(e?.name ?? '').replace(/\/$/, '');
      if (!name || name.includes('/') || name === '.' || name === '..') continue;
      next.set(name, entryOf(e, name));
    }
    const replay = this.flight && this.flight.dir === dir ? this.flight.frames : [];
    if (this.flight?.dir === dir && --this.flight.n <= 0) this.flight = null;
    this.entries = next;
    this.loaded = true;
    this.stale.delete(dir);
    this.applyHere(replay);
    this.remember(dir);
    if (!before) return { whole: true, added: [], changed: [], removed: [] };
    const diff = { whole: false, added: [], changed: [], removed: [] };
    for (const [name, e] of this.entries) {
      const old = before.get(name);
      if (!old) diff.added.push(name);
      else if (!sameEntry(old, e)) diff.changed.push(name);
    }
    for (const name of before.keys()) if (!this.entries.has(name)) diff.removed.push(name);
    return diff;
  }

  /**
   * apply takes fs frames (oldest first) and returns what they did to the
   * folder shown: {added, changed, removed} (names, each once, by its net
   * effect), and gone: the folder to open instead when the shown one (or a
   * folder above it) was removed ('' or 'a/'), else null, with goneFrom the
   * removed folder ('a/b/').
   */
  apply(frames) {
    const list = (Array.isArray(frames) ? frames : [frames]).filter((f) => {
      const p = f && typeof f === 'object' ? cleanPath(f.path) : '';
      return p !== '' && !p.split('/').includes('..'); // the server never sends one; never an entry
    });
    let gone = null;
    let goneFrom = '';
    for (const f of list) {
      const path = cleanPath(f.path);
      const parent = dirName(path);
      if (f.op === 'remove') {
        const self = `${path}/`;
        this.dropTree(self);
        if (this.dir.startsWith(self) && (gone === null || parent.length < gone.length)) {
          gone = parent;
          goneFrom = self;
        }
      }
      if (parent !== this.dir && this.cache.has(parent)) this.stale.add(parent);
    }
    if (gone !== null) {
      this.entries = new Map();
      this.loaded = false;
      this.flight = null;
      return { gone, goneFrom, added: [], changed: [], removed: [] };
    }
    if (this.flight) this.flight.frames.push(...list);
    if (!this.loaded) return { gone: null, added: [], changed: [], removed: [] }; // the listing on its way decides
    return { gone: null, ...this.applyHere(list) };
  }

  // applyHere applies frames to the shown folder's entries and returns the
  // names added, changed and removed, relative to before.
  applyHere(frames) {
    const was = new Map(); // name -> its entry before (null: absent)
    const set = (name, e) => {
      if (!was.has(name)) was.set(name, this.entries.get(name) ?? null);
      if (e) this.entries.set(name, e);
      else this.entries.delete(name);
    };
    for (const f of frames) {
      const path = cleanPath(f.path);
      if (!path.startsWith(this.dir) || path === this.dir.replace(/\/$/, '')) continue;
      const rest = path.slice(this.dir.length);
      const slash = rest.indexOf('/');
      if (slash >= 0) {
        // Deeper inside: its first folder exists (a watcher may name only
        // what is inside a folder copied in).
        const top = rest.slice(0, slash);
        if (f.op !== 'remove' && !this.entries.has(top)) set(top, entryOf({ dir: true, modified: f.modified }, top));
        continue;
      }
      if (f.op === 'add' || f.op === 'change') {
        const old = this.entries.get(rest);
        const e = entryOf(f, rest);
        if (old && !e.type && old.dir === e.dir) e.type = old.type; // fs frames carry no type
        set(rest, e);
      } else if (f.op === 'remove') {
        set(rest, null);
      }
    }
    const out = { added: [], changed: [], removed: [] };
    for (const [name, before] of was) {
      const now = this.entries.get(name);
      if (!before && now) out.added.push(name);
      else if (before && !now) out.removed.push(name);
      else if (before && now && !sameEntry(before, now)) out.changed.push(name);
    }
    return out;
  }

  /** dropTree forgets the cached listings of dir ('a/') and of every folder in it. */
  dropTree(dir) {
    for (const d of [...this.cache.keys()]) {
      if (d.startsWith(dir)) {
        this.cache.delete(d);
        this.stale.delete(d);
      }
    }
  }

  /** forget drops what is known of dir ('a/') and the folders in it: the server says it is gone. */
  forget(dir) {
    dir = dirKey(dir);
    this.dropTree(dir);
    if (this.dir.startsWith(dir)) {
      this.entries = new Map();
      this.loaded = false;
      this.flight = null;
    }
  }

  /** invalidate marks every listing stale (after a reconnect: fs frames may have been missed). */
  invalidate() {
    for (const d of this.cache.keys()) this.stale.add(d);
    this.stale.add(this.dir);
  }

  /** sorted lists the shown folder's entries in the listing's order. */
  sorted() {
    return [...this.entries.values()].sort(this.compare);
  }

  /** get is the entry of name in the shown folder, or undefined. */
  get(name) {
    return this.entries.get(name);
  }
}

// ---------------------------------------------------------------- the feed's notes

/** noteWindow: changes within this long of the last one join its note (ms). */
export const noteWindow = 3000;
const uploadMemory = 60000; // ms an upload the feed tells of is not "appeared"
const seenLimit = 10000; // paths of one note remembered, so that one is counted once

/**
 * noteText says what a note tells, in plain words: "report.pdf appeared",
 * "report.pdf and notes.md appeared", "report.pdf, a.txt and 198 others
 * appeared", "docs/old/ was removed". names: the first (at most two) paths.
 */
export function noteText(kind, names, count) {
  const shown = names.slice(0, Math.min(2, count)).map(isolated);
  const more = count - shown.length;
  let who;
  if (more > 0) who = `${shown.join(', ')} and ${more} ${more === 1 ? 'other' : 'others'}`;
  else if (shown.length === 2) who = `${shown[0]} and ${shown[1]}`;
  else who = shown[0] ?? '';
  if (kind === 'appeared') return `${who} appeared`;
  return `${who} ${count > 1 ? 'were' : 'was'} removed`;
}

/**
 * FsNotes coalesces fs frames into feed notes: what appeared (added) and
 * what was removed in the whole folder, one note per kind for changes that
 * come within noteWindow of each other, so that 200 files copied in at once
 * are one line, not 200. Uploads the room's feed tells of already ("ann
 * uploaded x") are not said again.
 */
export class FsNotes {
  constructor(window = noteWindow) {
    this.window = window;
    this.notes = { appeared: null, removed: null }; // {first, count, last, seen}
    this.uploads = new Map(); // path -> when the feed told of its upload
  }

  /** uploaded says that the room hears of path's upload from the feed. */
  uploaded(path, now = Date.now()) {
    this.uploads.set(cleanPath(path), now);
    for (const [p, at] of this.uploads) {
      if (now - at <= uploadMemory) break;
      this.uploads.delete(p);
    }
  }

  /**
   * take takes fs frames and returns the notes to show: [{kind, text,
   * fresh}], fresh false when the note updates the one shown before.
   */
  take(frames, now = Date.now()) {
    const out = [];
    for (const kind of ['appeared', 'removed']) {
      const op = kind === 'appeared' ? 'add' : 'remove';
      const paths = [];
      for (const f of frames) {
        if (!f || f.op !== op) continue;
        const p = cleanPath(f.path);
        if (!p) continue;
        const at = this.uploads.get(p);
        if (op === 'add' && at !== undefined && now - at <= uploadMemory) continue;
        paths.push(f.dir ? `${p}/` : p);
      }
      if (paths.length === 0) continue;
      let n = this.notes[kind];
      const fresh = !n || now - n.last > this.window;
      if (fresh) n = this.notes[kind] = { names: [], count: 0, last: now, seen: new Set() };
      for (const p of paths) {
        if (n.seen.has(p)) continue;
        if (n.seen.size < seenLimit) n.seen.add(p); // beyond it, a path named twice counts twice
        if (n.names.length < 2) n.names.push(p);
        n.count++;
      }
      n.last = now;
      out.push({ kind, text: noteText(kind, n.names, n.count), fresh });
    }
    return out;
  }
}
