// What the page does with a file's bytes, decided in one place (no DOM).
//
// The safety rule (issue 11): the page and the served files share one
// origin. The server serves files with "Content-Security-Policy: sandbox",
// but a blob: URL the page makes has the page's origin and no such header:
// opened in a tab, a Blob typed text/html or image/svg+xml runs its script
// as the room, with the page's cookie. So every Blob the page builds from a
// file's bytes is typed application/octet-stream (a browser downloads it),
// except raster images, which a browser only ever decodes into pixels. SVG
// is shown through an <img> of the served, sandboxed URL, never a Blob.

/** Files larger than this are offered as a download, not shown in the page. */
export const inlineMax = 8 << 20;

/** Of a large text file, this many bytes are shown as a preview. */
export const previewBytes = 64 << 10;

/** Text beyond this many characters is cut in the viewer (still savable). */
export const maxShownChars = 2 << 20;

// Raster formats: decoded as pixels wherever they are opened, never run.
const raster = /^image\/(png|apng|jpeg|pjpeg|gif|webp|avif|bmp|x-ms-bmp|x-icon|vnd\.microsoft\.icon)$/;

function baseType(type) {
  return String(type || '').split(';')[0].trim().toLowerCase();
}

/** isRaster says whether a Content-Type is a raster image an <img> shows. */
export function isRaster(type) {
  return raster.test(baseType(type));
}

/** isSVG says whether a Content-Type is SVG (an image that can script). */
export function isSVG(type) {
  return baseType(type) === 'image/svg+xml';
}

/**
 * blobType is the only type the page gives a Blob of file bytes: the raster
 * image type itself, or application/octet-stream for everything else (HTML,
 * SVG, XML, text, unknown), so that no Blob URL is ever a document.
 */
export function blobType(type) {
  const t = baseType(type);
  return raster.test(t) ? t : 'application/octet-stream';
}

const textTypes = /^(text\/|application\/(json|xml|javascript|ecmascript|x-sh|x-shellscript|x-python|x-yaml|yaml|toml|x-toml|sql|graphql|x-httpd-php|ld\+json|manifest\+json|x-ndjson))|\+json$|\+xml$/;

/** isTextType says whether a Content-Type is shown as text (never SVG: see isSVG). */
export function isTextType(type) {
  const t = baseType(type);
  return textTypes.test(t) && t !== 'image/svg+xml';
}

/**
 * looksLikeText sniffs bytes whose type says nothing (octet-stream, empty):
 * valid UTF-8 with no NUL in the first 8 KiB is shown as text. more says
 * that bytes is the start of something longer (a character may be cut).
 */
export function looksLikeText(bytes, more = false) {
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(more || head.length < bytes.length ? trimUTF8(head) : head);
    return true;
  } catch {
    return false;
  }
}

// trimUTF8 drops a multi-byte sequence cut at the end of a prefix.
export function trimUTF8(b) {
  let end = b.length;
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const c = b[end - i];
    if ((c & 0xc0) === 0x80) continue; // continuation byte
    if (c >= 0xc0) end -= i; // lead byte of a sequence that may be cut
    break;
  }
  return b.subarray(0, end);
}

/**
 * kindOf decides how a file is shown: 'text', 'image' (raster, from its
 * Blob), 'svg' (from its served URL) or 'binary' (a download). file is
 * {type, text?, blob?}; for a Blob of unknown type the first 8 KiB are read.
 */
export async function kindOf(file) {
  if (isSVG(file.type)) return 'svg';
  if (isRaster(file.type)) return 'image';
  const t = baseType(file.type);
  // Inline content of a known non-text type (a PDF that happens to be
  // valid UTF-8) is not shown as text: its raw bytes mean nothing to people.
  if (isTextType(file.type) || (file.text !== undefined && (t === '' || t === 'application/octet-stream'))) return 'text';
  if (file.blob && (t === '' || t === 'application/octet-stream')) {
    const head = new Uint8Array(await file.blob.slice(0, 8192).arrayBuffer());
    if (looksLikeText(head, file.blob.size > head.length)) return 'text';
  }
  return 'binary';
}
