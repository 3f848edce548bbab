// Small DOM helpers shared by the page's view modules.
//
// Safety rule of the whole page: user-provided strings (names, paths, chat,
// file content) only ever become Text nodes or attribute values set through
// setAttribute. Nothing here (or anywhere in the page) uses innerHTML,
// outerHTML or insertAdjacentHTML, nor writes markup into the document.

/**
 * h builds an element. attrs: "class" sets className, "on*" functions become
 * event listeners, booleans toggle the attribute, null/undefined/false are
 * skipped, everything else goes through setAttribute. Children may be nodes,
 * strings (as text), numbers, or nested arrays; null and false are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'style') throw new Error('h: inline style attributes are blocked by the CSP; use a class');
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** clear removes every child of el. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** setText replaces the content of el with one text node. */
export function setText(el, text) {
  el.textContent = text;
  return el;
}

/** $ returns the element with the given id, or throws (a page defect). */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

/** storage wraps localStorage, which throws when storage is disabled. */
export const storage = {
  get(key) {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch {
      // Private mode or storage disabled: the name is asked again next time.
    }
  },
};

/** narrow says whether the page is laid out for a phone (one pane at a time). */
export const narrow = window.matchMedia('(max-width: 720px)');

/**
 * roving makes the items (selector) of box one Tab stop, however many:
 * the last one focused (at first the first) is in the Tab order, the
 * others are reached with the arrow keys, Home and End (a roving
 * tabindex). Items added later join in; box keeps its own keys for
 * fields inside it.
 */
export function roving(box, selector) {
  let current = null;
  const items = () => [...box.querySelectorAll(selector)].filter((e) => !e.closest('[hidden]'));
  const settle = () => {
    const all = items();
    if (!current || !all.includes(current)) current = all[0] || null;
    for (const e of all) {
      const want = e === current ? 0 : -1;
      if (e.tabIndex !== want) e.tabIndex = want;
    }
  };
  new MutationObserver(settle).observe(box, { childList: true, subtree: true });
  box.addEventListener('focusin', (ev) => {
    const t = ev.target instanceof Element ? ev.target.closest(selector) : null;
    if (t && box.contains(t) && t !== current) {
      current = t;
      settle();
    }
  });
  const steps = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
  box.addEventListener('keydown', (ev) => {
    const step = steps[ev.key];
    if (step === undefined || ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    if (!(ev.target instanceof Element) || ev.target.matches('input, textarea, select')) return;
    const all = items();
    const i = all.indexOf(ev.target.closest(selector));
    if (i < 0) return;
    ev.preventDefault();
    all[Math.max(0, Math.min(all.length - 1, i + step))]?.focus();
  });
  settle();
}
