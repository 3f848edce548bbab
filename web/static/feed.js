// The room's history as this page holds it, kept apart from the DOM so that
// its rules are easy to read and to test: which feed events and chat
// messages to show after a (re)connect, so that nothing shows twice, and
// whether something was missed while the page was away.
//
// The rules (see the wire contract, "Joining"):
//   - The page reconnects with since = lastSeq (the newest seq of a feed
//     event, chat line or snippet: one sequence for the room) and the epoch
//     of the welcome that lastSeq came from; the welcome then carries the
//     events after it that the server still holds, and `recovered: true`
//     only when that is all of them, chat included, and the epoch matches.
//   - recovered: true: the welcome's events are added, nothing else.
//   - Otherwise (recovered false or absent, or another epoch: the server
//     restarted and lost its history) something may be missing: the page
//     says so in the feed and reloads its listing. A new epoch starts its
//     seqs afresh, so nothing of it is dropped as a duplicate.
//   - A server that sends no epoch (an older one) is judged by its seqs:
//     within one run they only grow, so a seq we hold with other content,
//     or a welcome whose newest seq is below lastSeq, is a new run.

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
    /** epoch is the server's epoch that lastSeq belongs to ('' when unknown). */
    this.epoch = '';
    /** held maps seq to key for the events held from the current epoch. */
    this.held = new Map();
    /** seen holds the seqs this connection delivered (welcome and live). */
    this.seen = new Set();
    /** run counts the epochs this page saw, to tell equal seqs apart in the DOM. */
    this.run = 0;
    this.order = []; // seqs of held events, oldest first, for eviction
    this.joins = 0;
  }

  /** position is what the page reconnects with: {since, epoch}. */
  position() {
    return { since: this.lastSeq, epoch: this.lastSeq > 0 ? this.epoch : '' };
  }

  /**
   * join takes a welcome frame and what the page joined with ({since,
   * epoch}, see position), and returns {events, missed}: the events to show,
   * oldest first, and whether the page must say that something was missed
   * (and reload what it shows of the folder).
   */
  join(welcome, joinedWith = { since: 0, epoch: '' }) {
    const first = this.joins++ === 0;
    const epoch = typeof welcome?.epoch === 'string' ? welcome.epoch : '';
    const events = Array.isArray(welcome?.feed) ? welcome.feed : [];
    let missed = false;
    if (!first) {
      const otherEpoch = epoch !== '' && this.epoch !== '' && epoch !== this.epoch;
      // since was sent: only the server can say nothing is missing.
      const unsure = joinedWith.since > 0 && welcome?.recovered !== true;
      missed = otherEpoch || unsure;
      if (otherEpoch) this.newEpoch();
    }
    if (epoch !== '') this.epoch = epoch;
    const r = this.welcome(events);
    // Seqs are evidence only where the server gives no epoch.
    return { events: r, missed: missed || (!first && epoch === '' && this.guessedNewRun) };
  }

  /**
   * welcome takes the welcome's feed (oldest first) and returns the events
   * to show, oldest first. guessedNewRun tells whether the seqs showed a new
   * run of a server that sends no epoch.
   */
  welcome(events) {
    this.seen = new Set();
    this.guessedNewRun = false;
    const evs = (Array.isArray(events) ? events : []).filter(valid).map((e) => ({ ...e, seq: Number(e.seq) }));
    for (const e of evs) this.seen.add(e.seq);
    if (evs.length === 0) return [];
    const max = Math.max(...evs.map((e) => e.seq));
    const fresh = this.lastSeq === 0 && this.held.size === 0;
    const newRun =
      !fresh && (max < this.lastSeq || evs.some((e) => this.held.has(e.seq) && this.held.get(e.seq) !== key(e)));
    let add;
    if (fresh || newRun) {
      if (newRun) {
        this.newEpoch();
        this.guessedNewRun = true;
      }
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

  /**
   * live takes one live feed event and returns it to show, or null. An
   * event that shows a new run of an epoch-less server has afterGap set.
   */
  live(event) {
    if (!valid(event)) return null;
    const e = { ...event, seq: Number(event.seq) };
    if (this.seen.has(e.seq)) return null; // welcome/live overlap on this connection
    this.seen.add(e.seq);
    if (e.seq <= this.lastSeq) {
      if (this.held.get(e.seq) === key(e)) return null; // a replay of one we hold
      this.newEpoch();
      e.afterGap = true;
    }
    this.lastSeq = e.seq;
    this.hold(e);
    return e;
  }

  /**
   * note moves the position past a chat or snippet message's seq: they
   * share the room's sequence with the feed, and `recovered` covers them
   * too, so since is the newest seq of any of them.
   */
  note(seq) {
    const n = Number(seq);
    if (Number.isFinite(n) && n > this.lastSeq) this.lastSeq = n;
  }

  newEpoch() {
    this.run++;
    this.held.clear();
    this.order = [];
    this.lastSeq = 0;
  }

  hold(e) {
    e.run = this.run;
    this.held.set(e.seq, key(e));
    this.order.push(e.seq);
    while (this.order.length > this.limit) this.held.delete(this.order.shift());
  }
}

/**
 * chatKey identifies a chat or snippet message (older servers gave them
 * no seq; the content tells them apart across epochs too).
 */
function chatKey(m) {
  const from = m.from && typeof m.from === 'object' ? `${m.from.id ?? ''}/${m.from.name ?? ''}` : String(m.from ?? '');
  return [m.kind, from, m.at, m.title ?? '', m.text].join('\u0000');
}

/**
 * ChatState keeps the keys of the chat messages shown, so that the chat a
 * welcome carries (the room's recent chat and snippets) fills the log on
 * the first join and after a reconnect adds only what the page missed.
 */
export class ChatState {
  constructor(limit = 200) {
    this.limit = limit;
    this.keys = new Set();
    this.order = [];
  }

  add(m) {
    if (!m || typeof m !== 'object' || (m.kind !== 'chat' && m.kind !== 'snippet')) return false;
    const k = chatKey(m);
    if (this.keys.has(k)) return false;
    this.keys.add(k);
    this.order.push(k);
    while (this.order.length > this.limit * 2) this.keys.delete(this.order.shift());
    return true;
  }

  /** live returns the message to show, or null for one already shown. */
  live(m) {
    return this.add(m) ? m : null;
  }

  /** welcome takes welcome.chat (oldest first) and returns the messages not shown yet. */
  welcome(list) {
    return (Array.isArray(list) ? list : []).filter((m) => this.add(m));
  }
}

/** sharesIn picks the share events of a feed: the room's shares to list. */
export function sharesIn(events) {
  return events.filter((e) => e.action === 'share' && typeof e.path === 'string');
}
