// The viewer: shows one fetched file (text as text, images as images, other
// bytes as a download), the progress of a large one, or why it failed.
// Content becomes Text nodes or Blob URLs only, never markup.

import {
  h, clear, formatSize, formatDate, baseName, isTextType, isImageType, looksLikeText, lineCount, base64ToBytes,
} from './dom.js';

/** Text beyond this many characters is cut in the viewer (still downloadable). */
const maxShownChars = 2 * 1024 * 1024;

/**
 * toFile normalizes a `file` or `shared` frame with inline content into the
 * viewer's shape: {path, size, type, modified, text?, bytes?}.
 */
export function fromFrame(msg) {
  const f = { path: String(msg.path ?? ''), size: msg.size, type: String(msg.type ?? ''), modified: msg.modified };
  if (msg.content === undefined || msg.content === null) return f;
  if (msg.encoding === 'base64') f.bytes = base64ToBytes(msg.content);
  else f.text = String(msg.content);
  return f;
}

/** kindOf decides how a file is shown: 'text', 'image' or 'binary'. */
export function kindOf(file) {
  if (isImageType(file.type)) return 'image';
  if (file.text !== undefined) return 'text';
  if (isTextType(file.type)) return 'text';
  if (file.bytes && (!file.type || /octet-stream/i.test(file.type)) && looksLikeText(file.bytes)) return 'text';
  return 'binary';
}

function textOf(file) {
  if (file.text !== undefined) return file.text;
  return new TextDecoder('utf-8').decode(file.bytes ?? new Uint8Array());
}

function blobOf(file) {
  const type = file.type || 'application/octet-stream';
  if (file.bytes) return new Blob([file.bytes], { type });
  return new Blob([file.text ?? ''], { type });
}

/**
 * sha256Check hashes bytes with WebCrypto and compares with the server's
 * hex digest. WebCrypto exists only in secure contexts (https, and
 * http://127.0.0.1 or localhost); elsewhere the check is reported as not done.
 */
export async function sha256Check(bytes, expectHex) {
  const subtle = globalThis.isSecureContext ? globalThis.crypto?.subtle : undefined;
  if (!subtle) return { state: 'unknown', text: 'not verified (no WebCrypto)' };
  const sum = new Uint8Array(await subtle.digest('SHA-256', bytes));
  const hex = Array.from(sum, (b) => b.toString(16).padStart(2, '0')).join('');
  if (!expectHex) return { state: 'unknown', text: `sha256 ${hex.slice(0, 16)}… (no digest to compare)` };
  if (hex === String(expectHex).toLowerCase()) return { state: 'ok', text: `sha256 verified ✓ ${hex.slice(0, 16)}…` };
  return { state: 'bad', text: `sha256 MISMATCH: got ${hex.slice(0, 16)}…, expected ${String(expectHex).slice(0, 16)}…` };
}

/**
 * renderBody builds the content part of a file: a <pre> for text, an <img>
 * for images, a save link for the rest. urls collects the Blob URLs made, so
 * the caller can revoke them when the content goes away. limit cuts text
 * (in characters) for previews.
 */
export function renderBody(file, urls, { limit = maxShownChars, lines = Infinity } = {}) {
  const kind = kindOf(file);
  if (kind === 'text') {
    let text = textOf(file);
    const count = lineCount(text);
    let cut = false;
    if (lines !== Infinity) {
      let i = -1;
      for (let n = 0; n < lines; n++) {
        i = text.indexOf('\n', i + 1);
        if (i < 0) break;
      }
      if (i >= 0 && i < text.length - 1) {
        text = text.slice(0, i + 1);
        cut = true;
      }
    }
    if (text.length > limit) {
      text = text.slice(0, limit);
      cut = true;
    }
    return { kind, lines: count, node: h('div', null, h('pre', { 'data-testid': 'content', tabindex: '0' }, text), cut ? h('p', { class: 'hint' }, '… (cut; save the file for all of it)') : null) };
  }
  const url = URL.createObjectURL(blobOf(file));
  urls.push(url);
  if (kind === 'image') {
    return { kind, node: h('img', { src: url, alt: `image ${baseName(file.path)}`, 'data-testid': 'content-image' }) };
  }
  return { kind, node: h('p', null, 'Binary file: ', h('a', { href: url, download: baseName(file.path) || 'download', class: 'button' }, `Save ${baseName(file.path)}`)) };
}

export class Viewer {
  constructor(root) {
    this.root = root;
    this.urls = [];
    this.current = null; // {path, token}
  }

  reset(path, state) {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
    clear(this.root);
    this.root.dataset.state = state;
    this.root.dataset.path = path;
  }

  /** loading shows that a fetch of path started; progress() updates it. */
  loading(path, via) {
    this.reset(path, 'loading');
    this.bar = h('progress', { max: '100', 'aria-label': `Loading ${path}` });
    this.barText = h('span', { 'data-testid': 'progress-text' }, 'starting…');
    this.root.append(h('p', { class: 'path' }, path), h('p', { class: 'meta' }, `via ${via === 'http' ? 'AJAX (HTTP)' : 'WebSocket'}`), this.bar, this.barText);
  }

  /** progress shows bytes and percent of a transfer in progress. */
  progress(path, received, size) {
    if (this.root.dataset.path !== path || this.root.dataset.state !== 'loading' || !this.bar) return;
    if (size > 0) {
      const pct = Math.min(100, Math.floor((received / size) * 100));
      this.bar.value = pct;
      this.barText.textContent = `${formatSize(received)} of ${formatSize(size)} (${pct}%)`;
    } else {
      this.bar.removeAttribute('value');
      this.barText.textContent = formatSize(received);
    }
  }

  /**
   * show displays file: {path, size, type, modified, via, text?, bytes?,
   * verify?: {state, text}}.
   */
  show(file) {
    this.reset(file.path, 'shown');
    const body = renderBody(file, this.urls);
    const size = file.size ?? file.bytes?.length ?? new TextEncoder().encode(file.text ?? '').length;
    const meta = h('p', { class: 'meta', 'data-testid': 'viewer-meta' },
      h('span', null, formatSize(size)),
      file.type ? h('span', null, file.type) : null,
      file.modified ? h('span', null, `modified ${formatDate(file.modified)}`) : null,
      body.kind === 'text' ? h('span', { 'data-testid': 'line-count' }, `${body.lines} ${body.lines === 1 ? 'line' : 'lines'}`) : null,
      file.via ? h('span', null, `via ${file.via === 'http' ? 'AJAX (HTTP)' : file.via === 'share' ? 'the room' : 'WebSocket'}`) : null,
    );
    const verify = file.verify ? h('p', { class: 'verify', 'data-testid': 'verify', 'data-state': file.verify.state }, file.verify.text) : null;
    const save = body.kind !== 'binary' ? this.saveLink(file) : null;
    this.root.append(...[h('p', { class: 'path', 'data-testid': 'viewer-path' }, file.path), meta, verify, body.node, save].filter(Boolean));
  }

  saveLink(file) {
    const url = URL.createObjectURL(blobOf(file));
    this.urls.push(url);
    return h('p', null, h('a', { href: url, download: baseName(file.path) || 'download', class: 'button small' }, 'Save'));
  }

  /** error shows why a fetch failed, with the protocol's error code. */
  error(path, code, message) {
    this.reset(path, 'error');
    this.root.append(
      h('p', { class: 'path' }, path),
      h('p', { class: 'result', 'data-state': 'error' }, h('span', { class: 'code', 'data-testid': 'viewer-error' }, code), message ? ` ${message}` : ''),
    );
  }
}
