// Package drops is filehub's drop links: a URL that lets someone without
// access upload files into one folder, and nothing else, until it expires
// or is revoked.
//
// A link's id is its capability: 130 random bits (crypto/rand), never
// logged (logs name a link by Ref, a prefix of a hash of its id), looked up
// by a hash of the id so that no comparison's timing depends on it. A link
// grants uploading new files into its folder, within its limits: no
// reading, no listing, no joining a room, no replacing a file.
//
// Links are kept by a Keeper: a state file for a single node (File), or a
// key-value bucket that every node of a cluster shares (in package
// cluster). Every change is a compare-and-swap on the link's revision, so
// that the counts of max_bytes and max_files hold across nodes: an upload
// reserves its file and its bytes before it receives a byte, and two nodes
// can never both take the last of them.
//
// The package knows neither the rooms nor the page: package server gives the
// handlers the page to serve and the feed's hooks (Hooks), and checks the
// token before the owner's doors (Handlers).
package drops

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"filehub/files"
	"filehub/vocab"
)

// Errors of Links. Status maps each to an HTTP status.
var (
	// ErrNotFound is an id no link has, or one malformed (404).
	ErrNotFound = fmt.Errorf("drops: no such link: %w", fs.ErrNotExist)
	// ErrGone is a link that expired or was revoked (410).
	ErrGone = errors.New("drops: the link expired or was revoked")
	// ErrInvalid is a request to create a link that cannot be honoured: a
	// bad expiry, limit, label or room (400).
	ErrInvalid = errors.New("drops: invalid request")
	// ErrFull is an upload past the link's max_files (403).
	ErrFull = errors.New("drops: the link took all the files it may")
	// ErrTooLarge is an upload past the link's max_bytes, counted over all
	// its uploads, or past the server's largest upload (413).
	ErrTooLarge = errors.New("drops: over the link's bytes")
	// ErrTooMany is a new link while Config.MaxLinks are live (409).
	ErrTooMany = errors.New("drops: too many live links")
	// ErrUnavailable is a Keeper that failed: a state file that cannot be
	// written, a cluster that cannot be reached (503).
	ErrUnavailable = errors.New("drops: links unavailable")
	// ErrConflict is a Keeper's answer to a change made from a revision
	// that is no longer the key's (or a Create of a key that exists): the
	// change is tried again from the new revision.
	ErrConflict = errors.New("drops: changed meanwhile")
)

// problem is an invalid request (ErrInvalid), with what is wrong in words
// safe to send back.
type problem struct{ msg string }

func (p *problem) Error() string { return "drops: invalid request: " + p.msg }
func (p *problem) Unwrap() error { return ErrInvalid }

func invalid(format string, a ...any) error { return &problem{fmt.Sprintf(format, a...)} }

// Keeper keeps the links, each as an opaque value under a key, with a
// revision that changes with every change. Every change is conditional on
// the revision (compare-and-swap), which is what makes the limits hold
// when several nodes share one Keeper. Implementations are safe for
// concurrent use.
type Keeper interface {
	// Get returns key's value and revision; an error wrapping
	// fs.ErrNotExist when there is none.
	Get(ctx context.Context, key string) (value []byte, rev uint64, err error)
	// Create adds key; ErrConflict when it exists.
	Create(ctx context.Context, key string, value []byte) error
	// Update replaces key's value if its revision is still rev;
	// ErrConflict otherwise.
	Update(ctx context.Context, key string, value []byte, rev uint64) error
	// Delete removes key if its revision is still rev; ErrConflict
	// otherwise. A key already gone is no error.
	Delete(ctx context.Context, key string, rev uint64) error
	// List returns every key with its value and revision.
	List(ctx context.Context) ([]Entry, error)
}

// Entry is one key of a Keeper.
type Entry struct {
	Key   string
	Value []byte
	Rev   uint64
}

// Link is one drop link, as it is kept.
type Link struct {
	ID       string    `json:"id"`              // the capability; see Ref
	Path     string    `json:"path"`            // the folder, clean: "incoming", "." for the root
	Label    string    `json:"label,omitempty"` // who the room sees uploading ("" : "drop link")
	Room     string    `json:"room,omitempty"`  // the room told of uploads ("" : the default room)
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	MaxBytes int64     `json:"max_bytes,omitempty"` // 0: no limit but the server's per upload
	MaxFiles int       `json:"max_files,omitempty"` // 0: no limit
	// Bytes and Files count what the link took, the uploads under way
	// included (reserved): Bytes is their declared size, or what is left
	// of MaxBytes for a body of unknown length, until they end.
	Bytes   int64     `json:"bytes"`
	Files   int       `json:"files"`
	Revoked time.Time `json:"revoked,omitzero"`
}

// Ended is when the link stopped working: its revocation, else its expiry.
func (l Link) Ended() time.Time {
	if !l.Revoked.IsZero() {
		return l.Revoked
	}
	return l.Expires
}

// Live tells whether the link works at now.
func (l Link) Live(now time.Time) bool {
	return l.Revoked.IsZero() && now.Before(l.Expires)
}

// Request asks for a new link.
type Request struct {
	// Path is the folder, as every path is written ("incoming/", "" for
	// the root). The caller checks and cleans it.
	Path string `json:"path"`
	// Expires is how long the link works: a duration such as "30m",
	// "24h" or "7d". Required; at least a minute, at most Config.MaxExpiry.
	Expires  string `json:"expires"`
	MaxBytes int64  `json:"max_bytes"`
	MaxFiles int    `json:"max_files"`
	Label    string `json:"label"`
	Room     string `json:"room"`
}

const (
	// minExpiry is the shortest a link may work: less is a mistake.
	minExpiry = time.Minute
	// maxLabel bounds a label, in characters: it is a name in the feed.
	maxLabel = 64
	// idAlphabet and idLen are what rand.Text makes: 26 base32
	// characters, 130 random bits.
	idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	idLen      = 26
	// casTries bounds how often a change is tried again from a newer
	// revision: far more than uploads racing for one link need.
	casTries = 32
	// refLen is how many hex digits of the id's hash Ref keeps.
	refLen = 8
	// defaultRoom is a link made without a room: the hub's default room.
	defaultRoom = ""
)

// Config configures Links. Zero values mean the default.
type Config struct {
	// Keeper keeps the links. Defaults to Memory(): links that do not
	// survive a restart.
	Keeper Keeper
	// MaxExpiry is the longest a link may work. Defaults to 30 days.
	MaxExpiry time.Duration
	// MaxLinks bounds the live links at once (a new one beyond is
	// ErrTooMany). Counted from a listing, so that nodes creating links at
	// the same moment may pass it by a few. Defaults to 1,000.
	MaxLinks int
	// KeepGone is how long a link that ended is remembered, to answer 410
	// rather than 404. Defaults to 30 days.
	KeepGone time.Duration
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// Links is the set of drop links. Its methods are safe for concurrent use.
type Links struct {
	cfg  Config
	keep Keeper
	log  *slog.Logger
}

// New returns the links kept by cfg.Keeper.
func New(cfg Config) *Links {
	if cfg.Keeper == nil {
		cfg.Keeper = Memory()
	}
	if cfg.MaxExpiry <= 0 {
		cfg.MaxExpiry = 30 * 24 * time.Hour
	}
	if cfg.MaxLinks <= 0 {
		cfg.MaxLinks = 1000
	}
	if cfg.KeepGone <= 0 {
		cfg.KeepGone = 30 * 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Links{cfg: cfg, keep: cfg.Keeper, log: cfg.Logger}
}

// Ref names a link in logs and to the room: the first 8 hex digits of a
// hash of its id, which tell links apart and give nothing of the id away.
func Ref(id string) string { return keyOf(id)[:refLen] }

// keyOf is the key a link is kept under: the hex SHA-256 of its id. A
// lookup by it takes no time that depends on how much of a guess is right.
func keyOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// validID tells whether s can be an id at all, before anything is looked up.
func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for _, c := range []byte(s) {
		if !strings.ContainsRune(idAlphabet, rune(c)) {
			return false
		}
	}
	return true
}

// ParseExpiry reads how long a link works: a Go duration ("90m", "24h")
// or a number of days ("7d").
func ParseExpiry(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 10000 {
			return 0, fmt.Errorf("%q is not a number of days such as 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 24h or 7d", s)
	}
	return d, nil
}

// Create makes a new link for the folder folder (clean, as files.Store.Clean
// gives it; the caller checked that it is one) from req.
func (l *Links) Create(ctx context.Context, folder string, req Request) (Link, error) {
	if req.Expires == "" {
		return Link{}, invalid("expires is required: a duration such as 24h or 7d")
	}
	d, err := ParseExpiry(req.Expires)
	if err != nil {
		return Link{}, invalid("expires: %v", err)
	}
	if d < minExpiry || d > l.cfg.MaxExpiry {
		return Link{}, invalid("expires must be between %s and %s", durationWords(minExpiry), durationWords(l.cfg.MaxExpiry))
	}
	if req.MaxBytes < 0 || req.MaxFiles < 0 {
		return Link{}, invalid("max_bytes and max_files are 0 (no limit) or more")
	}
	label := strings.TrimSpace(req.Label)
	if !validLabel(label) {
		return Link{}, invalid("label must be at most %d printable characters", maxLabel)
	}
	if req.Room != defaultRoom && !vocab.ValidRoom(req.Room) {
		return Link{}, invalid("room must be 1-64 of A-Z a-z 0-9 . _ -")
	}
	live, err := l.List(ctx)
	if err != nil {
		return Link{}, err
	}
	if len(live) >= l.cfg.MaxLinks {
		return Link{}, fmt.Errorf("%w: %d", ErrTooMany, len(live))
	}
	now := l.cfg.Now().UTC()
	link := Link{
		ID: rand.Text(), Path: folder, Label: label, Room: req.Room,
		Created: now, Expires: now.Add(d).Truncate(time.Second),
		MaxBytes: req.MaxBytes, MaxFiles: req.MaxFiles,
	}
	val, err := json.Marshal(link)
	if err != nil {
		return Link{}, err
	}
	if err := l.keep.Create(ctx, keyOf(link.ID), val); err != nil {
		return Link{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	l.log.Info("drop link created", "link", Ref(link.ID), "path", folder, "label", label, "room", req.Room,
		"expires", link.Expires, "max_bytes", link.MaxBytes, "max_files", link.MaxFiles)
	return link, nil
}

// durationWords writes d as people read it: "1 minute", "30 days".
func durationWords(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}

// validLabel: at most maxLabel characters, valid UTF-8, no control or
// invisible format character (which make a label read as something else),
// and nothing files.CheckVisible refuses in a name: a label is the name
// the room sees uploading.
func validLabel(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxLabel {
		return false
	}
	if s != "" && files.CheckVisible(s) != nil {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

// List returns the live links, the newest first. It forgets the links that
// ended more than Config.KeepGone ago, on the way.
func (l *Links) List(ctx context.Context) ([]Link, error) {
	entries, err := l.keep.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	now := l.cfg.Now()
	var live []Link
	for _, e := range entries {
		var link Link
		if err := json.Unmarshal(e.Value, &link); err != nil {
			l.log.Warn("decode link", "key", e.Key[:min(len(e.Key), refLen)], "err", err)
			continue
		}
		switch {
		case link.Live(now):
			live = append(live, link)
		case now.Sub(link.Ended()) > l.cfg.KeepGone:
			// Any node may do it; the revision makes one delete count.
			if err := l.keep.Delete(ctx, e.Key, e.Rev); err != nil && !errors.Is(err, ErrConflict) {
				l.log.Warn("forget link", "link", e.Key[:refLen], "err", err)
			}
		}
	}
	slices.SortFunc(live, func(a, b Link) int { return b.Created.Compare(a.Created) })
	return live, nil
}

// get reads the link of id, live or not, with its revision.
func (l *Links) get(ctx context.Context, id string) (Link, uint64, error) {
	if !validID(id) {
		return Link{}, 0, ErrNotFound
	}
	val, rev, err := l.keep.Get(ctx, keyOf(id))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Link{}, 0, ErrNotFound
	case err != nil:
		return Link{}, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var link Link
	if err := json.Unmarshal(val, &link); err != nil {
		return Link{}, 0, fmt.Errorf("%w: link %s: %w", ErrUnavailable, Ref(id), err)
	}
	// Found by the hash of id: comparing the ids themselves is a second
	// lock, and in constant time like every comparison of a secret.
	if subtle.ConstantTimeCompare([]byte(link.ID), []byte(id)) != 1 {
		return Link{}, 0, ErrNotFound
	}
	return link, rev, nil
}

// Open returns the live link of id: ErrNotFound for an id no link has,
// ErrGone for one that expired or was revoked.
func (l *Links) Open(ctx context.Context, id string) (Link, error) {
	link, _, err := l.get(ctx, id)
	if err != nil {
		return Link{}, err
	}
	if !link.Live(l.cfg.Now()) {
		return link, ErrGone
	}
	return link, nil
}

// change applies fn to the link of id and keeps the result, from the
// newest revision each time another change came first. fn sees the link
// as kept; its error ends the change.
func (l *Links) change(ctx context.Context, id string, fn func(*Link) error) (Link, error) {
	for try := 0; ; try++ {
		link, rev, err := l.get(ctx, id)
		if err != nil {
			return Link{}, err
		}
		if err := fn(&link); err != nil {
			return link, err
		}
		val, err := json.Marshal(link)
		if err != nil {
			return Link{}, err
		}
		err = l.keep.Update(ctx, keyOf(id), val, rev)
		switch {
		case err == nil:
			return link, nil
		case errors.Is(err, ErrConflict) && try < casTries && ctx.Err() == nil:
			continue
		}
		return Link{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
}

// Revoke ends the link of id now: ErrNotFound when there is none, ErrGone
// when it ended already. An upload under way finishes.
func (l *Links) Revoke(ctx context.Context, id string) error {
	now := l.cfg.Now().UTC()
	link, err := l.change(ctx, id, func(link *Link) error {
		if !link.Live(now) {
			return ErrGone
		}
		link.Revoked = now
		return nil
	})
	if err == nil {
		l.log.Info("drop link revoked", "link", Ref(id), "path", link.Path, "label", link.Label)
	}
	return err
}

// Reservation is what an upload holds of its link while it runs: one file
// and Bytes bytes, given back or settled by Settle.
type Reservation struct {
	id    string
	Bytes int64 // reserved; the body may not be longer
}

// Reserve takes one file and the bytes of an upload from the live link of
// id, before the upload receives a byte: size is the body's length, -1 when
// unknown, and limit the server's largest upload. It returns the link and
// the reservation, whose Bytes bound the body: size when known, else what
// is left of the link's max_bytes, or limit. Past max_files it is ErrFull,
// past max_bytes or limit ErrTooLarge; two uploads, on one node or on two,
// never both take the last of either.
//
// A reservation not settled (the process died) stays counted: a link may
// end up taking less than its limits, never more.
func (l *Links) Reserve(ctx context.Context, id string, size, limit int64) (Link, Reservation, error) {
	now := l.cfg.Now()
	var want int64
	link, err := l.change(ctx, id, func(link *Link) error {
		if !link.Live(now) {
			return ErrGone
		}
		if link.MaxFiles > 0 && link.Files >= link.MaxFiles {
			return fmt.Errorf("%w: %d of %d", ErrFull, link.Files, link.MaxFiles)
		}
		want = size
		switch {
		case size > limit:
			return fmt.Errorf("%w: %d bytes, over the server's %d", ErrTooLarge, size, limit)
		case link.MaxBytes <= 0 && size < 0:
			want = limit // counted at its real size by Settle
		case link.MaxBytes <= 0:
		case size < 0:
			want = min(limit, link.MaxBytes-link.Bytes)
			if want <= 0 {
				return fmt.Errorf("%w: none of %d left", ErrTooLarge, link.MaxBytes)
			}
		case size > link.MaxBytes-link.Bytes:
			return fmt.Errorf("%w: %d bytes, %d of %d left", ErrTooLarge, size, max(0, link.MaxBytes-link.Bytes), link.MaxBytes)
		}
		link.Files++
		if link.MaxBytes > 0 {
			link.Bytes += want
		}
		return nil
	})
	if err != nil {
		return link, Reservation{}, err
	}
	return link, Reservation{id: id, Bytes: want}, nil
}

// Settle ends a reservation: an upload that wrote written bytes (ok) keeps
// its file and counts those bytes, one that failed gives both back. The
// link may have ended meanwhile; it is settled all the same, so that its
// counts stay right. ctx should outlive the request, whose end is often
// why an upload failed.
func (l *Links) Settle(ctx context.Context, r Reservation, written int64, ok bool) {
	_, err := l.change(ctx, r.id, func(link *Link) error {
		switch {
		case ok && link.MaxBytes > 0:
			link.Bytes += written - r.Bytes
		case ok:
			link.Bytes += written
		default:
			link.Files--
			if link.MaxBytes > 0 {
				link.Bytes -= r.Bytes
			}
		}
		link.Files = max(0, link.Files)
		link.Bytes = max(0, link.Bytes)
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		l.log.Warn("settle upload; the link counts it as still under way", "link", Ref(r.id), "err", err)
	}
}
