// The viewer: shows one file (text as text, raster images from their Blob,
// SVG from its served URL, other bytes as a download), the progress of a
// large one, or why it failed. Content becomes Text nodes only, never markup;
// every Blob URL it makes follows content.js's rule (see there).

import { h, clear } from './dom.js';
import { formatSize, formatDate, baseName, lineCount, fileURL, isolated } from './format.js';
import { kindOf, inlineMax, previewBytes, maxShownChars } from './content.js';

/** How a file came, in plain words; the technical name goes in a tooltip. */
export const viaText = {
  ws: ['over the live connection', 'WebSocket: a private get request'],
  http: ['over HTTP', 'AJAX: a plain HTTP GET with fetch()'],
  share: ['shared with the room', 'from the shared frame'],
};

/**
 * saveLink offers the bytes as a download: an application/octet-stream Blob
 * (a new Blob of a Blob shares its bytes) with the download attribute, so
 * that opening the link anywhere downloads and never renders.
 */
export function saveLink(file, urls, label = 'Save', cls = 'button small') {
  const body = file.blob ?? new Blob([file.text ?? '']);
  const url = URL.createObjectURL(new Blob([body], { type: 'application/octet-stream' }));
  urls.push(url);
  return h('a', { href: url, download: baseName(file.path) || 'download', class: cls, 'data-testid': 'save' }, label);
}

function cutText(text, { limit, lines }) {
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
  return { text, cut };
}

/**
 * renderBody builds the content part of a file: a <pre> for text, an <img>
 * for images, a note for the rest. urls collects the Blob URLs made, so the
 * caller can revoke them when the content goes away. limit and lines cut
 * text for previews. It resolves to {kind, node, lines?, large}.
 */
export async function renderBody(file, urls, { limit = maxShownChars, lines = Infinity, url } = {}) {
  const kind = await kindOf(file);
  const size = Number(file.size ?? file.blob?.size ?? 0);
  const large = size > inlineMax;
  const name = baseName(file.path);
  if (kind === 'text') {
    let full;
    let partial = false;
    if (file.text !== undefined) full = file.text;
    else if (!large) full = await file.blob.text();
    else {
      full = await file.blob.slice(0, previewBytes).text();
      partial = true;
    }
    const { text, cut } = cutText(full, { limit, lines });
    const note = partial
      ? `The first ${formatSize(previewBytes)} of ${formatSize(size)}; save the file for all of it.`
      : cut ? '… (cut; save the file for all of it)' : null;
    return {
      kind, large, lines: partial ? null : lineCount(full),
      node: h('div', null, h('pre', { 'data-testid': 'content', tabindex: '0' }, text), note ? h('p', { class: 'hint' }, note) : null),
    };
  }
  if (kind === 'svg') {
    // The served URL: sandboxed by the server, and an <img> never runs
    // script. Never a Blob: opened in a tab, that would be a document.
    return { kind, large, node: h('img', { src: url || fileURL(file.path), alt: `image ${name}`, 'data-testid': 'content-image' }) };
  }
  if (kind === 'image' && !large && file.blob) {
    const u = URL.createObjectURL(file.blob); // a raster type: see blobType
    urls.push(u);
    return { kind, large, node: h('img', { src: u, alt: `image ${name}`, 'data-testid': 'content-image' }) };
  }
  const why = large
    ? `${isolated(name)} is ${formatSize(size)}: too large to show here.`
    : `No preview for this type of file${file.type ? ` (${file.type.replace(/;.*$/, '')})` : ''}.`;
  return { kind: large ? 'large' : 'binary', large, node: h('p', { class: 'hint', 'data-testid': 'no-preview' }, why) };
}

export class Viewer {
  /**
   * @param {HTMLElement} root where the file goes (#viewer)
   * @param {object} hooks
   * @param {() => void} hooks.onOpen something is shown (the page brings it into view)
   */
  constructor(root, { onOpen } = {}) {
    this.root = root;
    this.urls = [];
    this.token = 0; // the newest show; an older one that resolves late is dropped
    this.onOpen = onOpen;
  }

  reset(path, state) {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
    clear(this.root);
    this.root.dataset.state = state;
    this.root.dataset.path = path;
    this.token++;
  }

  /** loading shows that a fetch of path started; progress() updates it. */
  loading(path, via) {
    this.reset(path, 'loading');
    this.bar = h('progress', { max: '100', 'aria-label': `Loading ${path}` });
    this.barText = h('span', { 'data-testid': 'progress-text' }, 'starting…');
    const [how, tip] = viaText[via] || viaText.ws;
    this.root.append(h('p', { class: 'path' }, path), h('p', { class: 'meta' }, h('span', { title: tip }, `fetching ${how}`)), this.bar, this.barText);
    this.onOpen?.();
  }

  progress(path, received, size) {
    if (this.root.dataset.state !== 'loading' || this.root.dataset.path !== path) return;
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
   * show displays file: {path, size, type, modified, via, url?, text?,
   * blob?, verify?: {state, text}}. url is the served URL (for SVG).
   */
  async show(file) {
    this.reset(file.path, 'rendering');
    const token = this.token;
    const urls = [];
    let body;
    try {
      body = await renderBody(file, urls, { url: file.url });
    } catch (err) {
      for (const u of urls) URL.revokeObjectURL(u);
      if (token === this.token) this.error(file.path, 'unreadable', String(err?.message || err));
      return;
    }
    if (token !== this.token) { // another file came first
      for (const u of urls) URL.revokeObjectURL(u);
      return;
    }
    this.urls.push(...urls);
    const size = file.size ?? file.blob?.size ?? new TextEncoder().encode(file.text ?? '').length;
    const [how, tip] = viaText[file.via] || [];
    const meta = h('p', { class: 'meta', 'data-testid': 'viewer-meta' },
      h('span', null, formatSize(size)),
      file.type ? h('span', null, file.type) : null,
      file.modified ? h('span', null, `modified ${formatDate(file.modified)}`) : null,
      body.lines != null ? h('span', { 'data-testid': 'line-count' }, `${body.lines} ${body.lines === 1 ? 'line' : 'lines'}`) : null,
      how ? h('span', { title: tip, 'data-via': file.via }, how) : null,
    );
    const verify = file.verify ? h('p', { class: 'verify', 'data-testid': 'verify', 'data-state': file.verify.state }, file.verify.text) : null;
    const save = h('p', { class: 'actions start' }, saveLink(file, this.urls, body.large || body.kind === 'binary' ? `Save ${baseName(file.path)}` : 'Save'));
    // Save before the content: a long file must not hide it.
    this.root.append(...[h('p', { class: 'path', 'data-testid': 'viewer-path' }, file.path), meta, verify, save, body.node].filter(Boolean));
    this.root.dataset.state = 'shown';
    this.onOpen?.();
  }

  /** error shows why a fetch failed, with the protocol's error code. */
  error(path, code, message) {
    this.reset(path, 'error');
    this.root.append(
      h('p', { class: 'path' }, path),
      h('p', { class: 'result', 'data-state': 'error' }, h('span', { class: 'code', 'data-testid': 'viewer-error' }, code), message ? ` ${message}` : ''),
    );
    this.onOpen?.();
  }

  /** empty clears the viewer back to its hint. */
  empty() {
    this.reset('', 'empty');
    this.root.append(h('p', { class: 'hint' }, 'Choose Open on a file to see it here. Only you see what you open.'));
  }
}
