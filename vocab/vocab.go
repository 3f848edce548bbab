// Package vocab is the protocol's vocabulary that more than one package
// speaks (docs/protocol.md): the room-name rule, the folder-change type and
// whether a request wants a JSON answer. It is a leaf: hub, drops, watch
// and the server's gate import it instead of one another, so that drops
// and watch need not link hub (and melody and Prometheus with it) for a
// rule of ten lines. The refusal body and the origin rule are leaves of
// their own, refusal/ and origin/; package server's boundary test keeps
// all three leaves.
package vocab

import (
	"net/http"
	"strings"
	"time"
)

// MaxRoom is the longest room name, in bytes.
const MaxRoom = 64

// ValidRoom is the protocol's rule for a room name: 1–64 of A-Z a-z 0-9
// . _ - (docs/protocol.md).
func ValidRoom(s string) bool {
	if len(s) < 1 || len(s) > MaxRoom {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Change is one change to the served folder, made by anything (an upload,
// a shell, a sync tool), as an fs frame tells it.
type Change struct {
	Op       string    `json:"op"` // FSAdd, FSChange, FSRemove
	Path     string    `json:"path"`
	Dir      bool      `json:"dir"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// Change ops.
const (
	FSAdd    = "add"
	FSChange = "change"
	FSRemove = "remove"
)

// WantsJSON reports whether r asks for JSON: its Accept names
// application/json (a script, not a browser's navigation). files has the
// same rule of its own, since files imports no filehub package.
func WantsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "application/json") {
			return true
		}
	}
	return false
}
