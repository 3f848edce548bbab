package e2e

// Share links on the whole server: made with the token, opened without
// it, their downloads in the room's feed under the link's label, 410 once
// revoked, kept across a restart and across nodes, and wrong passwords
// spending the same tries as wrong tokens.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"filehub/internal/harness"
	"filehub/internal/natstest"
)

type shareJSON struct {
	ID, URL string
}

func createShare(t *testing.T, ts *harness.Server, token, req string) shareJSON {
	t.Helper()
	hdr := http.Header{}
	if token != "" {
		hdr = bearer(token)
	}
	a := call(t, "POST", ts.URL+"/_/links", strings.NewReader(req), hdr)
	if a.status != http.StatusCreated {
		t.Fatalf("create %s: %d %s", req, a.status, a.body)
	}
	var l shareJSON
	if err := json.Unmarshal(a.body, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestShareLinks: the owner makes a link with the token; a guest without
// it sees the page and downloads the file; the room sees the download
// under the link's label; revoked, it is 410; the id is never logged; and
// after a restart a second link made before it still works.
func TestShareLinks(t *testing.T) {
	t.Parallel()
	dir, state := harness.LabDir(t), t.TempDir()
	ts := harness.Start(t, dir, "-token", "owner-token-0123456789", "-state-dir", state, "-read-only")
	room := harness.Dial(t, ts, "room=team&name=ann&token=owner-token-0123456789")
	if a := call(t, "POST", ts.URL+"/_/links", strings.NewReader(`{"path":"myfile1.txt","expires":"1h"}`), nil); a.status != 401 {
		t.Fatalf("create without the token: %d", a.status)
	}
	one := createShare(t, ts, "owner-token-0123456789", `{"path":"myfile1.txt","expires":"1h","label":"Tax office","room":"team"}`)
	keep := createShare(t, ts, "owner-token-0123456789", `{"path":"docs/","expires":"2h"}`)
	if !strings.HasPrefix(one.URL, ts.URL+"/_/link/") {
		t.Fatalf("url %q", one.URL)
	}

	page := call(t, "GET", one.URL, nil, http.Header{"Accept": {"text/html"}})
	if page.status != 200 || !strings.Contains(string(page.body), "myfile1.txt") || strings.Contains(string(page.body), "README") {
		t.Fatalf("the guest's page: %d %s", page.status, page.body)
	}
	got := call(t, "GET", one.URL+"/myfile1.txt", nil, nil)
	if got.status != 200 || string(got.body) != harness.LabFiles()["myfile1.txt"] {
		t.Fatalf("the guest's download: %d %q", got.status, got.body)
	}
	ev := room.ReadKind("feed").Obj("event")
	if ev.Str("via") != "link" || ev.Str("who") != "Tax office" || ev.Str("action") != "fetch" || ev.Str("path") != "myfile1.txt" {
		t.Fatalf("the download in the room's feed: %v", ev)
	}
	// Nothing else of the server opens to the link's holder.
	for _, p := range []string{"/myfile1.txt", "/", "/_/links", "/_/link/" + one.ID + "/README.rst", "/_/drops"} {
		if a := call(t, "GET", ts.URL+p, nil, nil); a.status == 200 {
			t.Errorf("GET %s without the token: 200", p)
		}
	}
	if a := call(t, "DELETE", ts.URL+"/_/links/"+one.ID, nil, nil); a.status != 401 {
		t.Errorf("revoke without the token: %d", a.status)
	}
	if a := call(t, "DELETE", ts.URL+"/_/links/"+one.ID, nil, bearer("owner-token-0123456789")); a.status != 204 {
		t.Fatalf("revoke: %d %s", a.status, a.body)
	}
	for _, p := range []string{"", "/myfile1.txt"} {
		if a := call(t, "GET", one.URL+p, nil, nil); a.status != 410 {
			t.Errorf("revoked %s: %d", p, a.status)
		}
	}
	ts.Stop()
	if strings.Contains(ts.Logs.Text(), one.ID) || strings.Contains(ts.Logs.Text(), keep.ID) {
		t.Error("a link's id is in the logs")
	}

	again := harness.Start(t, dir, "-token", "owner-token-0123456789", "-state-dir", state)
	keep.URL = strings.Replace(keep.URL, ts.URL, again.URL, 1) // a new port
	one.URL = strings.Replace(one.URL, ts.URL, again.URL, 1)
	if a := call(t, "GET", keep.URL+"/a.md", nil, nil); a.status != 200 || string(a.body) != "# A\n" {
		t.Errorf("after the restart: %d %q", a.status, a.body)
	}
	if a := call(t, "GET", one.URL, nil, nil); a.status != 410 {
		t.Errorf("revoked, after the restart: %d", a.status)
	}
}

// TestShareLinkPasswordLockout: a wrong password of a link spends one of
// the network's tries at the token, from the same lockout.
func TestShareLinkPasswordLockout(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-token", "owner-token-0123456789")
	l := createShare(t, ts, "owner-token-0123456789", `{"path":"README.rst","expires":"1h","password":"open sesame"}`)
	withPass := func(pass string) int {
		req, _ := http.NewRequest("GET", l.URL+"/README.rst", nil)
		req.SetBasicAuth("", pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := withPass("open sesame"); c != 200 {
		t.Fatalf("the right password: %d", c)
	}
	// One wrong password, then nine wrong tokens: the ten tries are spent,
	// for the token and every password alike. (The password first: its
	// check takes bcrypt's time, seconds under -race on a loaded machine,
	// during which spent tries would come back; the tokens take
	// milliseconds.)
	if c := withPass("a wrong guess"); c != 401 {
		t.Fatalf("the wrong password: %d", c)
	}
	for i := range 9 {
		if a := call(t, "GET", ts.URL+"/myfile1.txt", nil, bearer(fmt.Sprint("wrong token ", i))); a.status != 401 {
			t.Fatalf("wrong token %d: %d", i, a.status)
		}
	}
	if a := call(t, "GET", ts.URL+"/myfile1.txt", nil, bearer("owner-token-0123456789")); a.status != http.StatusTooManyRequests {
		t.Errorf("then the right token: %d, want 429", a.status)
	}
	if c := withPass("open sesame"); c != http.StatusTooManyRequests {
		t.Errorf("and the right password: %d, want 429", c)
	}
}

// TestClusterShareLinks: a link made on one node works on the other, and
// its download limit holds across both.
func TestClusterShareLinks(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	a := harness.Start(t, dir, clusterArgs(ns, "a")...)
	b := harness.Start(t, dir, clusterArgs(ns, "b")...)
	onA := harness.Dial(t, a, "room=cl&name=ann")
	l := createShare(t, a, "", `{"path":"docs/a.md","expires":"1h","max_downloads":3,"label":"press","room":"cl"}`)
	if got := call(t, "GET", b.URL+"/_/link/"+l.ID+"/a.md", nil, nil); got.status != 200 || string(got.body) != "# A\n" {
		t.Fatalf("through b: %d %q", got.status, got.body)
	}
	if ev := onA.ReadKind("feed").Obj("event"); ev.Str("via") != "link" || ev.Str("who") != "press" || ev.Str("path") != "docs/a.md" {
		t.Fatalf("the download on b, in the feed on a: %v", ev)
	}
	// Two downloads left; six race for them, three on each node.
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i, node := range []*harness.Server{a, b, a, b, a, b} {
		wg.Go(func() {
			if resp, err := http.Get(node.URL + "/_/link/" + l.ID + "/a.md"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}
		})
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		switch c {
		case 200:
			won++
		case 410:
		default:
			t.Errorf("a racing download: %d", c)
		}
	}
	if won != 2 {
		t.Fatalf("%d racing downloads took the last 2: %v", won, codes)
	}
}
