//go:build unix

package e2e

// End-to-end tests of the folder's index: the whole server, changes made
// through the OS, and the listings, search and fs frames that the index
// serves, checked to agree.

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filehub/internal/harness"
	"filehub/internal/testutil"
)

func getJSON(t *testing.T, url string, hdr http.Header, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Accept", "application/json")
	c := http.Client{Timeout: testutil.Timeout}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v: %s", url, err, b)
		}
	}
	return resp.StatusCode
}

type listingPage struct {
	Entries []struct {
		Path string `json:"path"`
		Size int64  `json:"size"`
	} `json:"entries"`
	Total int    `json:"total"`
	Next  string `json:"next"`
}

type searchAnswer struct {
	Total   int `json:"total"`
	Results []struct {
		Path  string `json:"path"`
		Match string `json:"match"`
	} `json:"results"`
}

// TestIndexAfterFSFrame checks that once a page has the fs frame of a
// change, the listing it asks for (HTTP or a list frame) and search
// already show it: the index hears of a change before the rooms do.
func TestIndexAfterFSFrame(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	ts := harness.Start(t, dir)
	cl := harness.Dial(t, ts, "room=r&name=a")
	for i, name := range []string{"Quarterly Résumé.txt", "notes.md", "zeta.bin"} {
		if err := os.WriteFile(filepath.Join(dir, "docs", name), []byte(strings.Repeat("x", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		f, _ := cl.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "fs" && f.Str("path") == "docs/"+name })
		if f.Str("op") != "add" {
			t.Fatalf("fs frame %v", f)
		}
		var l listingPage
		if code := getJSON(t, ts.URL+"/docs/?sort=size&order=desc", nil, &l); code != 200 || l.Total != i+1 || l.Entries[0].Path != "docs/"+name {
			t.Fatalf("after the fs frame of %s, the listing: %d %+v", name, code, l)
		}
	}
	var s searchAnswer
	if code := getJSON(t, ts.URL+"/_/search?q=resume", nil, &s); code != 200 || s.Total != 1 || s.Results[0].Path != "docs/Quarterly Résumé.txt" {
		t.Fatalf("search: %d %+v", code, s)
	}
	id := cl.Request("search", map[string]any{"q": "NOTES", "path": "docs/"})
	if f := cl.Reply(id); f.Kind() != "results" || f.Num("total") != 1 {
		t.Fatalf("search frame: %v", f)
	}
	id = cl.Request("list", map[string]any{"path": "docs/"})
	if f := cl.Reply(id); f.Kind() != "listing" || len(f["entries"].([]any)) != 3 {
		t.Fatalf("list frame: %v", f)
	}
	var p listingPage
	if code := getJSON(t, ts.URL+"/docs/?limit=2", nil, &p); code != 200 || len(p.Entries) != 2 || p.Next == "" {
		t.Fatalf("a page: %d %+v", code, p)
	}
	var rest listingPage
	if code := getJSON(t, ts.URL+"/docs/?limit=2&cursor="+p.Next, nil, &rest); code != 200 || len(rest.Entries) != 1 || rest.Next != "" {
		t.Fatalf("the next page: %d %+v", code, rest)
	}
}

// TestSearchDoors checks that search is behind the token like every
// door, and refused as unavailable without the watcher, which alone keeps
// the index current; -index-limit is a flag.
func TestSearchDoors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const token = "search-door-token-0123456789"
	ts := harness.Start(t, dir, "-token", token, "-index-limit", "10")
	if code := getJSON(t, ts.URL+"/_/search?q=a", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("search without the token: %d", code)
	}
	var s searchAnswer
	if code := getJSON(t, ts.URL+"/_/search?q=a", bearer(token), &s); code != 200 || s.Total != 1 {
		t.Errorf("search with the token: %d %+v", code, s)
	}
	off := harness.Start(t, dir, "-watch=false")
	if code := getJSON(t, off.URL+"/_/search?q=a", nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf("search without the watcher: %d", code)
	}
	var l listingPage
	if code := getJSON(t, off.URL+"/?limit=1", nil, &l); code != 200 || l.Total != 1 {
		t.Errorf("a listing without the watcher: %d %+v", code, l)
	}
}
