// The page's DOM-free modules, checked in the browser that runs them for
// people (browser_test.go evaluates this file in a tab of the page and
// fails on every line of the list it resolves to). One expression: an async
// function called at once.
(async () => {
  const { FeedState, ChatState, sharesIn } = await import('/_/static/feed.js');
  const { Members, whoLimit } = await import('/_/static/members.js');
  const { Requests, Assembly, fileFromFrame } = await import('/_/static/requests.js');
  const { Upload, afterPut, afterProbe, heldOffset, uploadTries } = await import('/_/static/uploads.js');
  const { blobType, kindOf, isTextType } = await import('/_/static/content.js');
  const { formatSize, httpErrorCode, hex } = await import('/_/static/format.js');
  const { sha256 } = await import('/_/static/vendor/noble-hashes/sha2.js');
  const { encode } = await import('/_/static/qr.js');
  const { Listing, FsNotes, noteText, compareEntries } = await import('/_/static/listing.js');
  const { Holders, holdersLine } = await import('/_/static/holders.js');
  const fails = [];
  const eq = (name, got, want) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) fails.push(`${name}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };
  const rejects = async (name, p, code) => {
    try {
      await p;
      fails.push(`${name}: resolved, want a rejection with ${code}`);
    } catch (err) {
      eq(name, err.code, code);
    }
  };

  // ------------------------------------------------ feed: dedupe and epochs
  const ev = (seq, path, at = 'T1') => ({ seq, at, who: 'a', action: 'fetch', path, via: 'ws', bytes: 1 });
  const seqs = (l) => l.map((e) => e.seq);

  let f = new FeedState(200);
  eq('first welcome takes all', seqs(f.welcome([ev(1, 'a'), ev(2, 'b')])), [1, 2]);
  eq('a live event', f.live(ev(3, 'c'))?.seq, 3);
  eq('the same live event again', f.live(ev(3, 'c')), null);
  eq('a reconnect resending held events', seqs(f.welcome([ev(2, 'b'), ev(3, 'c'), ev(4, 'd')])), [4]);
  eq('since after it', f.lastSeq, 4);
  eq('a restarted server (newest seq lower)', seqs(f.welcome([ev(1, 'x', 'T2')])), [1]);
  eq('since in the new run', f.lastSeq, 1);
  eq('live in the new run', f.live(ev(2, 'y', 'T2'))?.seq, 2);

  f = new FeedState(2); // seqs 1 and 2 no longer held: only the newest seq tells
  f.welcome([1, 2, 3, 4].map((i) => ev(i, `p${i}`)));
  eq('a restarted server (events not held)', seqs(f.welcome([ev(1, 'x', 'T2'), ev(2, 'y', 'T2')])), [1, 2]);

  f = new FeedState(200);
  f.welcome([ev(5, 'a'), ev(6, 'b')]);
  eq('an empty welcome', seqs(f.welcome([])), []);
  const afterRestart = f.live(ev(1, 'z', 'T3'));
  eq('a restart seen at the first live event', [afterRestart?.seq, afterRestart?.afterGap], [1, true]);

  f = new FeedState(200);
  f.welcome([ev(1, 'a'), ev(2, 'b')]);
  eq('a restart seen by content', seqs(f.welcome([ev(1, 'q', 'T9'), ev(2, 'r', 'T9'), ev(3, 's', 'T9')])), [1, 2, 3]);

  f = new FeedState(200);
  f.welcome([ev(10, 'a')]);
  eq('since honored: only newer events', seqs(f.welcome([ev(11, 'b'), ev(12, 'c')])), [11, 12]);
  eq('overlap of welcome and live', f.live(ev(12, 'c')), null);

  f = new FeedState(3);
  f.welcome([1, 2, 3, 4, 5].map((i) => ev(i, `p${i}`)));
  eq('held events are bounded', f.held.size, 3);

  // ------------------------------------------------ feed: recovery (contract v2)
  const join = (fs, w) => {
    const r = fs.join(w, { since: fs.position().since, epoch: fs.position().epoch });
    return [seqs(r.events), r.missed];
  };
  f = new FeedState(200);
  eq('no position before the first welcome', f.position(), { since: 0, epoch: '' });
  eq('first join', join(f, { epoch: 'E1', feed: [ev(1, 'a'), ev(2, 'b')] }), [[1, 2], false]);
  eq('the position names the epoch', f.position(), { since: 2, epoch: 'E1' });
  f.live(ev(3, 'c'));
  eq('a live event moves the position', f.position(), { since: 3, epoch: 'E1' });
  eq('recovered: only what came meanwhile, nothing missed', join(f, { epoch: 'E1', recovered: true, feed: [ev(4, 'd')] }), [[4], false]);
  eq('recovered and nothing new', join(f, { epoch: 'E1', recovered: true, feed: [] }), [[], false]);
  eq('not recovered: what the server holds, and the gap said', join(f, { epoch: 'E1', recovered: false, feed: [ev(9, 'i')] }), [[9], true]);
  eq('another epoch: all of it, even lower seqs', join(f, { epoch: 'E2', recovered: false, feed: [ev(1, 'x', 'T2'), ev(2, 'y', 'T2')] }), [[1, 2], true]);
  eq('the position follows the new epoch', f.position(), { since: 2, epoch: 'E2' });
  eq('an epoch change is a gap even if the server says recovered', join(f, { epoch: 'E3', recovered: true, feed: [] }), [[], true]);
  f.live(ev(5, 'e', 'T3'));
  eq('a server without recovered: not sure, so said', join(f, { epoch: 'E3', feed: [] }), [[], true]);
  f = new FeedState(200);
  f.join({ epoch: 'E1', feed: [] }, { since: 0, epoch: '' });
  eq('nothing seen, same epoch: no since, nothing missed', f.join({ epoch: 'E1', feed: [ev(1, 'a')] }, { since: 0, epoch: '' }).missed, false);
  f = new FeedState(200);
  f.join({ feed: [ev(5, 'a')] }, { since: 0, epoch: '' });
  eq('an epoch-less server restarting (seqs lower)', f.join({ feed: [ev(1, 'b', 'T2')] }, { since: 0, epoch: '' }).missed, true);
  f = new FeedState(200);
  f.join({ epoch: 'E1', feed: [ev(1, 'a')] }, { since: 0, epoch: '' });
  f.note(5);
  eq('a chat seq moves the position', f.position(), { since: 5, epoch: 'E1' });
  f.note(3);
  eq('an older chat seq does not', f.position().since, 5);
  eq('a feed event after the chat line', f.live(ev(6, 'b'))?.seq, 6);
  eq('share events of a feed', sharesIn([ev(1, 'a'), { ...ev(2, 'b'), action: 'share' }]).map((e) => e.path), ['b']);

  // ------------------------------------------------ chat history
  const cm = (text, at, kind = 'chat') => ({ kind, from: { id: 'u1', name: 'ann' }, text, at });
  const c = new ChatState(200);
  eq('the first welcome fills the chat', c.welcome([cm('a', 'T1'), cm('b', 'T2')]).map((m) => m.text), ['a', 'b']);
  eq('a live message', c.live(cm('c', 'T3'))?.text, 'c');
  eq('a recovered welcome repeats nothing', c.welcome([cm('a', 'T1'), cm('b', 'T2'), cm('c', 'T3'), cm('d', 'T4')]).map((m) => m.text), ['d']);
  eq('the same text later is another message', c.live(cm('a', 'T5'))?.text, 'a');
  eq('a snippet and a chat of the same text differ', c.live(cm('a', 'T5', 'snippet'))?.kind, 'snippet');
  eq('other kinds are not chat', c.welcome([{ kind: 'feed', at: 'T6' }]), []);

  // ------------------------------------------------ members: count frames never ask
  const m = new Members();
  const people = (n) => Array.from({ length: n }, (_, i) => ({ id: `m${i}`, name: `p${String(i).padStart(4, '0')}` }));
  m.welcome({ count: 3, members: people(3) });
  eq('a small room is known exactly', [m.exact, m.more, m.count], [true, 0, 3]);
  m.presence({ event: 'join', who: { id: 'm9', name: 'zed' }, count: 4 });
  m.presence({ event: 'rename', who: { id: 'm0', name: 'ann' }, count: 4 });
  m.presence({ event: 'leave', who: { id: 'm1', name: 'p0001' }, count: 3 });
  eq('presence keeps it exact', [m.exact, m.sorted().map(([, n]) => n)], [true, ['ann', 'p0002', 'zed']]);
  m.countFrame({ kind: 'count', count: 5000, joined: 4997, left: 0 });
  eq('a count frame: the count, and the list no longer exact', [m.count, m.exact, m.more], [5000, false, 4997]);
  eq('who asks for at most whoLimit', m.whoRequest(), { kind: 'who', limit: whoLimit });
  m.reply({ kind: 'members', count: 5000, members: people(200) });
  eq('the reply to who: and N more', [m.known.size, m.more, m.exact], [200, 4800, false]);
  m.welcome({ count: 250, members: people(100) });
  eq('a welcome of a big room', [m.known.size, m.more, m.exact], [100, 150, false]);

  // ------------------------------------------------ content: what a Blob may be
  for (const [type, want] of [
    ['text/html; charset=utf-8', 'application/octet-stream'],
    ['image/svg+xml', 'application/octet-stream'],
    ['IMAGE/SVG+XML', 'application/octet-stream'],
    ['application/xhtml+xml', 'application/octet-stream'],
    ['text/xml', 'application/octet-stream'],
    ['application/pdf', 'application/octet-stream'],
    ['', 'application/octet-stream'],
    ['image/png', 'image/png'],
    ['image/jpeg; foo=bar', 'image/jpeg'],
    ['image/webp', 'image/webp'],
    ['image/avif', 'image/avif'],
    ['image/gif', 'image/gif'],
  ]) eq(`blobType(${type})`, blobType(type), want);
  eq('SVG is never text nor a Blob image', [await kindOf({ type: 'image/svg+xml', text: '<svg/>' }), isTextType('image/svg+xml')], ['svg', false]);
  eq('HTML shows as text', await kindOf({ type: 'text/html', blob: new Blob(['<p>']) }), 'text');
  eq('unknown bytes that are UTF-8', await kindOf({ type: '', blob: new Blob(['héllo']) }), 'text');
  eq('unknown bytes with NUL', await kindOf({ type: 'application/octet-stream', blob: new Blob([new Uint8Array([1, 0, 2])]) }), 'binary');
  const inlineHTML = fileFromFrame({ path: '/x.html', type: 'text/html', encoding: 'base64', content: btoa('<script>1</script>') });
  eq('a base64 frame of HTML becomes an octet-stream Blob', [inlineHTML.path, inlineHTML.blob.type, inlineHTML.size], ['x.html', 'application/octet-stream', 18]);

  // ------------------------------------------------ the viewer: what shows, what is a Blob
  const { renderBody, saveLink } = await import('/_/static/viewer.js');
  const made = []; // the type of every Blob given a URL below
  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = (b) => {
    made.push(b.type);
    return createObjectURL.call(URL, b);
  };
  try {
    const urls = [];
    const big = new Blob([new Uint8Array(9 << 20).fill(65)], { type: 'application/octet-stream' });
    let b = await renderBody({ path: 'big.txt', type: 'text/plain', size: big.size, blob: big }, urls);
    eq('a large text: a preview of its start', [b.kind, b.large, b.node.querySelector('pre').textContent.length], ['text', true, 64 << 10]);
    b = await renderBody({ path: 'big.png', type: 'image/png', size: big.size, blob: big }, urls);
    eq('a large image: offered, not shown', [b.kind, b.large, made.length], ['large', true, 0]);
    b = await renderBody({ path: 'x.svg', type: 'image/svg+xml', text: '<svg xmlns="http://www.w3.org/2000/svg"/>' }, urls, { url: '/x.svg' });
    eq('SVG from its served URL, no Blob', [b.kind, b.node.getAttribute('src'), made.length], ['svg', '/x.svg', 0]);
    b = await renderBody({ path: 'p.png', type: 'image/png', size: 3, blob: new Blob([new Uint8Array([1, 2, 3])], { type: 'image/png' }) }, urls);
    eq('a small raster image from its Blob', [b.kind, b.node.getAttribute('src').startsWith('blob:'), made], ['image', true, ['image/png']]);
    b = await renderBody({ path: 'x.html', type: 'text/html', text: '<script>x</script>' }, urls);
    eq('HTML as text', [b.kind, b.node.querySelector('pre').textContent], ['text', '<script>x</script>']);
    const links = [
      saveLink({ path: 'x.html', type: 'text/html', text: '<script>x</script>' }, urls),
      saveLink({ path: 'x.svg', type: 'image/svg+xml', blob: new Blob(['<svg/>']) }, urls),
      saveLink({ path: 'p.png', type: 'image/png', blob: new Blob([new Uint8Array([1])], { type: 'image/png' }) }, urls),
    ];
    eq('save links are octet-stream downloads', [made.slice(1), links.map((a) => a.getAttribute('download'))],
      [['application/octet-stream', 'application/octet-stream', 'application/octet-stream'], ['x.html', 'x.svg', 'p.png']]);
    for (const u of urls) URL.revokeObjectURL(u);
  } finally {
    URL.createObjectURL = createObjectURL;
  }

  // ------------------------------------------------ units
  eq('sizes in binary units', [0, 1023, 1536, 1572864, 5 * 2 ** 30].map(formatSize), ['0 B', '1023 B', '1.5 KiB', '1.5 MiB', '5.0 GiB']);

  // ------------------------------------------------ sha256 (vendored @noble/hashes)
  const enc = (s) => new TextEncoder().encode(s);
  eq('sha256 of ""', hex(sha256(enc(''))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  eq('sha256 of "abc"', hex(sha256(enc('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const big = new Uint8Array(300000).map((_, i) => (i * 7) & 255);
  const webcrypto = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', big)));
  const inc = sha256.create();
  for (let i = 0; i < big.length; i += 65536) inc.update(big.subarray(i, i + 65536));
  eq('incremental sha256 equals WebCrypto', hex(inc.digest()), webcrypto);

  // ------------------------------------------------ requests: replies, timeouts, streams
  const sent = [];
  let open = true;
  const r = new Requests({ send: (msg) => open && (sent.push(msg), true), timeout: 40, stall: 60 });
  const idOfLast = () => sent[sent.length - 1].id;

  const listing = r.request({ kind: 'list', path: 'docs' });
  const listID = idOfLast();
  eq('a reply with another id is not ours', r.handle({ kind: 'listing', id: `${listID}x`, path: 'docs', entries: [] }), false);
  eq('the reply with our id is', r.handle({ kind: 'listing', id: listID, path: 'docs', entries: [1] }), true);
  eq('it resolves with the reply', (await listing).entries, [1]);

  const failing = r.request({ kind: 'get', path: 'nope' });
  r.handle({ kind: 'error', id: idOfLast(), code: 'not_found', message: 'no such file' });
  await rejects('an error with our id rejects with its code', failing, 'not_found');
  eq('an error for nobody is not a reply', r.handle({ kind: 'error', id: 'zz', code: 'internal' }), false);

  await rejects('no reply: timeout', r.request({ kind: 'who' }), 'timeout');
  eq('quiet: a timeout resolves with null', await r.request({ kind: 'chat', text: 'hi' }, { quiet: true }), null);
  open = false;
  await rejects('not connected', r.request({ kind: 'who' }), 'disconnected');
  open = true;

  const chatted = r.request({ kind: 'chat', text: 'hello' });
  eq('someone else saying the same is not our confirmation', r.handle({ kind: 'chat', from: { id: 'other' }, text: 'hello' }, 'me'), false);
  eq('our own chat coming back confirms it', r.handle({ kind: 'chat', from: { id: 'me' }, text: 'hello' }, 'me'), true);
  eq('chat resolves', (await chatted).text, 'hello');
  const shared = r.request({ kind: 'share', path: 'a.txt' });
  eq('our own share coming back confirms it', r.handle({ kind: 'shared', by: { id: 'me' }, path: 'a.txt' }, 'me'), true);
  eq('share resolves', (await shared).path, 'a.txt');

  const pending = r.request({ kind: 'who' });
  r.failAll('disconnected', 'gone');
  await rejects('failAll rejects what waits', pending, 'disconnected');
  eq('nothing left waiting', r.size, 0);

  // A stream: file-start, binary frames (4 bytes of stream number, then
  // bytes), file-end with the digest; progress along the way.
  const frame = (n, bytes) => {
    const b = new Uint8Array(4 + bytes.length);
    new DataView(b.buffer).setUint32(0, n, false);
    b.set(bytes, 4);
    return b.buffer;
  };
  const body = new Uint8Array(200000).map((_, i) => (i * 31 + 7) & 255);
  const digest = hex(sha256(body));
  const progress = [];
  const got = r.request({ kind: 'get', path: 'big.bin' }, { onProgress: (n, size) => progress.push([n, size]) });
  const getID = idOfLast();
  eq('file-start for our get', r.handle({ kind: 'file-start', id: getID, stream: 7, path: 'big.bin', size: body.length, type: 'text/html' }), true);
  eq('bytes of another stream are not ours', r.binary(frame(8, body.subarray(0, 10))), false);
  for (let i = 0; i < body.length; i += 65536) r.binary(frame(7, body.subarray(i, i + 65536)));
  eq('file-end', r.handle({ kind: 'file-end', id: getID, stream: 7, sha256: digest }), true);
  const file = await got;
  eq('the stream becomes one Blob of the file', [file.size, file.blob.size, file.blob.type], [body.length, body.length, 'application/octet-stream']);
  eq('its bytes are the file', hex(sha256(new Uint8Array(await file.blob.arrayBuffer()))), digest);
  eq('verified', [file.verify.state, file.sha256], ['ok', digest]);
  eq('progress ends at the size', progress[progress.length - 1], [body.length, body.length]);

  const bad = r.request({ kind: 'get', path: 'x.bin' });
  r.handle({ kind: 'file-start', id: idOfLast(), stream: 9, path: 'x.bin', size: 3, type: 'image/png' });
  r.binary(frame(9, new Uint8Array([1, 2, 3])));
  r.handle({ kind: 'file-end', stream: 9, sha256: '00'.repeat(32) });
  const badFile = await bad;
  eq('a wrong digest is reported', [badFile.verify.state, badFile.blob.type], ['bad', 'image/png']);

  const stalled = r.request({ kind: 'get', path: 'slow.bin' });
  r.handle({ kind: 'file-start', id: idOfLast(), stream: 11, path: 'slow.bin', size: 10, type: '' });
  await rejects('a stream that stops sending times out', stalled, 'timeout');
  eq('its bytes are then dropped', r.binary(frame(11, new Uint8Array([1]))), false);

  const failedStream = r.request({ kind: 'get', path: 'gone.bin' });
  r.handle({ kind: 'file-start', id: idOfLast(), stream: 12, path: 'gone.bin', size: 10, type: '' });
  r.handle({ kind: 'error', stream: 12, code: 'changed', message: 'the file changed' });
  await rejects('an error naming the stream fails its request', failedStream, 'changed');

  const asm = new Assembly('text/plain');
  asm.push(new Uint8Array([104, 105]));
  eq('an empty digest is not a match', asm.finish('').verify.state, 'unknown');

  // ------------------------------------------------ uploads: resume decisions
  const code = httpErrorCode;
  eq('201', afterPut(201, null, 10, code), { do: 'done', replaced: false });
  eq('200 replaced', afterPut(200, null, 10, code), { do: 'done', replaced: true });
  eq('409 with an offset: resume there', afterPut(409, '4', 10, code), { do: 'resume', offset: 4 });
  eq('409 without: the file exists', afterPut(409, null, 10, code), { do: 'exists' });
  eq('409 with a bad offset: exists', afterPut(409, '11', 10, code), { do: 'exists' });
  eq('503: retry', afterPut(503, null, 10, code).do, 'retry');
  eq('413: fail', afterPut(413, null, 10, code), { do: 'fail', code: 'too_large', why: 'HTTP 413' });
  eq('probe 200 with offset', afterProbe(200, '6', 10, code), { do: 'resume', offset: 6 });
  eq('probe 200 without: from the start', afterProbe(200, null, 10, code), { do: 'resume', offset: 0 });
  eq('probe 502: retry', afterProbe(502, null, 10, code).do, 'retry');
  eq('probe 404: fail', afterProbe(404, null, 10, code).code, 'not_found');
  eq('offsets', [heldOffset('0', 5), heldOffset('5', 5), heldOffset('-1', 5), heldOffset('1.5', 5), heldOffset('', 5)], [0, 5, null, null, null]);

  // The whole machine over a scripted transport: the first PUT loses its
  // connection after 4 bytes, the probe says the server holds 4, the rest
  // goes with Content-Range.
  const script = (steps) => {
    const calls = [];
    return {
      calls,
      put: async (url, b, headers, onProgress) => {
        calls.push(['PUT', url, headers['Content-Range'] || '', b.size]);
        const s = steps.shift();
        if (s.loaded) onProgress(s.loaded);
        if (s.lost) throw new Error('connection lost');
        return s;
      },
      head: async (url) => {
        calls.push(['HEAD', url]);
        const s = steps.shift();
        if (s.lost) throw new Error('unreachable');
        return s;
      },
    };
  };
  const blob = new Blob(['0123456789']);
  let tr = script([{ loaded: 4, lost: true }, { status: 200, held: '4' }, { status: 201 }]);
  let states = [];
  let up = new Upload({ file: blob, url: '/up.bin', key: 'k', codeOf: code, transport: tr, wait: async () => {}, onState: (s) => states.push(s.state) });
  eq('a dropped upload resumes', (await up.start()).state, 'ok');
  eq('its requests', tr.calls, [['PUT', '/up.bin?resume=k', '', 10], ['HEAD', '/up.bin?resume=k'], ['PUT', '/up.bin?resume=k', 'bytes 4-9/10', 6]]);
  eq('its states', [...new Set(states)], ['uploading', 'resuming', 'ok']);

  tr = script([{ status: 409, held: null }]);
  up = new Upload({ file: blob, url: '/up.bin', key: 'k', codeOf: code, transport: tr, wait: async () => {} });
  eq('an existing file is asked about', (await up.start()).state, 'exists');
  tr = script([{ status: 201 }]);
  up = new Upload({ file: blob, url: '/up.bin', key: 'k', overwrite: true, codeOf: code, transport: tr, wait: async () => {} });
  await up.start();
  eq('overwrite says so', tr.calls[0][1], '/up.bin?resume=k&overwrite=1');

  tr = script(Array.from({ length: 40 }, () => ({ lost: true })));
  up = new Upload({ file: blob, url: '/up.bin', key: 'k', codeOf: code, transport: tr, wait: async () => {} });
  const gaveUp = await up.start();
  eq('a server that never comes back: given up after uploadTries', [gaveUp.state, gaveUp.code, tr.calls.filter((x) => x[0] === 'HEAD').length], ['error', 'network', uploadTries]);

  tr = script([{ lost: true }, { status: 200, held: '0' }]);
  const waits = [];
  up = new Upload({
    file: blob, url: '/up.bin', key: 'k', codeOf: code, transport: tr,
    wait: (ms, signal) => new Promise((resolve, reject) => {
      waits.push(ms);
      up.cancel();
      if (signal.aborted) reject(new DOMException('cancelled', 'AbortError'));
      else resolve();
    }),
  });
  eq('cancelled while waiting to resume', (await up.start()).state, 'cancelled');
  eq('the first wait is the first backoff', waits, [1000]);

  tr = script([{ status: 413 }]);
  up = new Upload({ file: blob, url: '/up.bin', key: 'k', codeOf: code, transport: tr, wait: async () => {} });
  eq('413 is final', (await up.start()).code, 'too_large');

  // ------------------------------------------------ the live listing (listing.js)
  const ent = (name, size = 1, dir = false, modified = '2026-01-01T00:00:00Z') => ({ name, size, dir, modified, type: dir ? '' : 'text/plain' });
  const fsf = (op, path, size = 1, dir = false, modified = '2026-01-02T00:00:00Z') => ({ kind: 'fs', op, path, size, dir, modified });
  const names = (l) => l.sorted().map((e) => e.name);
  let L = new Listing(3);
  eq('a folder never listed: nothing to draw, list it', L.open(''), { entries: null, list: true });
  L.begin();
  eq('the first listing is drawn whole', L.load('', [ent('b.txt'), ent('docs', 0, true), ent('a.txt')]).whole, true);
  eq('folders first, then by name', names(L), ['docs', 'a.txt', 'b.txt']);
  eq('an add in the folder shown', L.apply([fsf('add', 'c.txt', 5)]), { gone: null, added: ['c.txt'], changed: [], removed: [] });
  eq('a change keeps the type the listing gave', [L.apply([fsf('change', 'c.txt', 9)]).changed, L.get('c.txt').size, L.get('a.txt').type], [['c.txt'], 9, 'text/plain']);
  eq('the same change twice changes nothing', L.apply([fsf('change', 'c.txt', 9)]), { gone: null, added: [], changed: [], removed: [] });
  eq('a remove', L.apply([fsf('remove', 'b.txt')]).removed, ['b.txt']);
  eq('added and removed in one batch: nothing to draw', L.apply([fsf('add', 'tmp'), fsf('remove', 'tmp')]), { gone: null, added: [], changed: [], removed: [] });
  eq('removed and added again in one batch: changed', L.apply([fsf('remove', 'a.txt'), fsf('add', 'a.txt', 7)]).changed, ['a.txt']);
  eq('a change elsewhere does not touch the folder shown', L.apply([fsf('add', 'docs/x.md')]), { gone: null, added: [], changed: [], removed: [] });
  eq('something deep in a new folder: the folder appears', [L.apply([fsf('add', 'new/deep/x.md')]).added, L.get('new')?.dir], [['new'], true]);
  eq('hostile paths are not entries', [L.apply([fsf('add', '../x'), fsf('add', '')]).added.length, L.get('..')], [0, undefined]);
  // Times compare as times: the watcher may say it in another zone.
  L.apply([fsf('change', 'c.txt', 9, false, '2026-01-02T01:00:00+01:00')]);
  eq('the same time in another zone is no change', L.apply([fsf('change', 'c.txt', 9, false, '2026-01-02T00:00:00Z')]).changed, []);

  // Other folders: cached, marked stale when they change, listed again on open.
  L.open('docs/');
  L.begin();
  L.load('docs/', [ent('a.md')]);
  eq('back to a folder seen before: drawn from the cache, not listed', L.open('').list, false);
  L.apply([fsf('add', 'docs/b.md')]);
  eq('a change in it marks it stale', [...L.stale], ['docs/']);
  const back = L.open('docs/');
  eq('opened again: the cached rows at once, and listed', [back.entries.map((e) => e.name), back.list], [['a.md'], true]);
  L.begin();
  eq('the listing is drawn as a difference', L.load('docs/', [ent('a.md'), ent('b.md')]), { whole: false, added: ['b.md'], changed: [], removed: [] });
  eq('no longer stale', L.stale.has('docs/'), false);
  for (const d of ['x/', 'y/', 'z/']) {
    L.open(d);
    L.begin();
    L.load(d, []);
  }
  eq('the cache is bounded', [...L.cache.keys()].length <= 3, true);
  L.invalidate();
  eq('after a reconnect every listing is stale', L.open('').list, true);

  // A listing on its way when frames come: they are applied again on top
  // of its answer, whether the server read the folder before or after them.
  L = new Listing();
  L.open('');
  L.begin();
  L.load('', [ent('a.txt')]);
  L.begin();
  eq('frames while a listing is on its way are drawn at once', L.apply([fsf('add', 'late.txt'), fsf('remove', 'a.txt')]),
    { gone: null, added: ['late.txt'], changed: [], removed: ['a.txt'] });
  eq('a listing read before them does not undo them', [L.load('', [ent('a.txt')]), names(L)],
    [{ whole: false, added: [], changed: [], removed: [] }, ['late.txt']]);
  L.begin();
  L.apply([fsf('add', 'later.txt')]);
  eq('nor does one read after them', [L.load('', [ent('late.txt', 1, false, '2026-01-02T00:00:00Z'), ent('later.txt', 1, false, '2026-01-02T00:00:00Z')]), names(L)],
    [{ whole: false, added: [], changed: [], removed: [] }, ['late.txt', 'later.txt']]);
  L.begin();
  eq('what a listing adds that no frame said is drawn', L.load('', [ent('late.txt', 1, false, '2026-01-02T00:00:00Z'), ent('later.txt', 1, false, '2026-01-02T00:00:00Z'), ent('missed.txt')]).added, ['missed.txt']);
  eq('a listing of another folder than the one shown is dropped', L.load('elsewhere/', [ent('x')]), null);

  // The folder shown removed (or a folder above it): the nearest one above.
  L = new Listing();
  for (const d of ['', 'a/', 'a/b/', 'a/b/c/']) {
    L.open(d);
    L.begin();
    L.load(d, []);
  }
  eq('a folder above the shown one removed', L.apply([fsf('remove', 'a/b', 0, true)]), { gone: 'a/', goneFrom: 'a/b/', added: [], changed: [], removed: [] });
  eq('its subtree is forgotten', [...L.cache.keys()].filter((d) => d.startsWith('a/b/')), []);
  L.open('a/');
  L.begin();
  L.load('a/', []);
  eq('the shown folder itself removed', L.apply([fsf('remove', 'a', 0, true)]).gone, '');
  L.open('x/');
  L.begin();
  L.load('x/', [ent('y')]);
  L.forget('x/');
  L.open('');
  eq('a folder the server says is gone is not cached', [L.cache.has('x/'), L.open('x/').entries], [false, null]);
  eq('ordering', [ent('b'), ent('A', 0, true), ent('a')].sort(compareEntries).map((e) => e.name), ['A', 'a', 'b']);

  // The feed's notes: 200 files at once are one line.
  eq('note words', [noteText('appeared', ['r.pdf'], 1), noteText('appeared', ['r.pdf', 'a'], 2), noteText('appeared', ['r.pdf', 'a'], 3), noteText('appeared', ['r.pdf', 'a'], 200),
    noteText('removed', ['x/'], 1), noteText('removed', ['x', 'y'], 4)],
  ['r.pdf appeared', 'r.pdf and a appeared', 'r.pdf, a and 1 other appeared', 'r.pdf, a and 198 others appeared', 'x/ was removed', 'x, y and 2 others were removed']);
  // A right-to-left override in a name ends with the name (FSI…PDI), and
  // an isolate of its own cannot end that early.
  eq('note words, a name with an override', [noteText('appeared', ['a\u202eexe.pdf'], 1), noteText('removed', ['x\u2069\u202ey', 'z'], 2)],
    ['\u2068a\u202eexe.pdf\u2069 appeared', '\u2068x\u202ey\u2069 and z were removed']);
  const N = new FsNotes(5000);
  const many = Array.from({ length: 200 }, (_, i) => fsf('add', `in/f${String(i).padStart(3, '0')}.txt`));
  eq('200 files in one batch: one note', N.take(many, 1000), [{ kind: 'appeared', text: 'in/f000.txt, in/f001.txt and 198 others appeared', fresh: true }]);
  eq('more soon after: the same note, updated', N.take([fsf('add', 'in/g.txt'), fsf('change', 'in/f000.txt')], 3000), [{ kind: 'appeared', text: 'in/f000.txt, in/f001.txt and 199 others appeared', fresh: false }]);
  eq('a path named again is counted once', N.take([fsf('add', 'in/g.txt')], 4000)[0].text, 'in/f000.txt, in/f001.txt and 199 others appeared');
  eq('later: a new note', N.take([fsf('add', 'z.txt')], 20000), [{ kind: 'appeared', text: 'z.txt appeared', fresh: true }]);
  eq('removals are their own note; a folder says so', N.take([fsf('remove', 'old', 0, true)], 20000), [{ kind: 'removed', text: 'old/ was removed', fresh: true }]);
  N.uploaded('up.bin', 30000);
  eq('an upload the feed tells of is not said again', N.take([fsf('add', 'up.bin')], 31000), []);
  eq('changes alone say nothing', N.take([fsf('change', 'z.txt')], 60000), []);

  // ------------------------------------------------ who has it (holders.js)
  const fe = (who, action, path, via = 'ws') => ({ seq: 1, at: 'T', who, action, path, via, bytes: 1 });
  const H = new Holders(5);
  eq('a fetch: that person has it', H.add(fe('ann', 'fetch', '/handout.pdf')), ['handout.pdf']);
  H.add(fe('bob', 'fetch', 'handout.pdf', 'http'));
  H.add(fe('ann', 'fetch', 'handout.pdf'));
  eq('newest first, each once', H.of('handout.pdf').people.map((p) => p.name), ['ann', 'bob']);
  eq('a zip is not a file', H.add(fe('ann', 'fetch', 'docs/?zip')), []);
  eq('an unknown action counts for nothing', H.add(fe('ann', 'peek', 'x')), []);
  eq('an upload: the uploader has it', [H.add(fe('cy', 'upload', 'up.bin', 'http')), H.of('up.bin').people[0].action], [['up.bin'], 'upload']);
  H.add(fe('dee', 'share', 'handout.pdf'));
  eq('a share: everyone in the room', [H.of('handout.pdf').room, H.of('handout.pdf').sharedBy], [true, 'dee']);
  eq('nobody has what nobody fetched', H.of('other.txt'), null);
  // Bounded as the feed: the oldest events no longer count.
  eq('past the limit the oldest event goes', H.add(fe('eve', 'fetch', 'e.txt')).sort(), ['e.txt', 'handout.pdf']);
  eq('ann still has it by a later event', H.of('handout.pdf').people.map((p) => p.name), ['dee', 'ann', 'bob']);
  for (let i = 0; i < 5; i++) H.add(fe('zed', 'fetch', 'z.txt'));
  eq('all gone once their events are', [H.of('handout.pdf'), H.of('up.bin'), H.paths.size], [null, null, 1]);

  const line = (people, room = false, you = '') => holdersLine({ room, sharedBy: 'x', people: people.map((name) => ({ name })) }, you)?.text;
  eq('one, two, three, many', [line(['ann']), line(['ann', 'bob']), line(['ann', 'bob', 'cy']), line(['ann', 'bob', 'cy', 'dee', 'eve'])],
    ['ann', 'ann and bob', 'ann, bob and 1 other', 'ann, bob and 3 others']);
  eq('you first', line(['ann', 'bob', 'me'], false, 'me'), 'you, ann and 1 other');
  eq('a share', [line([], true), line(['ann'], true)], ['everyone in the room', 'everyone in the room (ann)']);
  eq('nobody', holdersLine(null), null);

  // ------------------------------------------------ a share that fills as it uploads (requests.follow)
  {
    const sent2 = [];
    const r2 = new Requests({ send: (m) => (sent2.push(m), true), growStall: 200 });
    const upBody = new Uint8Array(150000).map((_, i) => (i * 13 + 1) & 255);
    const upDigest = hex(sha256(upBody));
    const seen = [];
    let done = null;
    let failed = null;
    const hooks = {
      onStart: (meta) => seen.push(['start', meta.size, meta.path]),
      onProgress: (n, size) => seen.push(['progress', n, size]),
      onDone: (fl) => { done = fl; },
      onFail: (code) => { failed = code; },
    };
    eq('a shared frame with a stream is followed', r2.follow({ kind: 'shared', by: { id: 'u', name: 'ann' }, path: 'up.bin', size: upBody.length, type: 'text/html', stream: 4 }, hooks), true);
    eq('file-start of it is taken', r2.handle({ kind: 'file-start', stream: 4, path: 'up.bin', size: upBody.length, type: 'text/html', growing: true }), true);
    for (let i = 0; i < upBody.length; i += 40000) r2.binary(frame(4, upBody.subarray(i, i + 40000)));
    eq('nothing is offered before file-end', done, null);
    eq('file-end', r2.handle({ kind: 'file-end', stream: 4, sha256: upDigest }), true);
    eq('one Blob of the file, typed by content.js', [done.blob.size, done.blob.type, done.verify.state, done.sha256], [upBody.length, 'application/octet-stream', 'ok', upDigest]);
    eq('its bytes', hex(sha256(new Uint8Array(await done.blob.arrayBuffer()))), upDigest);
    eq('progress from 0 to the end', [seen[0], seen[1], seen[seen.length - 1]], [['start', upBody.length, 'up.bin'], ['progress', 0, upBody.length], ['progress', upBody.length, upBody.length]]);

    done = null;
    r2.follow({ kind: 'shared', path: 'cut.bin', stream: 5 }, hooks);
    r2.handle({ kind: 'file-start', stream: 5, path: 'cut.bin', size: -1, growing: true });
    r2.binary(frame(5, new Uint8Array([1, 2, 3])));
    eq('an error naming the stream: aborted, and taken', [r2.handle({ kind: 'error', stream: 5, code: 'aborted', message: 'cut' }), failed, done], [true, 'aborted', null]);
    eq('its bytes are dropped afterwards', r2.binary(frame(5, new Uint8Array([4]))), false);
    eq('its file-end is not a file', r2.handle({ kind: 'file-end', stream: 5, sha256: '' }), false);

    failed = null;
    r2.follow({ kind: 'shared', path: 'bad.bin', stream: 6 }, hooks);
    r2.handle({ kind: 'file-start', stream: 6, path: 'bad.bin', size: 2, growing: true });
    r2.binary(frame(6, new Uint8Array([1, 2])));
    r2.handle({ kind: 'file-end', stream: 6, sha256: '00'.repeat(32) });
    eq('a digest that does not match is said', done.verify.state, 'bad');

    failed = null;
    r2.follow({ kind: 'shared', path: 'lost.bin', stream: 7 }, hooks);
    r2.failAll('disconnected', 'gone');
    eq('a lost connection fails a followed upload', failed, 'disconnected');
    failed = null;
    r2.follow({ kind: 'shared', path: 'slow.bin', stream: 8 }, hooks);
    await new Promise((res) => setTimeout(res, 300));
    eq('a followed upload that stops sending is given up', failed, 'timeout');

    failed = null;
    done = null;
    r2.follow({ kind: 'shared', path: 'huge.bin', stream: 9 }, { ...hooks, keep: 4 });
    r2.handle({ kind: 'file-start', stream: 9, path: 'huge.bin', size: -1, growing: true });
    r2.binary(frame(9, new Uint8Array([1, 2, 3])));
    r2.binary(frame(9, new Uint8Array([4, 5, 6])));
    r2.handle({ kind: 'file-end', stream: 9, sha256: 'ab' });
    eq('over what the page keeps: no Blob, the size', [done.blob, done.size, failed], [null, 6, null]);

    const getFirst = r2.request({ kind: 'get', path: 'g.bin' });
    r2.handle({ kind: 'file-start', id: sent2[sent2.length - 1].id, stream: 10, path: 'g.bin', size: 1 });
    eq('a shared frame cannot take a stream a get holds', [r2.follow({ kind: 'shared', path: 'g.bin', stream: 10 }, hooks), r2.streams.get(10)?.grow], [false, undefined]);
    r2.failAll('disconnected', '');
    await getFirst.catch(() => {});
  }

  // ------------------------------------------------ uploads shared as they go: one plain PUT
  tr = script([{ status: 201 }]);
  states = [];
  up = new Upload({ file: blob, url: '/up.bin', share: true, codeOf: code, transport: tr, wait: async () => {}, onState: (s) => states.push(s.state) });
  eq('shared: one PUT with share=1, no resume key', [(await up.start()).state, tr.calls], ['ok', [['PUT', '/up.bin?share=1', '', 10]]]);
  tr = script([{ loaded: 4, lost: true }, { status: 200, held: '4' }]);
  up = new Upload({ file: blob, url: '/up.bin', share: true, codeOf: code, transport: tr, wait: async () => {} });
  const cut = await up.start();
  eq('shared and cut off: never resumed', [cut.state, cut.code, tr.calls.length], ['error', 'interrupted', 1]);
  tr = script([{ status: 409, held: null }, { status: 200 }]);
  up = new Upload({ file: blob, url: '/up.bin', share: true, codeOf: code, transport: tr, wait: async () => {} });
  eq('shared onto an existing file: asked', (await up.start()).state, 'exists');
  up = new Upload({ file: blob, url: '/up.bin', share: true, overwrite: true, codeOf: code, transport: tr, wait: async () => {} });
  await up.start();
  eq('shared and overwriting', tr.calls[1][1], '/up.bin?share=1&overwrite=1');
  tr = script([{ status: 503 }]);
  up = new Upload({ file: blob, url: '/up.bin', share: true, codeOf: code, transport: tr, wait: async () => {} });
  eq('shared and refused by a busy server: failed, not retried', [(await up.start()).state, tr.calls.length], ['error', 1]);

  // ------------------------------------------------ QR goldens
  // The SHA-256 of the module matrix ("0"/"1" rows joined by newlines) of
  // symbols that zbarimg decoded back to the input.
  const hexText = async (s) => hex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s))));
  for (const [text, version, mask, sum] of [
    ['http://127.0.0.1:8080/?room=lobby', 3, 0, 'f0bc45d3925ce654980a326e8865b8e7af9c4167dac844b52c726da3100b7c95'],
    [`https://filehub.example:8443/?room=${'x'.repeat(150)}`, 10, 2, '6db67e05378862b51c4a30128e8b01b4cdcc92ccd813996da9d3193e97b806be'],
  ]) {
    const q = encode(text);
    eq(`qr version of ${text.length} bytes`, [q.version, q.level, q.mask], [version, 'M', mask]);
    eq(`qr modules of ${text.length} bytes`, await hexText(q.modules.map((row) => row.map((b) => (b ? '1' : '0')).join('')).join('\n')), sum);
  }
  eq('qr falls back to level L', encode('q'.repeat(2500)).level, 'L');
  return fails;
})()
