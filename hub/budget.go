package hub

// Budgets of what one client can make the server deliver: content in bytes
// (shares, snippets, chat, uploads shared as they arrive), counted as
// delivered (a frame's size times the members who get it), per client
// address and per room; and announcements of uploads, per uploader.
//
// Per address, not per session: ten sessions of one client share one
// budget, as they share one network. An IPv6 client counts by its /64, as
// the token gate counts guesses: one host, or one home, can pick any
// address in its /64.

import (
	"net/http"
	"net/netip"
	"sync"
	"time"

	"filehub/guard"

	"golang.org/x/time/rate"
)

// maxGroups bounds the address budgets kept: a full bucket is forgotten
// first (it holds nothing), then the least recently used.
const maxGroups = 4096

// clientGroup is the network a client address stands for, as the token
// gate and the connection limits group clients: an IPv4 address, or the
// /64 of an IPv6 one (guard.ClientGroup, the one rule).
func clientGroup(addr string) netip.Prefix { return guard.ClientGroup(addr) }

// groupLimiters is a token bucket per client group, at most maxGroups.
type groupLimiters struct {
	limit rate.Limit
	burst int

	mu sync.Mutex
	m  map[netip.Prefix]*groupLimiter
}

type groupLimiter struct {
	*rate.Limiter
	used time.Time
}

func newGroupLimiters(limit rate.Limit, burst int) *groupLimiters {
	return &groupLimiters{limit: limit, burst: burst, m: make(map[netip.Prefix]*groupLimiter)}
}

// get returns the bucket of group, made full if there was none.
func (g *groupLimiters) get(group netip.Prefix, now time.Time) *rate.Limiter {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.m[group]
	if l == nil {
		if len(g.m) >= maxGroups {
			g.evictLocked(now)
		}
		l = &groupLimiter{Limiter: rate.NewLimiter(g.limit, g.burst)}
		g.m[group] = l
	}
	l.used = now
	return l.Limiter
}

// evictLocked forgets the full buckets, or else the least recently used.
func (g *groupLimiters) evictLocked(now time.Time) {
	var oldest netip.Prefix
	var at time.Time
	for k, l := range g.m {
		if l.TokensAt(now) >= float64(g.burst) {
			delete(g.m, k)
			continue
		}
		if at.IsZero() || l.used.Before(at) {
			oldest, at = k, l.used
		}
	}
	if len(g.m) >= maxGroups {
		delete(g.m, oldest)
	}
}

// errContentBudget is the refusal of content over budget.
var errContentBudget = &protoError{code: codeRateLimited, msg: "too much content at once from your network or to this room; wait a moment"}

// spendContent takes n bytes delivered from the budget of the client group
// and from the room's (rm nil: the group's alone), both or neither. A cost
// over a burst is charged as the whole burst, so that a share to a large
// room waits for a full bucket instead of never passing.
func (h *Hub) spendContent(group netip.Prefix, rm *room, n int64) error {
	if n <= 0 {
		return nil
	}
	now := time.Now()
	a := h.content.get(group, now).ReserveN(now, int(min(n, h.cfg.ContentBurst)))
	if !a.OK() || a.DelayFrom(now) > 0 {
		a.CancelAt(now)
		h.cfg.Metrics.ContentRefused.WithLabelValues("address").Inc()
		return errContentBudget
	}
	if rm != nil {
		b := rm.content.ReserveN(now, int(min(n, h.cfg.RoomContentBurst)))
		if !b.OK() || b.DelayFrom(now) > 0 {
			b.CancelAt(now)
			a.CancelAt(now)
			h.cfg.Metrics.ContentRefused.WithLabelValues("room").Inc()
			return errContentBudget
		}
	}
	h.cfg.Metrics.ContentBytes.Add(float64(n))
	return nil
}

// spendRoom charges mb's group and room for a frame of size bytes that
// every member of the room receives.
func (h *Hub) spendRoom(mb *member, size int) error {
	return h.spendContent(mb.group, mb.room, int64(size)*int64(mb.room.size()))
}

// announcements remembers, for each HTTP upload under way that the room
// heard of or not, which it was: an upload is announced whole (progress,
// finish or abort, feed event) or not at all. Entries of requests that
// ended are swept by maintain.
type announcements struct {
	mu sync.Mutex
	m  map[*http.Request]bool
}

// announceUpload reports whether the room is told of the upload r: decided
// at its first announcement, from the uploader's budget (Config.UploadEvents):
// its page's session's, or its address's for anyone else. end forgets it.
func (h *Hub) announceUpload(r *http.Request, mb *member, end bool) bool {
	a := &h.uploads
	a.mu.Lock()
	ok, seen := a.m[r]
	if !seen {
		if mb != nil {
			ok = mb.uploadBudget(h).Allow()
		} else {
			ok = h.uploadEvents.get(clientGroup(r.RemoteAddr), time.Now()).Allow()
		}
		if !ok {
			h.cfg.Metrics.UploadsUnannounced.Inc()
		}
	}
	switch {
	case end:
		delete(a.m, r)
	case !seen:
		if a.m == nil {
			a.m = make(map[*http.Request]bool)
		}
		a.m[r] = ok
	}
	a.mu.Unlock()
	return ok
}

// sweepAnnouncements forgets the uploads whose request ended without a
// finish or an abort (a resumable part that was not the last).
func (h *Hub) sweepAnnouncements() {
	a := &h.uploads
	a.mu.Lock()
	defer a.mu.Unlock()
	for r := range a.m {
		if r.Context().Err() != nil {
			delete(a.m, r)
		}
	}
}

// uploadBudget is the limiter of mb's upload announcements.
func (mb *member) uploadBudget(h *Hub) *rate.Limiter {
	if l := mb.uploads.Load(); l != nil {
		return l
	}
	mb.uploads.CompareAndSwap(nil, rate.NewLimiter(h.cfg.UploadEvents, h.cfg.UploadEventBurst))
	return mb.uploads.Load()
}
