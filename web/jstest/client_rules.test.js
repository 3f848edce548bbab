// The page's DOM-free modules' rules (web/testdata/client_rules.js: the
// feed's and the chat's recovery, members, requests and streams with
// their hashes, the upload state machine, Blob types, the QR encoder, the
// listing, who has what), under node --test as well as in the browser
// (TestBrowser/ClientRules). The viewer's part needs a DOM: browser only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

test('client rules', async () => {
  globalThis.__rulesBase = new URL('../static/', import.meta.url).href;
  const src = await readFile(new URL('../testdata/client_rules.js', import.meta.url), 'utf8');
  const fails = await (0, eval)(src);
  assert.deepEqual(fails, []);
});
