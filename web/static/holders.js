// Who in the room has a file, from the room's feed: no DOM.
//
// A `fetch` event means its person has the file (over the live connection,
// over HTTP, or as a zip of its folder, which is not counted here); an
// `upload` means the uploader has it; a `share` means everyone in the room
// received it. The page shows this next to each file of the listing, so
// that a person sees at a glance who already has the handout. It is
// bounded as the feed is: only the last `limit` events count.

import { cleanPath } from './format.js';

/** holdersShown is how many names a row shows before "and N others". */
export const holdersShown = 2;

/**
 * Holders keeps, for each path, who has it by the feed's last `limit`
 * events (welcome and live, oldest first).
 */
export class Holders {
  constructor(limit = 200) {
    this.limit = limit;
    this.events = []; // [{path, name, action, via, at}], oldest first
    this.paths = new Map(); // path -> {names: Map name -> {n, action, via, at, seq}, shares: n, sharedBy, sharedAt}
    this.seq = 0;
  }

  /**
   * add takes one feed event and returns the paths whose holders changed
   * (none for a zip, an unknown action or a bad event; the path of an
   * event that no longer counts besides).
   */
  add(ev) {
    if (!ev || typeof ev !== 'object' || typeof ev.path !== 'string') return [];
    if (ev.path.includes('?')) return []; // "docs/?zip": a folder as a zip
    const action = String(ev.action ?? '');
    if (!['fetch', 'share', 'upload'].includes(action)) return [];
    const path = cleanPath(ev.path);
    const name = who(ev.who);
    if (!path || !name) return [];
    const e = { path, name, action, via: String(ev.via ?? ''), at: String(ev.at ?? ''), seq: ++this.seq };
    this.events.push(e);
    let p = this.paths.get(path);
    if (!p) this.paths.set(path, (p = { names: new Map(), shares: 0, sharedBy: '', sharedAt: '' }));
    const h = p.names.get(name);
    if (h) Object.assign(h, { n: h.n + 1, action, via: e.via, at: e.at, seq: e.seq });
    else p.names.set(name, { n: 1, action, via: e.via, at: e.at, seq: e.seq });
    if (action === 'share') {
      p.shares++;
      p.sharedBy = name;
      p.sharedAt = e.at;
    }
    const changed = new Set([path]);
    while (this.events.length > this.limit) changed.add(this.drop(this.events.shift()));
    return [...changed];
  }

  drop(e) {
    const p = this.paths.get(e.path);
    if (!p) return e.path;
    const h = p.names.get(e.name);
    if (h && --h.n <= 0) p.names.delete(e.name);
    if (e.action === 'share' && --p.shares <= 0) {
      p.shares = 0;
      p.sharedBy = '';
      p.sharedAt = '';
    }
    if (p.names.size === 0 && p.shares === 0) this.paths.delete(e.path);
    return e.path;
  }

  /**
   * of says who has path: {room, sharedBy, sharedAt, people: [{name,
   * action, via, at}] (newest first)}; null when nobody is known to.
   */
  of(path) {
    const p = this.paths.get(cleanPath(path));
    if (!p) return null;
    const people = [...p.names].map(([name, h]) => ({ name, action: h.action, via: h.via, at: h.at, seq: h.seq }))
      .sort((a, b) => b.seq - a.seq)
      .map(({ seq, ...rest }) => rest);
    return { room: p.shares > 0, sharedBy: p.sharedBy, sharedAt: p.sharedAt, people };
  }
}

function who(w) {
  if (w && typeof w === 'object') return String(w.name ?? w.id ?? '').trim();
  return String(w ?? '').trim();
}

/**
 * holdersLine is what a row shows: {names (at most shown), more (how many
 * others), room (everyone here received it), text: "ann, bob and 3
 * others"}. you is the page's own name, shown as "you", first.
 */
export function holdersLine(h, you = '', shown = holdersShown) {
  if (!h) return null;
  let names = h.people.map((p) => p.name);
  if (you && names.includes(you)) names = ['you', ...names.filter((n) => n !== you)];
  const head = names.slice(0, shown);
  const more = names.length - head.length;
  let text;
  if (h.room && names.length === 0) text = 'everyone in the room';
  else if (more > 0) text = `${head.join(', ')} and ${more} ${more === 1 ? 'other' : 'others'}`;
  else if (head.length > 1) text = `${head.slice(0, -1).join(', ')} and ${head[head.length - 1]}`;
  else text = head[0] ?? '';
  if (h.room && names.length > 0) text = `everyone in the room (${text})`;
  return { names: head, more, room: h.room, text };
}

/** howText says in plain words how one person came to have the file, for a tooltip. */
export function howText(p) {
  switch (p.action) {
    case 'share': return `${p.name} shared it with the room`;
    case 'upload': return `${p.name} uploaded it`;
    default: return `${p.name} opened it${p.via === 'http' ? ' over HTTP' : ''}`;
  }
}
