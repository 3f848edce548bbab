package client_test

// The client against the real server (server.Run on a loopback port,
// through internal/harness): send, get and listen, a resumed upload, a
// download that does not match, and listen across a restart of the
// server.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filehub/client"
	"filehub/internal/harness"
	"filehub/internal/testutil"
)

const token = "client-test-token"

func getenv(k string) string {
	if k == "FILEHUB_TOKEN" {
		return token
	}
	return ""
}

// lines is an io.Writer that hands each line written to it to a channel,
// so that a test waits for what a command says, not for time.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan string
}

func newLines() *lines { return &lines{ch: make(chan string, 100)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			return len(p), nil
		}
		l.ch <- strings.TrimSuffix(line, "\n")
	}
}

// wait returns the next line containing want, failing after the timeout.
func (l *lines) wait(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(testutil.Timeout)
	for {
		select {
		case line := <-l.ch:
			if strings.Contains(line, want) {
				return line
			}
		case <-timeout:
			t.Fatalf("no line with %q", want)
		}
	}
}

func run(t *testing.T, env func(string) string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := client.Run(context.Background(), args, env, &out, &errOut)
	return out.String(), errOut.String(), err
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestSendGet: send uploads and shares into the room (a member sees it
// shared, under the sender's name); get downloads it, checked, never over
// a file; a missing token is said in words.
func TestSendGet(t *testing.T) {
	t.Parallel()
	srv := harness.Start(t, t.TempDir(), "-upload", "-token", token)
	room := harness.Dial(t, srv, "room=team&name=ann&token="+token)
	local := filepath.Join(t.TempDir(), "report.bin")
	body := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // 1.6 MB: streamed, not inline
	if err := os.WriteFile(local, body, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, getenv, "send", "-room", "team", "-name", "robot", local, srv.URL)
	if err != nil || !strings.Contains(out, "sent "+local+": report.bin, 1600000 bytes, sha256 "+sum(body)) {
		t.Fatalf("send: %v\n%s%s", err, out, errOut)
	}
	if errOut != "" {
		t.Errorf("progress on a stderr that is no terminal: %q", errOut)
	}
	shared := room.ReadKind("shared")
	if shared.Str("path") != "report.bin" || shared.Obj("by").Str("name") != "robot" {
		t.Errorf("the room got %v", shared)
	}
	if got, _ := os.ReadFile(filepath.Join(srv.Dir, "report.bin")); !bytes.Equal(got, body) {
		t.Error("the server's copy differs")
	}

	dst := filepath.Join(t.TempDir(), "copy.bin")
	out, _, err = run(t, getenv, "get", "report.bin", srv.URL, "-o", dst)
	if err != nil || !strings.Contains(out, "sha256 "+sum(body)) {
		t.Fatalf("get: %v %s", err, out)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, body) {
		t.Error("the downloaded copy differs")
	}
	if _, _, err := run(t, getenv, "get", "report.bin", srv.URL, "-o", dst); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("get over an existing file: %v", err)
	}
	_, _, err = run(t, func(string) string { return "" }, "get", "report.bin", srv.URL, "-o", dst+".2")
	if err == nil || !strings.Contains(err.Error(), "FILEHUB_TOKEN") {
		t.Errorf("get without the token: %v", err)
	}
	if _, err := os.Stat(dst + ".2"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused get left %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}
	var ue *client.UsageError
	if _, _, err := run(t, getenv, "send", srv.URL); !errors.As(err, &ue) {
		t.Errorf("send without a file: %v, want a usage error", err)
	}
	if _, _, err := run(t, getenv, "get", "x", "ftp://host/"); !errors.As(err, &ue) {
		t.Errorf("get of a bad URL: %v, want a usage error", err)
	}
}

// TestSendResumes: an upload begun before (the same file to the same
// name, by a run that was cut) goes on from where the server holds it.
func TestSendResumes(t *testing.T) {
	t.Parallel()
	srv := harness.Start(t, t.TempDir(), "-upload", "-token", token)
	local := filepath.Join(t.TempDir(), "big.bin")
	body := bytes.Repeat([]byte("resume me "), 200_000) // 2 MB
	if err := os.WriteFile(local, body, 0o644); err != nil {
		t.Fatal(err)
	}
	// The first run's first half, under the key send uses: the sha256 of
	// the file's absolute path, size, modification time and destination.
	fi, _ := os.Stat(local)
	k := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d\x00%s", local, fi.Size(), fi.ModTime().UnixNano(), "big.bin"))
	key := hex.EncodeToString(k[:16])
	half := len(body) / 2
	req, _ := http.NewRequest("PUT", srv.URL+"/big.bin?resume="+key, bytes.NewReader(body[:half]))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", half-1, len(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("the first half: %v %v", resp, err)
	}
	room := harness.Dial(t, srv, "room=lobby&name=watcher&token="+token)
	out, errOut, err := run(t, getenv, "send", local, srv.URL)
	if err != nil {
		t.Fatalf("send: %v %s%s", err, out, errOut)
	}
	// The upload's first progress says where it went on from.
	if p := room.ReadKind("upload-progress"); p.Num("received") != float64(half) {
		t.Errorf("the upload went on from %v, want %d", p.Num("received"), half)
	}
	if got, _ := os.ReadFile(filepath.Join(srv.Dir, "big.bin")); !bytes.Equal(got, body) {
		t.Error("the server's copy differs")
	}
}

// TestGetRefusesWrongBytes: bytes that do not match the server's
// Repr-Digest are not saved.
func TestGetRefusesWrongBytes(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Repr-Digest", "sha-256=:"+strings.Repeat("A", 43)+"=:")
		w.Write([]byte("not what was hashed"))
	}))
	defer ts.Close()
	dst := filepath.Join(t.TempDir(), "x.txt")
	_, _, err := run(t, getenv, "get", "x.txt", ts.URL, "-o", dst)
	if err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("get of damaged bytes: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestListenAcrossRestart: listen saves what the room shares, never over
// a file there, and when the server restarts it joins again and goes on
// saving.
func TestListenAcrossRestart(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	dir, state := t.TempDir(), t.TempDir()
	start := func() *harness.Server {
		return harness.StartEnv(t, map[string]string{"FILEHUB_TOKEN": token},
			"-addr", addr, "-root", dir, "-upload", "-state-dir", state, "-log-level", "debug")
	}
	srv := start()
	save := t.TempDir()
	if err := os.WriteFile(filepath.Join(save, "a.txt"), []byte("mine, keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut := newLines(), newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- client.Run(ctx, []string{"listen", "-room", "team", "-name", "saver", "-save", save, srv.URL}, getenv, out, errOut)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("listen returned %v", err)
		}
	}()
	errOut.wait(t, "joined team as saver")

	src := t.TempDir()
	send := func(name, body string) {
		t.Helper()
		p := filepath.Join(src, name)
		os.WriteFile(p, []byte(body), 0o644)
		if o, e, err := run(t, getenv, "send", "-room", "team", "-overwrite", p, srv.URL); err != nil {
			t.Fatalf("send %s: %v %s%s", name, err, o, e)
		}
	}
	send("a.txt", "first")
	if line := out.wait(t, "saved a.txt"); !strings.Contains(line, "a (2).txt") || !strings.Contains(line, sum([]byte("first"))) {
		t.Errorf("saved: %s", line)
	}

	srv.Stop()
	errOut.wait(t, "joining again")
	srv = start()
	errOut.wait(t, "joined team again")
	send("b.txt", strings.Repeat("after the restart\n", 100_000)) // streamed as it is shared
	out.wait(t, "saved b.txt")

	for name, want := range map[string]string{"a.txt": "mine, keep me", "a (2).txt": "first", "b.txt": strings.Repeat("after the restart\n", 100_000)} {
		if got, err := os.ReadFile(filepath.Join(save, name)); err != nil || string(got) != want {
			t.Errorf("%s: %v, %d bytes", name, err, len(got))
		}
	}
	if ents, _ := os.ReadDir(save); len(ents) != 3 {
		t.Errorf("the folder holds %d files, want 3 (no temp file left)", len(ents))
	}
}
