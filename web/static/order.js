// The order and filter of the listing: sort by name, size or date (folders
// first either way), and filter-as-you-type within the folder shown. No
// DOM: listing.js sorts with comparator, view-files.js hides rows that do
// not match.

/** sortKeys are the orders people can choose, in the order they are offered. */
export const sortKeys = ['name', 'size', 'date'];

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** compareNames orders names as people expect: "img2" before "img10", case and accents aside. */
export function compareNames(a, b) {
  return collator.compare(String(a), String(b)) || (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);
}

/**
 * comparator returns the compare function of an order: {key: 'name' |
 * 'size' | 'date', desc}. Folders always come first; ties fall back to the
 * name, so the order is total and stable.
 */
export function comparator({ key = 'name', desc = false } = {}) {
  const sign = desc ? -1 : 1;
  return (a, b) => {
    const folders = (b.dir ? 1 : 0) - (a.dir ? 1 : 0);
    if (folders) return folders;
    // Folders have no size: by size, they stay in name order.
    if (key === 'size' && a.dir) return compareNames(a.name, b.name);
    let c = 0;
    if (key === 'size') c = Number(a.size || 0) - Number(b.size || 0);
    else if (key === 'date') c = (Date.parse(a.modified) || 0) - (Date.parse(b.modified) || 0);
    return sign * (c || compareNames(a.name, b.name));
  };
}

/** parseOrder reads an order saved as "size-desc" (anything else: by name). */
export function parseOrder(s) {
  const [key, dir] = String(s ?? '').split('-');
  return { key: sortKeys.includes(key) ? key : 'name', desc: dir === 'desc' };
}

/** orderString is the saved form of an order: "name-asc", "size-desc". */
export function orderString({ key, desc }) {
  return `${sortKeys.includes(key) ? key : 'name'}-${desc ? 'desc' : 'asc'}`;
}

/** fold lowers case and drops accents: "Été" and "ete" match. */
export function fold(s) {
  return String(s ?? '').normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * matcher returns a predicate on names for what a person typed: every word
 * of it appears in the name (case and accents aside). An empty query
 * matches everything.
 */
export function matcher(query) {
  const words = fold(query).split(/\s+/).filter(Boolean);
  if (words.length === 0) return () => true;
  return (name) => {
    const n = fold(name);
    return words.every((w) => n.includes(w));
  };
}
