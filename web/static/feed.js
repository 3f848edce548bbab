// The feed's bookkeeping, kept apart from the DOM so that its rules are easy
// to read and to test: which events to show after a (re)connect so that the
// feed has no gap and no duplicate.
//
// The rules:
//   - The client reconnects with since = lastSeq; the welcome then carries the
//     events after it that the server still holds.
//   - Within one server run seqs only grow, so an event whose seq we already
//     hold (with the same content) is a duplicate and is dropped.
//   - A restarted server counts from 1 again. The welcome's feed is
//     authoritative: if its newest seq is below lastSeq, or an event carries a
//     seq we hold but with different content, this is a new epoch and nothing
//     of it is dropped. If the welcome's feed is empty the epoch shows at the
//     first live event: the server never sends an old event live, so a live
//     seq at or below lastSeq that this connection has not seen before means
//     a new epoch too.

/** key is what identifies an event across reconnects besides its seq. */
function key(ev) {
  return [ev.at, ev.action, ev.via, ev.path, typeof ev.who === 'object' ? JSON.stringify(ev.who) : ev.who].join('\u0000');
}

function valid(ev) {
  return ev && typeof ev === 'object' && Number.isFinite(Number(ev.seq));
}

export class FeedState {
  /** @param {number} limit how many events are held (and shown). */
  constructor(limit = 200) {
    this.limit = limit;
    /** lastSeq is the newest seq of the current epoch: `since` on reconnect. */
    this.lastSeq = 0;
    /** held maps seq to key for the events held from the current epoch. */
    this.held = new Map();
    /** seen holds the seqs this connection delivered (welcome and live). */
    this.seen = new Set();
    /** epoch counts server runs seen, to tell apart equal seqs in the DOM. */
    this.epoch = 0;
    this.order = []; // [epoch, seq] of held events, oldest first, for eviction
  }

  /**
   * welcome takes the welcome's feed (oldest first) and returns the events to
   * show, oldest first.
   */
  welcome(events) {
    this.seen = new Set();
    const evs = (Array.isArray(events) ? events : []).filter(valid).map((e) => ({ ...e, seq: Number(e.seq) }));
    for (const e of evs) this.seen.add(e.seq);
    if (evs.length === 0) return [];
    const max = Math.max(...evs.map((e) => e.seq));
    const fresh = this.lastSeq === 0 && this.held.size === 0;
    const newEpoch =
      !fresh && (max < this.lastSeq || evs.some((e) => this.held.has(e.seq) && this.held.get(e.seq) !== key(e)));
    let add;
    if (fresh || newEpoch) {
      if (newEpoch) this.newEpoch();
      add = evs;
      this.lastSeq = max;
    } else {
      add = evs.filter((e) => e.seq > this.lastSeq && !this.held.has(e.seq));
      this.lastSeq = Math.max(this.lastSeq, max);
    }
    add.sort((a, b) => a.seq - b.seq);
    for (const e of add) this.hold(e);
    return add;
  }

  /** live takes one live feed event and returns it to show, or null. */
  live(event) {
    if (!valid(event)) return null;
    const e = { ...event, seq: Number(event.seq) };
    if (this.seen.has(e.seq)) return null; // welcome/live overlap on this connection
    this.seen.add(e.seq);
    if (e.seq <= this.lastSeq) {
      if (this.held.get(e.seq) === key(e)) return null; // a replay of one we hold
      this.newEpoch();
    }
    this.lastSeq = e.seq;
    this.hold(e);
    return e;
  }

  newEpoch() {
    this.epoch++;
    this.held.clear();
    this.order = [];
  }

  hold(e) {
    e.epoch = this.epoch;
    this.held.set(e.seq, key(e));
    this.order.push(e.seq);
    while (this.order.length > this.limit) this.held.delete(this.order.shift());
  }
}
