package hub

// This file is the only place that spells the wire format of ../shared/protocol.md:
// one constant per kind, one struct per frame, the error codes and the close
// codes. Everything else in the package builds these structs and never writes
// a field name by hand.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"filehub/files"
	"filehub/vocab"
)

// Kinds a client sends.
const (
	kindGet     = "get"
	kindShare   = "share"
	kindList    = "list"
	kindChat    = "chat"
	kindSnippet = "snippet"
	kindRename  = "rename"
	kindWho     = "who"
	kindPing    = "ping"
	kindSearch  = "search" // extension: search the folder's names
)

// Kinds the server sends.
const (
	kindWelcome        = "welcome"
	kindPresence       = "presence"
	kindCount          = "count" // extension: coalesced presence in a crowded room
	kindFeed           = "feed"
	kindFile           = "file"
	kindFileStart      = "file-start"
	kindFileEnd        = "file-end"
	kindShared         = "shared"
	kindListing        = "listing"
	kindMembers        = "members"
	kindUploadProgress = "upload-progress"
	kindUploadFinish   = "upload-finish"
	kindUploadAbort    = "upload-abort" // extension: an upload that did not finish
	kindPong           = "pong"
	kindError          = "error"
	kindBatch          = "batch"
	kindFS             = "fs"
	kindResults        = "results" // extension: the answer to search
)

// Presence events.
const (
	eventJoin   = "join"
	eventLeave  = "leave"
	eventRename = "rename"
)

// Feed actions and transports.
const (
	actionFetch  = "fetch"
	actionShare  = "share"
	actionUpload = "upload"
	viaHTTP      = "http"
	viaWS        = "ws"
	viaDrop      = "drop" // an upload through a drop link
	viaDav       = "dav"  // a file written through a WebDAV mount
	viaLink      = "link" // a download through a share link
)

// Error codes carried by error frames and by the JSON body of a refused handshake.
const (
	codeBadRequest  = "bad_request"
	codeUnknownKind = "unknown_kind"
	codeNotFound    = "not_found"
	codeForbidden   = "forbidden"
	codeTooLarge    = "too_large"
	codeRateLimited = "rate_limited"
	codeInternal    = "internal"
	codeChanged     = "changed"     // extension: the file changed while it was streamed
	codeAborted     = "aborted"     // extension: a growing share\'s upload did not finish
	codeUnavailable = "unavailable" // extension: search while the server keeps no index (ErrUnavailable)
)

// ErrUnavailable is what Config.Search answers when it cannot search now
// (the server keeps no index of the folder): the error code "unavailable".
var ErrUnavailable = errors.New("hub: search unavailable")

// Close codes the server sends, each with the reason a client should act on.
const (
	// closeGoingAway: the server is shutting down; reconnect with since.
	closeGoingAway = 1001
	// closeInvalidData: a text frame that is not UTF-8 (RFC 6455 §8.1).
	closeInvalidData = 1007
	// closePolicy: the session kept sending after being rate limited.
	closePolicy = 1008
	// closeTooBig: a message over limits.message. gorilla/websocket sends it
	// itself when the read limit trips; listed here for the documentation.
	closeTooBig = 1009
	// closeTryAgainLater: the session fell too far behind (its oldest
	// undelivered frame waited over Config.MaxLag, or its queue outgrew
	// Config.QueueBytes) and was dropped rather than slowing the room;
	// reconnect with since and epoch.
	closeTryAgainLater = 1013
)

// envelope is the first decoding step: only the kind and the request id.
type envelope struct {
	Kind *string `json:"kind"`
	ID   *string `json:"id"`
}

// Requests, the second decoding step.
type (
	pathRequest    struct{ Path string }
	chatRequest    struct{ Text string }
	snippetRequest struct{ Text, Title string }
	renameRequest  struct{ Name string }
	whoRequest     struct{ Limit int } // extension: at most Limit members (0: all)
	// searchRequest: extension. Q is required; Path scopes it to a folder
	// ("" the whole tree); Limit 0 is the searcher's default.
	searchRequest struct {
		Q     string
		Path  string
		Limit int
	}
)

// MemberRef identifies a session to the others.
type MemberRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Limits tells a client the sizes the server enforces, in bytes.
type limits struct {
	Inline  int64 `json:"inline"`
	Upload  int64 `json:"upload"` // 0: uploads are off
	Message int64 `json:"message"`
}

// Event is one entry of a room's feed: who fetched, shared or uploaded what.
type Event struct {
	Seq    uint64    `json:"seq"`
	Prev   uint64    `json:"-"` // the seq of the room's event before this one: how recovery knows none is missing
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	Action string    `json:"action"`
	Path   string    `json:"path"`
	Via    string    `json:"via"`
	Bytes  int64     `json:"bytes"`
}

type welcomeFrame struct {
	Kind    string      `json:"kind"`
	You     MemberRef   `json:"you"`
	Room    string      `json:"room"`
	Count   int         `json:"count"`
	Members []MemberRef `json:"members"`
	Feed    []Event     `json:"feed"` // never null
	// Chat is the room's recent chat and snippet frames, as sent; never null.
	Chat  []json.RawMessage `json:"chat"`
	Epoch string            `json:"epoch"`
	// Recovered is set when the join gave since: true only when Epoch is
	// the join's and Feed holds every event after since.
	Recovered *bool  `json:"recovered,omitempty"`
	Limits    limits `json:"limits"`
	Version   string `json:"version"`
}

type presenceFrame struct {
	Kind  string    `json:"kind"`
	Event string    `json:"event"`
	Who   MemberRef `json:"who"`
	Count int       `json:"count"`
}

// countFrame replaces presence frames in a room above Config.PresenceThreshold:
// at most one per Config.PresenceInterval, with what changed since the last.
type countFrame struct {
	Kind   string `json:"kind"`
	Count  int    `json:"count"`
	Joined int    `json:"joined"`
	Left   int    `json:"left"`
}

type feedFrame struct {
	Kind  string `json:"kind"`
	Event Event  `json:"event"`
}

// fileMeta is what file, file-start and shared frames say of a file.
type fileMeta struct {
	Path     string    `json:"path"`
	Size     int64     `json:"size"`
	Type     string    `json:"type"`
	Modified time.Time `json:"modified"`
}

type fileFrame struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
	fileMeta
	Encoding string `json:"encoding"`
	Content  string `json:"content"`
}

type fileStartFrame struct {
	Kind   string `json:"kind"`
	ID     string `json:"id,omitempty"`
	Stream uint32 `json:"stream"`
	fileMeta
	// Growing: the file is still being uploaded; Size is what the uploader
	// said it would be (-1: it did not say).
	Growing bool `json:"growing,omitempty"`
}

type fileEndFrame struct {
	Kind   string `json:"kind"`
	ID     string `json:"id,omitempty"`
	Stream uint32 `json:"stream"`
	SHA256 string `json:"sha256"`
}

type sharedFrame struct {
	Kind string    `json:"kind"`
	By   MemberRef `json:"by"`
	fileMeta
	URL      string `json:"url"`
	Encoding string `json:"encoding,omitempty"`
	Content  string `json:"content,omitempty"`
	// Stream is this member's stream of a file shared as it uploads: the
	// bytes follow on it, from byte 0.
	Stream uint32 `json:"stream,omitempty"`
	// Growing: the file is still being uploaded (and this member follows
	// it on no stream: it is at its streams' limit, or on another node);
	// upload-finish tells when it is in place.
	Growing bool `json:"growing,omitempty"`
}

type listingFrame struct {
	Kind    string       `json:"kind"`
	ID      string       `json:"id,omitempty"`
	Path    string       `json:"path"`
	Entries []files.Info `json:"entries"`
}

// SearchHit is one result of a search: the file or folder as a listing
// shows it, and Match, "name" (its name holds the query) or "path" (only
// a folder above it does).
type SearchHit struct {
	files.Info
	Match string `json:"match"`
}

// SearchResult is what Config.Search answers: Path the folder searched
// ("docs/", "" for the whole tree), Total every match, Hits the best ones,
// best first.
type SearchResult struct {
	Path  string
	Total int
	Hits  []SearchHit
}

// resultsFrame answers a search frame, to its sender only.
type resultsFrame struct {
	Kind    string      `json:"kind"`
	ID      string      `json:"id,omitempty"`
	Q       string      `json:"q"`
	Path    string      `json:"path"`
	Total   int         `json:"total"`
	Results []SearchHit `json:"results"` // never null
}

// chatFrame is a chat line. Its seq, the room's offset, is given where
// the history is kept (withSeq): the frame is encoded before that.
type chatFrame struct {
	Kind string    `json:"kind"`
	From MemberRef `json:"from"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// snippetFrame is text to copy, shown as text, never as markup; its seq
// comes as a chat line's does.
type snippetFrame struct {
	Kind  string    `json:"kind"`
	From  MemberRef `json:"from"`
	Text  string    `json:"text"`
	Title string    `json:"title"`
	At    time.Time `json:"at"`
}

// Change is one change to the served folder, made by anything (an upload,
// a shell, a sync tool), as an fs frame tells it; vocab's, since watch
// makes them without importing hub.
type Change = vocab.Change

// Change ops.
const (
	FSAdd    = vocab.FSAdd
	FSChange = vocab.FSChange
	FSRemove = vocab.FSRemove
)

type fsFrame struct {
	Kind string `json:"kind"`
	Change
}

type membersFrame struct {
	Kind    string      `json:"kind"`
	ID      string      `json:"id,omitempty"`
	Count   int         `json:"count"`
	Members []MemberRef `json:"members"`
}

type uploadProgressFrame struct {
	Kind     string    `json:"kind"`
	By       MemberRef `json:"by"`
	Path     string    `json:"path"`
	Received int64     `json:"received"`
	Size     int64     `json:"size"` // -1 when the client did not say
}

type uploadFinishFrame struct {
	Kind   string    `json:"kind"`
	By     MemberRef `json:"by"`
	Path   string    `json:"path"`
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"`
}

type uploadAbortFrame struct {
	Kind     string    `json:"kind"`
	By       MemberRef `json:"by"`
	Path     string    `json:"path"`
	Received int64     `json:"received"`
	Reason   string    `json:"reason"` // reasonInterrupted, reasonExists, or an error code
}

// Reasons of upload-abort besides the error codes (too_large, bad_request,
// not_found, forbidden, internal).
const (
	// reasonInterrupted: the body was cut off. An upload sent with
	// ?resume=KEY keeps the received bytes, and its client may go on.
	reasonInterrupted = "interrupted"
	// reasonExists: another upload took the name first (no overwrite).
	reasonExists = "exists"
)

// abortReason says in a word why an upload did not finish; like errorCode,
// it never carries a detail of the server.
func abortReason(err error) string {
	switch {
	case errors.Is(err, files.ErrIncomplete):
		return reasonInterrupted
	case errors.Is(err, files.ErrExists):
		return reasonExists
	}
	code, _ := errorCode(err)
	return code
}

type errorFrame struct {
	Kind    string `json:"kind"`
	ID      string `json:"id,omitempty"`
	Stream  uint32 `json:"stream,omitempty"` // the stream it ends, for a stream nobody asked for (a growing share)
	Code    string `json:"code"`
	Message string `json:"message"`
}

// maxIDLen bounds the id a request may carry.
const maxIDLen = 64

// protoError is an error that knows its protocol code and a message safe to show.
type protoError struct {
	code, msg string
}

func (e *protoError) Error() string { return e.code + ": " + e.msg }

func badRequest(format string, args ...any) error {
	return &protoError{code: codeBadRequest, msg: fmt.Sprintf(format, args...)}
}

// decodeEnvelope is the first decoding step. It fails for anything that is
// not a JSON object with a string kind and, when present, a string id of at
// most maxIDLen characters; the id is returned whenever it could be read, so
// that the error can carry it.
func decodeEnvelope(data []byte) (kind, id string, err error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		var raw struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(data, &raw) // best effort, to echo the id back
		if len(raw.ID) > maxIDLen {
			raw.ID = ""
		}
		return "", raw.ID, badRequest("a frame must be a JSON object with a string kind")
	}
	if env.ID != nil {
		if len(*env.ID) > maxIDLen {
			return "", "", badRequest("id is longer than %d characters", maxIDLen)
		}
		id = *env.ID
	}
	if env.Kind == nil || *env.Kind == "" {
		return "", id, badRequest("kind is missing")
	}
	return *env.Kind, id, nil
}

// decodeBody is the second decoding step, into the kind's own struct.
func decodeBody(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return badRequest("malformed fields: %s", fieldError(err))
	}
	return nil
}

// fieldError names the offending field without echoing the client's bytes.
func fieldError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field + " must be a " + te.Type.String()
	}
	return "invalid JSON"
}

// errorCode maps an error to its protocol code and a message safe to send.
// Files errors go through files.HTTPStatus, the one table of statuses, so the
// protocol and HTTP always agree on what an error is.
func errorCode(err error) (code, msg string) {
	var pe *protoError
	if errors.As(err, &pe) {
		return pe.code, pe.msg
	}
	if errors.Is(err, ErrUnavailable) {
		return codeUnavailable, "search is not available on this server"
	}
	switch files.HTTPStatus(err) {
	case http.StatusBadRequest:
		return codeBadRequest, "bad path"
	case http.StatusNotFound:
		return codeNotFound, "no such file or folder"
	case http.StatusForbidden:
		return codeForbidden, "forbidden"
	case http.StatusRequestEntityTooLarge:
		return codeTooLarge, "too large"
	}
	return codeInternal, "internal error"
}

// withSeq returns an encoded chat or snippet frame with the room's seq
// for it as its last field, "seq", without decoding it again: the kind
// stays first, as in every frame.
func withSeq(frame []byte, seq uint64) []byte {
	n := len(frame)
	if n < 2 || frame[n-1] != '}' {
		return frame
	}
	b := make([]byte, 0, n+28)
	b = append(b, frame[:n-1]...)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	return append(b, '}')
}

// batchPrefix and batchSuffix wrap already encoded frames into one batch
// frame without decoding them again.
var (
	batchPrefix = []byte(`{"kind":"batch","frames":[`)
	batchSuffix = []byte(`]}`)
)

// marshal encodes a frame. Frames are JSON read by scripts, never HTML, so
// "<", ">" and "&" are written as themselves, not as six-byte \u003c
// escapes: a snippet of 65,536 "<" is 64 KiB on the wire, not 384 KiB.
// The page puts every string in with textContent (web/static/dom.js).
func marshal(v any) ([]byte, error) {
	buf := encodeBufs.Get().(*bytes.Buffer)
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	var out []byte
	if err == nil {
		out = bytes.Clone(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	if buf.Cap() <= 64<<10 { // a snippet's buffer is not kept for chat lines
		encodeBufs.Put(buf)
	}
	return out, err
}

// encodeBufs are marshal's buffers.
var encodeBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}
