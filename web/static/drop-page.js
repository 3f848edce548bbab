// The page of a drop link (GET /_/drop/ID): someone with the link and
// nothing else picks files and sends them, one after the other, each with a
// progress bar. The page reads its link's id from its own URL, asks the
// server for the link's label and limits, and shows every string as text.
// It lists nothing and joins no room: the link grants neither.

import { h, $, clear, setText } from './dom.js';
import { formatSize, formatDate } from './format.js';
import { nameProblem, altName, uploadVerdict } from './drops.js';

document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`filehub: CSP violation of ${e.violatedDirective} by ${e.blockedURI || 'inline'}`);
});

const self = location.pathname.replace(/\/+$/, ''); // /_/drop/ID
const main = $('drop');
const forEl = $('drop-for');
const limitsEl = $('drop-limits');
const pick = $('drop-pick');
const input = $('drop-input');
const list = $('drop-uploads');

const renames = 20; // other names tried when one is taken

let info = null;
let queue = Promise.resolve();
let gone = false;

function end(state, text) {
  gone = true;
  main.dataset.state = state;
  pick.hidden = true;
  setText(forEl, text);
  setText(limitsEl, '');
}

function describe(i) {
  const parts = [];
  if (i.expires) parts.push(`This link works until ${formatDate(i.expires)}.`);
  if (Number(i.max_files) > 0) parts.push(`It takes ${i.max_files} file${i.max_files === 1 ? '' : 's'} in all (${Math.max(0, i.max_files - (i.files || 0))} left).`);
  if (Number(i.max_bytes) > 0) parts.push(`At most ${formatSize(i.max_bytes)} in all (${formatSize(Math.max(0, i.max_bytes - (i.bytes || 0)))} left).`);
  if (Number(i.max_upload) > 0) parts.push(`Each file at most ${formatSize(i.max_upload)}.`);
  return parts.join(' ');
}

async function load() {
  let r;
  try {
    r = await fetch(self, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  } catch {
    end('error', 'The server cannot be reached. Check the connection and reload the page.');
    return;
  }
  if (r.status === 410) return end('gone', 'This drop link expired or was revoked. Ask whoever sent it for a new one.');
  if (r.status === 404) return end('gone', 'This drop link does not exist. Check that the whole link was copied.');
  if (!r.ok) return end('error', `The server cannot take files now (HTTP ${r.status}). Try again later.`);
  try {
    info = await r.json();
  } catch {
    return end('error', 'The server answered something this page does not understand.');
  }
  // The label is the sender's name as the room sees it ("Dad uploaded
  // x"): the guest is told so in those words, never as a receiver.
  const label = String(info?.label ?? '').trim();
  setText(forEl, label ? `Someone asked you to send files. The room sees them arrive from “${label}”.` : 'Someone asked you to send files.');
  setText(limitsEl, describe(info));
  main.dataset.state = 'ready';
  pick.hidden = false;
}

/**
 * recount asks the server again what the link has taken, after each
 * upload, so that "3 left" is right without a reload.
 */
async function recount() {
  if (gone) return;
  try {
    const r = await fetch(self, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (r.status === 410) return end('gone', 'This drop link is used up, expired or was revoked. Ask whoever sent it for a new one.');
    if (!r.ok) return undefined;
    info = await r.json();
    setText(limitsEl, describe(info));
    limitsEl.dataset.files = String(info.files ?? 0);
  } catch {
    // The counts stay as they were; the next upload says what went wrong.
  }
  return undefined;
}

/** put sends one file under name; resolves with the HTTP status (0: the connection failed). */
function put(name, file, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `${self}/${encodeURIComponent(name)}`);
    xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded));
    xhr.addEventListener('load', () => resolve(xhr.status));
    xhr.addEventListener('error', () => resolve(0));
    xhr.addEventListener('abort', () => resolve(0));
    xhr.send(file);
  });
}

async function send(file, li, text, bar) {
  const problem = nameProblem(file.name);
  if (problem) {
    li.dataset.state = 'error';
    setText(text, `${file.name}: not sent, ${problem}. Rename it and try again.`);
    bar.remove();
    return;
  }
  if (gone) {
    li.dataset.state = 'error';
    setText(text, `${file.name}: not sent, the link no longer works.`);
    bar.remove();
    return;
  }
  li.dataset.state = 'uploading';
  let name = file.name;
  for (let n = 2; ; n++) {
    setText(text, `${name}: sending…`);
    const status = await put(name, file, (sent) => {
      bar.value = sent;
      setText(text, `${name}: ${formatSize(sent)} of ${formatSize(file.size)}`);
    });
    const v = status === 0 ? { do: 'fail', why: 'the connection failed' } : uploadVerdict(status);
    if (v.do === 'done') {
      li.dataset.state = 'ok';
      li.dataset.name = name;
      bar.value = file.size;
      setText(text, `✓ ${name} sent (${formatSize(file.size)})${name !== file.name ? `: a file named ${file.name} was already there` : ''}.`);
      return;
    }
    if (v.do === 'rename' && n <= renames) {
      name = altName(file.name, n);
      continue;
    }
    li.dataset.state = 'error';
    setText(text, `${name}: not sent, ${v.do === 'rename' ? 'that name is taken' : v.why}.`);
    bar.remove();
    if (v.do === 'gone') end('gone', 'This drop link expired or was revoked. Ask whoever sent it for a new one.');
    return;
  }
}

function add(files) {
  for (const file of files) {
    const text = h('span', null, `${file.name}: waiting…`);
    const bar = h('progress', { max: String(Math.max(1, file.size)), 'aria-label': `Sending ${file.name}` });
    bar.value = 0;
    const li = h('li', { 'data-testid': 'drop-upload', 'data-state': 'waiting' }, text, bar);
    list.append(li);
    queue = queue.then(() => send(file, li, text, bar)).then(recount).catch((err) => console.warn('filehub: sending', err));
  }
}

input.addEventListener('change', () => {
  const files = [...input.files];
  input.value = '';
  add(files);
});

// A wide screen may drop files anywhere on the page.
document.addEventListener('dragover', (e) => {
  if (gone || !info) return;
  e.preventDefault();
  main.classList.add('over');
});
document.addEventListener('dragleave', (e) => {
  if (e.target === document.documentElement || e.relatedTarget === null) main.classList.remove('over');
});
document.addEventListener('drop', (e) => {
  main.classList.remove('over');
  if (gone || !info || !e.dataTransfer?.files?.length) return;
  e.preventDefault();
  add([...e.dataTransfer.files]);
});

clear(list);
load();
