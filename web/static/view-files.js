// The files side of the page (DOM): the listing and its folder path, the
// form that opens any path, opening files into the viewer, and the upload
// rows. The models it drives are requests.js and uploads.js; app.js gives
// it the page's state and wires it to the room (filesView).

import { h, $, clear, setText } from './dom.js';
import { cleanPath, fileURL, baseName, dirName, formatSize, formatDate, nameOf, idOf, httpErrorCode } from './format.js';
import { httpGet, httpListing } from './requests.js';
import { Upload } from './uploads.js';
import { viaText } from './viewer.js';

const openMax = 1 << 30; // bytes: larger files are downloaded, never read into the page

// Given by filesView: the page's state, the room's requests, the viewer and
// whether the room is connected.
let S;
let request;
let viewer;
let connected;

/** zipURL is the URL of a folder ('' or 'a/b/') downloaded as one zip file. */
function zipURL(dir) {
  return `${fileURL(dir, true)}?zip`;
}


// ---------------------------------------------------------------- files

const listingBody = $('listing');
const listingState = $('listing-state');
let listingTimer = 0;

function refreshListingSoon() {
  clearTimeout(listingTimer);
  listingTimer = setTimeout(() => loadListing(S.dir), 300);
}

async function loadListing(dir) {
  S.dir = dir;
  renderCrumbs();
  let res;
  try {
    const path = dir.replace(/\/$/, '');
    res = connected() ? await request(path ? { kind: 'list', path } : { kind: 'list' }) : await httpListing(fileURL(dir, true));
  } catch (err) {
    if (S.dir !== dir) return;
    if (err.code === 'not_found' || err.code === 'forbidden') {
      clear(listingBody);
      setText(listingState, `${err.code}: cannot list ${dir || '/'}`);
      return;
    }
    try {
      res = await httpListing(fileURL(dir, true));
    } catch (err2) {
      setText(listingState, `${err2.code || 'error'}: could not list ${dir || '/'}`);
      return;
    }
  }
  if (S.dir !== dir) return; // navigated elsewhere meanwhile
  renderListing(Array.isArray(res?.entries) ? res.entries : []);
}

function renderCrumbs() {
  const zip = $('zip-link');
  zip.href = zipURL(S.dir);
  zip.setAttribute('aria-label', `Download ${S.dir || S.folder} as one zip file`);
  const ol = clear($('crumbs'));
  const parts = cleanPath(S.dir).split('/').filter(Boolean);
  const crumb = (label, dir, current) => h('li', null, h('button', {
    type: 'button', 'aria-current': current ? 'location' : null, onclick: () => loadListing(dir),
    'aria-label': current ? `${label} (current folder)` : `Open folder ${label}`,
  }, label));
  ol.append(crumb(S.folder, '', parts.length === 0));
  parts.forEach((p, i) => ol.append(crumb(p, `${parts.slice(0, i + 1).join('/')}/`, i === parts.length - 1)));
}

function renderListing(entries) {
  clear(listingBody);
  const sorted = [...entries].sort((a, b) => (b.dir ? 1 : 0) - (a.dir ? 1 : 0) || String(a.name).localeCompare(String(b.name)));
  if (S.dir) {
    const up = dirName(S.dir.replace(/\/$/, ''));
    listingBody.append(h('tr', { class: 'dir up' },
      h('td', { class: 'name' }, h('button', { type: 'button', onclick: () => loadListing(up), 'aria-label': 'Up one folder' }, '..')),
      h('td', { class: 'num' }), h('td', { class: 'acts' })));
  }
  for (const e of sorted) {
    const name = String(e.name ?? '');
    if (!name) continue;
    const path = S.dir + name.replace(/\/$/, '');
    if (e.dir) {
      const dir = `${path}/`;
      listingBody.append(h('tr', { class: 'dir', 'data-path': dir, 'data-testid': 'entry' },
        h('td', { class: 'name' }, h('button', { type: 'button', onclick: () => loadListing(dir), 'aria-label': `Open folder ${name}` }, name),
          h('span', { class: 'sub' }, ['folder', formatDate(e.modified)].filter(Boolean).join(' · '))),
        h('td', { class: 'num' }, '—'),
        h('td', { class: 'acts' }, h('div', { class: 'actions' },
          h('button', { type: 'button', onclick: () => loadListing(dir), 'aria-label': `Open folder ${name}` }, 'Open'),
          h('a', { class: 'button', 'data-testid': 'zip', href: zipURL(dir), download: `${name}.zip`, 'aria-label': `Download folder ${name} as a zip file` }, 'Zip')))));
      continue;
    }
    const size = Number(e.size);
    listingBody.append(h('tr', { 'data-path': path, 'data-testid': 'entry' },
      h('td', { class: 'name' }, h('button', { type: 'button', onclick: () => viewFile(path, 'ws', size), title: `Open ${name}, only for you` }, name),
        h('span', { class: 'sub' }, [formatDate(e.modified), String(e.type || '').replace(/;.*$/, '')].filter(Boolean).join(' · '))),
      h('td', { class: 'num' }, formatSize(e.size)),
      h('td', { class: 'acts' }, h('div', { class: 'actions' },
        h('button', {
          type: 'button', 'data-testid': 'view', onclick: () => viewFile(path, 'ws', size),
          title: `Only you see it. ${viaText.ws[1]}`, 'aria-label': `Open ${name}, only for you`,
        }, 'Open'),
        h('button', {
          type: 'button', 'data-testid': 'share', onclick: () => shareFile(path),
          title: 'Everyone in the room gets it', 'aria-label': `Share ${name} with the room`,
        }, 'Share'),
        h('button', {
          type: 'button', 'data-testid': 'open-http', onclick: () => viewFile(path, 'http', size),
          title: `Only you see it. ${viaText.http[1]}`, 'aria-label': `Open ${name} over HTTP, only for you`,
        }, 'Open over HTTP'),
        h('a', {
          class: 'button', 'data-testid': 'download', href: `${fileURL(path)}?download`, download: name,
          title: 'Save it with the browser', 'aria-label': `Download ${name}`,
        }, 'Download')))));
  }
  setText(listingState, sorted.length === 0 ? 'This folder is empty.' : `${sorted.length} ${sorted.length === 1 ? 'entry' : 'entries'}`);
}

function viewerProgress(path) {
  return (received, size) => viewer.progress(path, received, size);
}

/** fetchFile gets a file privately, over the room's socket or plain HTTP. */
function fetchFile(path, via, onProgress) {
  return via === 'http' ? httpGet(path, { onProgress }) : request({ kind: 'get', path }, { onProgress });
}

async function viewFile(path, via, size) {
  if (size > openMax) {
    tooLargeToOpen(path, size);
    return;
  }
  viewer.loading(path, via);
  try {
    const f = await fetchFile(path, via, viewerProgress(path));
    await viewer.show({ ...f, via, url: fileURL(path) });
  } catch (err) {
    viewer.error(path, err.code || 'error', err.message);
  }
}

function tooLargeToOpen(path, size) {
  viewer.error(path, 'too_large', `${formatSize(size)} is more than this page opens (${formatSize(openMax)}).`);
  viewer.root.append(h('p', null, h('a', { class: 'button', href: `${fileURL(path)}?download`, download: baseName(path) }, `Download ${baseName(path)}`)));
}

async function shareFile(path) {
  try {
    await request({ kind: 'share', path });
    setText(listingState, `Shared ${path} with the room.`);
  } catch (err) {
    setText(listingState, `Could not share ${path}: ${err.code}${err.message ? ` (${err.message})` : ''}`);
  }
}

// ---------------------------------------------------------------- the form

const form = $('get-form');
const result = $('get-result');

function formResult(state, ...parts) {
  result.dataset.state = state;
  clear(result).append(...parts.filter((p) => p !== null && p !== undefined));
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const path = cleanPath($('get-path').value);
  const via = form.elements.via.value;
  const toRoom = form.elements.to.value === 'room';
  if (!path) {
    result.dataset.code = 'bad_request';
    formResult('error', h('span', { class: 'code', 'data-testid': 'get-result-code' }, 'bad_request'), ' type a path first');
    return;
  }
  delete result.dataset.code;
  const bar = h('progress', { max: '100', 'aria-label': `Fetching ${path}` });
  formResult('loading', `${toRoom && via === 'ws' ? 'sharing' : 'fetching'} ${path}… `, bar);
  const onProgress = (received, size) => {
    if (size > 0) bar.value = Math.min(100, Math.floor((received / size) * 100));
  };
  const how = viaText[via][0];
  try {
    if (toRoom) {
      if (via === 'http') {
        const f = await httpGet(path, { onProgress });
        await request({ kind: 'share', path });
        formResult('ok', `✓ fetched ${path} (${formatSize(f.size)}) ${how} and shared it with the room`);
      } else {
        await request({ kind: 'share', path });
        formResult('ok', `✓ shared ${path} with the room`);
      }
    } else {
      const f = await fetchFile(path, via, onProgress);
      formResult('ok', `✓ ${path}: ${formatSize(f.size)} ${how}, only for you (see the viewer)`);
      await viewer.show({ ...f, via, url: fileURL(path) });
    }
    result.dataset.code = 'ok';
  } catch (err) {
    const code = err.code || 'error';
    result.dataset.code = code;
    formResult('error', h('span', { class: 'code', 'data-testid': 'get-result-code' }, code), ` ${path} ${how}${err.message && err.message !== code ? `: ${err.message}` : ''}`);
  }
});

// ---------------------------------------------------------------- uploads

const uploadsList = $('uploads');
const roomUploads = new Map(); // "who|path" -> <li>
let uploadWired = false;

function setupUpload() {
  const on = Number(S.limits.upload) > 0;
  $('upload').hidden = !on;
  if (!on) return;
  setText($('upload-limit'), `Up to ${formatSize(S.limits.upload)} per file, into the folder shown above. Everyone in the room sees uploads.`);
  if (uploadWired) return;
  uploadWired = true;
  const input = $('upload-input');
  input.addEventListener('change', () => {
    for (const f of input.files) uploadFile(f, false);
    input.value = '';
  });
  const zone = $('files');
  zone.addEventListener('dragover', (e) => {
    if (!e.dataTransfer || ![...e.dataTransfer.types].includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    $('dropzone').classList.add('over');
  });
  zone.addEventListener('dragleave', (e) => {
    if (!zone.contains(e.relatedTarget)) $('dropzone').classList.remove('over');
  });
  zone.addEventListener('drop', (e) => {
    $('dropzone').classList.remove('over');
    if (!e.dataTransfer || e.dataTransfer.files.length === 0) return;
    e.preventDefault();
    if ($('upload').hidden) return;
    for (const f of e.dataTransfer.files) uploadFile(f, false);
  });
}

function uploadFile(file, overwrite, li) {
  const path = S.dir + file.name;
  const row = li || h('li', { 'data-testid': 'upload', 'data-path': path });
  if (!li) uploadsList.prepend(row);
  const show = (state, ...parts) => {
    row.dataset.state = state;
    clear(row).append(...parts);
  };
  if (file.size > S.limits.upload) {
    show('error', h('span', { class: 'code' }, 'too_large'), ` ${path}: ${formatSize(file.size)} is over the limit of ${formatSize(S.limits.upload)}`);
    return;
  }
  const label = h('span', null, `Uploading ${path}…`);
  const bar = h('progress', { max: '100', value: '0', 'aria-label': `Upload of ${path}` });
  const pct = (n) => (file.size > 0 ? Math.min(100, Math.floor((n / file.size) * 100)) : 100);
  const up = new Upload({
    file,
    url: fileURL(path),
    overwrite,
    codeOf: httpErrorCode,
    onState: (s) => {
      switch (s.state) {
        case 'uploading':
        case 'resuming':
          if (row.dataset.state !== s.state || !row.contains(bar)) show(s.state, label, bar, cancel);
          bar.value = pct(s.sent);
          if (s.state === 'uploading') setText(label, `Uploading ${path}: ${formatSize(s.sent)} of ${formatSize(file.size)} (${pct(s.sent)}%)`);
          else if (s.wait > 0) setText(label, `${s.why}: resuming ${path} at ${pct(s.sent)}% in ${Math.round(s.wait / 1000)} s…`);
          else setText(label, `Resuming ${path} at ${pct(s.sent)}%…`);
          return;
        case 'ok':
          show('ok', `✓ uploaded ${path} (${formatSize(file.size)})${s.replaced ? ', replaced the old one' : ''}`);
          refreshListingSoon();
          return;
        case 'exists':
          show('exists', `${path} already exists. `,
            h('button', { type: 'button', class: 'small danger', onclick: () => uploadFile(file, true, row) }, 'Overwrite'), ' ',
            h('button', { type: 'button', class: 'small', onclick: () => show('cancelled', `kept the existing ${path}`) }, 'Keep it'));
          return;
        case 'cancelled':
          show('cancelled', `cancelled the upload of ${path}`);
          return;
        default:
          show('error', h('span', { class: 'code' }, s.code), ` ${path}: upload failed (${s.why})`);
      }
    },
  });
  const cancel = h('button', { type: 'button', class: 'small', onclick: () => up.cancel(), 'aria-label': `Cancel the upload of ${path}` }, 'Cancel');
  up.start();
}

function onRoomUpload(msg) {
  const by = msg.by;
  if (S.you && (idOf(by) ? idOf(by) === S.you.id : nameOf(by) === S.you.name)) return; // our own: the upload row shows it
  const path = cleanPath(msg.path);
  const key = `${idOf(by) || nameOf(by)}|${path}`;
  let li = roomUploads.get(key);
  if (!li) {
    li = h('li', { class: 'room', 'data-testid': 'room-upload', 'data-path': path });
    roomUploads.set(key, li);
    uploadsList.prepend(li);
  }
  const size = Number(msg.size) || 0;
  if (msg.kind === 'upload-progress') {
    const received = Number(msg.received) || 0;
    const pct = size > 0 ? Math.min(100, Math.floor((received / size) * 100)) : 0;
    const bar = h('progress', { max: '100', 'aria-label': `Upload of ${path} by ${nameOf(by)}` });
    if (size > 0) bar.value = pct; // else indeterminate: the uploader did not say the size
    clear(li).append(h('span', null, `${nameOf(by)} is uploading ${path}: ${formatSize(received)}${size > 0 ? ` of ${formatSize(size)} (${pct}%)` : ''}`), bar);
  } else if (msg.kind === 'upload-abort') {
    li.dataset.state = 'error';
    clear(li).append(msg.reason === 'interrupted'
      ? `${nameOf(by)}'s upload of ${path} was interrupted at ${formatSize(msg.received)}; it may resume`
      : `${nameOf(by)}'s upload of ${path} did not finish${msg.reason ? ` (${msg.reason})` : ''}`);
    roomUploads.delete(key);
    setTimeout(() => li.remove(), 15000);
  } else {
    li.dataset.state = 'ok';
    clear(li).append(`✓ ${nameOf(by)} uploaded ${path} (${formatSize(size)})`);
    roomUploads.delete(key);
    setTimeout(() => li.remove(), 15000);
    if (dirName(path) === S.dir) refreshListingSoon();
  }
  // Uploads need the section visible even where this page cannot upload.
  $('upload').hidden = false;
}


/**
 * filesView wires the files side to the page: c holds S (the page's state:
 * dir, folder, limits, you), request (to the room), viewer and connected()
 * (whether the room's socket is open).
 */
export function filesView(c) {
  ({ S, request, viewer, connected } = c);
  return { loadListing, refreshListingSoon, renderCrumbs, viewFile, viewerProgress, setupUpload, onRoomUpload, zipURL };
}
