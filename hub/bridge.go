package hub

// The bridge from plain HTTP to the rooms: fetches and uploads made over
// HTTP appear in the feed of the room of the page that made them. files
// calls these through the hooks package server gives its handler; they only
// publish, so a download or an upload never waits for a room's fan-out.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"filehub/files"
)

// RecordFetch puts an HTTP fetch of path (bytes long) in the feed: in the
// room of the session whose page made it, when its browser cookie names a
// live session, otherwise in the default room as "anonymous (ADDRESS)".
//
// Each member's fetches, and everyone else's together, have a budget of
// feed events (Config.FetchEvents); a fetch beyond it is served but not
// announced.
func (h *Hub) RecordFetch(r *http.Request, path string, bytes int64) {
	h.cfg.Metrics.Fetches.WithLabelValues(viaHTTP).Inc()
	room, who, mb := h.attributeMember(r)
	if !h.fetchBudget(mb).Allow() {
		h.cfg.Metrics.FetchesUnannounced.Inc()
		return
	}
	h.publish(room, &Message{Event: &Event{Who: who.Name, Action: actionFetch, Path: path, Via: viaHTTP, Bytes: bytes, At: h.cfg.Now().UTC()}})
}

// attribute finds who made an HTTP request, and the room to tell: the
// newest session that joined with the request's browser cookie, else the
// default room and the client's address.
func (h *Hub) attribute(r *http.Request) (room string, who MemberRef) {
	room, who, _ = h.attributeMember(r)
	return room, who
}

// fetchBudget is the limiter of feed events for fetches by mb's page, or
// by anyone without a session here when mb is nil.
func (h *Hub) fetchBudget(mb *member) *rate.Limiter {
	if mb == nil {
		return h.otherFetches
	}
	if l := mb.fetches.Load(); l != nil {
		return l
	}
	mb.fetches.CompareAndSwap(nil, rate.NewLimiter(h.cfg.FetchEvents, h.cfg.FetchEventBurst))
	return mb.fetches.Load()
}

// attributeMember is attribute, with the session found on this node (nil
// when there is none).
func (h *Hub) attributeMember(r *http.Request) (room string, who MemberRef, mb *member) {
	c, err := r.Cookie(browserCookie) // read once: this runs for every fetch
	if err == nil {
		h.bmu.Lock()
		if list := h.browsers[c.Value]; len(list) > 0 {
			mb = list[len(list)-1] // joined: its room is set and never changes
		}
		h.bmu.Unlock()
	}
	if mb != nil {
		return mb.room.name, mb.ref(), mb
	}
	if err == nil && h.cfg.Broker != nil {
		// The page's session may be on another node.
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if room, ref, ok := h.cfg.Broker.Browser(ctx, browserKey(c.Value)); ok {
			return room, ref, nil
		}
	}
	return h.cfg.DefaultRoom, MemberRef{Name: "anonymous (" + remoteHost(r) + ")"}, nil
}

// browserKey is what a broker is told of a browser cookie: its hash, so
// that the cookie, which names fetches after a member, never leaves this
// node.
func browserKey(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:16])
}

// RecordUpload tells the room of the uploader (or the default room) that an
// upload finished, and puts it in the feed.
//
// Each uploader's announcements have a budget (Config.UploadEvents),
// spent once per upload: an upload beyond it is taken, and not announced
// at all (no progress, share, finish or feed event).
func (h *Hub) RecordUpload(r *http.Request, res files.PutResult) {
	h.cfg.Metrics.Uploads.WithLabelValues("finished").Inc()
	h.cfg.Metrics.UploadBytes.Add(float64(res.Size))
	room, who, mb := h.attributeMember(r)
	if !h.announceUpload(r, mb, true) {
		return
	}
	h.publishFrame(room, uploadFinishFrame{Kind: kindUploadFinish, By: who, Path: res.Path, Size: res.Size, SHA256: res.SHA256})
	h.publish(room, &Message{Event: &Event{Who: who.Name, Action: actionUpload, Path: res.Path, Via: viaHTTP, Bytes: res.Size, At: h.cfg.Now().UTC()}})
}

// RecordUploadProgress tells the room of the uploader (or the default room)
// how far an upload of path got: received of size bytes (-1: unknown).
// files throttles the calls, a few a second per upload; nothing goes to
// the feed, which keeps only finished actions.
func (h *Hub) RecordUploadProgress(r *http.Request, path string, received, size int64) {
	room, who, mb := h.attributeMember(r)
	if !h.announceUpload(r, mb, false) {
		return
	}
	h.publishFrame(room, uploadProgressFrame{Kind: kindUploadProgress, By: who, Path: path, Received: received, Size: size})
}

// RecordUploadAbort tells the room of the uploader (or the default room)
// that an upload it saw start will not finish, with a one-word reason.
func (h *Hub) RecordUploadAbort(r *http.Request, path string, received int64, err error) {
	h.cfg.Metrics.Uploads.WithLabelValues("aborted").Inc()
	room, who, mb := h.attributeMember(r)
	if !h.announceUpload(r, mb, true) {
		return
	}
	h.publishFrame(room, uploadAbortFrame{Kind: kindUploadAbort, By: who, Path: path, Received: received, Reason: abortReason(err)})
}

// DropLink is a drop link as the room sees it uploading: package server builds it
// from the link, which hub does not know.
type DropLink struct {
	// Room is the room the link was made from; "" or a name the protocol
	// refuses is the default room.
	Room string
	// Ref tells links apart (the drops package's Ref: a prefix of a hash
	// of the id); never the id itself, which is the key to the link.
	Ref string
	// Label is the name the link's owner gave it; "" shows as "drop link".
	Label string
}

// dropRoom is where the link's uploads are told.
func (h *Hub) dropRoom(d DropLink) string {
	if !ValidRoom(d.Room) {
		return h.cfg.DefaultRoom
	}
	return d.Room
}

// member is who uploads through the link, in frames and the feed: its
// label, with an id that no session has.
func (d DropLink) member() MemberRef {
	name := d.Label
	if name == "" {
		name = "drop link"
	}
	return MemberRef{ID: "drop-" + d.Ref, Name: name}
}

// RecordDropUpload tells the link's room that an upload through it
// finished, and puts it in the feed with via "drop" and the link's label.
func (h *Hub) RecordDropUpload(d DropLink, res files.PutResult) {
	h.cfg.Metrics.Uploads.WithLabelValues("finished").Inc()
	h.cfg.Metrics.UploadBytes.Add(float64(res.Size))
	room, who := h.dropRoom(d), d.member()
	h.publishFrame(room, uploadFinishFrame{Kind: kindUploadFinish, By: who, Path: res.Path, Size: res.Size, SHA256: res.SHA256})
	h.publish(room, &Message{Event: &Event{Who: who.Name, Action: actionUpload, Path: res.Path, Via: viaDrop, Bytes: res.Size, At: h.cfg.Now().UTC()}})
}

// RecordDropProgress tells the link's room how far an upload through it
// got: received of size bytes (-1: unknown). Throttled by the caller.
func (h *Hub) RecordDropProgress(d DropLink, path string, received, size int64) {
	h.publishFrame(h.dropRoom(d), uploadProgressFrame{Kind: kindUploadProgress, By: d.member(), Path: path, Received: received, Size: size})
}

// RecordDropAbort tells the link's room that an upload through it will not
// finish, with a one-word reason.
func (h *Hub) RecordDropAbort(d DropLink, path string, received int64, err error) {
	h.cfg.Metrics.Uploads.WithLabelValues("aborted").Inc()
	h.publishFrame(h.dropRoom(d), uploadAbortFrame{Kind: kindUploadAbort, By: d.member(), Path: path, Received: received, Reason: abortReason(err)})
}
