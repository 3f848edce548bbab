// Paths, sizes, times and people as the page shows them. No DOM here: every
// module may use these, and the browser test runs them on their own.

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

const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/**
 * formatSize renders a byte count in binary units, as the server's listings
 * do: 0 B, 932 B, 1.4 KiB, 12.0 MiB.
 */
export function formatSize(n) {
  n = Number(n);
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${Math.round(n)} B`;
  let i = 0;
  n /= 1024;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(1)} ${units[i]}`;
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

/**
 * formatWhen renders a time shortly, for listings: "14:02" today, "Dec 3,
 * 14:02" this year, "Dec 3, 2024" before.
 */
export function formatWhen(v, now = new Date()) {
  const d = toDate(v);
  if (!d) return '';
  const time = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], time);
  if (d.getFullYear() === now.getFullYear()) return d.toLocaleString([], { month: 'short', day: 'numeric', ...time });
  return d.toLocaleDateString([], { year: 'numeric', month: 'short', day: 'numeric' });
}

// Explicit bidi formatting: embeddings and overrides, then isolates.
const bidiControls = /[\u202a-\u202e\u2066-\u2069]/;

/**
 * isolated is what someone wrote (a file's name), ready to go inside a
 * sentence of the page's own: when it holds explicit bidi formatting (a
 * right-to-left override), it is set apart with FSI…PDI, without isolates
 * of its own that could close that early, so that nothing in it turns the
 * rest of the sentence around. Other strings come back as they are.
 */
export function isolated(s) {
  s = String(s);
  if (!bidiControls.test(s)) return s;
  return `\u2068${s.replace(/[\u2066-\u2069]/g, '')}\u2069`;
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

/** hex renders bytes as lower-case hex. */
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
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
