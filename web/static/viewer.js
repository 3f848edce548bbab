// The viewer: shows one file. A file of the listing is previewed from its
// served URL (preview: pictures, video, audio, the browser's PDF viewer,
// markdown rendered and sanitized, text with line numbers, read by range),
// with previous and next through the folder; a file fetched into the page
// (over the live connection or HTTP, or shared inline) is shown from its
// bytes (show: text as text, raster images from their Blob, SVG from its
// served URL, other bytes as a download), with the progress of a large one,
// or why it failed. The page's own strings become Text nodes only; the one
// markup it renders is markdown's, through DOMPurify into nodes; every Blob
// URL it makes follows content.js's rule (see there).

import { h, clear } from './dom.js';
import { formatSize, formatDate, baseName, dirName, lineCount, fileURL, isolated } from './format.js';
import { kindOf, inlineMax, previewBytes, maxShownChars, trimUTF8 } from './content.js';
import { fileType } from './types.js';
import { httpRange } from './requests.js';
import { Rate, progressText } from './rate.js';
import { Marked } from './vendor/marked/marked.esm.js';
import DOMPurify from './vendor/dompurify/purify.es.js';

/** rangeBytes is how much of a text or markdown file a preview fetches (a Range request). */
export const rangeBytes = 256 << 10;
/** numberedMax is how many lines of text get line numbers; beyond, plain text. */
const numberedMax = 5000;

/**
 * numbered shows text with line numbers: one block per line, the number
 * drawn by CSS (a counter), so that copying the text copies no numbers.
 * Past numberedMax lines, one plain block.
 */
export function numbered(text) {
  const lines = text.split('\n');
  const ended = lines.length > 1 && lines[lines.length - 1] === '';
  if (ended) lines.pop();
  if (lines.length > numberedMax) return h('pre', { 'data-testid': 'content', tabindex: '0' }, text);
  // Each line keeps its own newline (the text, copied, is the file's).
  const last = lines.length - 1;
  return h('pre', { class: 'numbered', 'data-testid': 'content', tabindex: '0' },
    lines.map((l, i) => h('span', { class: 'l' }, i < last || ended ? `${l}\n` : l)));
}

// What markdown may keep once rendered: no script, style, form, frame or
// embedded object (DOMPurify drops script and event handlers anyway; the
// rest would break out of the page's look or its CSP).
const purifyConfig = {
  RETURN_DOM_FRAGMENT: true,
  USE_PROFILES: { html: true },
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'frame', 'object', 'embed', 'link', 'meta', 'base'],
  FORBID_ATTR: ['style', 'id', 'name', 'srcset'],
  ALLOW_DATA_ATTR: false,
};

const escapes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// Markdown with raw HTML off: HTML written in a markdown file is shown as
// the text it is (as goldmark does without WithUnsafe), so DOMPurify only
// ever sees markdown's own tags. It would remove script anyway, but the
// page's CSP reports every inline handler and style it is shown, even in
// DOMPurify's inert document.
const markdown = new Marked({
  gfm: true,
  async: false,
  renderer: { html: ({ text }) => String(text).replace(/[&<>"']/g, (c) => escapes[c]) },
});

/**
 * renderMarkdown renders markdown into a sanitized DOM fragment: marked
 * makes HTML (raw HTML escaped), DOMPurify parses and cleans it into nodes (no markup string
 * ever reaches the document). Links and images are resolved against the
 * file's folder; a link leaves in a new tab without the page as opener;
 * an image from another origin (which the page's CSP would block) becomes
 * a link to it.
 */
export function renderMarkdown(text, path) {
  const html = markdown.parse(text);
  const frag = DOMPurify.sanitize(html, purifyConfig);
  const base = new URL(fileURL(dirName(path), true), location.origin);
  for (const a of frag.querySelectorAll('a[href]')) {
    const raw = a.getAttribute('href');
    if (raw.startsWith('#')) continue;
    let u;
    try {
      u = new URL(raw, base);
    } catch {
      a.removeAttribute('href');
      continue;
    }
    a.setAttribute('href', u.href);
    a.setAttribute('target', '_blank');
    a.setAttribute('rel', 'noopener noreferrer');
  }
  for (const img of frag.querySelectorAll('img')) {
    let u = null;
    try {
      u = new URL(img.getAttribute('src') || '', base);
    } catch {
      // dropped below
    }
    if (u && u.origin === location.origin && (u.protocol === 'http:' || u.protocol === 'https:')) {
      img.setAttribute('src', u.pathname + u.search);
      img.setAttribute('loading', 'lazy');
      continue;
    }
    const alt = img.getAttribute('alt') || 'image';
    img.replaceWith(u && /^https?:$/.test(u.protocol)
      ? h('a', { href: u.href, target: '_blank', rel: 'noopener noreferrer' }, `[${alt}]`)
      : document.createTextNode(`[${alt}]`));
  }
  return frag;
}

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
      node: h('div', null, numbered(text), note ? h('p', { class: 'hint' }, note) : null),
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
    this.abort = null; // the preview's fetch, stopped when something else is shown
    this.nav = null; // {list, index, go(entry)}: the gallery of the folder shown
  }

  reset(path, state) {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
    this.abort?.abort();
    this.abort = null;
    // A playing video must stop (and free its connection) when it goes.
    for (const m of this.root.querySelectorAll('video, audio')) {
      m.pause();
      m.removeAttribute('src');
      m.load();
    }
    clear(this.root);
    this.root.dataset.state = state;
    this.root.dataset.path = path;
    delete this.root.dataset.kind;
    this.token++;
  }

  /** loading shows that a fetch of path started; progress() updates it. */
  /**
   * preview shows a file of the listing from its served URL, never reading
   * it whole into the page: images and SVG as <img>, video and audio in a
   * media element (which fetches ranges, so it seeks), PDF in the
   * browser's own viewer in a frame (the server sends the file with
   * "Content-Security-Policy: sandbox": it runs nothing as the page),
   * markdown rendered and sanitized, text with line numbers; markdown and
   * text only their first rangeBytes. entry: {path, size, type, modified}.
   * nav: {list, index, go} for previous and next (the folder's files).
   */
  async preview(entry, nav = null) {
    const path = entry.path;
    const t = fileType(baseName(path), entry.type);
    this.reset(path, 'loading');
    this.nav = nav;
    this.root.dataset.kind = t.preview;
    const token = this.token;
    const url = fileURL(path);
    const name = baseName(path);
    const download = h('a', { class: 'button small', href: `${url}?download`, download: name, 'data-testid': 'save' }, 'Download');
    const meta = h('p', { class: 'meta', 'data-testid': 'viewer-meta' },
      h('span', null, formatSize(entry.size)),
      h('span', { 'data-testid': 'viewer-type' }, t.label),
      entry.modified ? h('span', null, `modified ${formatDate(entry.modified)}`) : null);
    // The name (the folder is in the listing's path); the whole path in a tooltip.
    const head = h('div', { class: 'viewbar' }, this.navButtons(), h('p', { class: 'path', 'data-testid': 'viewer-path', title: path }, name), download);
    this.root.append(head, meta);
    let body;
    switch (t.preview) {
      case 'image':
      case 'svg':
        body = h('figure', { class: 'stage' }, h('img', { src: url, alt: name, 'data-testid': 'content-image', decoding: 'async' }));
        break;
      case 'video':
        body = h('video', { src: url, controls: true, preload: 'metadata', playsinline: true, 'data-testid': 'content-media' });
        break;
      case 'audio':
        body = h('audio', { src: url, controls: true, preload: 'metadata', 'data-testid': 'content-media' });
        break;
      case 'pdf':
        body = h('iframe', { src: url, title: `PDF ${name}`, class: 'pdf', 'data-testid': 'content-pdf' });
        break;
      case 'markdown':
      case 'text': {
        const ctl = new AbortController();
        this.abort = ctl;
        let got;
        try {
          got = await httpRange(url, rangeBytes, { signal: ctl.signal });
        } catch (err) {
          if (token !== this.token) return;
          this.error(path, err.code || 'error', err.message);
          return;
        }
        if (token !== this.token) return;
        if (got.bytes.includes(0)) {
          body = h('p', { class: 'hint', 'data-testid': 'no-preview' }, 'This file is not text: download it to open it.');
          break;
        }
        const text = new TextDecoder().decode(got.partial ? trimUTF8(got.bytes) : got.bytes);
        const note = got.partial ? h('p', { class: 'hint', 'data-testid': 'partial' }, `The first ${formatSize(got.bytes.length)} of ${formatSize(got.total)}; download it for all of it.`) : null;
        if (t.preview === 'markdown') {
          body = h('div', null, h('article', { class: 'markdown', 'data-testid': 'content' }, renderMarkdown(text, path)), note);
        } else {
          if (!got.partial) meta.append(h('span', { 'data-testid': 'line-count' }, `${lineCount(text)} ${lineCount(text) === 1 ? 'line' : 'lines'}`));
          body = h('div', null, numbered(text), note);
        }
        break;
      }
      default:
        body = h('p', { class: 'hint', 'data-testid': 'no-preview' }, `No preview for ${t.label} files: download it to open it.`);
    }
    this.root.append(body);
    this.root.dataset.state = 'shown';
    this.onOpen?.();
  }

  /** navButtons are Previous and Next of the gallery (nothing outside one). */
  navButtons() {
    const nav = this.nav;
    if (!nav || nav.list.length < 2) return null;
    const step = (d) => () => this.step(d);
    const prev = nav.list[(nav.index - 1 + nav.list.length) % nav.list.length];
    const next = nav.list[(nav.index + 1) % nav.list.length];
    return h('span', { class: 'nav' },
      h('button', { type: 'button', class: 'small', 'data-testid': 'viewer-prev', onclick: step(-1), 'aria-label': `Previous: ${baseName(prev.path)}`, title: 'Previous (←)' }, '‹'),
      h('span', { class: 'count', 'data-testid': 'viewer-count' }, `${nav.index + 1} / ${nav.list.length}`),
      h('button', { type: 'button', class: 'small', 'data-testid': 'viewer-next', onclick: step(1), 'aria-label': `Next: ${baseName(next.path)}`, title: 'Next (→)' }, '›'));
  }

  /** step shows the previous (-1) or next (1) file of the gallery, round the end. */
  step(d) {
    const nav = this.nav;
    if (!nav || nav.list.length < 2 || this.root.dataset.state === 'empty') return false;
    const index = (nav.index + d + nav.list.length) % nav.list.length;
    const focused = this.root.contains(document.activeElement) ? document.activeElement.dataset.testid : '';
    nav.go(nav.list[index], index);
    if (focused) this.root.querySelector(`[data-testid=${focused}]`)?.focus({ preventScroll: true });
    return true;
  }

  loading(path, via) {
    this.reset(path, 'loading');
    this.nav = null;
    this.rate = new Rate();
    this.bar = h('progress', { max: '100', 'aria-label': `Loading ${path}` });
    this.barText = h('span', { 'data-testid': 'progress-text' }, 'starting…');
    const [how, tip] = viaText[via] || viaText.ws;
    this.root.append(h('p', { class: 'path' }, path), h('p', { class: 'meta' }, h('span', { title: tip }, `fetching ${how}`)), this.bar, this.barText);
    this.onOpen?.();
  }

  progress(path, received, size) {
    if (this.root.dataset.state !== 'loading' || this.root.dataset.path !== path) return;
    this.rate?.add(received);
    if (size > 0) this.bar.value = Math.min(100, Math.floor((received / size) * 100));
    else this.bar.removeAttribute('value');
    this.barText.textContent = progressText(received, size, this.rate);
  }

  /**
   * show displays file: {path, size, type, modified, via, url?, text?,
   * blob?, verify?: {state, text}}. url is the served URL (for SVG).
   */
  async show(file) {
    this.reset(file.path, 'rendering');
    this.nav = null;
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
    this.nav = null;
    this.root.append(h('p', { class: 'hint' }, 'Tap a file to see it here. Only you see what you open.'));
  }
}
