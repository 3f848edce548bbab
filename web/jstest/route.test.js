// The page's location model (static/route.js), under node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRoute, routeURL, cleanDir, crumbsOf } from '../static/route.js';

test('parseRoute reads the room and the folder', () => {
  assert.deepEqual(parseRoute(''), { room: 'lobby', dir: '' });
  assert.deepEqual(parseRoute('?room=lab'), { room: 'lab', dir: '' });
  assert.deepEqual(parseRoute('?room=lab&dir=photos/2024/'), { room: 'lab', dir: 'photos/2024/' });
  assert.deepEqual(parseRoute('?room=%20&dir=/a//b'), { room: 'lobby', dir: 'a/b/' });
  assert.deepEqual(parseRoute('?dir=%C3%89t%C3%A9%202026/'), { room: 'lobby', dir: 'Été 2026/' });
});

test('cleanDir never names a folder above the served one', () => {
  for (const [in_, want] of [['', ''], ['/', ''], ['.', ''], ['a', 'a/'], ['a/./b/', 'a/b/'], ['../etc', 'etc/'], ['a/../../b', 'a/b/'], [null, '']]) {
    assert.equal(cleanDir(in_), want, `cleanDir(${JSON.stringify(in_)})`);
  }
});

test('routeURL writes the folder, keeps other parameters, drops an empty dir', () => {
  assert.equal(routeURL('?room=lab&name=ann', { room: 'lab', dir: 'docs/a/' }), '/?room=lab&name=ann&dir=docs/a/');
  assert.equal(routeURL('?room=lab&dir=docs/', { room: 'lab', dir: '' }), '/?room=lab');
  assert.equal(routeURL('', { room: 'lobby', dir: 'Été 2026/' }), '/?room=lobby&dir=%C3%89t%C3%A9+2026/');
  // What it writes, it reads back.
  for (const dir of ['', 'a/', 'a b/c&d=e/', 'Été/#1/', '100%/']) {
    assert.equal(parseRoute(routeURL('?room=r', { room: 'r', dir }).slice(1)).dir, dir, dir);
  }
});

test('crumbsOf lists the folders from the top', () => {
  assert.deepEqual(crumbsOf('', 'share'), [{ name: 'share', dir: '' }]);
  assert.deepEqual(crumbsOf('a/b/', 'share'), [{ name: 'share', dir: '' }, { name: 'a', dir: 'a/' }, { name: 'b', dir: 'a/b/' }]);
});
