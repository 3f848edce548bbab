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
