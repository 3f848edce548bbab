package drops_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"filehub/drops"
)

// stateOf is the state file's inode and bytes.
func stateOf(t *testing.T, name string) (uint64, []byte) {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino, b
}

// TestStateWrittenOnlyOnChange: with a thousand links, a refused upload
// (409) writes nothing, and one that is taken appends two short lines to
// the state file instead of rewriting it (issue 20, finding 8).
func TestStateWrittenOnlyOnChange(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "drops.json")
	k, err := drops.OpenFile(state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	e := newEnv(t, envOpts{keeper: k})
	ctx := context.Background()
	for i := range 999 {
		if _, err := e.links.Create(ctx, "docs", drops.Request{Expires: "1h", Label: fmt.Sprintf("link %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.create(t, map[string]any{"path": "docs", "expires": "1h", "label": "guest"})
	ino, before := stateOf(t, state)
	if a := e.put(t, c.ID, "a.md", "taken"); a.status != 409 {
		t.Fatalf("PUT a.md = %d %s, want 409", a.status, a.body)
	}
	if ino2, after := stateOf(t, state); ino2 != ino || !bytes.Equal(after, before) {
		t.Fatalf("a refused upload changed the state file: %d bytes, inode %d → %d bytes, inode %d", len(before), ino, len(after), ino2)
	}
	if a := e.put(t, c.ID, "new.md", "new"); a.status != 201 {
		t.Fatalf("PUT new.md = %d %s", a.status, a.body)
	}
	ino2, after := stateOf(t, state)
	if ino2 != ino || !bytes.HasPrefix(after, before) || len(after)-len(before) > 2048 {
		t.Fatalf("an upload rewrote the state (%d bytes, inode %d → %d bytes, inode %d), want two lines appended",
			len(before), ino, len(after), ino2)
	}
	// What was appended is what a new process reads.
	k2, err := drops.OpenFile(state)
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	link, err := drops.New(drops.Config{Keeper: k2}).Open(ctx, c.ID)
	if err != nil || link.Files != 1 {
		t.Fatalf("after a restart: %+v, %v", link, err)
	}
	if n, _ := k2.List(ctx); len(n) != 1000 {
		t.Fatalf("%d links after a restart, want 1000", len(n))
	}
}

// TestStateLog: the log survives a torn last line (a crash while
// appending), is compacted when it grows past twice its links, and a
// state file of the old format is read and converted.
func TestStateLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	state := filepath.Join(t.TempDir(), "drops.json")
	k, err := drops.OpenFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Create(ctx, "a", []byte(`{"n":0}`)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 200; i++ { // past 2×1+64 lines: compacted on the way
		_, rev, _ := k.Get(ctx, "a")
		if err := k.Update(ctx, "a", fmt.Appendf(nil, `{"n":%d}`, i), rev); err != nil {
			t.Fatal(err)
		}
	}
	k.Close()
	_, b := stateOf(t, state)
	if lines := strings.Count(string(b), "\n"); lines > 2+64+2 {
		t.Fatalf("%d lines for one link: never compacted", lines)
	}
	// A torn append: dropped at open, the rest kept.
	f, err := os.OpenFile(state, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"rev":999,"key":"a","val`)
	f.Close()
	k, err = drops.OpenFile(state)
	if err != nil {
		t.Fatalf("a torn last line: %v", err)
	}
	if v, _, err := k.Get(ctx, "a"); err != nil || string(v) != `{"n":200}` {
		t.Fatalf("after a torn line: %s, %v", v, err)
	}
	k.Close()
	// A damaged line in the middle is no crash's doing: refused.
	_, b = stateOf(t, state)
	os.WriteFile(state, append(b, "garbage\n{\"rev\":1,\"key\":\"b\",\"value\":{}}\n"...), 0o600)
	if _, err := drops.OpenFile(state); err == nil {
		t.Fatal("a damaged state file opened")
	}
	// The old format: one JSON object.
	old := filepath.Join(t.TempDir(), "drops.json")
	os.WriteFile(old, []byte(`{"version":1,"rev":7,"links":{"x":{"rev":7,"value":{"n":1}}}}`), 0o600)
	k, err = drops.OpenFile(old)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if v, rev, err := k.Get(ctx, "x"); err != nil || string(v) != `{"n":1}` || rev != 7 {
		t.Fatalf("old format: %s %d %v", v, rev, err)
	}
	if _, b := stateOf(t, old); !strings.HasPrefix(string(b), `{"version":2}`+"\n") {
		t.Fatalf("old format not converted: %q", b)
	}
}
