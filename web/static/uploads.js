// Resumable uploads: the state machine, with no DOM.
//
// An upload is PUT /path?resume=KEY (KEY: 128 random bits naming this
// upload to the server). When the connection drops, the page waits (backoff),
// asks the server how much it holds (HEAD with the same KEY answers
// Upload-Offset) and sends the rest with Content-Range. The decisions are
// the pure functions afterPut and afterProbe; Upload runs them over a
// transport, which the page gives as XHR (fetch has no upload progress over
// HTTP/1.1) and the tests as a fake.
//
// An upload shared with the room as it arrives is a plain PUT
// /path?share=1: every member of the room receives the bytes as they reach
// the server, so it cannot resume (the server answers 400 to ?resume with
// ?share); a lost connection ends it, and the room is told it was cut off.

export const uploadBackoff = [1000, 2000, 4000, 8000, 15000, 30000]; // ms before each new try
export const uploadTries = 8; // tries in a row without progress before giving up

/** uploadKey names one upload for the server: 128 random bits in hex. */
export function uploadKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** heldOffset reads an Upload-Offset the server sent; null when unusable. */
export function heldOffset(header, size) {
  if (header === null || header === undefined || header === '') return null;
  const n = Number(header);
  return Number.isInteger(n) && n >= 0 && n <= size ? n : null;
}

/**
 * afterPut decides what follows the server's answer to a PUT:
 *   {do: 'done', replaced}      201 created, 200 replaced
 *   {do: 'resume', offset}      409 with Upload-Offset: the server holds
 *                               another count than the page thought
 *   {do: 'exists'}              409 without it: the file exists (ask first)
 *   {do: 'retry', why}          5xx: a proxy or a busy server, try again
 *   {do: 'fail', code}          anything else (413 too large, 403, …)
 */
export function afterPut(status, held, size, codeOf) {
  if (status === 200 || status === 201) return { do: 'done', replaced: status === 200 };
  if (status === 409) {
    const off = heldOffset(held, size);
    return off === null ? { do: 'exists' } : { do: 'resume', offset: off };
  }
  if (status >= 500) return { do: 'retry', why: `HTTP ${status}` };
  return { do: 'fail', code: codeOf(status), why: `HTTP ${status}` };
}

/** afterProbe decides what follows the answer to the HEAD that asks for the offset. */
export function afterProbe(status, held, size, codeOf) {
  if (status >= 500) return { do: 'retry', why: `HTTP ${status}` };
  if (status < 200 || status > 299) return { do: 'fail', code: codeOf(status), why: `HTTP ${status}` };
  return { do: 'resume', offset: heldOffset(held, size) ?? 0 };
}

/** sleep waits ms, or rejects when signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new DOMException('cancelled', 'AbortError'));
    }, { once: true });
  });
}

/**
 * xhrTransport is the browser's: put() resolves with {status, held} (held:
 * the Upload-Offset header) or rejects when the connection fails; head()
 * the same for HEAD.
 */
export const xhrTransport = {
  put(url, body, headers, onProgress, signal) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', url);
      for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
      xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded));
      xhr.addEventListener('load', () => resolve({ status: xhr.status, held: xhr.getResponseHeader('Upload-Offset') }));
      xhr.addEventListener('error', () => reject(new Error('connection lost')));
      xhr.addEventListener('abort', () => reject(new DOMException('cancelled', 'AbortError')));
      signal?.addEventListener('abort', () => xhr.abort(), { once: true });
      xhr.send(body);
    });
  },
  async head(url, signal) {
    const r = await fetch(url, { method: 'HEAD', cache: 'no-store', signal });
    return { status: r.status, held: r.headers.get('Upload-Offset') };
  },
};

/** shareURL is the URL of a plain PUT that shares the upload with the room as it arrives. */
export function shareURL(url, overwrite = false) {
  return `${url}?share=1${overwrite ? '&overwrite=1' : ''}`;
}

/**
 * Upload sends one file. onState receives each state:
 *   {state: 'uploading', sent}
 *   {state: 'resuming', sent, why, wait}   (wait: ms before the next try; 0 when going on at once)
 *   {state: 'ok', replaced} | {state: 'exists'} | {state: 'cancelled'}
 *   {state: 'error', code, why}
 * and start() resolves with the last one.
 */
export class Upload {
  /**
   * @param {object} o
   * @param {Blob} o.file the bytes (a File)
   * @param {string} o.url the file's URL, e.g. /docs/a.txt
   * @param {boolean} [o.overwrite]
   * @param {boolean} [o.share] share with the room as it uploads: one plain PUT, never resumed
   * @param {(status: number) => string} o.codeOf HTTP status to error code
   * @param {object} [o.transport] xhrTransport unless a test gives another
   * @param {(ms: number, signal: AbortSignal) => Promise} [o.wait] sleep unless a test gives another
   * @param {(s: object) => void} o.onState
   */
  constructor({ file, url, overwrite = false, share = false, key = uploadKey(), codeOf, transport = xhrTransport, wait = sleep, onState }) {
    this.file = file;
    this.size = file.size;
    this.share = share;
    this.stateURL = `${url}?resume=${key}`;
    this.putURL = share ? shareURL(url, overwrite) : `${this.stateURL}${overwrite ? '&overwrite=1' : ''}`;
    this.codeOf = codeOf;
    this.transport = transport;
    this.wait = wait;
    this.onState = onState;
    this.abort = new AbortController();
    this.last = null;
  }

  emit(s) {
    this.last = s;
    this.onState?.(s);
    return s;
  }

  /** cancel stops the upload; the server sweeps what it held. */
  cancel() {
    this.abort.abort();
  }

  get cancelled() {
    return this.abort.signal.aborted;
  }

  async start() {
    if (this.share) return this.startShared();
    const signal = this.abort.signal;
    let offset = 0;
    let tries = 0; // in a row, without progress
    for (;;) {
      if (this.cancelled) return this.emit({ state: 'cancelled' });
      this.emit(offset > 0 ? { state: 'resuming', sent: offset, why: '', wait: 0 } : { state: 'uploading', sent: 0 });
      let why;
      try {
        const from = offset;
        const headers = from > 0 ? { 'Content-Range': `bytes ${from}-${this.size - 1}/${this.size}` } : {};
        const res = await this.transport.put(this.putURL, from > 0 ? this.file.slice(from) : this.file, headers, (loaded) => {
          if (loaded > 0) tries = 0;
          if (!this.cancelled) this.emit({ state: 'uploading', sent: from + loaded });
        }, signal);
        const next = afterPut(res.status, res.held, this.size, this.codeOf);
        switch (next.do) {
          case 'done': return this.emit({ state: 'ok', replaced: next.replaced });
          case 'exists': return this.emit({ state: 'exists' });
          case 'fail': return this.emit({ state: 'error', code: next.code, why: next.why });
          case 'resume':
            // Counted as a try: a server that keeps moving the offset
            // without taking bytes must not keep the page busy for ever.
            if (++tries > uploadTries) return this.emit({ state: 'error', code: 'network', why: 'the server keeps refusing the offset' });
            offset = next.offset;
            continue;
          default:
            why = next.why;
        }
      } catch (err) {
        if (this.cancelled) return this.emit({ state: 'cancelled' });
        why = err?.message || 'connection lost';
      }
      // Lost: wait, ask the server what it holds, go on from there.
      for (;;) {
        if (tries >= uploadTries) return this.emit({ state: 'error', code: 'network', why: `${why}; gave up after ${tries} tries` });
        const ms = uploadBackoff[Math.min(tries, uploadBackoff.length - 1)];
        tries++;
        this.emit({ state: 'resuming', sent: offset, why, wait: ms });
        try {
          await this.wait(ms, signal);
        } catch {
          return this.emit({ state: 'cancelled' });
        }
        let res;
        try {
          res = await this.transport.head(this.stateURL, signal);
        } catch {
          if (this.cancelled) return this.emit({ state: 'cancelled' });
          why = 'server unreachable';
          continue;
        }
        const next = afterProbe(res.status, res.held, this.size, this.codeOf);
        if (next.do === 'retry') {
          why = next.why;
          continue;
        }
        if (next.do === 'fail') return this.emit({ state: 'error', code: next.code, why: next.why });
        offset = next.offset;
        break;
      }
    }
  }

  /** startShared sends the file in one plain PUT: no resume, no retry. */
  async startShared() {
    const signal = this.abort.signal;
    if (this.cancelled) return this.emit({ state: 'cancelled' });
    this.emit({ state: 'uploading', sent: 0 });
    let res;
    try {
      res = await this.transport.put(this.putURL, this.file, {}, (loaded) => {
        if (!this.cancelled) this.emit({ state: 'uploading', sent: loaded });
      }, signal);
    } catch (err) {
      if (this.cancelled) return this.emit({ state: 'cancelled' });
      return this.emit({ state: 'error', code: 'interrupted', why: `${err?.message || 'connection lost'}; an upload shared as it goes cannot resume` });
    }
    const next = afterPut(res.status, null, this.size, this.codeOf);
    switch (next.do) {
      case 'done': return this.emit({ state: 'ok', replaced: next.replaced });
      case 'exists': return this.emit({ state: 'exists' });
      case 'retry': return this.emit({ state: 'error', code: this.codeOf(res.status), why: `${next.why}; an upload shared as it goes cannot resume` });
      default: return this.emit({ state: 'error', code: next.code, why: next.why });
    }
  }
}
