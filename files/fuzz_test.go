package files_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unicode"
	"unicode/utf8"

	"filehub/files"
	"filehub/internal/testutil"
)

// Fuzz targets. Each checks properties, not only that nothing panics:
//
//	go test -run=^$ -fuzz=FuzzClean -fuzztime=20s ./files/
//	go test -run=^$ -fuzz=FuzzParseContentRange -fuzztime=20s ./files/
//	go test -run=^$ -fuzz=FuzzResolve -fuzztime=20s ./files/
//
// Without -fuzz they run their seeds (and testdata/fuzz) as tests.

// FuzzClean: whatever Clean accepts is a relative, clean slash path of
// valid names, the same as the name without its "." elements and slashes
// around it, accepted again unchanged; whatever it refuses is a 400 or a
// 404, never anything else. ShowHidden accepts more, never differently.
func FuzzClean(f *testing.F) {
	for _, tc := range hostileTable() {
		f.Add(tc.target)
		if u, err := url.PathUnescape(tc.target); err == nil {
			f.Add(u)
		}
	}
	for _, s := range []string{"", "/", ".", "./", "docs/a.md", "/docs/./a.md", "a/.", "_x/y", "ws/x", "wss",
		"Ünïcödé — ✓.rst", "．．/x", "...", ".env", "_", "/_/", "./ws", ".filehub-tmp-x", "a//b", "a\\b",
		"a\x00b", "a\u0085b", "\xc0\xae\xc0\xae/x", strings.Repeat("a", 256), strings.Repeat("a/", 2048) + "a"} {
		f.Add(s)
	}
	dir := f.TempDir()
	plain, err := files.Open(dir, files.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { plain.Close() })
	shown, err := files.Open(dir, files.Config{ShowHidden: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { shown.Close() })

	f.Fuzz(func(t *testing.T, name string) {
		p, err := plain.Clean(name)
		sp, serr := shown.Clean(name)
		for _, e := range []error{err, serr} {
			if e != nil && !errors.Is(e, files.ErrBadPath) && !errors.Is(e, fs.ErrNotExist) {
				t.Fatalf("Clean(%q) = %v: neither a bad path nor a missing file", name, e)
			}
		}
		if err == nil && (serr != nil || sp != p) {
			t.Fatalf("Clean(%q) = %q, but with ShowHidden %q, %v", name, p, sp, serr)
		}
		if errors.Is(serr, files.ErrBadPath) != errors.Is(err, files.ErrBadPath) {
			t.Fatalf("Clean(%q): %v, with ShowHidden %v: hiding must not change what is malformed", name, err, serr)
		}
		if serr != nil {
			return
		}
		checkClean(t, name, sp, true)
		if err == nil {
			checkClean(t, name, p, false)
		}
	})
}

// checkClean checks what Clean(name) returned.
func checkClean(t *testing.T, name, p string, showHidden bool) {
	t.Helper()
	want := strings.TrimPrefix(path.Clean("/"+name), "/")
	if want == "" {
		want = "."
	}
	if p != want {
		t.Fatalf("Clean(%q) = %q, want %q", name, p, want)
	}
	if p == "." {
		return
	}
	if len(p) > 4096 || !utf8.ValidString(p) || !filepath.IsLocal(p) || path.Clean(p) != p ||
		strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") || strings.Contains(p, `\`) {
		t.Fatalf("Clean(%q) = %q: not a clean relative slash path", name, p)
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			t.Fatalf("Clean(%q) = %q: has %U", name, p, r)
		}
	}
	for elem := range strings.SplitSeq(p, "/") {
		switch {
		case elem == "" || elem == "." || elem == "..", len(elem) > 255:
			t.Fatalf("Clean(%q) = %q: element %q", name, p, elem)
		case strings.HasPrefix(elem, ".filehub-tmp-"), !showHidden && strings.HasPrefix(elem, "."):
			t.Fatalf("Clean(%q) = %q: hidden element %q", name, p, elem)
		}
	}
	if first, _, _ := strings.Cut(p, "/"); first == "_" || p == "ws" {
		t.Fatalf("Clean(%q) = %q: reserved", name, p)
	}
}

// contentRange is the grammar of a Content-Range a resumable upload sends
// (RFC 9110 14.4): "bytes FIRST-LAST/COMPLETE" or "bytes FIRST-LAST/*".
var contentRange = regexp.MustCompile(`^bytes ([0-9]+)-([0-9]+)/([0-9]+|\*)$`)

// FuzzParseContentRange: parseContentRange accepts exactly the grammar,
// with numbers that fit an int64 and start <= end < total, and what it
// accepts prints back to itself (but for leading zeros).
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{
		"bytes 0-999/*", "bytes 500-1499/3000", "bytes 1000-1999/3000", "bytes 2000-2999/2999", "bytes 2000-2999/3000",
		"bytes 0-x/20", "bytes 0-20/20", "bytes 0-9/20", "bytes 10-19/20", "bytes 0-9/5000", "bytes 0-4/20",
		"bytes 4096-8191/*", "bytes 0-4095/*", "bytes 1024-3071/*", "bytes 0-0/1", "bytes 0-0/0", "bytes */10",
		"bytes -1-2/3", "bytes +1-2/3", "bytes 1-2/+3", "bytes 1 -2/3",
		"bytes=0-1/2", "Bytes 0-1/2", "bytes 9223372036854775806-9223372036854775806/9223372036854775807",
		"bytes 9223372036854775807-9223372036854775807/*", "bytes 99999999999999999999-1/*", "bytes 007-010/011",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		start, end, total, err := files.ParseContentRange(v)
		wantStart, wantEnd, wantTotal, ok := refContentRange(v)
		if (err == nil) != ok {
			t.Fatalf("parseContentRange(%q) = %d, %d, %d, %v; the grammar says ok=%v", v, start, end, total, err, ok)
		}
		if err != nil {
			if !errors.Is(err, files.ErrBadRange) {
				t.Fatalf("parseContentRange(%q) = %v, not ErrBadRange", v, err)
			}
			return
		}
		if start != wantStart || end != wantEnd || total != wantTotal {
			t.Fatalf("parseContentRange(%q) = %d, %d, %d, want %d, %d, %d", v, start, end, total, wantStart, wantEnd, wantTotal)
		}
		if start < 0 || end < start || total < -1 || (total >= 0 && end >= total) {
			t.Fatalf("parseContentRange(%q) = %d, %d, %d: not start <= end < total", v, start, end, total)
		}
		tot := "*"
		if total >= 0 {
			tot = strconv.FormatInt(total, 10)
		}
		again := fmt.Sprintf("bytes %d-%d/%s", start, end, tot)
		if s2, e2, t2, err := files.ParseContentRange(again); err != nil || s2 != start || e2 != end || t2 != total {
			t.Fatalf("%q printed as %q parses to %d, %d, %d, %v", v, again, s2, e2, t2, err)
		}
	})
}

// refContentRange is the grammar, spelled out.
func refContentRange(v string) (start, end, total int64, ok bool) {
	m := contentRange.FindStringSubmatch(v)
	if m == nil {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	start, err1 = strconv.ParseInt(m[1], 10, 64)
	end, err2 = strconv.ParseInt(m[2], 10, 64)
	total = -1
	if m[3] != "*" {
		total, err3 = strconv.ParseInt(m[3], 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || end < start || (total >= 0 && end >= total) {
		return 0, 0, 0, false
	}
	return start, end, total, true
}

// FuzzResolve puts two symlinks with fuzzed targets in a folder, then
// checks, for a fuzzed path:
//   - resolve (the Store's link-by-link walk, used for listings and where
//     there is no /proc) leads where the kernel leads through os.Root: both
//     fail, or both reach the same file by the same path;
//   - the Store serves the path exactly when what it leads to has no hidden
//     element (a link to .git is .git), however the path was spelled.
func FuzzResolve(f *testing.F) {
	for _, s := range [][3]string{
		{".env", "../.git", "l1"},
		{".git", "../l1/config", "docs/l2"},
		{".git/config", "sub", "docs/l2/deep.txt"},
		{"docs", "../.filehub-tmp-x", "l1/l2"},
		{"docs/l2", "../.git", "l1/config"},
		{"l1", "l2", "l1"},
		{"docs/../.env", "./sub/../../docs/a.md", "docs/l2"},
		{"/etc/passwd", "../..", "docs/l2/served/docs/a.md"},
		{"docs/", "a.md/", "l1/l2"},
		{".", "..", "docs/l2/l1/a.md"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	dir := f.TempDir()
	testutil.WriteTree(f, dir, map[string]string{
		".env": "e", ".git/config": "c", "docs/a.md": "a", "docs/sub/deep.txt": "d", ".filehub-tmp-x": "t", "_/x": "r",
	})
	shown, err := files.Open(dir, files.Config{ShowHidden: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { shown.Close() })
	plain, err := files.Open(dir, files.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { plain.Close() })
	root, err := os.OpenRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		f.Fatal(err)
	}
	links := []string{filepath.Join(dir, "l1"), filepath.Join(dir, "docs", "l2")}

	f.Fuzz(func(t *testing.T, target1, target2, name string) {
		p, err := shown.Clean(name)
		if err != nil || p == "." {
			return
		}
		for i, target := range []string{target1, target2} {
			if target == "" || len(target) > 1024 || strings.ContainsRune(target, 0) {
				return
			}
			os.Remove(links[i])
			if err := os.Symlink(target, links[i]); err != nil {
				t.Fatal(err)
			}
		}
		rel, fi, rerr := files.Resolve(shown, p)

		// The kernel's answer, through the root.
		kf, kerr := root.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		var krel string
		if kerr == nil {
			defer kf.Close()
			link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", kf.Fd()))
			if err != nil {
				t.Skip("no /proc:", err)
			}
			r, err := filepath.Rel(real, link)
			if err != nil || !filepath.IsLocal(r) && r != "." {
				t.Fatalf("%q opened as %q, outside %q", p, link, real)
			}
			krel = filepath.ToSlash(r)
		} else if errors.Is(kerr, syscall.ENAMETOOLONG) {
			return // os.Root's bound on ".." restarts, which resolve does not copy
		}
		switch {
		case (rerr == nil) != (kerr == nil):
			t.Fatalf("links %q, %q: resolve(%q) = %q, %v; the kernel: %q, %v", target1, target2, p, rel, rerr, krel, kerr)
		case rerr == nil && rel != krel:
			t.Fatalf("links %q, %q: resolve(%q) = %q, the kernel %q", target1, target2, p, rel, krel)
		case rerr == nil:
			kfi, err := kf.Stat()
			if err != nil || !os.SameFile(fi, kfi) {
				t.Fatalf("links %q, %q: resolve(%q) found another file than the kernel", target1, target2, p)
			}
		}

		// The Store, hiding dotfiles: served exactly when the file reached
		// is a regular file with no hidden element on its real path.
		hidden := false
		if kerr == nil {
			for elem := range strings.SplitSeq(krel, "/") {
				hidden = hidden || strings.HasPrefix(elem, ".") && elem != "."
			}
		}
		var regular bool
		if kerr == nil {
			kfi, err := kf.Stat()
			regular = err == nil && kfi.Mode().IsRegular()
		}
		_, cerr := plain.Clean(p)
		sf, _, serr := plain.Open(p)
		if serr == nil {
			sf.Close()
		}
		if want := cerr == nil && kerr == nil && regular && !hidden; (serr == nil) != want {
			t.Fatalf("links %q, %q: Open(%q) = %v, want served=%v (reaches %q, %v)", target1, target2, p, serr, want, krel, kerr)
		}
	})
}
