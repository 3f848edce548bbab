// Package guard holds the server's limits that sit below every route: a
// listener that bounds the connections of each client address and of the
// whole process, and a handler that bounds the time a request body may
// take and answers a request refused before its body at once, closing the
// connection instead of waiting for a body that may never come.
//
// They exist because a server with a token must not be taken down by
// someone without it: before them, twenty thousand connections each
// sending the head of a login POST and then nothing, refused with 401,
// each held a descriptor for as long as the client liked, until the
// process had none left for the token's holder (issue 20).
//
// guard imports no filehub package: the server wires it in front of
// everything else.
package guard

import (
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the guards' Prometheus collectors.
type Metrics struct {
	Conns        prometheus.Gauge       // open now
	ConnsRefused *prometheus.CounterVec // by limit: address or total
	BodiesCut    *prometheus.CounterVec // by why: deadline, refused (answered before the body, connection closed)
}

// NewMetrics builds the collectors and registers them with reg; nil leaves
// them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Conns: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "filehub", Name: "connections",
			Help: "TCP connections open now (the listener's count, WebSockets included)."}),
		ConnsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "filehub", Name: "connections_refused_total",
			Help: "Connections closed as soon as accepted, by limit (address: the client's network had -max-conns-per-client; total: the server had -max-conns)."}, []string{"limit"}),
		BodiesCut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "filehub", Name: "request_bodies_cut_total",
			Help: "Requests whose body was not waited for, by why (refused: answered before its body and the connection closed; deadline: the body took longer than -body-timeout)."}, []string{"why"}),
	}
	if reg != nil {
		reg.MustRegister(m.Conns, m.ConnsRefused, m.BodiesCut)
	}
	return m
}

// ClientGroup is the network a client address stands for: an IPv4 address
// alone, or the /64 of an IPv6 one (one host, or one home or office,
// usually holds a whole /64 and can pick any address in it); an
// IPv4-mapped address counts as its IPv4 address. An address that does
// not parse (a Unix socket) falls in one shared group. The token gate and
// the hub's budgets group clients the same way.
func ClientGroup(addr string) netip.Prefix {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(addr); err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}
