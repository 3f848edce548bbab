// Sort and filter of the listing (static/order.js, static/listing.js), under node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparator, parseOrder, orderString, matcher, fold, compareNames } from '../static/order.js';
import { Listing } from '../static/listing.js';

const e = (name, size = 0, modified = '', dir = false) => ({ name, size, modified, dir, type: '' });
const entries = [
  e('b.txt', 300, '2026-01-03T00:00:00Z'),
  e('Zeta', 0, '2026-01-01T00:00:00Z', true),
  e('a10.jpg', 100, '2026-01-02T00:00:00Z'),
  e('a2.jpg', 200, '2026-01-04T00:00:00Z'),
  e('alpha', 0, '2026-01-05T00:00:00Z', true),
];
const names = (order) => [...entries].sort(comparator(order)).map((x) => x.name);

test('folders first, then the order chosen', () => {
  assert.deepEqual(names({ key: 'name' }), ['alpha', 'Zeta', 'a2.jpg', 'a10.jpg', 'b.txt']);
  assert.deepEqual(names({ key: 'name', desc: true }), ['Zeta', 'alpha', 'b.txt', 'a10.jpg', 'a2.jpg']);
  assert.deepEqual(names({ key: 'size', desc: true }), ['alpha', 'Zeta', 'b.txt', 'a2.jpg', 'a10.jpg']);
  assert.deepEqual(names({ key: 'size' }), ['alpha', 'Zeta', 'a10.jpg', 'a2.jpg', 'b.txt']);
  assert.deepEqual(names({ key: 'date', desc: true }), ['alpha', 'Zeta', 'a2.jpg', 'b.txt', 'a10.jpg']);
  assert.deepEqual(names({ key: 'date' }), ['Zeta', 'alpha', 'a10.jpg', 'b.txt', 'a2.jpg']);
});

test('ties fall back to the name, so the order is total', () => {
  const same = [e('c', 1), e('a', 1), e('b', 1)];
  assert.deepEqual(same.sort(comparator({ key: 'size' })).map((x) => x.name), ['a', 'b', 'c']);
  assert.ok(compareNames('a', 'A') !== 0, 'names differing in case alone still have an order');
});

test('orders are saved and read back; anything else is by name', () => {
  for (const s of ['name-asc', 'name-desc', 'size-asc', 'size-desc', 'date-asc', 'date-desc']) assert.equal(orderString(parseOrder(s)), s);
  assert.deepEqual(parseOrder('bogus'), { key: 'name', desc: false });
  assert.deepEqual(parseOrder(null), { key: 'name', desc: false });
});

test('the filter matches every word, case and accents aside', () => {
  assert.equal(fold('Été'), 'ete');
  const m = matcher('ete 20');
  assert.ok(m('Photos Été 2026'));
  assert.ok(!m('Photos hiver 2026'));
  assert.ok(matcher('')('anything'));
  assert.ok(matcher('  CAFÉ ')('café crème.md'));
});

test('Listing.sortBy orders what it lists', () => {
  const l = new Listing();
  l.open('');
  l.begin();
  l.load('', entries);
  assert.deepEqual(l.sorted().map((x) => x.name), ['alpha', 'Zeta', 'a2.jpg', 'a10.jpg', 'b.txt']);
  l.sortBy({ key: 'size', desc: true });
  assert.deepEqual(l.sorted().map((x) => x.name), ['alpha', 'Zeta', 'b.txt', 'a2.jpg', 'a10.jpg']);
});
