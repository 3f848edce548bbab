package e2e

// The WebDAV door of the whole server: the litmus suite (Debian's litmus)
// against server.Run on a loopback port, Basic auth with the token, the
// lockout, -read-only, and writes that the room sees in its feed and its
// live folder.

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filehub/internal/harness"
	"filehub/internal/testutil"
)

// litmusPath finds litmus: skipped without it, failed under CI, as the
// browser tests do for Chromium.
func litmusPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("litmus")
	if err != nil {
		msg := "no litmus found (install Debian's litmus: apt-get install -y litmus)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// TestDavLitmus runs litmus's basic, copymove and props groups against the
// mount, with the token as the Basic password; every test must pass.
func TestDavLitmus(t *testing.T) {
	t.Parallel()
	bin := litmusPath(t)
	srv := harness.Start(t, t.TempDir(), "-upload", "-token", "litmus-token-0123456789")
	for _, group := range []string{"basic", "copymove", "props"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*testutil.Timeout)
		cmd := exec.CommandContext(ctx, bin, "-k", srv.URL+"/_/dav/", "anyone", "litmus-token-0123456789")
		cmd.Env = append(os.Environ(), "TESTS="+group)
		cmd.Dir = t.TempDir() // litmus writes debug.log where it runs
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil || !bytes.Contains(out, []byte(" 0 failed.")) || bytes.Contains(out, []byte("FAIL")) {
			t.Errorf("litmus %s: %v\n%s", group, err, out)
		}
	}
}

// davDo sends one WebDAV request with the token as Basic auth ("" for none).
func davDo(t *testing.T, srv *harness.Server, method, path, token string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.SetBasicAuth("finder", token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: testutil.Timeout}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.String()
}

// TestDavRoomSeesWrites: a file written through the mount is in the room's
// feed (via "dav") and in its live folder; a folder made there shows too.
func TestDavRoomSeesWrites(t *testing.T) {
	t.Parallel()
	srv := harness.Start(t, harness.LabDir(t), "-upload", "-token", "tok-0123456789abcdef")
	room := harness.Dial(t, srv, "name=pat&token=tok-0123456789abcdef&batch=1")

	if resp, body := davDo(t, srv, "MKCOL", "/_/dav/mounted", "tok-0123456789abcdef", nil, ""); resp.StatusCode != http.StatusCreated {
		t.Fatalf("MKCOL: %d %s", resp.StatusCode, body)
	}
	if resp, body := davDo(t, srv, "PUT", "/_/dav/mounted/notes.txt", "tok-0123456789abcdef", nil, "from the mount\n"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	var sawFeed, sawFile bool
	room.ReadUntil(func(f testutil.Frame) bool {
		frames := []testutil.Frame{f}
		if f.Kind() == "batch" {
			frames = frames[:0]
			for _, m := range f["frames"].([]any) {
				frames = append(frames, testutil.Frame(m.(map[string]any)))
			}
		}
		for _, m := range frames {
			switch m.Kind() {
			case "feed":
				ev := m.Obj("event")
				if ev.Str("via") == "dav" && ev.Str("action") == "upload" && ev.Str("path") == "mounted/notes.txt" && ev.Num("bytes") == 15 {
					sawFeed = true
				}
			case "fs":
				if m.Str("path") == "mounted/notes.txt" && m.Str("op") != "remove" {
					sawFile = true
				}
			}
		}
		return sawFeed && sawFile
	})
	got, err := os.ReadFile(filepath.Join(srv.Dir, "mounted", "notes.txt"))
	if err != nil || string(got) != "from the mount\n" {
		t.Errorf("on disk: %q %v", got, err)
	}
}

// TestDavToken: the mount needs the token; without it the answer offers
// Basic auth (what makes Finder and Explorer ask), and wrong passwords
// count toward the lockout like wrong tokens anywhere.
func TestDavToken(t *testing.T) {
	t.Parallel()
	srv := harness.Start(t, harness.LabDir(t), "-token", "right-0123456789abcdef")
	resp, _ := davDo(t, srv, "PROPFIND", "/_/dav/", "", map[string]string{"Depth": "1"}, "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), ","), "Basic") {
		t.Errorf("PROPFIND without the token: %d %v", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	resp, body := davDo(t, srv, "PROPFIND", "/_/dav/", "right-0123456789abcdef", map[string]string{"Depth": "1"}, "")
	if resp.StatusCode != http.StatusMultiStatus || !strings.Contains(body, "myfile1.txt") {
		t.Errorf("PROPFIND with the token: %d %s", resp.StatusCode, body)
	}
	// Uploads are off: the mount is read-only.
	if resp, _ := davDo(t, srv, "PUT", "/_/dav/x.txt", "right-0123456789abcdef", nil, "x"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("PUT without -upload: %d", resp.StatusCode)
	}
	// Ten wrong passwords, then the network is locked out, even with the
	// right one.
	for i := range 10 {
		if resp, _ := davDo(t, srv, "PROPFIND", "/_/dav/", "wrong", nil, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, resp.StatusCode)
		}
	}
	if resp, _ := davDo(t, srv, "PROPFIND", "/_/dav/", "wrong", nil, ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("eleventh wrong password: %d, want 429", resp.StatusCode)
	}
	if resp, _ := davDo(t, srv, "PROPFIND", "/_/dav/", "right-0123456789abcdef", nil, ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the right one while locked out: %d, want 429", resp.StatusCode)
	}
}

// TestDavReadOnlyFlag: -read-only holds for the mount too.
func TestDavReadOnlyFlag(t *testing.T) {
	t.Parallel()
	srv := harness.Start(t, harness.LabDir(t), "-read-only")
	for _, m := range []string{"PUT", "MKCOL", "DELETE"} {
		if resp, _ := davDo(t, srv, m, "/_/dav/myfile1.txt", "", nil, ""); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s with -read-only: %d", m, resp.StatusCode)
		}
	}
	if resp, body := davDo(t, srv, "GET", "/_/dav/myfile1.txt", "", nil, ""); resp.StatusCode != http.StatusOK || body != harness.LabFiles()["myfile1.txt"] ||
		resp.Header.Get("Content-Security-Policy") != "sandbox" {
		t.Errorf("GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}
