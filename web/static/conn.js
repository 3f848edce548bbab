// The room connection: one WebSocket to /ws with automatic reconnect.
//
// States (shown by the page, always visible):
//   connecting    a socket is being opened
//   open          the socket is open (the welcome follows)
//   reconnecting  waiting `retryIn` seconds before the next attempt
//   refused       the server refused the join (HTTP 400/401/403): explained,
//                 and no retry until the person asks for one
//   closed        the page closed the connection itself
//
// A socket that closes before it ever opened says nothing about why: the
// browser hides the HTTP status of a failed handshake. So before retrying,
// the same /ws URL is requested with plain fetch(): the server answers its
// refusals (bad room or name, wrong token, foreign origin) with 400/401/403
// and a JSON body {"error":{"code","message"}}, and a valid request that is
// just not a WebSocket handshake with 426, or 400 without that JSON (the
// upgrader's own answer). Only a refusal stops the retries.
//
// A socket can be dead without the browser knowing: a phone that slept, a
// laptop that changed networks, a NAT that forgot us. The page calls
// check() as soon as it is shown again (or the network comes back): a ping
// goes out at once, and no pong within checkWait abandons the socket and
// reconnects, instead of showing "connected" until the next regular ping
// times out.

/** Close codes of the protocol, with what the page tells the person. */
export const closeReasons = {
  1000: 'closed',
  1001: 'server restarting',
  1006: 'connection lost',
  1008: 'closed by policy (too many messages)',
  1009: 'a message was too large',
  1011: 'server error',
  1012: 'server restarting',
  1013: 'dropped: could not keep up',
  4000: 'no answer from the server',
};

// Backoff: base * 2^attempt, capped, with "equal jitter" (half fixed, half
// random) so that a room full of pages does not reconnect in lockstep after
// a server restart.
const backoffBase = 500; // ms: a restart of the server is usually this quick
const backoffCap = 30000; // ms: a person waits at most this long for a retry
const policyFloor = 15000; // ms: after 1008, do not come straight back
const stableAfter = 10000; // ms open before a close counts as a fresh start
const pingEvery = 25000; // ms: app-level ping, also to measure latency
const pongWait = 10000; // ms: no pong by then means a dead (half-open) link
const checkWait = 4000; // ms: after check(), a live link answers well within this

export class Connection {
  /**
   * @param {object} o
   * @param {string} o.room
   * @param {string} o.name
   * @param {() => {since: number, epoch: string}} o.position the last feed
   *   seq seen (0: none) and the epoch of the welcome it came from
   * @param {() => string} [o.was] the member id of the page's last welcome ('' before one)
   * @param {(msg: object) => void} o.onFrame one server message (batches unpacked)
   * @param {(buf: ArrayBuffer) => void} o.onBinary one binary frame
   * @param {(s: object) => void} o.onState state changes, see above
   */
  constructor(o) {
    Object.assign(this, o);
    this.ws = null;
    this.attempt = 0;
    this.timer = 0;
    this.ticker = 0;
    this.pinger = 0;
    this.pongTimer = 0;
    this.stopped = false;
    this.openedAt = 0;
    this.pingSeq = 0;
    this.rtt = null;
    this.checking = false;
    this.pongDeadline = 0;
    this.state = { state: 'connecting' };
    /** joinedWith is the position the current socket joined with. */
    this.joinedWith = { since: 0, epoch: '' };
  }

  query(pos = this.position()) {
    const q = new URLSearchParams();
    q.set('room', this.room);
    if (this.name) q.set('name', this.name);
    if (pos.since > 0) {
      q.set('since', String(pos.since));
      if (pos.epoch) q.set('epoch', pos.epoch);
    }
    // The id this page had in the room: coming back, it keeps its name
    // even before its old session is let go.
    const was = this.was?.();
    if (was) q.set('was', was);
    q.set('batch', '1');
    return q;
  }

  httpURL(pos) {
    return new URL(`/ws?${this.query(pos)}`, location.href).href;
  }

  wsURL(pos) {
    const u = new URL(this.httpURL(pos));
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.href;
  }

  setState(s) {
    this.state = s;
    this.onState(s);
  }

  /** start opens the connection (again). */
  start() {
    this.stopped = false;
    this.clearTimers();
    this.setState({ state: 'connecting', attempt: this.attempt });
    const pos = this.position();
    this.joinedWith = { since: pos.since > 0 ? pos.since : 0, epoch: pos.since > 0 ? pos.epoch || '' : '' };
    let ws;
    try {
      ws = new WebSocket(this.wsURL(pos));
    } catch (err) {
      // A malformed URL: nothing to retry.
      this.setState({ state: 'refused', code: 'bad_request', message: String(err?.message || err) });
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      opened = true;
      this.openedAt = Date.now();
      this.setState({ state: 'open', rtt: this.rtt });
      this.pinger = setInterval(() => this.ping(), pingEvery);
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws) return;
      if (typeof ev.data === 'string') this.text(ev.data);
      else this.onBinary(ev.data);
    });
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      if (this.stopped) {
        this.setState({ state: 'closed', text: 'closed' });
        return;
      }
      if (!opened) {
        this.probe();
        return;
      }
      if (Date.now() - this.openedAt >= stableAfter) this.attempt = 0;
      const reason = closeReasons[ev.code] || `closed (${ev.code})`;
      const floor = ev.code === 1008 ? policyFloor : 0;
      // The server's own reason only for codes this page does not explain.
      this.retry(closeReasons[ev.code] ? reason : `${reason}${ev.reason ? `: ${ev.reason}` : ''}`, ev.code, floor);
    });
    // The error event carries no information; close always follows it.
  }

  text(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('filehub: ignoring a frame that is not JSON');
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.kind === 'batch' && Array.isArray(msg.frames)) {
      for (const f of msg.frames) if (f && typeof f === 'object') this.frame(f);
    } else {
      this.frame(msg);
    }
  }

  frame(msg) {
    if (msg.kind === 'pong' && typeof msg.id === 'string' && msg.id.startsWith('ping-')) {
      clearTimeout(this.pongTimer);
      this.pongTimer = 0;
      this.checking = false;
      if (typeof msg.t === 'number') this.rtt = Math.max(0, Date.now() - msg.t);
      if (this.state.state === 'open') this.setState({ state: 'open', rtt: this.rtt });
      return;
    }
    this.onFrame(msg);
  }

  ping(wait = pongWait) {
    if (!this.send({ kind: 'ping', id: `ping-${++this.pingSeq}`, t: Date.now() })) return;
    // Any pong proves the link; keep the earliest deadline of the pings out.
    const deadline = Date.now() + wait;
    if (this.pongTimer && this.pongDeadline <= deadline) return;
    clearTimeout(this.pongTimer);
    this.pongDeadline = deadline;
    const ws = this.ws;
    this.pongTimer = setTimeout(() => {
      this.pongTimer = 0;
      if (this.ws === ws) this.abandon(ws);
    }, wait);
  }

  /**
   * check makes sure the connection is alive now: the page was hidden, the
   * device slept, or the network came back. Open: a ping at once, and no
   * pong within checkWait means dead. Waiting to retry: retry now.
   */
  check() {
    if (this.stopped) return;
    if (!this.ws) {
      if (this.state.state === 'reconnecting') this.retryNow();
      return;
    }
    if (this.ws.readyState !== WebSocket.OPEN) return; // still connecting
    this.checking = true;
    this.setState({ state: 'open', rtt: this.rtt, checking: true });
    this.ping(checkWait);
  }

  /**
   * abandon gives up on a socket that does not answer. Its close handshake
   * could take minutes on a dead link (the browser waits for TCP), so the
   * page forgets it at once and connects afresh.
   */
  abandon(ws) {
    this.ws = null;
    this.checking = false;
    this.clearTimers();
    try {
      ws.close(4000, 'no pong');
    } catch {
      // Already closing.
    }
    this.attempt = 0;
    this.retry(closeReasons[4000], 4000, 0);
  }

  /**
   * probe asks the /ws URL over plain HTTP why the socket never opened; see
   * the comment at the top of this file.
   */
  async probe() {
    let res;
    try {
      res = await fetch(this.httpURL(), { cache: 'no-store', headers: { Accept: 'application/json' } });
    } catch {
      this.retry('server unreachable', 0, 0);
      return;
    }
    if (this.stopped || this.ws) return;
    let body = null;
    try {
      const t = await res.text();
      body = t ? JSON.parse(t) : null;
    } catch {
      body = null; // not JSON: not one of the server's refusals
    }
    const err = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : null;
    const notHandshake = /websocket|upgrade|handshake/i.test(String(err?.message ?? '')) && res.status === 400;
    if (res.status === 401 || res.status === 403 || (res.status === 400 && err && !notHandshake)) {
      this.setState({
        state: 'refused',
        status: res.status,
        code: String(err?.code ?? (res.status === 401 ? 'unauthorized' : res.status === 403 ? 'forbidden' : 'bad_request')),
        message: String(err?.message ?? res.statusText ?? ''),
      });
      return;
    }
    if (res.status === 429) {
      this.retry('rate limited', 0, policyFloor);
      return;
    }
    // 426, 400 "not a websocket handshake", 5xx, anything else: the server
    // is there and did not refuse us; the handshake itself failed, retry.
    this.retry(res.status >= 500 ? `server error (${res.status})` : 'could not connect', 0, 0);
  }

  retry(reason, code, floor) {
    const exp = Math.min(backoffCap, backoffBase * 2 ** this.attempt);
    const delay = Math.max(floor, exp / 2 + Math.random() * (exp / 2));
    this.attempt = Math.min(this.attempt + 1, 16);
    const at = Date.now() + delay;
    const tick = () => {
      const retryIn = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      this.setState({ state: 'reconnecting', reason, code, retryIn });
    };
    tick();
    this.ticker = setInterval(tick, 1000);
    this.timer = setTimeout(() => this.start(), delay);
  }

  /** retryNow skips the wait (a person pressed Retry, or the network is back). */
  retryNow() {
    if (this.stopped || this.ws) return;
    this.attempt = 0;
    this.start();
  }

  /** send sends one message; false when the socket is not open. */
  send(msg) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  /** stop closes the connection for good (the page is going away). */
  stop() {
    this.stopped = true;
    this.clearTimers();
    if (this.ws) this.ws.close(1000, 'bye');
  }

  clearTimers() {
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    clearInterval(this.pinger);
    clearTimeout(this.pongTimer);
    this.timer = this.ticker = this.pinger = this.pongTimer = 0;
    this.checking = false;
  }
}
