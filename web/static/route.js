// Where the page is, in its URL: the room and the folder shown. No DOM:
// app.js reads the location with parseRoute and writes it with routeURL
// (history.pushState), so that Back and Forward move between folders, a
// reload stays where it was and a copied link opens that folder in that
// room. The folder goes in a query parameter, not in the path: the path of
// this origin is the served files' (GET /docs/ is the folder's listing).
//
//   /?room=lab&dir=photos/2024/     the folder photos/2024 in the room lab
//   /?room=lab                      the top folder
//   /                               the top folder of the room lobby

/** defaultRoom is the room of a page whose URL names none. */
export const defaultRoom = 'lobby';

/**
 * cleanDir turns a folder as written in a URL into the page's form: '' or
 * 'a/b/' (no leading slash, no empty or "." segments). ".." segments are
 * dropped: a link must not name a folder above the served one (the server
 * refuses those anyway).
 */
export function cleanDir(d) {
  const parts = String(d ?? '').split('/').filter((s) => s !== '' && s !== '.' && s !== '..');
  return parts.length === 0 ? '' : `${parts.join('/')}/`;
}

/** parseRoute reads {room, dir} from a location's search string ("?room=…&dir=…"). */
export function parseRoute(search) {
  const p = new URLSearchParams(search);
  return { room: (p.get('room') || '').trim() || defaultRoom, dir: cleanDir(p.get('dir')) };
}

/**
 * routeURL is the page's URL (path and query) for a folder in a room,
 * keeping the other parameters of search (a name given in the link stays).
 * The top folder has no dir parameter.
 */
export function routeURL(search, { room, dir }) {
  const p = new URLSearchParams(search);
  p.set('room', room);
  const d = cleanDir(dir);
  if (d) p.set('dir', d);
  else p.delete('dir');
  // Slashes are kept as they are: the link reads as the path it is.
  return `/?${p.toString().replace(/%2F/gi, '/')}`;
}

/**
 * crumbsOf lists the folders of a path from the top: for 'a/b/' it is
 * [{name: root, dir: ''}, {name: 'a', dir: 'a/'}, {name: 'b', dir: 'a/b/'}].
 */
export function crumbsOf(dir, root) {
  const parts = cleanDir(dir).split('/').filter(Boolean);
  const out = [{ name: root, dir: '' }];
  parts.forEach((name, i) => out.push({ name, dir: `${parts.slice(0, i + 1).join('/')}/` }));
  return out;
}
