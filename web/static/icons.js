// The type icons of the listing: small inline SVGs built with the DOM
// (createElementNS, no markup strings), coloured by style.css through
// their data-icon attribute. Names come from types.js.

const ns = 'http://www.w3.org/2000/svg';

// 24×24 outlines: a page with a folded corner, and a mark for each kind.
const page = 'M6 2.5h8l4.5 4.5v14.5H6z M14 2.5V7h4.5';
const paths = {
  folder: ['M2.5 6.5a1.5 1.5 0 0 1 1.5-1.5h5l2 2.2h9a1.5 1.5 0 0 1 1.5 1.5v9.8a1.5 1.5 0 0 1-1.5 1.5H4a1.5 1.5 0 0 1-1.5-1.5z'],
  image: ['M3.5 4.5h17v15h-17z', 'M3.5 16.5l5-5 4 4 3-3 5 5', 'M15.5 9.2a1.4 1.4 0 1 0 .01 0'],
  video: ['M3.5 5.5h12v13h-12z', 'M15.5 10l5-3v10l-5-3'],
  audio: ['M9 17.5V5.5l10-2v12', 'M9 17.5a2.5 2.5 0 1 1-.01 0', 'M19 15.5a2.5 2.5 0 1 1-.01 0'],
  pdf: [page, 'M8.5 13h7 M8.5 16h7 M8.5 10h3'],
  text: [page, 'M8.5 11h7 M8.5 14h7 M8.5 17h5'],
  code: [page, 'M10 11.5l-2 2 2 2 M14 11.5l2 2-2 2'],
  sheet: [page, 'M8.5 10.5h7v7h-7z M8.5 14h7 M12 10.5v7'],
  doc: [page, 'M8.5 11h7 M8.5 14h7 M8.5 17h7'],
  archive: [page, 'M11 3v2 M12 5v2 M11 7v2 M12 9v2 M10.5 12h2v3h-2z'],
  binary: [page, 'M9 11v4 M12 11h2v4h-2z M16 11v4'],
  file: [page],
};

/** icon builds the SVG of a kind (types.js's icon names; unknown ones get a plain page). */
export function icon(kind) {
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  svg.dataset.icon = paths[kind] ? kind : 'file';
  for (const d of paths[kind] || paths.file) {
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}
