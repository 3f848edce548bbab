package guard

import (
	"net"
	"net/netip"
	"sync"
)

// ListenerConfig configures Listen. Zero values mean the documented default.
type ListenerConfig struct {
	// MaxConns bounds the connections open at once, all clients
	// together, so that the process keeps descriptors for its files,
	// watches and logs. Defaults to DefaultMaxConns().
	MaxConns int
	// MaxPerClient bounds the connections of one client network
	// (ClientGroup), so that one address cannot take them all and others,
	// the token's holder among them, still get in. Defaults to 256: a
	// browser opens 6 per server, a page one WebSocket more.
	MaxPerClient int
	// Exempt reports the peers not bound by MaxPerClient (they count in
	// MaxConns): trusted proxies, whose one address stands for all their
	// clients. May be nil.
	Exempt func(netip.Addr) bool
	// Metrics defaults to collectors registered nowhere.
	Metrics *Metrics
}

// Listen wraps l: a connection over either limit is closed as soon as it is
// accepted, before a byte is read, and counted in
// filehub_connections_refused_total; the others count until they are
// closed, hijacked WebSockets included (they close the same net.Conn).
// Closing at once costs the refused client its connection and the server
// nothing: no goroutine, no buffer, no descriptor beyond the accept.
func Listen(l net.Listener, cfg ListenerConfig) net.Listener {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns()
	}
	if cfg.MaxPerClient <= 0 {
		cfg.MaxPerClient = 256
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return &listener{Listener: l, cfg: cfg, per: make(map[netip.Prefix]int)}
}

type listener struct {
	net.Listener
	cfg ListenerConfig

	mu    sync.Mutex
	total int
	per   map[netip.Prefix]int // only groups with a connection open
}

// Accept returns the next connection within the limits.
func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		group, exempt := l.groupOf(c)
		l.mu.Lock()
		switch {
		case l.total >= l.cfg.MaxConns:
			l.mu.Unlock()
			l.cfg.Metrics.ConnsRefused.WithLabelValues("total").Inc()
			c.Close()
			continue
		case !exempt && l.per[group] >= l.cfg.MaxPerClient:
			l.mu.Unlock()
			l.cfg.Metrics.ConnsRefused.WithLabelValues("address").Inc()
			c.Close()
			continue
		}
		l.total++
		if !exempt {
			l.per[group]++
		}
		l.mu.Unlock()
		l.cfg.Metrics.Conns.Inc()
		return &conn{Conn: c, l: l, group: group, exempt: exempt}, nil
	}
}

func (l *listener) groupOf(c net.Conn) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Prefix{}, false
	}
	exempt := l.cfg.Exempt != nil && l.cfg.Exempt(ap.Addr().Unmap())
	return ClientGroup(ap.String()), exempt
}

func (l *listener) release(group netip.Prefix, exempt bool) {
	l.mu.Lock()
	l.total--
	if !exempt {
		if l.per[group]--; l.per[group] <= 0 {
			delete(l.per, group)
		}
	}
	l.mu.Unlock()
	l.cfg.Metrics.Conns.Dec()
}

// conn gives its place back once, on its first Close.
type conn struct {
	net.Conn
	l      *listener
	group  netip.Prefix
	exempt bool
	once   sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.group, c.exempt) })
	return err
}
