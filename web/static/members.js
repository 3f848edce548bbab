// Who is in the room, as far as this page knows: no DOM.
//
// The welcome names up to 100 members; presence frames name each join,
// leave and rename. A crowded room sends count frames instead (how many
// joined and left, not who), so the list then stops being exact. The page
// never asks `who` because of them: in a room of 10,000 that would be
// every page fetching 0.5 MB every few seconds. It shows the count and the
// members it knows, and asks `who` (at most whoLimit names) only when a
// person opens the member list.

/** whoLimit is how many members a `who` asks for. */
export const whoLimit = 200;

export class Members {
  constructor() {
    /** known maps member id to name. */
    this.known = new Map();
    /** count is the room's size, as the server last said. */
    this.count = 0;
    /** exact: known is the whole room (no count frame since the last list). */
    this.exact = true;
  }

  setList(members, count) {
    this.known = new Map((Array.isArray(members) ? members : [])
      .filter((m) => m && typeof m === 'object' && m.id !== undefined)
      .map((m) => [String(m.id), String(m.name ?? m.id)]));
    this.count = Number.isFinite(count) ? count : this.known.size;
    this.exact = this.known.size >= this.count;
  }

  /** welcome takes the welcome frame's members and count. */
  welcome(msg) {
    this.setList(msg.members, msg.count);
  }

  /** reply takes a `members` frame (the answer to `who`). */
  reply(msg) {
    this.setList(msg.members, msg.count);
  }

  /** presence takes a presence frame; it returns the member it names, or null. */
  presence(msg) {
    if (Number.isFinite(msg.count)) this.count = msg.count;
    const who = msg.who;
    if (!who || typeof who !== 'object' || who.id === undefined) {
      this.exact = false;
      return null;
    }
    const id = String(who.id);
    if (msg.event === 'leave') this.known.delete(id);
    else this.known.set(id, String(who.name ?? id));
    if (this.exact && this.known.size !== this.count) this.exact = false;
    return { id, name: this.known.get(id) ?? String(who.name ?? id) };
  }

  /** countFrame takes a count frame: the size changed, by whom is unknown. */
  countFrame(msg) {
    if (Number.isFinite(msg.count)) this.count = msg.count;
    if ((Number(msg.joined) || 0) + (Number(msg.left) || 0) > 0 || this.known.size !== this.count) this.exact = false;
  }

  /** more is how many members the page cannot name. */
  get more() {
    return Math.max(0, this.count - this.known.size);
  }

  /** sorted lists [id, name] by name. */
  sorted() {
    return [...this.known].sort((a, b) => a[1].localeCompare(b[1]));
  }

  /** whoRequest is the request to send when a person opens the list. */
  whoRequest() {
    return { kind: 'who', limit: whoLimit };
  }
}

/** presenceWindow: joins and leaves within this long of the last join one feed line (ms). */
export const presenceWindow = 10000;

/**
 * PresenceNotes coalesces joins and leaves into feed lines: "bob joined",
 * "bob and carl joined · dee left", "bob, carl and 40 others joined"; a
 * crowded room's count frames add numbers only ("12 joined, 3 left").
 * take returns {text, fresh}: fresh false when the line updates the last.
 */
export class PresenceNotes {
  constructor(window = presenceWindow) {
    this.window = window;
    this.cur = null; // {joined: [names], left: [names], nJoined, nLeft, last}
  }

  line(now) {
    const fresh = !this.cur || now - this.cur.last > this.window;
    if (fresh) this.cur = { joined: [], left: [], nJoined: 0, nLeft: 0, last: now };
    this.cur.last = now;
    return fresh;
  }

  /** take takes a presence frame (join or leave; a rename is no line: null). */
  take(msg, now = Date.now()) {
    if (!msg || (msg.event !== 'join' && msg.event !== 'leave')) return null;
    const name = String(msg.who?.name ?? msg.who?.id ?? 'someone');
    const fresh = this.line(now);
    const c = this.cur;
    if (msg.event === 'join') {
      c.nJoined++;
      if (c.joined.length < 2) c.joined.push(name);
    } else {
      c.nLeft++;
      if (c.left.length < 2) c.left.push(name);
    }
    return { text: this.text(), fresh };
  }

  /** count takes a crowded room's count frame. */
  count(msg, now = Date.now()) {
    const j = Number(msg?.joined) || 0;
    const l = Number(msg?.left) || 0;
    if (j <= 0 && l <= 0) return null;
    const fresh = this.line(now);
    this.cur.nJoined += j;
    this.cur.nLeft += l;
    return { text: this.text(), fresh };
  }

  text() {
    const c = this.cur;
    const part = (names, n, verb) => {
      if (n === 0) return '';
      if (names.length === 0) return `${n} ${verb}`;
      const more = n - names.length;
      if (more > 0) return `${names.join(', ')} and ${more} ${more === 1 ? 'other' : 'others'} ${verb}`;
      return `${names.join(' and ')} ${verb}`;
    };
    return [part(c.joined, c.nJoined, 'joined'), part(c.left, c.nLeft, 'left')].filter(Boolean).join(' · ');
  }
}
