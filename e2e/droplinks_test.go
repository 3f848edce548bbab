package e2e

// Drop links end to end: run() itself, real HTTP and WebSocket clients.
// The owner has the token; the guest has the link alone.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filehub/drops"
	"filehub/internal/harness"
	"filehub/internal/natstest"
	"filehub/internal/testutil"
	"filehub/server"
)

// dropOwner is whoever has the server's token (or a server without one).
type dropOwner struct {
	t     *testing.T
	ts    *harness.Server
	token string
}

// call sends one request and reads the whole answer. With owner set it
// carries the token; the guest's calls carry nothing.
func call(t *testing.T, method, u string, body io.Reader, hdr http.Header) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (o dropOwner) hdr() http.Header {
	if o.token == "" {
		return http.Header{}
	}
	return bearer(o.token)
}

type dropLinkJSON struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	Path     string `json:"path"`
	Expires  string `json:"expires"`
	Label    string `json:"label"`
	Room     string `json:"room"`
	MaxBytes int64  `json:"max_bytes"`
	MaxFiles int    `json:"max_files"`
	Bytes    int64  `json:"bytes"`
	Files    int    `json:"files"`
}

func (o dropOwner) create(req map[string]any) dropLinkJSON {
	o.t.Helper()
	b, _ := json.Marshal(req)
	a := call(o.t, "POST", o.ts.URL+"/_/drops", strings.NewReader(string(b)), o.hdr())
	if a.status != http.StatusCreated {
		o.t.Fatalf("create %s: %d %s", b, a.status, a.body)
	}
	var l dropLinkJSON
	if err := json.Unmarshal(a.body, &l); err != nil {
		o.t.Fatal(err)
	}
	return l
}

func (o dropOwner) list() []dropLinkJSON {
	o.t.Helper()
	a := call(o.t, "GET", o.ts.URL+"/_/drops", nil, o.hdr())
	var l struct{ Drops []dropLinkJSON }
	if a.status != 200 || json.Unmarshal(a.body, &l) != nil {
		o.t.Fatalf("list: %d %s", a.status, a.body)
	}
	return l.Drops
}

// guestPut uploads body as name through the link of id on ts, as someone
// who has nothing but the link.
func guestPut(t *testing.T, ts *harness.Server, id, name, body string) answer {
	t.Helper()
	return call(t, "PUT", ts.URL+"/_/drop/"+id+"/"+name, strings.NewReader(body), nil)
}

// TestDropLinks: the owner (with the token) makes a link for a folder and a
// room; a guest (without it) uploads through it and nothing else; the room
// sees the upload arrive under the link's label; revoked, every door of the
// link is 410. The id never reaches the logs.
func TestDropLinks(t *testing.T) {
	t.Parallel()
	const token = "drop-owner-token"
	dir := harness.LabDir(t)
	os.Mkdir(filepath.Join(dir, "incoming"), 0o755)
	ts := harness.Start(t, dir, "-token", token, "-state-dir", t.TempDir(), "-max-upload", "64")
	owner := dropOwner{t, ts, token}

	// The owner's doors need the token, like every door.
	for _, r := range []struct{ method, path string }{{"POST", "/_/drops"}, {"GET", "/_/drops"}, {"DELETE", "/_/drops/AAAAAAAAAAAAAAAAAAAAAAAAAA"}} {
		body := strings.NewReader(`{"path":"incoming/","expires":"24h"}`)
		if a := call(t, r.method, ts.URL+r.path, body, nil); a.status != 401 {
			t.Fatalf("%s %s without the token: %d", r.method, r.path, a.status)
		}
		if a := call(t, r.method, ts.URL+r.path, strings.NewReader(`{}`), bearer("wrong")); a.status != 401 {
			t.Fatalf("%s %s with a wrong token: %d", r.method, r.path, a.status)
		}
	}
	link := owner.create(map[string]any{"path": "incoming/", "expires": "24h", "max_bytes": 40, "max_files": 4, "label": "Tax <b>office</b>", "room": "lab"})
	if link.URL != ts.URL+"/_/drop/"+link.ID || link.Path != "incoming/" || link.Room != "lab" {
		t.Fatalf("created %+v", link)
	}
	if l := owner.list(); len(l) != 1 || l[0].ID != link.ID {
		t.Fatalf("listed %+v", l)
	}

	ann := harness.Dial(t, ts, "room=lab&name=ann&token="+token)

	t.Run("GuestUploads", func(t *testing.T) {
		page := call(t, "GET", link.URL, nil, http.Header{"Accept": {"text/html"}})
		if page.status != 200 || !strings.Contains(string(page.body), "drop-page.js") ||
			!strings.Contains(page.header.Get("Content-Security-Policy"), "script-src 'self'") ||
			page.header.Get("Referrer-Policy") != "no-referrer" || page.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("the guest's page: %d %v\n%s", page.status, page.header, page.body)
		}
		if a := guestPut(t, ts, link.ID, "report.txt", "quarterly numbers"); a.status != 201 {
			t.Fatalf("guest upload: %d %s", a.status, a.body)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "incoming", "report.txt")); string(got) != "quarterly numbers" {
			t.Fatalf("incoming/report.txt holds %q", got)
		}
		fin, progress := readUpload(ann, "upload-finish", "incoming/report.txt")
		if by := fin.Obj("by"); by.Str("name") != "Tax <b>office</b>" || by.Str("id") != "drop-"+drops.Ref(link.ID) || fin.Num("size") != 17 {
			t.Errorf("upload-finish %v", fin)
		}
		if len(progress) == 0 || progress[0].Obj("by").Str("name") != "Tax <b>office</b>" || progress[0].Num("received") != 0 || progress[0].Num("size") != 17 {
			t.Errorf("progress %v", progress)
		}
		ev := ann.ReadKind("feed").Obj("event")
		if ev.Str("via") != "drop" || ev.Str("who") != "Tax <b>office</b>" || ev.Str("action") != "upload" || ev.Str("path") != "incoming/report.txt" || ev.Num("bytes") != 17 {
			t.Errorf("feed event %v", ev)
		}
		// A joiner later finds it in the room's history.
		late := harness.Dial(t, ts, "room=lab&name=late&token="+token)
		if f := late.Welcome["feed"].([]any); len(f) == 0 || testutil.Frame(f[len(f)-1].(map[string]any)).Str("via") != "drop" {
			t.Errorf("welcome.feed %v", late.Welcome["feed"])
		}
	})

	t.Run("NoReading", func(t *testing.T) {
		for _, p := range []string{"/report.txt", "/", "/report.txt?download", "/?zip", "/x/"} {
			a := call(t, "GET", link.URL+p, nil, nil)
			if a.status != 405 || strings.Contains(string(a.body), "quarterly") {
				t.Errorf("GET through the link %s: %d %q", p, a.status, a.body)
			}
		}
		info := call(t, "GET", link.URL, nil, http.Header{"Accept": {"application/json"}})
		if info.status != 200 || strings.Contains(string(info.body), "incoming") || strings.Contains(string(info.body), `"lab"`) {
			t.Errorf("the guest's view: %d %s", info.status, info.body)
		}
		// The link opens no other door.
		for _, p := range []string{"/incoming/report.txt", "/incoming/", "/", "/_/drops", "/_/info"} {
			if a := call(t, "GET", ts.URL+p, nil, http.Header{"Referer": {link.URL}, "Accept": {"application/json"}}); a.status != 401 {
				t.Errorf("GET %s without the token: %d", p, a.status)
			}
		}
		if c, resp, err := harness.DialRaw(ts, "room=lab&name=guest", nil, nil); err == nil {
			c.Close()
			t.Error("joined a room without the token")
		} else if resp == nil || resp.StatusCode != 401 {
			t.Errorf("joining without the token: %v", err)
		}
		// A spelling of the owner's door through the guest's is the
		// owner's door: cleaned before the gate decides.
		if a := call(t, "GET", ts.URL+"/_/drop/x/../../drops", nil, nil); a.status == 200 {
			t.Errorf("GET /_/drop/x/../../drops without the token: %d %s", a.status, a.body)
		}
	})

	t.Run("Refusals", func(t *testing.T) {
		if a := guestPut(t, ts, link.ID, "report.txt", "replaced?"); a.status != 409 {
			t.Errorf("the same name again: %d", a.status)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "incoming", "report.txt")); string(got) != "quarterly numbers" {
			t.Errorf("report.txt now holds %q", got)
		}
		if a := guestPut(t, ts, link.ID, "big.bin", strings.Repeat("x", 65)); a.status != 413 {
			t.Errorf("65 bytes over -max-upload 64: %d", a.status)
		}
		if a := guestPut(t, ts, link.ID, "big.bin", strings.Repeat("x", 24)); a.status != 413 {
			t.Errorf("24 bytes with 23 of max_bytes left: %d", a.status)
		}
		for _, name := range []string{"..", "%2e%2e", "..%2Fmyfile1.txt", "..%2F..%2Fescape", "a%2Fb", "sub/x", "a%5Cb",
			".env", "%2Eenv", ".filehub-tmp-x", "%00", "x%0Ay", "%C0%AE%C0%AE", "%FF", "%2F"} {
			if a := guestPut(t, ts, link.ID, name, "hostile"); a.status < 300 || a.status >= 500 {
				t.Errorf("PUT through the link as %q: %d, want a refusal", name, a.status)
			}
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "myfile1.txt")); string(got) != harness.LabFiles()["myfile1.txt"] {
			t.Errorf("myfile1.txt now %q", got)
		}
		ents, _ := os.ReadDir(filepath.Join(dir, "incoming"))
		if len(ents) != 1 {
			t.Errorf("incoming holds %d files, want report.txt alone", len(ents))
		}
		// max_files: 4, one taken, the refused ones given back.
		for i := range 3 {
			if a := guestPut(t, ts, link.ID, fmt.Sprintf("n%d.txt", i), "n"); a.status != 201 {
				t.Fatalf("file %d: %d", i+2, a.status)
			}
		}
		if a := guestPut(t, ts, link.ID, "fifth.txt", "5"); a.status != 403 {
			t.Errorf("a fifth file: %d", a.status)
		}
		if l := owner.list(); len(l) != 1 || l[0].Files != 4 || l[0].Bytes != 20 {
			t.Errorf("the link's counts: %+v", l)
		}
	})

	t.Run("Revoked", func(t *testing.T) {
		if a := call(t, "DELETE", ts.URL+"/_/drops/"+link.ID, nil, owner.hdr()); a.status != 204 {
			t.Fatalf("revoke: %d %s", a.status, a.body)
		}
		for _, r := range []struct{ method, path string }{
			{"GET", "/_/drop/" + link.ID}, {"PUT", "/_/drop/" + link.ID + "/late.txt"}, {"GET", "/_/drop/" + link.ID + "/report.txt"},
			{"GET", "/_/drop/" + link.ID + "/"}, {"DELETE", "/_/drops/" + link.ID},
		} {
			if a := call(t, r.method, ts.URL+r.path, strings.NewReader("x"), owner.hdr()); a.status != 410 {
				t.Errorf("%s %s after revocation: %d", r.method, strings.Replace(r.path, link.ID, "ID", 1), a.status)
			}
		}
		if l := owner.list(); len(l) != 0 {
			t.Errorf("still listed: %+v", l)
		}
	})

	if logs := ts.Logs.Text(); strings.Contains(logs, link.ID) || strings.Contains(logs, link.ID[:10]) {
		t.Fatal("the server's logs hold a drop link's id")
	}
}

// TestDropLinkRestart: a link outlives the server (the state file, outside
// the folder); a read-only server takes nothing through it.
func TestDropLinkRestart(t *testing.T) {
	t.Parallel()
	dir, state := harness.LabDir(t), t.TempDir()
	ts := harness.Start(t, dir, "-state-dir", state) // uploads off: drop links work all the same
	owner := dropOwner{t: t, ts: ts}
	link := owner.create(map[string]any{"path": "docs", "expires": "1h", "max_files": 2})
	if a := guestPut(t, ts, link.ID, "before.txt", "before"); a.status != 201 {
		t.Fatalf("before the restart: %d %s", a.status, a.body)
	}
	if a := call(t, "PUT", ts.URL+"/docs/plain.txt", strings.NewReader("x"), nil); a.status != 403 {
		t.Fatalf("a plain PUT with uploads off: %d", a.status)
	}
	ts.Stop()

	again := harness.Start(t, dir, "-state-dir", state)
	if a := guestPut(t, again, link.ID, "after.txt", "after"); a.status != 201 {
		t.Fatalf("after the restart: %d %s", a.status, a.body)
	}
	if a := guestPut(t, again, link.ID, "third.txt", "3"); a.status != 403 {
		t.Fatalf("past max_files, counted across the restart: %d", a.status)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "docs", "after.txt")); string(got) != "after" {
		t.Fatalf("docs/after.txt holds %q", got)
	}
	other := dropOwner{t: t, ts: again}.create(map[string]any{"path": "", "expires": "1h"})
	again.Stop()

	ro := harness.Start(t, dir, "-state-dir", state, "-read-only")
	if a := guestPut(t, ro, other.ID, "ro.txt", "x"); a.status != 403 {
		t.Fatalf("through a link on a -read-only server: %d", a.status)
	}
	if a := call(t, "POST", ro.URL+"/_/drops", strings.NewReader(`{"path":"","expires":"1h"}`), nil); a.status != 403 {
		t.Fatalf("a new link on a -read-only server: %d", a.status)
	}
	if _, err := os.Stat(filepath.Join(dir, "ro.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("-read-only wrote ro.txt: %v", err)
	}
	// The state is outside the folder: nothing of it is served or listed,
	// even with -show-hidden.
	ro.Stop()
	shown := harness.Start(t, dir, "-state-dir", state, "-show-hidden")
	walk := []string{"/"}
	for len(walk) > 0 {
		p := walk[0]
		walk = walk[1:]
		a := call(t, "GET", shown.URL+p, nil, http.Header{"Accept": {"application/json"}})
		if strings.Contains(string(a.body), link.ID) || strings.Contains(string(a.body), "drops-") {
			t.Fatalf("GET %s shows the state: %s", p, a.body)
		}
		var l struct {
			Entries []struct {
				Name string
				Dir  bool
			}
		}
		json.Unmarshal(a.body, &l)
		for _, e := range l.Entries {
			if e.Dir {
				walk = append(walk, p+e.Name+"/")
			}
		}
	}
}

// TestDropLinkStateDir: the state folder is never one the server serves.
func TestDropLinkStateDir(t *testing.T) {
	t.Parallel()
	dir := harness.LabDir(t)
	for _, state := range []string{dir, filepath.Join(dir, "docs"), filepath.Join(dir, ".state")} {
		err := server.Run(t.Context(), []string{"-addr", "127.0.0.1:0", "-state-dir", state, dir}, func(string) string { return "" }, io.Discard, io.Discard)
		if server.ExitCode(err, io.Discard) != 2 || !strings.Contains(err.Error(), "inside the served folder") {
			t.Errorf("-state-dir %s: %v, want a usage error", state, err)
		}
	}
	// The default state folder, inside the served one (a server of the
	// home folder): links are kept in memory, with a warning, and nothing
	// is written into the folder.
	home := t.TempDir()
	ts := harness.StartEnv(t, map[string]string{"HOME": home}, "-addr", "127.0.0.1:0", "-root", home)
	dropOwner{t: t, ts: ts}.create(map[string]any{"path": "", "expires": "1h"})
	if ents, _ := os.ReadDir(home); len(ents) != 0 {
		t.Errorf("the served folder now holds %v", ents)
	}
	if !strings.Contains(ts.Logs.Text(), "kept in memory") {
		t.Errorf("no warning that links are kept in memory:\n%s", ts.Logs.Text())
	}
	// $XDG_STATE_HOME, outside: the drop links' state file and the
	// rooms' history, the owner's alone.
	xdg := t.TempDir()
	ts2 := harness.StartEnv(t, map[string]string{"HOME": home, "XDG_STATE_HOME": xdg}, "-addr", "127.0.0.1:0", "-root", dir)
	dropOwner{t: t, ts: ts2}.create(map[string]any{"path": "", "expires": "1h"})
	ents, _ := os.ReadDir(filepath.Join(xdg, "filehub"))
	if len(ents) != 2 || !strings.HasPrefix(ents[0].Name(), "drops-") || !strings.HasPrefix(ents[1].Name(), "history-") {
		t.Fatalf("$XDG_STATE_HOME/filehub holds %v", ents)
	}
	for _, e := range ents {
		if fi, err := e.Info(); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", e.Name(), fi, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(xdg, "filehub")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the state folder: %v %v, want mode 0700", fi, err)
	}
	// A home where the default state folder cannot be made (HOME=/ for
	// docker run --user, or a systemd DynamicUser, on a read-only system;
	// here a file where the folder would go): the server starts, links in
	// memory, with a warning. An explicit -state-dir there is an error.
	badHome := t.TempDir()
	if err := os.WriteFile(filepath.Join(badHome, ".local"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ts4 := harness.StartEnv(t, map[string]string{"HOME": badHome}, "-addr", "127.0.0.1:0", "-root", dir)
	dropOwner{t: t, ts: ts4}.create(map[string]any{"path": "", "expires": "1h"})
	if !strings.Contains(ts4.Logs.Text(), "cannot be made") {
		t.Errorf("no warning that the default state folder cannot be made:\n%s", ts4.Logs.Text())
	}
	err := server.Run(t.Context(), []string{"-addr", "127.0.0.1:0", "-state-dir", filepath.Join(badHome, ".local", "state"), dir}, func(string) string { return "" }, io.Discard, io.Discard)
	if server.ExitCode(err, io.Discard) != 2 {
		t.Errorf("an explicit -state-dir that cannot be made: %v, want a usage error", err)
	}
	// FILEHUB_STATE_DIR is -state-dir.
	env := filepath.Join(t.TempDir(), "state")
	ts3 := harness.StartEnv(t, map[string]string{"HOME": home, "FILEHUB_STATE_DIR": env}, "-addr", "127.0.0.1:0", "-root", dir)
	dropOwner{t: t, ts: ts3}.create(map[string]any{"path": "", "expires": "1h"})
	if ents, _ := os.ReadDir(env); len(ents) != 2 {
		t.Fatalf("FILEHUB_STATE_DIR holds %v", ents)
	}
}

// TestDropLinkDefaults: without label or room, a link's uploads show as
// "drop link" in the default room; a cross-site page cannot post through
// it, its own page can.
func TestDropLinkDefaults(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-state-dir", t.TempDir())
	link := dropOwner{t: t, ts: ts}.create(map[string]any{"path": "docs/", "expires": "30m"})
	lobby := harness.Dial(t, ts, "name=watcher")
	if a := guestPut(t, ts, link.ID, "a.txt", "aaa"); a.status != 201 {
		t.Fatalf("upload: %d", a.status)
	}
	fin, _ := readUpload(lobby, "upload-finish", "docs/a.txt")
	if fin.Obj("by").Str("name") != "drop link" {
		t.Errorf("upload-finish %v", fin)
	}
	if ev := lobby.ReadKind("feed").Obj("event"); ev.Str("who") != "drop link" || ev.Str("via") != "drop" {
		t.Errorf("feed %v", ev)
	}
	cross := http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}
	if a := call(t, "PUT", link.URL+"/evil.txt", strings.NewReader("x"), cross); a.status != 403 {
		t.Errorf("a cross-site PUT through the link: %d", a.status)
	}
	same := http.Header{"Origin": {ts.URL}, "Sec-Fetch-Site": {"same-origin"}}
	if a := call(t, "PUT", link.URL+"/same.txt", strings.NewReader("x"), same); a.status != 201 {
		t.Errorf("the drop page's own PUT: %d", a.status)
	}
	if a := call(t, "POST", ts.URL+"/_/drops", strings.NewReader(`{"path":"","expires":"1h"}`), cross); a.status != 403 {
		t.Errorf("a cross-site POST /_/drops: %d", a.status)
	}
}

// TestDropLinkRaceOneNode: uploads racing for a link's last file: one wins.
func TestDropLinkRaceOneNode(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-state-dir", t.TempDir())
	link := dropOwner{t: t, ts: ts}.create(map[string]any{"path": "docs/", "expires": "1h", "max_files": 1})
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/r%d.txt", link.URL, i), strings.NewReader("r"))
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}
		})
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		if c == 201 {
			won++
		} else if c != 403 {
			t.Errorf("answer %d", c)
		}
	}
	if won != 1 {
		t.Fatalf("%d uploads took the link's one file: %v", won, codes)
	}
}

// TestSnippetInWelcome: shared text reaches a later joiner exactly as it
// was typed: markup as text, every space and line kept.
func TestSnippetInWelcome(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	a := harness.Dial(t, ts, "room=txt&name=ann")
	text := "  <script>alert(1)</script>\n\tindented\r\n\n<b>bold?</b>  \n" + strings.Repeat("é", 100)
	a.Send(map[string]any{"kind": "snippet", "text": text, "title": "<i>notes</i>"})
	if f := a.ReadKind("snippet"); f.Str("text") != text {
		t.Fatalf("snippet %q", f.Str("text"))
	}
	b := harness.Dial(t, ts, "room=txt&name=bob")
	chat, _ := b.Welcome["chat"].([]any)
	if len(chat) != 1 {
		t.Fatalf("welcome.chat %v", b.Welcome["chat"])
	}
	m := testutil.Frame(chat[0].(map[string]any))
	if m.Kind() != "snippet" || m.Str("text") != text || m.Str("title") != "<i>notes</i>" || m.Obj("from").Str("name") != "ann" {
		t.Fatalf("welcome.chat[0] %v", m)
	}
}

// TestClusterDropLinks: with -nats, a link made on one node works on every
// node and survives the nodes; its limits are one count, which two nodes
// racing for the last file cannot both pass; revoked on one node, it is
// 410 on all; the room hears of an upload on any node.
func TestClusterDropLinks(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	dir := harness.LabDir(t)
	a := harness.Start(t, dir, clusterArgs(ns, "a")...)
	b := harness.Start(t, dir, clusterArgs(ns, "b")...)
	onA := harness.Dial(t, a, "room=cl&name=ann")
	link := dropOwner{t: t, ts: a}.create(map[string]any{"path": "docs", "expires": "1h", "max_files": 3, "label": "scanner", "room": "cl"})

	if a := guestPut(t, b, link.ID, "on-b.txt", "bbb"); a.status != 201 {
		t.Fatalf("through b: %d %s", a.status, a.body)
	}
	if ev := onA.ReadKind("feed").Obj("event"); ev.Str("via") != "drop" || ev.Str("who") != "scanner" || ev.Str("path") != "docs/on-b.txt" {
		t.Fatalf("the upload on b, in the feed on a: %v", ev)
	}
	if l := (dropOwner{t: t, ts: b}).list(); len(l) != 1 || l[0].ID != link.ID || l[0].Files != 1 {
		t.Fatalf("listed on b: %+v", l)
	}

	// Two files left; four uploads race for them, two on each node.
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i, node := range []*harness.Server{a, b, a, b} {
		wg.Go(func() {
			req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/_/drop/%s/race%d.txt", node.URL, link.ID, i), strings.NewReader("r"))
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}
		})
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		switch c {
		case 201:
			won++
		case 403:
		default:
			t.Errorf("a racing upload: %d", c)
		}
	}
	if won != 2 {
		t.Fatalf("%d racing uploads took the last 2 files: %v", won, codes)
	}

	// A node restarts: the link is still there (it lives in NATS).
	a.Stop()
	a2 := harness.Start(t, dir, clusterArgs(ns, "a")...)
	if info := call(t, "GET", a2.URL+"/_/drop/"+link.ID, nil, http.Header{"Accept": {"application/json"}}); info.status != 200 || !strings.Contains(string(info.body), `"files":3`) {
		t.Fatalf("after a's restart: %d %s", info.status, info.body)
	}
	if a := call(t, "DELETE", b.URL+"/_/drops/"+link.ID, nil, nil); a.status != 204 {
		t.Fatalf("revoke on b: %d", a.status)
	}
	if a := guestPut(t, a2, link.ID, "late.txt", "x"); a.status != 410 {
		t.Fatalf("on a, revoked on b: %d", a.status)
	}
}
