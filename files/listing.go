package files

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Entry is one entry of a folder as a Lister holds it: what Info says but
// the path, which is its folder's path and its name. A Lister's entries are
// shared by every listing that writes them, so they never change once
// handed out.
type Entry struct {
	Name string
	Type string // ContentType(Name); "inode/directory" for folders
	Size int64  // 0 for folders
	Mod  int64  // modification time, Unix nanoseconds
	Dir  bool
}

// NewEntry is the Entry of in.
func NewEntry(in Info) Entry {
	return Entry{Name: in.Name, Type: in.Type, Size: in.Size, Mod: in.Modified.UnixNano(), Dir: in.Dir}
}

// Info is the Entry's Info, in the folder dir (a clean path, "." for the
// root).
func (e *Entry) Info(dir string) Info {
	p := e.Name
	if dir != "." {
		p = dir + "/" + e.Name
	}
	return Info{Path: p, Name: e.Name, Dir: e.Dir, Size: e.Size, Modified: time.Unix(0, e.Mod).UTC(), Type: e.Type}
}

// Sort is the key a listing is sorted by. Folders always come first.
type Sort uint8

// The keys of a listing: by name (bytewise, the default), by size, by
// modification time; ties go by name.
const (
	SortName Sort = iota
	SortSize
	SortModified
	numSorts
)

var sortNames = [numSorts]string{"name", "size", "modified"}

func (k Sort) String() string {
	if k < numSorts {
		return sortNames[k]
	}
	return "sort(" + strconv.Itoa(int(k)) + ")"
}

// ParseSort reads a listing's sort parameter; "" is SortName.
func ParseSort(s string) (Sort, error) {
	if s == "" {
		return SortName, nil
	}
	for i, n := range sortNames {
		if s == n {
			return Sort(i), nil
		}
	}
	return 0, fmt.Errorf("files: sort %q: %w", s, ErrBadQuery)
}

// Compare orders a and b for the key k, ascending: folders first, then the
// key, then the name.
func (k Sort) Compare(a, b *Entry) int {
	if a.Dir != b.Dir {
		if a.Dir {
			return -1
		}
		return 1
	}
	var c int
	switch k {
	case SortSize:
		c = cmpInt(a.Size, b.Size)
	case SortModified:
		c = cmpInt(a.Mod, b.Mod)
	}
	if c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Lister serves folder listings from memory: an index of the folder that
// something else keeps current (the files package knows nothing of how).
// The handler asks it first and lists from the disk when it does not hold
// the folder.
type Lister interface {
	// Listing returns the entries of the folder p (a clean path, "." for
	// the root) sorted by k ascending (Sort.Compare), or ok false when
	// the Lister does not hold p. Neither the slice nor its entries may
	// ever change: listings write them without a lock.
	Listing(p string, k Sort) (ents []*Entry, ok bool)
}

// ErrBadQuery is a listing's sort, order, limit or cursor that cannot be
// understood (400).
var ErrBadQuery = errors.New("bad listing query")

// Listing limits.
const (
	// MaxPage is the most entries one JSON page holds: a larger limit is
	// taken as MaxPage.
	MaxPage = 10000
	// defaultMaxDiskListings is ListConfig.MaxDiskListings's default.
	defaultMaxDiskListings = 4
	// bigListing is how many entries make a listing from the disk large:
	// only those are bounded, since a small one costs little more than
	// its request.
	bigListing = 1000
	// listBuf is the buffer a listing is written through: the memory a
	// listing costs while it is written, whatever the folder's size.
	listBuf = 32 << 10
	// diskListingWait is how long a large listing from the disk waits for
	// its turn before it is refused (503).
	diskListingWait = 10 * time.Second
)

// ListConfig configures the listings of a Handler.
type ListConfig struct {
	// Lister serves listings from memory; nil lists every folder from the
	// disk.
	Lister Lister
	// MaxDiskListings bounds the listings of more than 1,000 entries read
	// from the disk at once (the Lister does not hold the folder, or
	// there is none): each holds the whole folder in memory while it is
	// sorted and written. Others wait up to 10 s for a turn, holding at
	// most the first entries they read, then get 503. Defaults to 4.
	MaxDiskListings int
}

// listQuery is a listing's sort, order and page.
type listQuery struct {
	by     Sort
	desc   bool
	limit  int     // 0: every entry
	after  *cursor // nil: from the start
	hasLim bool
}

// parseListQuery reads sort, order, limit and cursor.
func parseListQuery(q url.Values) (listQuery, error) {
	var lq listQuery
	var err error
	if lq.by, err = ParseSort(q.Get("sort")); err != nil {
		return lq, err
	}
	switch o := q.Get("order"); o {
	case "", "asc":
	case "desc":
		lq.desc = true
	default:
		return lq, fmt.Errorf("files: order %q: %w", o, ErrBadQuery)
	}
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 {
			return lq, fmt.Errorf("files: limit %q: %w", q.Get("limit"), ErrBadQuery)
		}
		lq.limit, lq.hasLim = min(n, MaxPage), true
	}
	if c := q.Get("cursor"); c != "" {
		cur, err := parseCursor(c)
		if err != nil {
			return lq, err
		}
		if cur.by != lq.by || cur.desc != lq.desc {
			return lq, fmt.Errorf("files: a cursor of another order: %w", ErrBadQuery)
		}
		lq.after = &cur
	}
	return lq, nil
}

// cursor is where a page ended: its last entry's place in the order, so
// that the next page starts after it however the folder changed since.
type cursor struct {
	by   Sort
	desc bool
	e    Entry // Dir, Name and the key's field
}

// String is the cursor as it travels: opaque to clients, but plain text
// under base64: "n" (or "s", "m") "a" (or "d"), the folder flag, the
// key, the name.
func (c cursor) String() string {
	b := make([]byte, 0, 32+len(c.e.Name))
	b = append(b, "nsm"[c.by])
	if c.desc {
		b = append(b, 'd')
	} else {
		b = append(b, 'a')
	}
	if c.e.Dir {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	var key int64
	switch c.by {
	case SortSize:
		key = c.e.Size
	case SortModified:
		key = c.e.Mod
	}
	b = strconv.AppendInt(b, key, 10)
	b = append(b, '/')
	b = append(b, c.e.Name...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(s string) (cursor, error) {
	bad := fmt.Errorf("files: cursor %q: %w", s, ErrBadQuery)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 5 || !utf8.Valid(b) {
		return cursor{}, bad
	}
	var c cursor
	switch b[0] {
	case 'n':
		c.by = SortName
	case 's':
		c.by = SortSize
	case 'm':
		c.by = SortModified
	default:
		return cursor{}, bad
	}
	switch b[1] {
	case 'a':
	case 'd':
		c.desc = true
	default:
		return cursor{}, bad
	}
	switch b[2] {
	case '0':
	case '1':
		c.e.Dir = true
	default:
		return cursor{}, bad
	}
	keyS, name, ok := strings.Cut(string(b[3:]), "/")
	if !ok {
		return cursor{}, bad
	}
	key, err := strconv.ParseInt(keyS, 10, 64)
	if err != nil {
		return cursor{}, bad
	}
	switch c.by {
	case SortSize:
		c.e.Size = key
	case SortModified:
		c.e.Mod = key
	}
	c.e.Name = name
	return c, nil
}

// ordered is a folder's entries in a listing's order: ents sorted
// ascending, read backwards within folders and within files for desc, so
// that folders stay first.
type ordered struct {
	ents []*Entry
	nd   int // folders: the first nd of ents
	desc bool
	by   Sort
}

func newOrdered(ents []*Entry, by Sort, desc bool) ordered {
	nd := sort.Search(len(ents), func(i int) bool { return !ents[i].Dir })
	return ordered{ents: ents, nd: nd, desc: desc, by: by}
}

// at is the i-th entry in the listing's order.
func (o ordered) at(i int) *Entry {
	if !o.desc {
		return o.ents[i]
	}
	if i < o.nd {
		return o.ents[o.nd-1-i]
	}
	return o.ents[len(o.ents)-1-(i-o.nd)]
}

// cmp orders a and b in the listing's order.
func (o ordered) cmp(a, b *Entry) int {
	c := o.by.Compare(a, b)
	if o.desc && a.Dir == b.Dir {
		c = -c
	}
	return c
}

// start is where a page that follows c begins.
func (o ordered) start(c *cursor) int {
	if c == nil {
		return 0
	}
	return sort.Search(len(o.ents), func(i int) bool { return o.cmp(o.at(i), &c.e) > 0 })
}

// list answers a listing of the clean folder name: from the Lister when it
// holds the folder, else from the disk, written as it is encoded.
func (h *handler) list(w http.ResponseWriter, r *http.Request, name string) {
	lq, err := parseListQuery(r.URL.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var ents []*Entry
	ok := false
	if h.lists.Lister != nil {
		ents, ok = h.lists.Lister.Listing(name, lq.by)
	}
	if !ok {
		infos, release, err := h.s.listGated(name, bigListing, func() (func(), error) { return h.diskTurn(r.Context()) })
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if release != nil {
			defer release()
		}
		ents = entriesOf(infos, lq.by)
	}
	o := newOrdered(ents, lq.by, lq.desc)
	hd := w.Header()
	hd.Set("Vary", "Accept")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	if WantsJSON(r) {
		hd.Set("Content-Type", "application/json")
		if r.Method == http.MethodHead {
			return
		}
		bw := bufio.NewWriterSize(w, listBuf)
		writeJSONListing(bw, name, o, lq)
		bw.Flush()
		return
	}
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if r.Method == http.MethodHead {
		return
	}
	bw := bufio.NewWriterSize(w, listBuf)
	writeHTMLListing(bw, name, o)
	bw.Flush()
}

// entriesOf is a listing from the disk (folders first, then by name) as
// entries sorted by k.
func entriesOf(infos []Info, k Sort) []*Entry {
	all := make([]Entry, len(infos))
	ents := make([]*Entry, len(infos))
	for i := range infos {
		all[i] = NewEntry(infos[i])
		ents[i] = &all[i]
	}
	if k != SortName {
		slices.SortFunc(ents, k.Compare)
	}
	return ents
}

// diskTurn waits for a turn to write a large listing from the disk.
func (h *handler) diskTurn(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(h.diskWait)
	defer t.Stop()
	select {
	case h.disk <- struct{}{}:
		return func() { <-h.disk }, nil
	case <-t.C:
		return nil, fmt.Errorf("files: a large listing waited %v for its turn: %w", h.diskWait, ErrBusy)
	case <-ctx.Done():
		return nil, fmt.Errorf("files: a large listing: %w", ctx.Err())
	}
}

// writeJSONListing writes {"path","entries","total","next"} as Info's JSON
// would, a page of o.
func writeJSONListing(w *bufio.Writer, dir string, o ordered, lq listQuery) {
	prefix := ""
	if dir != "." {
		prefix = dir + "/"
	}
	w.WriteString(`{"path":`)
	writeJSONString(w, prefix)
	w.WriteString(`,"entries":[`)
	from := o.start(lq.after)
	to := len(o.ents)
	if lq.hasLim && from+lq.limit < to {
		to = from + lq.limit
	}
	var buf []byte
	for i := from; i < to; i++ {
		e := o.at(i)
		if i > from {
			w.WriteByte(',')
		}
		w.WriteString(`{"path":`)
		writeJSONPath(w, prefix, e.Name)
		w.WriteString(`,"name":`)
		writeJSONString(w, e.Name)
		if e.Dir {
			w.WriteString(`,"dir":true,"size":`)
		} else {
			w.WriteString(`,"dir":false,"size":`)
		}
		buf = strconv.AppendInt(buf[:0], e.Size, 10)
		buf = append(buf, `,"modified":"`...)
		buf = time.Unix(0, e.Mod).UTC().AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, `","type":`...)
		w.Write(buf)
		writeJSONString(w, e.Type)
		w.WriteByte('}')
	}
	w.WriteString(`],"total":`)
	buf = strconv.AppendInt(buf[:0], int64(len(o.ents)), 10)
	w.Write(buf)
	if to < len(o.ents) && to > from {
		w.WriteString(`,"next":"`)
		w.WriteString(cursor{by: o.by, desc: o.desc, e: *o.at(to - 1)}.String())
		w.WriteByte('"')
	}
	w.WriteString("}\n")
}

const hexDigits = "0123456789abcdef"

// writeJSONString writes s as a JSON string, as encoding/json would without
// HTML escaping: names are not HTML here, and "<" costs one byte. Names
// are valid UTF-8 without control characters (Clean refuses the others),
// but the escapes are complete anyway.
func writeJSONString(w *bufio.Writer, s string) {
	w.WriteByte('"')
	writeJSONChars(w, s)
	w.WriteByte('"')
}

// writeJSONPath writes prefix+name as one JSON string without joining them.
func writeJSONPath(w *bufio.Writer, prefix, name string) {
	w.WriteByte('"')
	writeJSONChars(w, prefix)
	writeJSONChars(w, name)
	w.WriteByte('"')
}

func writeJSONChars(w *bufio.Writer, s string) {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			w.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				w.WriteByte('\\')
				w.WriteByte(c)
			case '\n':
				w.WriteString(`\n`)
			case '\r':
				w.WriteString(`\r`)
			case '\t':
				w.WriteString(`\t`)
			default:
				w.WriteString(`\u00`)
				w.WriteByte(hexDigits[c>>4])
				w.WriteByte(hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			w.WriteString(s[start:i])
			if r == utf8.RuneError {
				w.WriteString(`\ufffd`)
			} else {
				w.WriteString(`\u202`)
				w.WriteByte(hexDigits[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	w.WriteString(s[start:])
}

// writeHTMLListing writes the page of a listing, every entry of o.
func writeHTMLListing(w *bufio.Writer, dir string, o ordered) {
	shown := "/"
	if dir != "." {
		shown = "/" + dir + "/"
	}
	w.WriteString(htmlHead1)
	template.HTMLEscape(w, []byte(shown))
	w.WriteString(htmlHead2)
	template.HTMLEscape(w, []byte(shown))
	w.WriteString(htmlHead3)
	for i, k := range sortNames {
		w.WriteString(`<th><a href="?sort=`)
		w.WriteString(k)
		// A click on the column sorted ascending sorts it descending.
		if Sort(i) == o.by && !o.desc {
			w.WriteString(`&amp;order=desc`)
		}
		w.WriteString(`">`)
		w.WriteString(htmlColumns[i])
		w.WriteString(`</a></th>`)
	}
	w.WriteString("</tr></thead>\n<tbody>")
	if dir != "." {
		w.WriteString("\n" + `<tr><td><a href="../">../</a></td><td></td><td></td></tr>`)
	}
	var buf []byte
	for i := range o.ents {
		e := o.at(i)
		// "./" keeps a name like "a:b" from reading as a URL scheme.
		buf = append(buf[:0], "\n<tr><td><a href=\"./"...)
		buf = appendHTML(buf, url.PathEscape(e.Name))
		if e.Dir {
			buf = append(buf, "/\">"...)
			buf = appendHTML(buf, e.Name)
			buf = append(buf, "/</a></td><td class=\"n\"></td>"...)
		} else {
			buf = append(buf, "\">"...)
			buf = appendHTML(buf, e.Name)
			buf = append(buf, "</a></td><td class=\"n\">"...)
			buf = appendSize(buf, e.Size)
			buf = append(buf, "</td>"...)
		}
		t := time.Unix(0, e.Mod).UTC()
		buf = append(buf, `<td><time datetime="`...)
		buf = t.AppendFormat(buf, time.RFC3339)
		buf = append(buf, `">`...)
		buf = t.AppendFormat(buf, "2006-01-02 15:04")
		buf = append(buf, "</time></td></tr>"...)
		w.Write(buf)
	}
	w.WriteString(htmlTail)
}

var htmlColumns = [numSorts]string{"Name", "Size", "Modified"}

const (
	htmlHead1 = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Index of `
	htmlHead2 = `</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em}
table{border-collapse:collapse}td,th{padding:.2em 1em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
</style></head><body>
<h1>Index of `
	htmlHead3 = `</h1>
<p><a href="./?zip" download>Download as zip</a></p>
<table>
<thead><tr>`
	htmlTail = "\n</tbody></table></body></html>\n"
)

// appendHTML appends s escaped for HTML text and attribute values.
func appendHTML(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		start = i + 1
	}
	return append(b, s[start:]...)
}

// appendSize appends n as humanSize does, without fmt.
func appendSize(b []byte, n int64) []byte {
	const unit = 1024
	if n < unit {
		b = strconv.AppendInt(b, n, 10)
		return append(b, " B"...)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	b = strconv.AppendFloat(b, float64(n)/float64(div), 'f', 1, 64)
	return append(b, ' ', "KMGTPE"[exp], 'i', 'B')
}
