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
