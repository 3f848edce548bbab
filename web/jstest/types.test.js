// Short types, icons and previews (static/types.js), progress (static/rate.js), under node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileType, typeLabel, isImageFolder } from '../static/types.js';
import { Rate, formatLeft, progressText } from '../static/rate.js';
import { formatWhen } from '../static/format.js';

test('short types instead of MIME strings', () => {
  for (const [name, mime, want] of [
    ['ticket.pdf', 'application/pdf', 'PDF'],
    ['IMG_1.JPG', 'image/jpeg', 'JPEG'],
    ['README.md', 'text/markdown; charset=utf-8', 'Markdown'],
    ['main.go', 'text/plain; charset=utf-8', 'Go'],
    ['movie.mp4', '', 'MP4 video'],
    ['noext', 'application/pdf', 'PDF'],
    ['noext', '', 'File'],
    ['data.xyz', 'application/octet-stream', 'XYZ file'],
    ['README', '', 'Text'],
  ]) assert.equal(typeLabel(name, mime), want, name);
  assert.equal(typeLabel('photos', '', true), 'Folder');
});

test('a row that arrives live (no type) reads as a listed one', () => {
  assert.deepEqual(fileType('a.pdf', ''), fileType('a.pdf', 'application/pdf'));
  assert.deepEqual(fileType('a.png', ''), fileType('a.png', 'image/png'));
});

test('how each kind is previewed, and what gets a thumbnail', () => {
  const p = (n, m = '') => fileType(n, m).preview;
  assert.equal(p('a.jpg'), 'image');
  assert.equal(p('a.svg'), 'svg', 'SVG through an <img> of its served URL, never as a document');
  assert.equal(p('a.html'), 'text', 'HTML is shown as its source');
  assert.equal(p('a.pdf'), 'pdf');
  assert.equal(p('a.mp4'), 'video');
  assert.equal(p('a.mp3'), 'audio');
  assert.equal(p('a.md'), 'markdown');
  assert.equal(p('a.zip'), 'none');
  assert.equal(p('a.bin'), 'none');
  assert.equal(fileType('a.jpeg').thumb, true);
  assert.equal(fileType('a.webp').thumb, true);
  assert.equal(fileType('a.svg').thumb, false);
  assert.equal(fileType('a.pdf').thumb, false);
});

test('a folder of pictures is shown as a grid', () => {
  const f = (name) => ({ name, dir: false, type: '' });
  assert.ok(isImageFolder([f('1.jpg'), f('2.jpg'), f('3.png'), f('4.jpg'), f('notes.txt'), { name: 'sub', dir: true }]));
  assert.ok(!isImageFolder([f('1.jpg'), f('2.jpg'), f('a.txt'), f('b.txt')]));
  assert.ok(!isImageFolder([f('1.jpg'), f('2.jpg')]), 'too few to call it a photo folder');
});

test('speed and time left', () => {
  let now = 0;
  const r = new Rate(() => now);
  assert.equal(r.speed(), 0);
  r.add(0);
  now = 1000;
  r.add(50 << 20);
  assert.equal(r.speed(), 50 << 20);
  assert.equal(r.left(200 << 20), 3);
  assert.equal(progressText(50 << 20, 200 << 20, r), '50.0 MiB of 200.0 MiB (25%) · 50.0 MiB/s · 3 s left');
  assert.equal(progressText(10, 0, null), '10 B');
  assert.equal(formatLeft(58.2), '59 s');
  assert.equal(formatLeft(59.5), '1 min 0 s');
  assert.equal(formatLeft(125), '2 min 5 s');
  assert.equal(formatLeft(null), '');
  // The window moves: an old burst no longer counts.
  now = 10000;
  r.add(60 << 20);
  now = 11000;
  r.add(61 << 20);
  assert.equal(r.speed(), 1 << 20);
});

test('listing times are short', () => {
  const now = new Date(2026, 11, 7, 15, 0);
  assert.match(formatWhen(new Date(2026, 11, 7, 9, 5), now), /09:05/);
  assert.doesNotMatch(formatWhen(new Date(2026, 2, 1, 9, 5), now), /2026/);
  assert.match(formatWhen(new Date(2024, 2, 1, 9, 5), now), /2024/);
  assert.equal(formatWhen('', now), '');
});
