// The feed's notes of folder changes (static/listing.js: FsNotes, noteText),
// under node --test: 200 files at once are one line, an overwrite is a
// "changed" line, an upload the feed tells of is not said twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FsNotes, noteText } from '../static/listing.js';

const fsf = (op, path, size = 1, dir = false, modified = '2026-01-02T00:00:00Z') => ({ kind: 'fs', op, path, size, dir, modified });

test('note words', () => {
  assert.deepEqual([noteText('appeared', ['r.pdf'], 1), noteText('appeared', ['r.pdf', 'a'], 2), noteText('appeared', ['r.pdf', 'a'], 3), noteText('appeared', ['r.pdf', 'a'], 200),
    noteText('removed', ['x/'], 1), noteText('removed', ['x', 'y'], 4), noteText('changed', ['r.pdf'], 1), noteText('changed', ['r.pdf', 'a'], 5)],
  ['r.pdf appeared', 'r.pdf and a appeared', 'r.pdf, a and 1 other appeared', 'r.pdf, a and 198 others appeared', 'x/ was removed', 'x, y and 2 others were removed',
    'r.pdf changed', 'r.pdf, a and 3 others changed']);
  // A right-to-left override in a name ends with the name (FSI…PDI), and
  // an isolate of its own cannot end that early.
  assert.deepEqual([noteText('appeared', ['a\u202eexe.pdf'], 1), noteText('removed', ['x\u2069\u202ey', 'z'], 2)],
    ['\u2068a\u202eexe.pdf\u2069 appeared', '\u2068x\u202ey\u2069 and z were removed']);
});

test('coalesced: one note per kind within the window', () => {
  const N = new FsNotes(5000);
  const many = Array.from({ length: 200 }, (_, i) => fsf('add', `in/f${String(i).padStart(3, '0')}.txt`));
  assert.deepEqual(N.take(many, 1000), [{ kind: 'appeared', text: 'in/f000.txt, in/f001.txt and 198 others appeared', fresh: true }]);
  assert.deepEqual(N.take([fsf('add', 'in/g.txt'), fsf('change', 'in/f000.txt')], 3000), [
    { kind: 'appeared', text: 'in/f000.txt, in/f001.txt and 199 others appeared', fresh: false },
    { kind: 'changed', text: 'in/f000.txt changed', fresh: true },
  ]);
  assert.equal(N.take([fsf('add', 'in/g.txt')], 4000)[0].text, 'in/f000.txt, in/f001.txt and 199 others appeared', 'a path named again is counted once');
  assert.deepEqual(N.take([fsf('add', 'z.txt')], 20000), [{ kind: 'appeared', text: 'z.txt appeared', fresh: true }]);
  assert.deepEqual(N.take([fsf('remove', 'old', 0, true)], 20000), [{ kind: 'removed', text: 'old/ was removed', fresh: true }]);
});

test('overwrites: coalesced, folders and the uploads the feed tells of left out', () => {
  const N = new FsNotes(5000);
  assert.deepEqual(N.take([fsf('change', 'a.txt'), fsf('change', 'docs', 0, true)], 1000), [{ kind: 'changed', text: 'a.txt changed', fresh: true }]);
  assert.deepEqual(N.take(Array.from({ length: 50 }, (_, i) => fsf('change', `log${i}.txt`)), 2000), [{ kind: 'changed', text: 'a.txt, log0.txt and 49 others changed', fresh: false }]);
  assert.deepEqual(N.take([fsf('change', 'a.txt')], 3000), [{ kind: 'changed', text: 'a.txt, log0.txt and 49 others changed', fresh: false }], 'counted once');
  assert.deepEqual(N.take([fsf('change', 'docs', 0, true)], 30000), [], 'a folder alone says nothing');
  N.uploaded('up.bin', 30000);
  assert.deepEqual(N.take([fsf('add', 'up.bin')], 31000), [], 'an upload the feed tells of is not said again');
  assert.deepEqual(N.take([fsf('change', 'up.bin')], 32000), [], 'nor its replacing a file');
  assert.deepEqual(N.take([fsf('change', 'up.bin')], 100000), [{ kind: 'changed', text: 'up.bin changed', fresh: true }], 'a later change is');
});
