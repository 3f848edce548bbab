package index

import (
	"container/heap"
	"fmt"
	"io/fs"
	"strings"

	"filehub/files"
)

// Search limits.
const (
	// MaxQuery is the longest query, in bytes once trimmed.
	MaxQuery = 256
	// DefaultResults is a search's limit when none is given.
	DefaultResults = 50
	// MaxResults is the most results a search returns: a larger limit is
	// taken as MaxResults.
	MaxResults = 1000
)

// ErrBadQuery is a search that cannot be run: an empty or too long query,
// a bad limit (400). It wraps files.ErrBadQuery, so that files.HTTPStatus
// (and the hub's codes, which follow it) classify it.
var ErrBadQuery = fmt.Errorf("bad search query: %w", files.ErrBadQuery)

// Hit is one search result: the entry, and whether its name matched or
// only the path of a folder above it.
type Hit struct {
	files.Info
	Match string `json:"match"` // "name" or "path"
}

// Result is a search's answer.
type Result struct {
	Q       string `json:"q"`
	Path    string `json:"path"`  // the folder searched, "docs/"; "" for the whole tree
	Total   int    `json:"total"` // every match; Results holds the best ones
	Results []Hit  `json:"results"`
}

// ranks, best first.
const (
	rankExact  = iota // the name is the query
	rankPrefix        // the name starts with it
	rankWord          // a word of the name starts with it
	rankName          // the name holds it, or holds each of its words
	rankPath          // the path holds each word, some only in a folder above
)

// Search finds the entries under the folder dir (any spelling Store.Clean
// takes, "" for the whole tree) whose path holds every word of q, case and
// accents aside, best first: the name is q, then starts with it, then has
// a word starting with it, then holds it (or each of its words), then only
// the path does; within a rank, shallower first, then by folder and name.
// limit 0 is DefaultResults; over MaxResults is MaxResults.
//
// Errors: ErrBadQuery (400), a bad dir as Store.Clean says (400, 404),
// fs.ErrNotExist for a dir the index does not hold as a folder (404),
// ErrOff (503).
func (x *Index) Search(q, dir string, limit int) (Result, error) {
	q = strings.Join(strings.Fields(q), " ")
	switch {
	case q == "":
		return Result{}, fmt.Errorf("index: an empty query: %w", ErrBadQuery)
	case len(q) > MaxQuery:
		return Result{}, fmt.Errorf("index: a query of %d bytes: %w", len(q), ErrBadQuery)
	case limit < 0:
		return Result{}, fmt.Errorf("index: limit %d: %w", limit, ErrBadQuery)
	case limit == 0:
		limit = DefaultResults
	}
	limit = min(limit, MaxResults)
	scope, err := x.store.Clean(dir)
	if err != nil {
		return Result{}, err
	}
	res := Result{Q: q, Results: []Hit{}}
	if scope != "." {
		res.Path = scope + "/"
	}
	qf := fold(q)
	words := strings.Fields(qf)

	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.off {
		return Result{}, ErrOff
	}
	if scope != "." && !x.isFolderLocked(scope) {
		return Result{}, fmt.Errorf("index: search in %q: not a folder held: %w", scope, fs.ErrNotExist)
	}
	var best hits
	m := matcher{words: words, inFold: make([]bool, len(words)), tails: make([]string, len(words))}
folders:
	for _, f := range x.folders {
		if scope != "." && f.path != scope && !strings.HasPrefix(f.path, scope+"/") {
			continue
		}
		// The first word the folder's path does not hold: only names that
		// hold it can match. None: every entry matches, by path at least.
		need := ""
		for i, w := range words {
			m.inFold[i] = f.fold != "" && strings.Contains(f.fold, w)
			m.tails[i] = ""
			if !m.inFold[i] && strings.Contains(w, "/") {
				// Across the folder's path and the name ("docs/rep"): what
				// is before its last slash ends the folder's path, and
				// what follows starts the name (names hold no slash).
				k := strings.LastIndexByte(w, '/') + 1
				if !strings.HasSuffix(f.fold, w[:k]) {
					continue folders
				}
				m.tails[i] = w[k:]
			}
			if !m.inFold[i] && need == "" {
				need = w
			}
		}
		s := f.searchable()
		consider := func(i int) {
			name := s.name(i)
			r := matchName(name, qf)
			if r < 0 {
				if r = m.match(name); r < 0 {
					return
				}
			}
			res.Total++
			h := hit{rank: r, f: f, e: s.ents[i]}
			if len(best) < limit {
				heap.Push(&best, h)
			} else if h.less(best[0]) {
				best[0] = h
				heap.Fix(&best, 0)
			}
		}
		if need == "" || strings.Contains(need, "/") {
			// A word across the folder and the name ("docs/rep"): each
			// entry's path is looked at.
			for i := range s.ents {
				consider(i)
			}
			continue
		}
		for off := 0; off < len(s.blob); {
			j := strings.Index(s.blob[off:], need)
			if j < 0 {
				break
			}
			i := s.at(off + j)
			consider(i)
			off = int(s.offs[i+1]) // the next name: each entry once
		}
	}
	res.Results = make([]Hit, len(best))
	for i := len(best) - 1; i >= 0; i-- {
		h := heap.Pop(&best).(hit)
		m := "name"
		if h.rank == rankPath {
			m = "path"
		}
		res.Results[i] = Hit{Info: h.e.Info(h.f.path), Match: m}
	}
	return res, nil
}

// isFolderLocked reports whether the clean path p is a folder the index
// holds as an entry (it may hold nothing yet).
func (x *Index) isFolderLocked(p string) bool {
	parent, name := splitPath(p)
	f := x.folders[parent]
	if f == nil {
		return false
	}
	e := f.ents[name]
	return e != nil && e.Dir
}

func splitPath(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ".", p
	}
	return p[:i], p[i+1:]
}

// matchName ranks a folded name against the folded query, -1 when the
// name does not hold it whole.
func matchName(name, q string) int {
	if len(name) < len(q) {
		return -1
	}
	if name == q {
		return rankExact
	}
	i := strings.Index(name, q)
	switch {
	case i < 0:
		return -1
	case i == 0:
		return rankPrefix
	}
	for ; i >= 0; i = nextIndex(name, q, i) {
		if wordStart(name, i) {
			return rankWord
		}
	}
	return rankName
}

// nextIndex is the next place after i where q is in s, -1 when none.
func nextIndex(s, q string, i int) int {
	j := strings.Index(s[i+1:], q)
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// matcher ranks, in one folder, the entries whose name does not hold
// the query whole.
type matcher struct {
	words  []string
	inFold []bool   // the folder's path holds the word
	tails  []string // for a word with a slash the folder's path ends with the start of: the rest, which the name must start with
}

// match is rankName when the name holds every word, rankPath when the
// path does, -1 when it does not.
func (m *matcher) match(name string) int {
	rank := rankName
	for i, w := range m.words {
		switch {
		case strings.Contains(name, w):
		case m.inFold[i]:
			rank = rankPath
		case strings.Contains(w, "/") && strings.HasPrefix(name, m.tails[i]):
			rank = rankPath
		default:
			return -1
		}
	}
	return rank
}

// hit is a match while the best are chosen.
type hit struct {
	rank int
	f    *folder
	e    *entry
}

// less reports whether h ranks before o.
func (h hit) less(o hit) bool {
	if h.rank != o.rank {
		return h.rank < o.rank
	}
	if h.f.depth != o.f.depth {
		return h.f.depth < o.f.depth
	}
	if h.f != o.f {
		return h.f.path < o.f.path
	}
	return h.e.Name < o.e.Name
}

// hits is a heap with the worst of the best at the top.
type hits []hit

func (s hits) Len() int           { return len(s) }
func (s hits) Less(i, j int) bool { return s[j].less(s[i]) }
func (s hits) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s *hits) Push(v any)        { *s = append(*s, v.(hit)) }
func (s *hits) Pop() any {
	old := *s
	v := old[len(old)-1]
	*s = old[:len(old)-1]
	return v
}
