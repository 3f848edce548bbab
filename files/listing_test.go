package files_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filehub/files"
)

// TestListQueryRefused checks that a listing's sort, order, limit and
// cursor are checked: 400, and nothing listed.
func TestListQueryRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	json := map[string]string{"Accept": "application/json"}
	_, first := e.do(t, http.MethodGet, "/docs/?limit=1", json, nil)
	var page struct {
		Next string `json:"next"`
	}
	if err := jsonUnmarshal(first, &page); err != nil || page.Next == "" {
		t.Fatalf("first page %s: %v", first, err)
	}
	for _, q := range []string{
		"sort=date", "sort=NAME", "order=up", "order=", "limit=0", "limit=-1", "limit=x", "limit=",
		"cursor=%25%25", "cursor=AAAA", "cursor=" + page.Next + "&order=desc", "cursor=" + page.Next + "&sort=size",
	} {
		resp, body := e.do(t, http.MethodGet, "/docs/?"+q, json, nil)
		if q == "order=" { // an empty order is the default
			if resp.StatusCode != 200 {
				t.Errorf("?%s: %d", q, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != 400 || strings.Contains(body, "a.md") {
			t.Errorf("?%s: %d %q", q, resp.StatusCode, body)
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// TestListJSONNames checks the listing's hand-written JSON against
// encoding/json's for names that need escaping.
func TestListJSONNames(t *testing.T) {
	t.Parallel()
	names := []string{`quote".txt`, `back\slash.txt`, "<b>&amp;.txt", "line\u2028sep.txt", "tab\tname.txt", "日本語 ✓.txt"}
	e := newEnv(t, opts{setup: func(t *testing.T, dir string) {
		for _, n := range names {
			writeFile(t, filepath.Join(dir, "esc", n), "x")
		}
	}})
	_, body := e.do(t, http.MethodGet, "/esc/", map[string]string{"Accept": "application/json"}, nil)
	var l struct {
		Path    string       `json:"path"`
		Entries []files.Info `json:"entries"`
		Total   int          `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if l.Total != len(l.Entries) {
		t.Errorf("total %d, %d entries", l.Total, len(l.Entries))
	}
	listed, err := e.store.List("esc")
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(l.Entries) {
		t.Fatalf("%d entries, the store lists %d", len(l.Entries), len(listed))
	}
	for i, in := range listed {
		in.Link = false
		if !l.Entries[i].Modified.Equal(in.Modified) {
			t.Errorf("%q: modified %v, want %v", in.Name, l.Entries[i].Modified, in.Modified)
		}
		l.Entries[i].Modified = in.Modified
		if l.Entries[i] != in {
			t.Errorf("entry %d: %+v, want %+v", i, l.Entries[i], in)
		}
		want, _ := json.Marshal(in.Name)
		if !strings.Contains(body, `"name":`+strings.ReplaceAll(string(want), `\u003c`, "<")) &&
			!strings.Contains(body, `"name":`+unescapeHTML(string(want))) {
			t.Errorf("name %q not written as %s:\n%s", in.Name, want, body)
		}
	}
	if strings.Contains(body, `\u003c`) {
		t.Errorf("< escaped for HTML in JSON: %s", body)
	}
}

func unescapeHTML(s string) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(s)
}

// TestListDiskTurns checks that large listings from the disk take turns:
// with every turn taken, one waits, then gets 503 with Retry-After; a
// small listing does not wait; once the turn is back, the large one is
// served.
func TestListDiskTurns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range files.BigListing + 1 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "small"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := files.Open(dir, files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := files.Handler(s, files.Hooks{}, files.WithListings(files.ListConfig{MaxDiskListings: 1}), files.DiskWait(50*time.Millisecond))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get := func(p string) *http.Response {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	release := files.TakeDiskTurn(h)
	if r := get("/"); r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
		t.Errorf("a large listing without a turn: %d %v", r.StatusCode, r.Header)
	}
	if r := get("/small/"); r.StatusCode != 200 {
		t.Errorf("a small listing: %d", r.StatusCode)
	}
	release()
	if r := get("/"); r.StatusCode != 200 {
		t.Errorf("a large listing with a turn: %d", r.StatusCode)
	}
}

// TestListStreamed checks that a listing larger than its write buffer
// goes out as it is written (chunked: no Content-Length, which would mean
// the body was held whole first), every row in it.
func TestListStreamed(t *testing.T) {
	t.Parallel()
	const n = 600 // about 100 KB of HTML
	e := newEnv(t, opts{setup: func(t *testing.T, dir string) {
		for i := range n {
			writeFile(t, filepath.Join(dir, "many", fmt.Sprintf("file-%04d.txt", i)), "x")
		}
	}})
	resp, err := e.srv.Client().Get(e.srv.URL + "/many/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != -1 {
		t.Errorf("Content-Length %d: the listing was buffered", resp.ContentLength)
	}
	rows := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "<tr><td><a href=\"./file-") {
			rows++
		}
	}
	if rows != n {
		t.Errorf("%d rows, want %d", rows, n)
	}
}
