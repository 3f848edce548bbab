// Requests to the room and their replies, and file streams: no DOM.
//
// Every request carries an id that is unique to this page; the server puts
// it on every reply, `error` included. Some replies are broadcasts without
// an id (our own `shared` and `chat` coming back to the whole room), and are
// matched by what they say. A `get` of a file above the inline limit is
// answered by `file-start`, binary frames, then `file-end` with the SHA-256
// of the whole file: the chunks are hashed as they arrive and become one
// Blob at the end, so a large file is held once, not copied two or three
// times on the way.
//
// A file still being uploaded with ?share=1 comes the same way to every
// member of the uploader's room, without a request: `shared` with a
// stream number, then `file-start` (growing: true), the bytes as they reach
// the server's disk, and `file-end`, or an `error` naming the stream if
// the upload was cut off. follow() takes such a stream; its bytes become a
// file only when file-end says the upload is complete, never before.

import { sha256 } from './vendor/noble-hashes/sha2.js';
import { cleanPath, fileURL, base64ToBytes, hex, httpErrorCode, idOf } from './format.js';
import { blobType } from './content.js';

export const requestTimeout = 20000; // ms for a reply to a request (a stream resets it)
export const streamStall = 30000; // ms without a binary frame before a stream is given up
export const growingStall = 120000; // ms without a frame of a growing upload before it is given up (the server itself cuts an upload idle for 30 s, and says so)
export const keepMax = 1 << 30; // bytes of one followed upload the page holds (a larger one is offered as a download)
const progressEvery = 80; // ms between progress callbacks of one transfer
const foldBytes = 4 << 20; // bytes of chunks an Assembly holds before it folds them into a Blob

/** ReqError is a failed request: the server's error code, or `disconnected`, `timeout`, `network`. */
export class ReqError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/**
 * fileFromFrame turns a `file` frame, or a `shared` frame with inline
 * content, into the page's file: {path, size, type, modified, text?, blob?}.
 * A base64 content becomes a Blob whose type follows content.js's rule.
 */
export function fileFromFrame(msg) {
  const f = { path: cleanPath(msg.path), size: Number(msg.size), type: String(msg.type ?? ''), modified: msg.modified };
  if (msg.content === undefined || msg.content === null) return f;
  if (msg.encoding === 'base64') {
    const bytes = base64ToBytes(msg.content);
    f.blob = new Blob([bytes], { type: blobType(f.type) });
    if (!Number.isFinite(f.size)) f.size = bytes.length;
  } else {
    f.text = String(msg.content);
    if (!Number.isFinite(f.size)) f.size = new TextEncoder().encode(f.text).length;
  }
  return f;
}

/** verdict compares a digest with the server's hex digest, for people. */
export function verdict(gotHex, wantHex) {
  if (!wantHex) return { state: 'unknown', text: `sha256 ${gotHex.slice(0, 16)}… (the server sent none to compare)` };
  if (gotHex === String(wantHex).toLowerCase()) return { state: 'ok', text: `sha256 verified ✓ ${gotHex.slice(0, 16)}…` };
  return { state: 'bad', text: `sha256 MISMATCH: got ${gotHex.slice(0, 16)}…, expected ${String(wantHex).slice(0, 16)}…` };
}

/**
 * Assembly collects one file's chunks in order and hashes each as it comes.
 * finish() builds the one Blob and drops the chunks.
 */
export class Assembly {
  /** limit: beyond this many bytes the chunks are dropped (overflow), only counted. */
  constructor(type, limit = Infinity) {
    this.type = type;
    this.limit = limit;
    this.chunks = [];
    this.received = 0;
    this.overflow = false;
    this.hash = sha256.create();
  }

  push(chunk) {
    this.received += chunk.length;
    if (this.overflow) return;
    if (this.received > this.limit) {
      this.overflow = true;
      this.chunks = [];
      this.parts = [];
      return;
    }
    this.chunks.push(chunk);
    this.pending = (this.pending || 0) + chunk.length;
    this.hash.update(chunk);
    if (this.pending >= foldBytes) {
      // Into a Blob every few MiB: the browser keeps a Blob's bytes out of
      // the page's heap (in its blob store, on disk when large), so a
      // 200 MB file does not sit in page memory while it arrives.
      (this.parts ||= []).push(new Blob(this.chunks));
      this.chunks = [];
      this.pending = 0;
    }
  }

  /**
   * finish returns {blob, sha256 (hex), verify} against wantHex; after an
   * overflow blob is null and nothing was verified.
   */
  finish(wantHex) {
    if (this.overflow) return { blob: null, sha256: '', verify: { state: 'unknown', text: 'too large to keep in this page: download it' } };
    const blob = new Blob([...(this.parts || []), ...this.chunks], { type: blobType(this.type) });
    this.chunks = [];
    this.parts = [];
    const got = hex(this.hash.digest());
    return { blob, sha256: got, verify: verdict(got, wantHex) };
  }
}

/**
 * Requests matches replies to requests. send(msg) puts a frame on the
 * socket and says whether it could; handle(msg) and binary(buf) take every
 * frame the socket delivers (the page's own handling of a frame goes on
 * regardless: a `members` reply also updates the member list).
 */
export class Requests {
  /**
   * @param {object} o
   * @param {(msg: object) => boolean} o.send
   * @param {number} [o.timeout] ms for a reply
   * @param {number} [o.stall] ms between the frames of a stream
   * @param {number} [o.growStall] ms between the frames of a followed upload
   */
  constructor({ send, timeout = requestTimeout, stall = streamStall, growStall = growingStall }) {
    this.send = send;
    this.timeout = timeout;
    this.stall = stall;
    this.growStall = growStall;
    this.pending = new Map(); // id -> request
    this.streams = new Map(); // stream number -> {p, meta, asm, last} of a get, or {grow, meta, asm, last, timer} of follow
    this.next = 0;
    // Unique per page, so a reply is never taken for another page's request.
    this.prefix = `${Math.random().toString(36).slice(2, 8)}-`;
  }

  /**
   * request sends msg with a fresh id and resolves with the reply (for
   * `get`: the file, after its stream if any), or rejects with a ReqError.
   * quiet: a timeout resolves with null instead (for requests whose only
   * answer may be a broadcast, such as chat).
   */
  request(msg, { onProgress, timeout = this.timeout, quiet = false } = {}) {
    return new Promise((resolve, reject) => {
      const id = `${this.prefix}${++this.next}`;
      const p = {
        id, kind: msg.kind, path: msg.path === undefined ? undefined : cleanPath(msg.path), text: msg.text,
        resolve, reject, onProgress, quiet,
      };
      if (!this.send({ ...msg, id })) {
        reject(new ReqError('disconnected', 'not connected to the room'));
        return;
      }
      this.pending.set(id, p);
      this.arm(p, timeout);
    });
  }

  /** size is the number of requests waiting for a reply. */
  get size() {
    return this.pending.size;
  }

  arm(p, ms) {
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      if (p.quiet) this.settle(p, null);
      else this.fail(p, 'timeout', 'no answer from the server');
    }, ms);
  }

  settle(p, value) {
    if (!this.pending.delete(p.id)) return;
    clearTimeout(p.timer);
    if (p.stream !== undefined) this.streams.delete(p.stream);
    p.resolve(value);
  }

  fail(p, code, message) {
    if (!this.pending.delete(p.id)) return;
    clearTimeout(p.timer);
    if (p.stream !== undefined) this.streams.delete(p.stream);
    p.reject(new ReqError(code, message));
  }

  /** failAll fails every request and followed upload, e.g. when the connection is lost. */
  failAll(code, message) {
    for (const p of [...this.pending.values()]) this.fail(p, code, message);
    for (const st of [...this.streams.values()]) if (st.grow) this.unfollow(st, code, message);
    this.streams.clear();
  }

  /**
   * follow takes a `shared` frame with a stream: a file the room receives as
   * it is uploaded. The handlers get onStart(meta) at file-start (meta.size
   * is the expected size, -1 when unknown), onProgress(received, size),
   * then either onDone({...meta, size, blob, sha256, verify}) once the
   * upload is complete (blob null when it was over keep bytes), or
   * onFail(code, message): `aborted` (the upload was cut off), `timeout`,
   * `disconnected`. It returns false for a frame without a usable stream.
   */
  follow(msg, { onStart, onProgress, onDone, onFail, keep = keepMax } = {}) {
    if (!Number.isInteger(msg?.stream) || msg.stream < 0) return false;
    const old = this.streams.get(msg.stream);
    if (old?.grow) this.unfollow(old, 'aborted', 'replaced by another upload');
    else if (old) return false; // a get's stream: not ours to take
    const st = {
      n: msg.stream, grow: { onStart, onProgress, onDone, onFail }, keep,
      meta: fileFromFrame({ ...msg, content: undefined }), asm: null, last: 0, timer: 0,
    };
    this.streams.set(msg.stream, st);
    this.armGrow(st);
    return true;
  }

  armGrow(st) {
    clearTimeout(st.timer);
    st.timer = setTimeout(() => this.unfollow(st, 'timeout', 'the upload stopped sending'), this.growStall ?? growingStall);
  }

  unfollow(st, code, message) {
    clearTimeout(st.timer);
    if (this.streams.get(st.n) === st) this.streams.delete(st.n);
    if (st.done) return;
    st.done = true;
    if (st.asm) st.asm.chunks = []; // never offered as the file
    st.grow.onFail?.(code, message);
  }

  /**
   * match finds the request a reply belongs to: by its id; a reply without
   * an id (an older server) by kind and path.
   */
  match(msg, kinds) {
    if (typeof msg.id === 'string' && msg.id !== '') {
      const p = this.pending.get(msg.id);
      return p && kinds.includes(p.kind) ? p : null;
    }
    const path = msg.path === undefined ? undefined : cleanPath(msg.path);
    for (const p of this.pending.values()) {
      if (kinds.includes(p.kind) && (path === undefined || p.path === undefined || p.path === path)) return p;
    }
    return null;
  }

  /**
   * handle takes one frame and settles the request it answers; it returns
   * true when the frame was such a reply. you is the page's own member id.
   */
  handle(msg, you = '') {
    switch (msg.kind) {
      case 'error': {
        const p = typeof msg.id === 'string' ? this.pending.get(msg.id) : undefined;
        const st = p ? undefined : this.streams.get(msg.stream);
        if (st?.grow) {
          this.unfollow(st, String(msg.code || 'aborted'), String(msg.message || ''));
          return true;
        }
        const q = p || st?.p;
        if (!q) return false;
        this.fail(q, String(msg.code || 'internal'), String(msg.message || ''));
        return true;
      }
      case 'file': {
        const p = this.match(msg, ['get']);
        if (!p || p.stream !== undefined) return false;
        this.settle(p, fileFromFrame(msg));
        return true;
      }
      case 'file-start': return this.start(msg);
      case 'file-end': return this.end(msg);
      case 'listing': return this.reply(msg, ['list']);
      case 'members': return this.reply(msg, ['who']);
      case 'pong': return this.reply(msg, ['ping']);
      case 'shared': {
        // Our own share, broadcast to the room: it confirms the request.
        if (!you || idOf(msg.by) !== you) return false;
        return this.reply(msg, ['share']);
      }
      case 'chat':
      case 'snippet': {
        if (!you || idOf(msg.from) !== you) return false;
        const p = [...this.pending.values()].find((q) => q.kind === msg.kind && q.text === msg.text);
        if (!p) return false;
        this.settle(p, msg);
        return true;
      }
      case 'presence': {
        const p = typeof msg.id === 'string' ? this.pending.get(msg.id) : undefined;
        if (p?.kind === 'rename') {
          this.settle(p, msg);
          return true;
        }
        if (msg.event !== 'rename' || !you || idOf(msg.who) !== you) return false;
        const q = [...this.pending.values()].find((r) => r.kind === 'rename');
        if (!q) return false;
        this.settle(q, msg);
        return true;
      }
      default:
        return false;
    }
  }

  reply(msg, kinds) {
    const p = this.match(msg, kinds);
    if (!p) return false;
    this.settle(p, msg);
    return true;
  }

  start(msg) {
    const grown = Number.isInteger(msg.stream) ? this.streams.get(msg.stream) : undefined;
    if (grown?.grow) {
      if (grown.asm) return true; // a second file-start: keep what came
      const meta = fileFromFrame({ ...msg, content: undefined });
      if (!meta.path) meta.path = grown.meta.path;
      const size = Number(msg.size);
      meta.size = Number.isFinite(size) && size >= 0 ? size : -1;
      grown.meta = meta;
      grown.asm = new Assembly(meta.type || grown.meta.type, grown.keep);
      if (meta.size > grown.keep) grown.asm.overflow = true; // too large to hold: only counted
      this.armGrow(grown);
      grown.grow.onStart?.(meta);
      grown.grow.onProgress?.(0, meta.size);
      return true;
    }
    const p = this.match(msg, ['get']);
    if (!p || p.stream !== undefined || !Number.isInteger(msg.stream)) return false;
    const meta = fileFromFrame({ ...msg, content: undefined });
    p.stream = msg.stream;
    this.streams.set(msg.stream, { p, meta, asm: new Assembly(meta.type), last: 0 });
    this.arm(p, this.stall);
    p.onProgress?.(0, meta.size || 0);
    return true;
  }

  /** binary takes one binary frame: 4 bytes of stream number, then bytes. */
  binary(buf) {
    if (!(buf instanceof ArrayBuffer) || buf.byteLength < 4) return false;
    const st = this.streams.get(new DataView(buf).getUint32(0, false));
    if (!st) return false; // a stream we gave up on, or not ours
    if (st.grow) {
      if (!st.asm) st.asm = new Assembly(st.meta.type, st.keep); // bytes before file-start: take them
      st.asm.push(new Uint8Array(buf, 4));
      this.armGrow(st);
      const now = Date.now();
      if (now - st.last > progressEvery) {
        st.last = now;
        st.grow.onProgress?.(st.asm.received, st.meta.size);
      }
      return true;
    }
    st.asm.push(new Uint8Array(buf, 4));
    this.arm(st.p, this.stall);
    const now = Date.now();
    if (now - st.last > progressEvery) {
      st.last = now;
      st.p.onProgress?.(st.asm.received, st.meta.size || 0);
    }
    return true;
  }

  end(msg) {
    const st = this.streams.get(msg.stream);
    if (!st) return false;
    this.streams.delete(msg.stream);
    if (st.grow) {
      clearTimeout(st.timer);
      st.done = true;
      const asm = st.asm || new Assembly(st.meta.type, st.keep); // an empty file
      const { blob, sha256: sum, verify } = asm.finish(msg.sha256);
      st.grow.onProgress?.(asm.received, asm.received);
      st.grow.onDone?.({ ...st.meta, size: asm.received, blob, sha256: sum, verify });
      return true;
    }
    const { blob, sha256: sum, verify } = st.asm.finish(msg.sha256);
    st.p.onProgress?.(st.asm.received, st.asm.received);
    this.settle(st.p, { ...st.meta, size: blob.size, blob, sha256: sum, verify });
    return true;
  }
}

/** httpError turns a failed response into a ReqError, with the server's message when it sent JSON. */
export async function httpError(r) {
  let code = httpErrorCode(r.status);
  let message = `HTTP ${r.status}`;
  try {
    const body = await r.json();
    if (body?.error?.message) message = String(body.error.message);
    if (code.startsWith('http_') && body?.error?.code) code = String(body.error.code);
  } catch {
    // Not JSON (a plain-text error page): the status says enough.
  }
  return new ReqError(code, message);
}

/**
 * httpGet fetches a file with plain same-origin fetch() (the "AJAX" way):
 * the session cookie goes with it, so the room's feed names this person.
 * The body is read as it comes, for progress, into one Blob.
 */
export async function httpGet(path, { onProgress, url } = {}) {
  let r;
  try {
    r = await fetch(url || fileURL(path), { cache: 'no-store' });
  } catch {
    throw new ReqError('network', 'the server could not be reached');
  }
  if (!r.ok) throw await httpError(r);
  const size = Number(r.headers.get('Content-Length')) || 0;
  const type = r.headers.get('Content-Type') || '';
  const chunks = [];
  const parts = [];
  let held = 0;
  let received = 0;
  if (r.body) {
    const reader = r.body.getReader();
    let last = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.length;
      held += value.length;
      if (held >= foldBytes) { // as Assembly does: out of the page's heap
        parts.push(new Blob(chunks.splice(0)));
        held = 0;
      }
      const now = Date.now();
      if (onProgress && now - last > progressEvery) {
        last = now;
        onProgress(received, size);
      }
    }
  } else {
    const b = new Uint8Array(await r.arrayBuffer());
    chunks.push(b);
    received = b.length;
  }
  onProgress?.(received, size || received);
  return {
    path: cleanPath(path),
    size: received,
    type,
    modified: r.headers.get('Last-Modified') || '',
    blob: new Blob([...parts, ...chunks], { type: blobType(type) }),
  };
}

/** httpListing lists a folder ('' or 'a/b/') over HTTP, for when the room is not connected. */
export async function httpListing(url) {
  let r;
  try {
    r = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  } catch {
    throw new ReqError('network', 'the server could not be reached');
  }
  if (!r.ok) throw await httpError(r);
  return r.json();
}

/**
 * httpRange fetches the first limit bytes of a file over HTTP with a Range
 * request (a preview never fetches the whole file): {bytes, total, type,
 * modified, partial}. A server that ignores the range is read only as far
 * as limit, then cancelled. An empty file (416 to any range) is empty.
 */
export async function httpRange(url, limit, { signal } = {}) {
  let r;
  try {
    r = await fetch(url, { headers: { Range: `bytes=0-${limit - 1}` }, cache: 'no-store', signal });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ReqError('network', 'the server could not be reached');
  }
  if (r.status === 416) return { bytes: new Uint8Array(0), total: 0, type: r.headers.get('Content-Type') || '', modified: '', partial: false };
  if (!r.ok) throw await httpError(r);
  const range = /\/(\d+)$/.exec(r.headers.get('Content-Range') || '');
  const total = range ? Number(range[1]) : Number(r.headers.get('Content-Length')) || 0;
  const chunks = [];
  let n = 0;
  if (r.body) {
    const reader = r.body.getReader();
    while (n < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.length;
    }
    if (n >= limit) reader.cancel().catch(() => {});
  } else {
    const b = new Uint8Array(await r.arrayBuffer());
    chunks.push(b);
    n = b.length;
  }
  const bytes = new Uint8Array(Math.min(n, limit));
  let at = 0;
  for (const c of chunks) {
    const part = c.subarray(0, Math.min(c.length, bytes.length - at));
    bytes.set(part, at);
    at += part.length;
    if (at >= bytes.length) break;
  }
  return {
    bytes, total: Math.max(total, bytes.length), type: r.headers.get('Content-Type') || '',
    modified: r.headers.get('Last-Modified') || '', partial: bytes.length < Math.max(total, bytes.length),
  };
}
