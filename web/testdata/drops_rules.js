// The DOM-free rules of drop links and shared text (drops.js,
// share-text.js), checked in the browser that runs them (browser test:
// TestBrowserDropLink). One expression: an async function called at once,
// resolving to the list of failures.
(async () => {
  const { dropRequest, dropURL, limitWords, untilWords, nameProblem, altName, uploadVerdict, dropsAPI } = await import('/_/static/drops.js');
  const { snippetMessage, chars, snippetMax } = await import('/_/static/share-text.js');
  const fails = [];
  const eq = (name, got, want) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) fails.push(`${name}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };

  // ------------------------------------------------ the owner's request
  eq('defaults', dropRequest({ path: 'incoming/' }), { body: { path: 'incoming/', expires: '24h' } });
  eq('limits and label', dropRequest({ path: '', expires: '7d', maxMiB: '1.5', maxFiles: '3', label: '  Tax <b>x</b> ', room: 'lab' }),
    { body: { path: '', expires: '7d', max_bytes: 1572864, max_files: 3, label: 'Tax <b>x</b>', room: 'lab' } });
  eq('empty limits are none', dropRequest({ maxMiB: ' ', maxFiles: '' }), { body: { path: '', expires: '24h' } });
  eq('a size of 0', Boolean(dropRequest({ maxMiB: '0' }).error), true);
  eq('a negative size', Boolean(dropRequest({ maxMiB: '-1' }).error), true);
  eq('a size that is no number', Boolean(dropRequest({ maxMiB: 'lots' }).error), true);
  eq('half a file', Boolean(dropRequest({ maxFiles: '1.5' }).error), true);
  eq('a label of 65', Boolean(dropRequest({ label: 'x'.repeat(65) }).error), true);
  eq('a label of 64 emoji', Boolean(dropRequest({ label: '🎉'.repeat(64) }).error), false);

  eq('the URL on a network address', dropURL({ id: 'ABC', url: 'http://127.0.0.1:8080/_/drop/ABC' }, 'http://192.168.1.5:8080/'), 'http://192.168.1.5:8080/_/drop/ABC');
  eq('the URL as given', dropURL({ id: 'ABC', url: 'http://h/_/drop/ABC' }, null), 'http://h/_/drop/ABC');
  eq('limits in words', limitWords({ files: 1, max_files: 3, bytes: 2048, max_bytes: 1048576 }), '1 of 3 files · 2.0 KiB of 1.0 MiB');
  eq('no limits in words', limitWords({ files: 2, bytes: 0 }), '2 files');
  const now = Date.parse('2030-01-01T00:00:00Z');
  eq('until: minutes', untilWords('2030-01-01T00:30:00Z', now), 'for 30 min');
  eq('until: hours', untilWords('2030-01-02T00:00:00Z', now), 'for 24 h');
  eq('until: days', untilWords('2030-01-08T00:00:00Z', now), 'for 7 days');
  eq('until: past', untilWords('2029-12-31T00:00:00Z', now), 'expired');

  // ------------------------------------------------ the guest's names
  for (const ok of ['photo.jpg', 'Ünïcödé ✓.txt', 'a b', '<img src=x onerror=alert(1)>.txt', 'x'.repeat(255)]) eq(`takes ${ok.slice(0, 20)}`, nameProblem(ok), '');
  for (const bad of ['', '.', '..', '.env', '.filehub-tmp-x', 'a/b', 'a\\b', 'nl\n', 'nul\u0000', 'c1\u0085', 'é'.repeat(128)]) {
    if (nameProblem(bad) === '') fails.push(`nameProblem takes ${JSON.stringify(bad)}`);
  }
  eq('another name', altName('photo.jpg', 2), 'photo (2).jpg');
  eq('another name, no extension', altName('README', 3), 'README (3)');
  eq('another name, a dot in the stem', altName('a.tar.gz', 2), 'a.tar (2).gz');
  eq('201', uploadVerdict(201).do, 'done');
  eq('409: another name', uploadVerdict(409).do, 'rename');
  eq('410: gone', uploadVerdict(410).do, 'gone');
  eq('413', uploadVerdict(413).do, 'fail');
  eq('503', uploadVerdict(503).do, 'fail');

  // ------------------------------------------------ the owner's API, over a fake fetch
  const calls = [];
  const api = dropsAPI(async (url, init = {}) => {
    calls.push([init.method || 'GET', url, init.body || '']);
    if (init.method === 'POST') return new Response(JSON.stringify({ id: 'X', url: 'u' }), { status: 201 });
    if (init.method === 'DELETE') return new Response(null, { status: url.endsWith('/GONE') ? 410 : 204 });
    if (url === '/_/drops') return new Response(JSON.stringify({ drops: [{ id: 'X' }] }), { status: 200 });
    return new Response('{}', { status: 404 });
  });
  eq('create', (await api.create({ path: '', expires: '1h' })).id, 'X');
  eq('list', (await api.list()).map((l) => l.id), ['X']);
  await api.revoke('A/B');
  await api.revoke('GONE'); // revoked already: nothing to do
  eq('the calls', calls.map((c) => c.slice(0, 2)), [['POST', '/_/drops'], ['GET', '/_/drops'], ['DELETE', '/_/drops/A%2FB'], ['DELETE', '/_/drops/GONE']]);
  const refusing = dropsAPI(async () => new Response(JSON.stringify({ error: { code: 'bad_request', message: 'expires must be between 1 minute and 30 days' } }), { status: 400 }));
  try {
    await refusing.create({});
    fails.push('a refused create resolved');
  } catch (err) {
    eq('the server\'s words', [err.status, err.message], [400, 'expires must be between 1 minute and 30 days']);
  }

  // ------------------------------------------------ shared text
  const text = '  <b>kept</b>\n\tas typed  \n';
  eq('a snippet, untrimmed', snippetMessage(text, ' <i>t</i> '), { msg: { kind: 'snippet', text, title: '<i>t</i>' } });
  eq('no title', snippetMessage('x', '  '), { msg: { kind: 'snippet', text: 'x' } });
  eq('blank text', Boolean(snippetMessage(' \n\t', '').error), true);
  eq('characters, not UTF-16 units', chars('🎉é'), 2);
  eq('64 Ki emoji are allowed', Boolean(snippetMessage('🎉'.repeat(snippetMax), '').error), false);
  eq('one more is not', Boolean(snippetMessage('🎉'.repeat(snippetMax + 1), '').error), true);
  eq('a title of 129', Boolean(snippetMessage('x', 'x'.repeat(129)).error), true);
  return fails;
})()
