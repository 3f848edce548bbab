package hub

// The other doors into the room: WebDAV mounts and share links. Like the
// bridge's, these only publish.

import (
	"net/http"

	"filehub/files"
)

// RecordDavUpload tells the room of the writer (the default room: a WebDAV
// client has no page) that a file written through WebDAV is in place, and
// puts it in the feed with via "dav".
func (h *Hub) RecordDavUpload(r *http.Request, res files.PutResult) {
	h.cfg.Metrics.Uploads.WithLabelValues("finished").Inc()
	h.cfg.Metrics.UploadBytes.Add(float64(res.Size))
	room, who := h.attribute(r)
	h.publishFrame(room, uploadFinishFrame{Kind: kindUploadFinish, By: who, Path: res.Path, Size: res.Size, SHA256: res.SHA256})
	h.publish(room, &Message{Event: &Event{Who: who.Name, Action: actionUpload, Path: res.Path, Via: viaDav, Bytes: res.Size, At: h.cfg.Now().UTC()}})
}

// ShareLink is a share link as the room sees it download: package server
// builds it from the link, which hub does not know.
type ShareLink struct {
	// Room is the room the link was made for; "" or a name the protocol
	// refuses is the default room.
	Room string
	// Ref tells links apart (a prefix of a hash of the id); never the id,
	// which is the key to the link.
	Ref string
	// Label is the name the link's owner gave it; "" shows as "share link".
	Label string
}

// RecordLinkDownload puts a download through a share link in the link's
// room's feed, with via "link" and the link's label as who. It shares the
// budget of feed events of fetches by people without a session
// (Config.FetchEvents).
func (h *Hub) RecordLinkDownload(l ShareLink, path string, bytes int64) {
	h.cfg.Metrics.Fetches.WithLabelValues(viaLink).Inc()
	// The budget of fetches by anyone without a session: a link passed
	// around widely must not flood the feed.
	if !h.fetchBudget(nil).Allow() {
		h.cfg.Metrics.FetchesUnannounced.Inc()
		return
	}
	room := l.Room
	if !ValidRoom(room) {
		room = h.cfg.DefaultRoom
	}
	name := l.Label
	if name == "" {
		name = "share link"
	}
	h.publish(room, &Message{Event: &Event{Who: name, Action: actionFetch, Path: path, Via: viaLink, Bytes: bytes, At: h.cfg.Now().UTC()}})
}
