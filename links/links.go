// Package links is filehub's share links: a URL that lets someone without
// access download one file, or one folder (its files, its listing, its
// zip), and nothing else, until it expires, is revoked or has been
// downloaded as often as it may. The counterpart of drop links (package
// drops), which let someone send.
//
// A link's id is its capability: 130 random bits (crypto/rand), never
// logged (logs and the room name a link by Ref, a prefix of a hash of its
// id), looked up by a hash of the id. A link may also need a password,
// kept only as a bcrypt hash; wrong passwords are counted by the caller's
// Guard (package server passes the token gate's lockout).
//
// Links are kept by a drops.Keeper, as drop links are: a state file on a
// single node, a NATS bucket shared by every node of a cluster. Every
// change is a compare-and-swap on the link's revision, so that a download
// limit holds across nodes: a download takes its count before a byte is
// sent, and two nodes can never both take the last one.
//
// The package knows neither the rooms nor the token: package server gives
// the handlers the feed's hooks and puts the owner's doors behind the gate.
package links

import (
	"context"
	"crypto/hmac"
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
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"filehub/drops"
	"filehub/vocab"
)

// Errors of Links. status maps each to an HTTP status.
var (
	// ErrNotFound is an id no link has, or one malformed (404).
	ErrNotFound = fmt.Errorf("links: no such link: %w", fs.ErrNotExist)
	// ErrGone is a link that expired, was revoked or was downloaded as
	// often as it may be (410).
	ErrGone = errors.New("links: the link expired, was revoked or was used up")
	// ErrInvalid is a request to create a link that cannot be honoured (400).
	ErrInvalid = errors.New("links: invalid request")
	// ErrPassword is a link that needs its password, or a wrong one (401).
	ErrPassword = errors.New("links: password required")
	// ErrTooMany is a new link while Config.MaxLinks are live (409).
	ErrTooMany = errors.New("links: too many live links")
	// ErrUnavailable is a Keeper that failed (503).
	ErrUnavailable = errors.New("links: links unavailable")
)

// problem is an invalid request (ErrInvalid), with what is wrong in words
// safe to send back.
type problem struct{ msg string }

func (p *problem) Error() string { return "links: invalid request: " + p.msg }
func (p *problem) Unwrap() error { return ErrInvalid }

func invalid(format string, a ...any) error { return &problem{fmt.Sprintf(format, a...)} }

// Link is one share link, as it is kept.
type Link struct {
	ID      string    `json:"id"`   // the capability; see Ref
	Path    string    `json:"path"` // the file or folder, clean: "docs/a.pdf", "." for the root
	Dir     bool      `json:"dir"`
	Label   string    `json:"label,omitempty"` // who the room sees downloading ("": "share link")
	Room    string    `json:"room,omitempty"`  // the room told of downloads ("": the default room)
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// PassHash is the bcrypt hash of the password; "" for none.
	PassHash     string    `json:"pass_hash,omitempty"`
	MaxDownloads int       `json:"max_downloads,omitempty"` // 0: no limit
	Downloads    int       `json:"downloads"`
	Revoked      time.Time `json:"revoked,omitzero"`
}

// Ended is when the link stopped working: its revocation, else its expiry.
func (l Link) Ended() time.Time {
	if !l.Revoked.IsZero() {
		return l.Revoked
	}
	return l.Expires
}

// Live tells whether the link works at now: not revoked, not expired, not
// used up.
func (l Link) Live(now time.Time) bool {
	return l.Revoked.IsZero() && now.Before(l.Expires) && (l.MaxDownloads <= 0 || l.Downloads < l.MaxDownloads)
}

// Request asks for a new link.
type Request struct {
	// Path is the file or folder ("docs/a.pdf", "docs/", "" for the root).
	// The caller checks and cleans it.
	Path string `json:"path"`
	// Expires is how long the link works: "30m", "24h", "7d". Required;
	// at least a minute, at most Config.MaxExpiry.
	Expires string `json:"expires"`
	// Password, when set, is asked of whoever opens the link: 8 to 256
	// bytes. Only its hash is kept.
	Password     string `json:"password"`
	MaxDownloads int    `json:"max_downloads"`
	Label        string `json:"label"`
	Room         string `json:"room"`
}

const (
	minExpiry   = time.Minute
	maxLabel    = 64
	minPassword = 8
	maxPassword = 72 // bcrypt reads no further
	idAlphabet  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	idLen       = 26 // rand.Text: 130 random bits
	casTries    = 32
	refLen      = 8
)

// Config configures Links. Zero values mean the default.
type Config struct {
	// Keeper keeps the links. Defaults to drops.Memory(): links that do
	// not survive a restart.
	Keeper drops.Keeper
	// MaxExpiry is the longest a link may work. Defaults to 30 days.
	MaxExpiry time.Duration
	// MaxLinks bounds the live links at once. Defaults to 1,000.
	MaxLinks int
	// KeepGone is how long a link that ended is remembered, to answer 410
	// rather than 404. Defaults to 30 days.
	KeepGone time.Duration
	// BcryptCost is the cost of password hashes. Defaults to
	// bcrypt.DefaultCost (10: about 50 ms a check on one core).
	BcryptCost int
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// Links is the set of share links. Its methods are safe for concurrent use.
type Links struct {
	cfg  Config
	keep drops.Keeper
	log  *slog.Logger
}

// New returns the links kept by cfg.Keeper.
func New(cfg Config) *Links {
	if cfg.Keeper == nil {
		cfg.Keeper = drops.Memory()
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
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
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

func keyOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

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

// Create makes a new link for p (clean, as files.Store.Clean gives it;
// dir tells whether it is a folder: the caller looked) from req.
func (l *Links) Create(ctx context.Context, p string, dir bool, req Request) (Link, error) {
	if req.Expires == "" {
		return Link{}, invalid("expires is required: a duration such as 24h or 7d")
	}
	d, err := drops.ParseExpiry(req.Expires)
	if err != nil {
		return Link{}, invalid("expires: %v", err)
	}
	if d < minExpiry || d > l.cfg.MaxExpiry {
		return Link{}, invalid("expires must be between 1m and %s", l.cfg.MaxExpiry)
	}
	if req.MaxDownloads < 0 {
		return Link{}, invalid("max_downloads is 0 (no limit) or more")
	}
	label := strings.TrimSpace(req.Label)
	if !validLabel(label) {
		return Link{}, invalid("label must be at most %d printable characters", maxLabel)
	}
	if req.Room != "" && !vocab.ValidRoom(req.Room) {
		return Link{}, invalid("room must be 1-64 of A-Z a-z 0-9 . _ -")
	}
	var hash string
	if req.Password != "" {
		if len(req.Password) < minPassword || len(req.Password) > maxPassword {
			return Link{}, invalid("password must be %d to %d bytes", minPassword, maxPassword)
		}
		h, err := bcrypt.GenerateFromPassword([]byte(req.Password), l.cfg.BcryptCost)
		if err != nil {
			return Link{}, fmt.Errorf("links: hashing the password: %w", err)
		}
		hash = string(h)
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
		ID: rand.Text(), Path: p, Dir: dir, Label: label, Room: req.Room,
		Created: now, Expires: now.Add(d).Truncate(time.Second),
		PassHash: hash, MaxDownloads: req.MaxDownloads,
	}
	val, err := json.Marshal(link)
	if err != nil {
		return Link{}, err
	}
	if err := l.keep.Create(ctx, keyOf(link.ID), val); err != nil {
		return Link{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	l.log.Info("share link created", "link", Ref(link.ID), "path", p, "label", label, "room", req.Room,
		"expires", link.Expires, "password", hash != "", "max_downloads", link.MaxDownloads)
	return link, nil
}

func validLabel(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxLabel {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

// List returns the live links, the newest first, and forgets those that
// ended more than Config.KeepGone ago.
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
			if err := l.keep.Delete(ctx, e.Key, e.Rev); err != nil && !errors.Is(err, drops.ErrConflict) {
				l.log.Warn("forget link", "link", e.Key[:refLen], "err", err)
			}
		}
	}
	slices.SortFunc(live, func(a, b Link) int { return b.Created.Compare(a.Created) })
	return live, nil
}

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
	if subtle.ConstantTimeCompare([]byte(link.ID), []byte(id)) != 1 {
		return Link{}, 0, ErrNotFound
	}
	return link, rev, nil
}

// Open returns the live link of id: ErrNotFound for an id no link has,
// ErrGone for one that ended.
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
// newest revision each time another change came first.
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
		case errors.Is(err, drops.ErrConflict) && try < casTries && ctx.Err() == nil:
			continue
		}
		return Link{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
}

// Revoke ends the link of id now: ErrNotFound when there is none, ErrGone
// when it ended already. A download under way finishes.
func (l *Links) Revoke(ctx context.Context, id string) error {
	now := l.cfg.Now().UTC()
	link, err := l.change(ctx, id, func(link *Link) error {
		if !link.Revoked.IsZero() || !now.Before(link.Expires) {
			return ErrGone
		}
		link.Revoked = now
		return nil
	})
	if err == nil {
		l.log.Info("share link revoked", "link", Ref(id), "path", link.Path, "label", link.Label)
	}
	return err
}

// TakeDownload counts one download of the live link of id, before a byte
// is sent: past MaxDownloads it is ErrGone, and two downloads, on one
// node or on two, never both take the last one.
func (l *Links) TakeDownload(ctx context.Context, id string) (Link, error) {
	now := l.cfg.Now()
	return l.change(ctx, id, func(link *Link) error {
		if !link.Live(now) {
			return ErrGone
		}
		link.Downloads++
		return nil
	})
}

// CheckPassword reports whether pass is the password of link (one with
// none takes any). It takes bcrypt's time: the caller limits the tries.
func CheckPassword(link Link, pass string) bool {
	if link.PassHash == "" {
		return true
	}
	return bcrypt.CompareHashAndPassword([]byte(link.PassHash), []byte(pass)) == nil
}

// Unlock is the value of the cookie that shows the password was given:
// a MAC of the link's id under its password hash, which only a server
// that keeps the link can make, the same on every node, and which dies
// with the link.
func Unlock(link Link) string {
	m := hmac.New(sha256.New, []byte(link.PassHash))
	m.Write([]byte("filehub share link unlocked\x00" + link.ID))
	return hex.EncodeToString(m.Sum(nil))
}

// Unlocked reports whether cookie is link's Unlock value.
func Unlocked(link Link, cookie string) bool {
	return link.PassHash == "" || hmac.Equal([]byte(cookie), []byte(Unlock(link)))
}
