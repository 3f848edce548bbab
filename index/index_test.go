//go:build unix

package index_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"filehub/files"
	"filehub/index"
	"filehub/vocab"
	"filehub/watch"
)

var fast = watch.Config{Quiet: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond}

// get answers a GET of target from h: status and body.
func get(t *testing.T, srv *httptest.Server, target string, jsonAccept bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if jsonAccept {
		req.Header.Set("Accept", "application/json")
	}
	c := srv.Client()
	c.Timeout = 10 * time.Second
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

type page struct {
	Path    string       `json:"path"`
	Entries []files.Info `json:"entries"`
	Total   int          `json:"total"`
	Next    string       `json:"next"`
}

// TestListingsAgree checks that a listing from the index is the listing
// from the disk, byte for byte, in every sort and order, whole and page by
// page, and that both are in the order the parameters ask for.
func TestListingsAgree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 23 {
		name := fmt.Sprintf("f%02d.txt", (i*7)%23)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", (i*5)%11)), 0o644); err != nil {
			t.Fatal(err)
		}
		mod := base.Add(time.Duration((i*3)%13) * time.Hour) // ties in size and in time
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"b-dir", "a-dir", "c-dir"} {
		if err := os.MkdirAll(filepath.Join(dir, d, "in"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fx := newFixture(t, dir, false, fast)
	fx.settled("start")
	fromIndex := httptest.NewServer(files.Handler(fx.store, files.Hooks{}, files.WithListings(files.ListConfig{Lister: fx.ix})))
	t.Cleanup(fromIndex.Close)
	fromDisk := httptest.NewServer(files.Handler(fx.store, files.Hooks{}))
	t.Cleanup(fromDisk.Close)

	list, err := fx.store.List(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, by := range []string{"", "name", "size", "modified"} {
		for _, order := range []string{"", "asc", "desc"} {
			q := url.Values{}
			if by != "" {
				q.Set("sort", by)
			}
			if order != "" {
				q.Set("order", order)
			}
			name := "/?" + q.Encode()
			t.Run(name, func(t *testing.T) {
				want := expected(list, by, order == "desc")
				for _, asJSON := range []bool{true, false} {
					c1, b1 := get(t, fromIndex, name, asJSON)
					c2, b2 := get(t, fromDisk, name, asJSON)
					if c1 != 200 || c2 != 200 || b1 != b2 {
						t.Fatalf("json %v: index %d, disk %d; bodies differ:\n%s\n%s", asJSON, c1, c2, b1, b2)
					}
				}
				_, body := get(t, fromIndex, name, true)
				var whole page
				if err := json.Unmarshal([]byte(body), &whole); err != nil {
					t.Fatal(err)
				}
				if got := names(whole.Entries); !slices.Equal(got, want) || whole.Total != len(want) || whole.Next != "" {
					t.Fatalf("order %v total %d next %q, want %v", got, whole.Total, whole.Next, want)
				}
				var paged []string
				cursor := ""
				for range 20 {
					q := q
					q.Set("limit", "4")
					if cursor != "" {
						q.Set("cursor", cursor)
					}
					code, body := get(t, fromIndex, "/?"+q.Encode(), true)
					_, disk := get(t, fromDisk, "/?"+q.Encode(), true)
					if code != 200 || body != disk {
						t.Fatalf("page %d: %d, index and disk differ:\n%s\n%s", len(paged)/4, code, body, disk)
					}
					var p page
					if err := json.Unmarshal([]byte(body), &p); err != nil {
						t.Fatal(err)
					}
					paged = append(paged, names(p.Entries)...)
					if p.Total != len(want) {
						t.Fatalf("total %d, want %d", p.Total, len(want))
					}
					if cursor = p.Next; cursor == "" {
						break
					}
				}
				if !slices.Equal(paged, want) {
					t.Fatalf("pages %v, want %v", paged, want)
				}
			})
		}
	}
}

// expected is the order of a listing, computed apart from the code under
// test: folders first, then the key, then the name, all reversed by desc
// within folders and within files.
func expected(list []files.Info, by string, desc bool) []string {
	l := slices.Clone(list)
	slices.SortFunc(l, func(a, b files.Info) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		c := 0
		switch by {
		case "size":
			c = int(a.Size - b.Size)
		case "modified":
			c = a.Modified.Compare(b.Modified)
		}
		if c == 0 {
			c = strings.Compare(a.Name, b.Name)
		}
		if desc {
			c = -c
		}
		return c
	})
	return names(l)
}

func names(l []files.Info) []string {
	out := make([]string, len(l))
	for i := range l {
		out[i] = l[i].Name
	}
	return out
}

// TestCursorAcrossChanges checks that a page after a change goes on after
// the last entry seen: nothing repeated, nothing seen skipped.
func TestCursorAcrossChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []string{"b", "d", "f", "h"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fx := newFixture(t, dir, false, fast)
	srv := httptest.NewServer(files.Handler(fx.store, files.Hooks{}, files.WithListings(files.ListConfig{Lister: fx.ix})))
	t.Cleanup(srv.Close)
	_, body := get(t, srv, "/?limit=2", true)
	var p page
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names(p.Entries), []string{"b", "d"}) || p.Next == "" {
		t.Fatalf("first page %s", body)
	}
	fx.write("a", "")              // before the cursor: not shown
	fx.write("e", "")              // after it: shown
	fx.do(os.Remove(fx.path("d"))) // the cursor's own entry: gone, the page goes on after it
	fx.settled("changes")
	_, body = get(t, srv, "/?limit=10&cursor="+p.Next, true)
	p = page{}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names(p.Entries), []string{"e", "f", "h"}) || p.Total != 5 || p.Next != "" {
		t.Fatalf("next page %s", body)
	}
}

type found struct {
	Q       string `json:"q"`
	Path    string `json:"path"`
	Total   int    `json:"total"`
	Results []struct {
		files.Info
		Match string `json:"match"`
	} `json:"results"`
}

func (f found) paths() []string {
	out := make([]string, len(f.Results))
	for i, r := range f.Results {
		out[i] = r.Path + ":" + r.Match
	}
	return out
}

// TestSearch checks search through its HTTP handler: the ranking, case
// and accents, words, the scope, the limit and total, the refusals, and
// that nothing a listing hides is found.
func TestSearch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outside := t.TempDir()
	mk := func(p, text string) {
		t.Helper()
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("resume.txt", "r")
	mk("docs/2024/Résumé.PDF", "pdf")
	mk("docs/resume/inner.txt", "i")
	mk("my-resume-2024.doc", "d")
	mk("presumed.txt", "p")
	mk("other.txt", "o")
	mk(".resume-hidden", "h")
	mk(".git/resume.txt", "h")
	mk("_/resume.txt", "reserved") // the server's own URLs: never listed
	if err := os.WriteFile(filepath.Join(outside, "resume-secret.txt"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{
		{filepath.Join(outside, "resume-secret.txt"), "resume-out.txt"},
		{".resume-hidden", "resume-to-hidden"},
		{"nowhere", "resume-broken"},
	} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "resume.fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	fx := newFixture(t, dir, false, fast)
	fx.settled("start")
	srv := httptest.NewServer(fx.ix.Handler())
	t.Cleanup(srv.Close)
	search := func(q string) (int, found) {
		t.Helper()
		code, body := get(t, srv, "/_/search?"+q, false)
		var f found
		if code == 200 {
			if err := json.Unmarshal([]byte(body), &f); err != nil {
				t.Fatal(err)
			}
		} else if !strings.Contains(body, `"error":{"code":`) {
			t.Errorf("?%s: %d %s", q, code, body)
		}
		return code, f
	}

	all := []string{
		"docs/resume:name",           // the name is the query
		"resume.txt:name",            // starts with it, shallower
		"docs/2024/Résumé.PDF:name",  // starts with it, accents and case aside
		"my-resume-2024.doc:name",    // a word starts with it
		"presumed.txt:name",          // holds it
		"docs/resume/inner.txt:path", // only a folder above does
	}
	for _, tc := range []struct {
		q     string
		want  []string
		total int
	}{
		{"q=resume", all, 6},
		{"q=R%C3%89SUM%C3%89", all, 6},
		{"q=resume&limit=2", all[:2], 6},
		{"q=2024+resume", []string{"my-resume-2024.doc:name", "docs/2024/Résumé.PDF:path"}, 2},
		{"q=resume&path=docs/", []string{"docs/resume:name", "docs/2024/Résumé.PDF:name", "docs/resume/inner.txt:path"}, 3},
		{"q=docs/2024", []string{"docs/2024:path", "docs/2024/Résumé.PDF:path"}, 2},
		{"q=%20%20resume.txt%20", []string{"resume.txt:name"}, 1},
		{"q=nothing-like-it", []string{}, 0},
		{"q=secret", []string{}, 0},
		{"q=git", []string{}, 0},
		{"q=fifo", []string{}, 0},
	} {
		code, f := search(tc.q)
		if code != 200 || !slices.Equal(f.paths(), tc.want) || f.Total != tc.total {
			t.Errorf("?%s: %d %v total %d, want %v total %d", tc.q, code, f.paths(), f.Total, tc.want, tc.total)
		}
	}
	_, f := search("q=resume.txt")
	if len(f.Results) != 1 || f.Results[0].Size != 1 || f.Results[0].Type != "text/plain; charset=utf-8" || f.Results[0].Modified.IsZero() {
		t.Errorf("a result's fields: %+v", f.Results)
	}
	for _, tc := range []struct {
		q    string
		code int
	}{
		{"q=", 400},
		{"q=%20", 400},
		{"", 400},
		{"q=" + strings.Repeat("a", index.MaxQuery+1), 400},
		{"q=a&limit=0", 400},
		{"q=a&limit=x", 400},
		{"q=a&path=../", 400},
		{"q=a&path=nowhere/", 404},
		{"q=a&path=.git/", 404},
		{"q=a&path=resume.txt", 404},
	} {
		if code, _ := search(tc.q); code != tc.code {
			t.Errorf("?%.40s: %d, want %d", tc.q, code, tc.code)
		}
	}
	if code, f := search("q=e&limit=100000"); code != 200 || f.Total < 6 {
		t.Errorf("a limit over the most: %d %+v", code, f)
	}
}

// TestSearchHidden checks that with dotfiles shown they are found, and
// still never what the Store refuses regardless (temp files of uploads).
func TestSearchHidden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, p := range []string{".env", ".filehub-tmp-abc"} {
		if err := os.WriteFile(filepath.Join(dir, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fx := newFixture(t, dir, true, fast)
	fx.settled("start")
	for q, want := range map[string]int{"env": 1, "filehub-tmp": 0} {
		res, err := fx.ix.Search(q, "", 0)
		if err != nil || res.Total != want {
			t.Errorf("%q: %+v %v, want %d", q, res, err, want)
		}
	}
}

// TestLimit checks that an index past its limit turns off: listings fall
// to the disk (the Lister does not hold the folder), search answers 503.
func TestLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 5 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store, err := files.Open(dir, files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ix := index.New(store, index.Config{Limit: 4})
	list, err := store.List(".")
	if err != nil {
		t.Fatal(err)
	}
	var cs []vocab.Change
	for _, in := range list {
		cs = append(cs, vocab.Change{Op: vocab.FSAdd, Path: in.Path, Size: in.Size, Modified: in.Modified})
	}
	ix.Load(cs[:4]...)
	if _, ok := ix.Listing(".", files.SortName); !ok || ix.Off() {
		t.Fatal("four entries, a limit of four: not held")
	}
	ix.Apply(cs[4])
	if _, ok := ix.Listing(".", files.SortName); ok || !ix.Off() || ix.Len() != 0 {
		t.Fatal("past the limit: still held")
	}
	srv := httptest.NewServer(ix.Handler())
	t.Cleanup(srv.Close)
	if code, body := get(t, srv, "/_/search?q=1", false); code != 503 || !strings.Contains(body, `"unavailable"`) {
		t.Errorf("search with the index off: %d %s", code, body)
	}
	h := httptest.NewServer(files.Handler(store, files.Hooks{}, files.WithListings(files.ListConfig{Lister: ix})))
	t.Cleanup(h.Close)
	if code, body := get(t, h, "/", true); code != 200 || !strings.Contains(body, `"total":5`) {
		t.Errorf("a listing with the index off: %d %s", code, body)
	}
}

// TestApplyKindChanged checks a change that turns a folder into a file
// in one add (the watcher sends a remove first, but the index does not
// count on it): the folder's contents go, the file is listed, even when
// the folder was all its parent held.
func TestApplyKindChanged(t *testing.T) {
	t.Parallel()
	store, err := files.Open(t.TempDir(), files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ix := index.New(store, index.Config{})
	now := time.Now()
	ix.Load(
		vocab.Change{Op: vocab.FSAdd, Path: "a", Dir: true, Modified: now},
		vocab.Change{Op: vocab.FSAdd, Path: "a/x", Dir: true, Modified: now},
		vocab.Change{Op: vocab.FSAdd, Path: "a/x/in.txt", Size: 3, Modified: now},
	)
	ix.Apply(vocab.Change{Op: vocab.FSAdd, Path: "a/x", Size: 7, Modified: now})
	got, ok := ix.Listing("a", files.SortName)
	if !ok || len(got) != 1 || got[0].Name != "x" || got[0].Dir || got[0].Size != 7 {
		t.Fatalf("listing of a: %v %+v", ok, got)
	}
	if _, ok := ix.Listing("a/x", files.SortName); ok || ix.Len() != 2 {
		t.Fatalf("a/x still held as a folder, or %d entries, want 2", ix.Len())
	}
	if res, err := ix.Search("in", "", 0); err != nil || res.Total != 0 {
		t.Fatalf("what a/x held is still found: %+v %v", res, err)
	}
}
