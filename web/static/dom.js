// Small DOM and formatting helpers shared by the page's modules.
//
// Safety rule of the whole page: user-provided strings (names, paths, chat,
// file content) only ever become Text nodes or attribute values set through
// setAttribute. Nothing here (or anywhere in the page) uses innerHTML,
// outerHTML or insertAdjacentHTML, nor writes markup into the document.

/**
 * h builds an element. attrs: "class" sets className, "on*" functions become
 * event listeners, booleans toggle the attribute, null/undefined/false are
 * skipped, everything else goes through setAttribute. Children may be nodes,
 * strings (as text), numbers, or nested arrays; null and false are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'style') throw new Error('h: inline style attributes are blocked by the CSP; use a class');
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** clear removes every child of el. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** setText replaces the content of el with one text node. */
export function setText(el, text) {
  el.textContent = text;
  return el;
}

/** $ returns the element with the given id, or throws (a page defect). */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

/**
 * cleanPath turns what a person typed or what a server sent into the
 * protocol's form: no leading slash, no empty or "." segments. ".." is kept
 * as is: the server refuses it, and the page shows that refusal.
 */
export function cleanPath(p) {
  return String(p ?? '')
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

/** encodePath URL-encodes each segment of a slash-separated path. */
export function encodePath(p) {
  return cleanPath(p).split('/').map(encodeURIComponent).join('/');
}

/** fileURL is the same-origin URL of a served file or folder (dir: true). */
export function fileURL(p, dir = false) {
  const enc = encodePath(p);
  if (dir) return enc === '' ? '/' : `/${enc}/`;
  return `/${enc}`;
}

/** baseName is the last segment of a path. */
export function baseName(p) {
  const c = cleanPath(p);
  return c.slice(c.lastIndexOf('/') + 1);
}

/** dirName is the folder part of a path, '' or ending with '/'. */
export function dirName(p) {
  const c = cleanPath(p);
  const i = c.lastIndexOf('/');
  return i < 0 ? '' : c.slice(0, i + 1);
}

/**
 * safeURL accepts only same-origin absolute paths ("/x", never "//host" or a
 * scheme) from server frames; otherwise it falls back to fileURL(path).
 */
export function safeURL(url, path) {
  if (typeof url === 'string' && url.startsWith('/') && !url.startsWith('//') && !url.includes('\\')) {
    return url;
  }
  return fileURL(path);
}

const units = ['B', 'KB', 'MB', 'GB', 'TB'];

/** formatSize renders a byte count for people: 0 B, 932 B, 1.4 KB, 12 MB. */
export function formatSize(n) {
  n = Number(n);
  if (!Number.isFinite(n) || n < 0) return '';
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 || n >= 100 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function toDate(v) {
  if (!v) return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** formatTime renders an RFC 3339 time as a 24-hour local clock time. */
export function formatTime(v) {
  const d = toDate(v) ?? new Date();
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** formatDate renders an RFC 3339 time as a short local date and time. */
export function formatDate(v) {
  const d = toDate(v);
  if (!d) return '';
  return d.toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
}

/** nameOf reads a person from a frame field: {id,name} or a plain string. */
export function nameOf(who) {
  if (who && typeof who === 'object') return String(who.name ?? who.id ?? '?');
  if (who === undefined || who === null || who === '') return '?';
  return String(who);
}

/** idOf reads the id of a person from a frame field, or ''. */
export function idOf(who) {
  return who && typeof who === 'object' && who.id !== undefined ? String(who.id) : '';
}

const textTypes = /^(text\/|application\/(json|xml|javascript|ecmascript|x-sh|x-shellscript|x-python|x-yaml|yaml|toml|x-toml|sql|graphql|x-httpd-php|ld\+json|manifest\+json|x-ndjson)|image\/svg\+xml)|\+json|\+xml/i;

/** isTextType says whether a Content-Type is shown as text. */
export function isTextType(type) {
  return textTypes.test(String(type || '')) && !/^image\/svg/i.test(String(type || ''));
}

/** isImageType says whether a Content-Type is shown as an image. */
export function isImageType(type) {
  return /^image\//i.test(String(type || ''));
}

/**
 * looksLikeText sniffs bytes whose type says nothing (octet-stream, empty):
 * valid UTF-8 with no NUL in the first 8 KiB is shown as text.
 */
export function looksLikeText(bytes) {
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.length < bytes.length ? trimUTF8(head) : head);
    return true;
  } catch {
    return false;
  }
}

// trimUTF8 drops a multi-byte sequence cut at the end of a prefix.
function trimUTF8(b) {
  let end = b.length;
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const c = b[end - i];
    if ((c & 0xc0) === 0x80) continue; // continuation byte
    if (c >= 0xc0) end -= i; // lead byte of a sequence that may be cut
    break;
  }
  return b.subarray(0, end);
}

/** lineCount counts lines as editors do: "a\nb" and "a\nb\n" are 2. */
export function lineCount(text) {
  if (text === '') return 0;
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return text.endsWith('\n') ? n : n + 1;
}

/** base64ToBytes decodes standard base64. */
export function base64ToBytes(s) {
  const bin = atob(String(s || ''));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** httpErrorCode maps an HTTP status to the protocol's error code. */
export function httpErrorCode(status) {
  switch (status) {
    case 400: return 'bad_request';
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'not_found';
    case 409: return 'exists';
    case 413: return 'too_large';
    case 429: return 'rate_limited';
    default: return status >= 500 ? 'internal' : `http_${status}`;
  }
}

/** storage wraps localStorage, which throws when storage is disabled. */
export const storage = {
  get(key) {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch {
      // Private mode or storage disabled: the name is asked again next time.
    }
  },
};
