// Joins and leaves in the feed (static/members.js: PresenceNotes), under
// node --test: coalesced, so a big room is a line, not a flood.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PresenceNotes } from '../static/members.js';

const p = (event, name) => ({ kind: 'presence', event, who: { id: name, name }, count: 1 });

test('joins and leaves close together are one line', () => {
  const N = new PresenceNotes(10000);
  assert.deepEqual(N.take(p('join', 'bob'), 1000), { text: 'bob joined', fresh: true });
  assert.deepEqual(N.take(p('join', 'carl'), 2000), { text: 'bob and carl joined', fresh: false });
  assert.deepEqual(N.take(p('leave', 'dee'), 3000), { text: 'bob and carl joined · dee left', fresh: false });
  for (let i = 0; i < 40; i++) N.take(p('join', `g${i}`), 4000);
  assert.deepEqual(N.take(p('join', 'x'), 5000), { text: 'bob, carl and 41 others joined · dee left', fresh: false });
  assert.deepEqual(N.take(p('leave', 'bob'), 30000), { text: 'bob left', fresh: true }, 'later: a new line');
});

test('renames are no line; crowded rooms count', () => {
  const N = new PresenceNotes(10000);
  assert.equal(N.take(p('rename', 'bob'), 1000), null);
  assert.equal(N.take(null, 1000), null);
  assert.deepEqual(N.count({ kind: 'count', count: 900, joined: 12, left: 3 }, 1000), { text: '12 joined · 3 left', fresh: true });
  assert.deepEqual(N.count({ kind: 'count', count: 905, joined: 5, left: 0 }, 2000), { text: '17 joined · 3 left', fresh: false });
  assert.equal(N.count({ kind: 'count', count: 905, joined: 0, left: 0 }, 3000), null);
  assert.deepEqual(N.take(p('join', 'amy'), 4000), { text: 'amy and 17 others joined · 3 left', fresh: false });
});
