// What kind of file a listing entry is, for people: a short type ("PDF",
// "JPEG", "Markdown") instead of a MIME string, the icon it gets, and how
// the viewer previews it. No DOM: the listing, the viewer and node --test
// use it alike.
//
// The extension decides first, as the server's own type table does
// (files/types.go): an fs frame carries no type, and a row that arrives
// live must read the same as the rows listed before it. The MIME type is
// the fallback for names without a known extension.

// ext -> [label, icon, preview]. icon is one of the page's icon names
// (view-files.js draws them); preview is how the viewer shows the file:
//   image  <img> of the served URL (raster, decoded as pixels only)
//   svg    <img> of the served, sandboxed URL (an <img> never runs script)
//   video, audio  a media element on the served URL (ranges: it seeks)
//   pdf    the browser's own viewer in a frame of the served URL, which the
//          server sends with "Content-Security-Policy: sandbox"
//   markdown  the first part of the file, rendered and sanitized
//   text   the first part of the file, as text with line numbers
//   none   nothing to show: a download
const table = {
  jpg: ['JPEG', 'image', 'image'], jpeg: ['JPEG', 'image', 'image'], png: ['PNG', 'image', 'image'],
  gif: ['GIF', 'image', 'image'], webp: ['WebP', 'image', 'image'], avif: ['AVIF', 'image', 'image'],
  bmp: ['BMP', 'image', 'image'], ico: ['Icon', 'image', 'image'], svg: ['SVG', 'image', 'svg'],
  heic: ['HEIC', 'image', 'none'], tif: ['TIFF', 'image', 'none'], tiff: ['TIFF', 'image', 'none'],
  mp4: ['MP4 video', 'video', 'video'], m4v: ['MP4 video', 'video', 'video'], webm: ['WebM video', 'video', 'video'],
  mov: ['QuickTime video', 'video', 'video'], mkv: ['Matroska video', 'video', 'none'], avi: ['AVI video', 'video', 'none'],
  ogv: ['Ogg video', 'video', 'video'],
  mp3: ['MP3 audio', 'audio', 'audio'], m4a: ['M4A audio', 'audio', 'audio'], aac: ['AAC audio', 'audio', 'audio'],
  ogg: ['Ogg audio', 'audio', 'audio'], oga: ['Ogg audio', 'audio', 'audio'], opus: ['Opus audio', 'audio', 'audio'],
  wav: ['WAV audio', 'audio', 'audio'], flac: ['FLAC audio', 'audio', 'audio'],
  pdf: ['PDF', 'pdf', 'pdf'],
  md: ['Markdown', 'text', 'markdown'], markdown: ['Markdown', 'text', 'markdown'],
  txt: ['Text', 'text', 'text'], log: ['Log', 'text', 'text'], rst: ['reStructuredText', 'text', 'text'],
  csv: ['CSV', 'sheet', 'text'], tsv: ['TSV', 'sheet', 'text'],
  json: ['JSON', 'code', 'text'], yaml: ['YAML', 'code', 'text'], yml: ['YAML', 'code', 'text'], toml: ['TOML', 'code', 'text'],
  xml: ['XML', 'code', 'text'], html: ['HTML', 'code', 'text'], htm: ['HTML', 'code', 'text'], css: ['CSS', 'code', 'text'],
  js: ['JavaScript', 'code', 'text'], mjs: ['JavaScript', 'code', 'text'], ts: ['TypeScript', 'code', 'text'],
  go: ['Go', 'code', 'text'], py: ['Python', 'code', 'text'], rb: ['Ruby', 'code', 'text'], rs: ['Rust', 'code', 'text'],
  c: ['C', 'code', 'text'], h: ['C header', 'code', 'text'], cpp: ['C++', 'code', 'text'], java: ['Java', 'code', 'text'],
  sh: ['Shell script', 'code', 'text'], sql: ['SQL', 'code', 'text'], ini: ['INI', 'code', 'text'], conf: ['Config', 'code', 'text'],
  mod: ['Go module', 'code', 'text'], sum: ['Checksums', 'code', 'text'],
  zip: ['ZIP archive', 'archive', 'none'], gz: ['gzip archive', 'archive', 'none'], tgz: ['tar.gz archive', 'archive', 'none'],
  tar: ['tar archive', 'archive', 'none'], xz: ['xz archive', 'archive', 'none'], zst: ['zstd archive', 'archive', 'none'],
  '7z': ['7z archive', 'archive', 'none'], rar: ['RAR archive', 'archive', 'none'],
  doc: ['Word', 'doc', 'none'], docx: ['Word', 'doc', 'none'], odt: ['OpenDocument text', 'doc', 'none'],
  xls: ['Excel', 'sheet', 'none'], xlsx: ['Excel', 'sheet', 'none'], ods: ['OpenDocument sheet', 'sheet', 'none'],
  ppt: ['PowerPoint', 'doc', 'none'], pptx: ['PowerPoint', 'doc', 'none'], epub: ['EPUB', 'doc', 'none'],
  iso: ['Disk image', 'archive', 'none'], dmg: ['Disk image', 'archive', 'none'],
  exe: ['Program', 'binary', 'none'], bin: ['Binary', 'binary', 'none'], so: ['Library', 'binary', 'none'],
  ttf: ['Font', 'binary', 'none'], otf: ['Font', 'binary', 'none'], woff2: ['Font', 'binary', 'none'],
};

// Names that say what they are without an extension.
const names = { readme: ['Text', 'text', 'text'], license: ['Text', 'text', 'text'], makefile: ['Makefile', 'code', 'text'], dockerfile: ['Dockerfile', 'code', 'text'] };

/** Raster images the server makes thumbnails of (GET /_/thumb/PATH). */
const thumbable = new Set(['jpg', 'jpeg', 'png', 'gif', 'webp']);

function extOf(name) {
  const n = String(name ?? '').toLowerCase();
  const i = n.lastIndexOf('.');
  return i > 0 ? n.slice(i + 1) : '';
}

function baseType(mime) {
  return String(mime ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * fileType describes a file by its name and, failing that, its MIME type:
 * {label, icon, preview, thumb}. thumb says whether the server makes a
 * thumbnail of it. A folder is {label: 'Folder', icon: 'folder', preview: 'none'}.
 */
export function fileType(name, mime = '', dir = false) {
  if (dir) return { label: 'Folder', icon: 'folder', preview: 'none', thumb: false };
  const ext = extOf(name);
  const hit = table[ext] || names[String(name ?? '').toLowerCase()];
  if (hit) return { label: hit[0], icon: hit[1], preview: hit[2], thumb: thumbable.has(ext) };
  const t = baseType(mime);
  if (t === 'image/svg+xml') return { label: 'SVG', icon: 'image', preview: 'svg', thumb: false };
  if (t.startsWith('image/')) return { label: 'Image', icon: 'image', preview: 'image', thumb: false };
  if (t.startsWith('video/')) return { label: 'Video', icon: 'video', preview: 'video', thumb: false };
  if (t.startsWith('audio/')) return { label: 'Audio', icon: 'audio', preview: 'audio', thumb: false };
  if (t === 'application/pdf') return { label: 'PDF', icon: 'pdf', preview: 'pdf', thumb: false };
  if (t === 'text/markdown') return { label: 'Markdown', icon: 'text', preview: 'markdown', thumb: false };
  if (t.startsWith('text/') || /[+/](json|xml)$/.test(t)) return { label: 'Text', icon: 'text', preview: 'text', thumb: false };
  if (ext) return { label: `${ext.toUpperCase()} file`, icon: 'file', preview: 'none', thumb: false };
  return { label: 'File', icon: 'file', preview: 'none', thumb: false };
}

/** typeLabel is the short type people read: "PDF", "JPEG", "Markdown". */
export function typeLabel(name, mime = '', dir = false) {
  return fileType(name, mime, dir).label;
}

/**
 * isImageFolder says whether a folder is mostly pictures (shown as a grid
 * of thumbnails by default): at least 4 files, and 2 in 3 of them images.
 */
export function isImageFolder(entries) {
  let files = 0;
  let images = 0;
  for (const e of entries) {
    if (e.dir) continue;
    files++;
    if (fileType(e.name, e.type).thumb) images++;
  }
  return files >= 4 && images * 3 >= files * 2;
}
