// Drop links, with no DOM: the owner's requests (create, list, revoke)
// and the guest's rules (which names the server takes, what each answer
// means, the next name to try when one is taken). The owner's view is
// view-drops.js; the guest's page is drop-page.js.
//
// Wire format: the protocol document of the project, "Drop links".

import { formatSize } from './format.js';

/** expiries are the choices the page offers: [value the server reads, words]. */
export const expiries = [
  ['1h', '1 hour'],
  ['24h', '1 day'],
  ['7d', '7 days'],
  ['30d', '30 days'],
];

export const maxLabel = 64; // characters, as the server counts them

/**
 * dropRequest builds the body of POST /_/drops from what the form holds:
 * {path, expires, maxMiB, maxFiles, label, room}, the numbers as typed
 * ('' for none). It returns {body} or {error} in words.
 */
export function dropRequest({ path = '', expires = '24h', maxMiB = '', maxFiles = '', label = '', room = '' }) {
  const body = { path: String(path), expires: String(expires) };
  const mib = String(maxMiB).trim();
  if (mib !== '') {
    const n = Number(mib);
    if (!Number.isFinite(n) || n <= 0) return { error: 'The size limit is a number of MiB above 0, or empty for none.' };
    body.max_bytes = Math.max(1, Math.round(n * 1024 * 1024));
  }
  const files = String(maxFiles).trim();
  if (files !== '') {
    const n = Number(files);
    if (!Number.isInteger(n) || n <= 0) return { error: 'The file limit is a whole number above 0, or empty for none.' };
    body.max_files = n;
  }
  const l = String(label).trim();
  if ([...l].length > maxLabel) return { error: `The label is at most ${maxLabel} characters.` };
  if (l) body.label = l;
  if (room) body.room = String(room);
  return { body };
}

/** dropURL is a link's URL on another base (a network address for a phone). */
export function dropURL(link, base) {
  const id = String(link?.id ?? '');
  if (!base) return String(link?.url || '');
  return new URL(`/_/drop/${encodeURIComponent(id)}`, base).href;
}

/** limitWords says what a link takes, and how much of it is used, in words. */
export function limitWords(link) {
  const parts = [];
  const files = Number(link?.files) || 0;
  const bytes = Number(link?.bytes) || 0;
  if (Number(link?.max_files) > 0) parts.push(`${files} of ${link.max_files} files`);
  else parts.push(`${files} file${files === 1 ? '' : 's'}`);
  if (Number(link?.max_bytes) > 0) parts.push(`${formatSize(bytes)} of ${formatSize(link.max_bytes)}`);
  else if (bytes > 0) parts.push(formatSize(bytes));
  return parts.join(' · ');
}

/** untilWords says when a link ends, from now (ms since the epoch). */
export function untilWords(expires, now = Date.now()) {
  const t = Date.parse(expires);
  if (!Number.isFinite(t)) return '';
  const s = Math.round((t - now) / 1000);
  if (s <= 0) return 'expired';
  if (s < 3600) return `for ${Math.max(1, Math.round(s / 60))} min`;
  if (s < 2 * 86400) return `for ${Math.round(s / 3600)} h`;
  return `for ${Math.round(s / 86400)} days`;
}

/**
 * nameProblem says why the server would refuse a name for a drop upload
 * ('' when it takes it): one plain name, no folders, no leading dot, no
 * control characters, at most 255 bytes.
 */
export function nameProblem(name) {
  const n = String(name ?? '');
  if (n === '' || n === '.' || n === '..') return 'it has no name';
  if (n.startsWith('.')) return 'a name may not start with a dot';
  if (/[/\\]/.test(n)) return 'a name may not hold / or \\';
  if (/[\u0000-\u001f\u007f-\u009f]/.test(n)) return 'a name may not hold control characters';
  if (new TextEncoder().encode(n).length > 255) return 'the name is too long';
  return '';
}

/** altName is the nth other name for a taken one: "photo.jpg" → "photo (2).jpg". */
export function altName(name, n) {
  const s = String(name);
  const dot = s.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [s.slice(0, dot), s.slice(dot)] : [s, ''];
  return `${stem} (${n})${ext}`;
}

/** uploadVerdict says what an answer to a drop upload means for the page. */
export function uploadVerdict(status) {
  switch (status) {
    case 201: return { do: 'done' };
    case 409: return { do: 'rename' };
    case 400: return { do: 'fail', why: 'the server refused the name' };
    case 403: return { do: 'fail', why: 'this link takes no more files' };
    case 405: return { do: 'fail', why: 'this link takes uploads only' };
    case 408: return { do: 'fail', why: 'the upload stalled' };
    case 410: return { do: 'gone', why: 'this link expired or was revoked' };
    case 404: return { do: 'gone', why: 'this link does not exist' };
    case 413: return { do: 'fail', why: 'too large for what this link takes' };
    default: return { do: 'fail', why: status >= 500 ? `the server failed (HTTP ${status}); try again later` : `HTTP ${status}` };
  }
}

/** apiError turns a refused answer into an Error with the server's words. */
async function apiError(r) {
  let msg = `HTTP ${r.status}`;
  try {
    const j = await r.json();
    if (j?.error?.message) msg = String(j.error.message);
  } catch {
    // not JSON: the status says it
  }
  const err = new Error(msg);
  err.status = r.status;
  return err;
}

/**
 * dropsAPI is the owner's side, over fetch: same-origin, so the token's
 * cookie goes along. fetchFn is a test's, or the window's.
 */
export function dropsAPI(fetchFn = (...a) => fetch(...a)) {
  const json = { Accept: 'application/json' };
  return {
    async create(body) {
      const r = await fetchFn('/_/drops', {
        method: 'POST', headers: { ...json, 'Content-Type': 'application/json' }, body: JSON.stringify(body), cache: 'no-store',
      });
      if (r.status !== 201) throw await apiError(r);
      return r.json();
    },
    async list() {
      const r = await fetchFn('/_/drops', { headers: json, cache: 'no-store' });
      if (!r.ok) throw await apiError(r);
      const j = await r.json();
      return Array.isArray(j?.drops) ? j.drops : [];
    },
    async revoke(id) {
      const r = await fetchFn(`/_/drops/${encodeURIComponent(id)}`, { method: 'DELETE', headers: json, cache: 'no-store' });
      if (r.status !== 204 && r.status !== 410) throw await apiError(r);
    },
  };
}
