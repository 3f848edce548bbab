// Installed by browser_test.go before the page's own scripts (through the
// DevTools protocol, so the page's CSP does not apply to it): it wraps the
// page's WebSocket so that a test can see what the page sends, patch the
// welcome frames the server sends (to play fields of the wire contract that
// a server may not send yet), inject frames, and make a socket deaf, as a
// link that died without closing would be.
(() => {
  const Real = window.WebSocket;
  const fh = {
    urls: [], // every URL the page connected to
    sent: [], // every text frame the page sent, parsed
    chats: [], // every chat frame received
    welcomes: 0,
    welcomePatch: null, // fields laid over each welcome frame
    deaf: null, // a socket whose incoming frames are dropped
    sockets: [],
  };
  window.__fh = fh;
  const patch = (f) => {
    if (f.kind === 'welcome') {
      fh.welcomes++;
      if (fh.welcomePatch) return { ...f, ...fh.welcomePatch };
    }
    if (f.kind === 'chat') fh.chats.push(f);
    return f;
  };
  class Hooked extends Real {
    constructor(url, protocols) {
      super(url, protocols);
      fh.urls.push(String(url));
      fh.sockets.push(this);
    }

    send(data) {
      if (typeof data === 'string') {
        try {
          fh.sent.push(JSON.parse(data));
        } catch {
          fh.sent.push({ raw: data });
        }
      }
      super.send(data);
    }

    addEventListener(type, fn, opts) {
      if (type !== 'message') return super.addEventListener(type, fn, opts);
      return super.addEventListener(type, (ev) => {
        if (fh.deaf === this) return;
        if (typeof ev.data !== 'string') return fn.call(this, ev);
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          return fn.call(this, ev);
        }
        const out = msg.kind === 'batch' && Array.isArray(msg.frames) ? { kind: 'batch', frames: msg.frames.map(patch) } : patch(msg);
        return fn.call(this, new MessageEvent('message', { data: JSON.stringify(out) }));
      }, opts);
    }
  }
  window.WebSocket = Hooked;
  fh.current = () => fh.sockets[fh.sockets.length - 1];
  fh.inject = (frame) => fh.current().dispatchEvent(new MessageEvent('message', { data: JSON.stringify(frame) }));
  fh.kinds = (kind) => fh.sent.filter((m) => m.kind === kind);
})();
