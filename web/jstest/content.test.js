// What the page does with a file's bytes (static/content.js) and how it
// holds a large one arriving (static/requests.js's Assembly), under node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { kindOf, blobType } from '../static/content.js';
import { Assembly } from '../static/requests.js';

test('inline content is text only when its type says so, or says nothing', async () => {
  assert.equal(await kindOf({ type: 'application/pdf', text: '%PDF-1.4 1 0 obj' }), 'binary', 'a PDF that is valid UTF-8 is still a PDF');
  assert.equal(await kindOf({ type: 'text/plain; charset=utf-8', text: 'hi' }), 'text');
  assert.equal(await kindOf({ type: '', text: 'hi' }), 'text');
  assert.equal(await kindOf({ type: 'text/html', text: '<script>x</script>' }), 'text', 'HTML is shown as its source');
  assert.equal(await kindOf({ type: 'image/svg+xml', text: '<svg/>' }), 'svg');
  assert.equal(blobType('text/html'), 'application/octet-stream', 'never a document from a blob: URL');
});

test('a large file arriving is folded into a Blob as it comes, and verified', async () => {
  const a = new Assembly('application/octet-stream');
  const chunk = new Uint8Array(64 << 10);
  const want = createHash('sha256');
  let most = 0;
  for (let i = 0; i < 200; i++) { // 12.5 MiB
    chunk.fill(i & 0xff);
    a.push(chunk.slice());
    want.update(chunk);
    most = Math.max(most, a.chunks.reduce((n, c) => n + c.length, 0));
  }
  assert.ok(most <= 4 << 20, `held ${most} bytes of chunks at most; want at most 4 MiB before a fold`);
  const sum = want.digest('hex');
  const { blob, sha256, verify } = a.finish(sum);
  assert.equal(blob.size, 200 * (64 << 10));
  assert.equal(sha256, sum);
  assert.equal(verify.state, 'ok');
  const bytes = new Uint8Array(await blob.slice((64 << 10) * 199, (64 << 10) * 199 + 4).arrayBuffer());
  assert.deepEqual([...bytes], [199, 199, 199, 199], 'the bytes in order');
});
