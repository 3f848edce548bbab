package hub

import (
	"errors"
	"fmt"
	"testing"

	"filehub/files"
	"filehub/index"
	"filehub/vocab"
)

// indexOf is an index of the folder dir as it is now, for tests of the
// frames that read one.
func indexOf(t *testing.T, dir string) *index.Index {
	t.Helper()
	store, err := files.Open(dir, files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	list, err := store.List(".")
	if err != nil {
		t.Fatal(err)
	}
	ix := index.New(store, index.Config{})
	for _, in := range list {
		ix.Load(vocab.Change{Op: vocab.FSAdd, Path: in.Path, Dir: in.Dir, Size: in.Size, Modified: in.Modified})
	}
	return ix
}

// searchWith is Config.Search over ix, as the server wires it.
func searchWith(ix **index.Index) func(q, path string, limit int) (SearchResult, error) {
	return func(q, path string, limit int) (SearchResult, error) {
		res, err := (*ix).Search(q, path, limit)
		if errors.Is(err, index.ErrOff) {
			return SearchResult{}, ErrUnavailable
		}
		if err != nil {
			return SearchResult{}, err
		}
		out := SearchResult{Path: res.Path, Total: res.Total, Hits: make([]SearchHit, len(res.Results))}
		for i, h := range res.Results {
			out.Hits[i] = SearchHit{Info: h.Info, Match: h.Match}
		}
		return out, nil
	}
}

// TestSearchFrame checks the search frame: results to the sender only,
// with its id, best first, with a total; refusals as error frames.
func TestSearchFrame(t *testing.T) {
	t.Parallel()
	var ix *index.Index
	content := map[string]string{"resume.txt": "r", "my-resume.md": "m", "other.txt": "o", "Résumé.pdf": "p"}
	th := newTestHub(t, Config{Search: searchWith(&ix)}, content)
	ix = indexOf(t, th.dir)
	a := th.dial(t, "room=x&name=a", false)
	b := th.dial(t, "room=x&name=b", false)
	a.Send(map[string]any{"kind": "search", "id": "s1", "q": " resume ", "limit": 2})
	m := a.Reply("s1")
	if m.Kind() != "results" || m["id"] != "s1" || m["q"] != "resume" || m["path"] != "" || m["total"] != float64(3) {
		t.Fatalf("results %v", m)
	}
	var got []string
	for _, r := range m["results"].([]any) {
		r := r.(map[string]any)
		got = append(got, fmt.Sprint(r["path"], ":", r["match"], ":", r["size"]))
	}
	if fmt.Sprint(got) != "[Résumé.pdf:name:1 resume.txt:name:1]" {
		t.Errorf("results %v", got)
	}
	for _, tc := range []struct {
		req  map[string]any
		code string
	}{
		{map[string]any{"q": ""}, "bad_request"},
		{map[string]any{"q": "   "}, "bad_request"},
		{map[string]any{"q": string(make([]byte, 300))}, "bad_request"},
		{map[string]any{"q": "a", "limit": -1}, "bad_request"},
		{map[string]any{"q": "a", "limit": "x"}, "bad_request"},
		{map[string]any{"q": "a", "path": "../etc"}, "bad_request"},
		{map[string]any{"q": "a", "path": "nowhere/"}, "not_found"},
	} {
		tc.req["kind"], tc.req["id"] = "search", "bad"
		a.Send(tc.req)
		if m := a.Reply("bad"); m.Kind() != "error" || m["code"] != tc.code {
			t.Errorf("%v: %v, want %s", tc.req, m, tc.code)
		}
	}
	// b asked nothing: among what it reads up to the answer to its ping
	// (a barrier), no results.
	b.Send(map[string]any{"kind": "ping", "id": "p"})
	for {
		m := b.Read()
		if m.Kind() == "results" || m["id"] == "s1" {
			t.Fatalf("another member received %v", m)
		}
		if m.Kind() == "pong" {
			break
		}
	}
}

// TestSearchUnavailable checks the answer of a hub without search.
func TestSearchUnavailable(t *testing.T) {
	t.Parallel()
	th := newTestHub(t, Config{}, nil)
	a := th.dial(t, "room=x&name=a", false)
	a.Send(map[string]any{"kind": "search", "id": "s", "q": "a"})
	if m := a.Reply("s"); m.Kind() != "error" || m["code"] != "unavailable" {
		t.Errorf("%v", m)
	}
}

// TestListFromIndex checks that a list frame is answered from the Lister
// when it holds the folder: what it holds, not what the disk has since.
func TestListFromIndex(t *testing.T) {
	t.Parallel()
	var ix *index.Index
	th := newTestHub(t, Config{Lister: lister{&ix}}, map[string]string{"a.txt": "a", "b.txt": "bb"})
	ix = indexOf(t, th.dir)
	ix.Apply(vocab.Change{Op: vocab.FSRemove, Path: "a.txt"}) // the index knows, the disk not yet
	a := th.dial(t, "room=x&name=a", false)
	a.Send(map[string]any{"kind": "list", "id": "l", "path": "/"})
	m := a.Reply("l")
	ents, _ := m["entries"].([]any)
	if m.Kind() != "listing" || m["id"] != "l" || len(ents) != 1 || ents[0].(map[string]any)["path"] != "b.txt" {
		t.Fatalf("listing %v", m)
	}
}

// lister reads the index once the test made it.
type lister struct{ ix **index.Index }

func (l lister) Listing(p string, k files.Sort) ([]*files.Entry, bool) { return (*l.ix).Listing(p, k) }
