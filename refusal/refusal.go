// Package refusal writes the one body with which every door of the server
// refuses an HTTP request to a script: {"error":{"code":…,"message":…}}
// (docs/protocol.md), so that a page can tell a refusal, and why, from an
// outage. The WebSocket handshakes (/ws, /_/echo), the access-token gate
// and the drop links all answer with it.
package refusal

import (
	"encoding/json"
	"net/http"
)

// body is the refusal as it travels.
type body struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Write answers status with the refusal of code (a protocol error code,
// such as "forbidden") and msg (safe to show).
func Write(w http.ResponseWriter, status int, code, msg string) {
	var b body
	b.Error.Code, b.Error.Message = code, msg
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(b)
}
