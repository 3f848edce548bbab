package server

import (
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// boundaries are the import rules the package comments promise, once: a
// package (with what it imports, transitively, but not its tests) must
// not reach any of the packages named. "filehub/..." is every filehub
// package. The gate is package server's, which wires files: its rule is
// that gate.go itself imports neither files nor hub (TestGateImports).
var boundaries = []struct {
	pkg   string
	never []string
	why   string
}{
	{"filehub/files", []string{"filehub/..."}, "the domain package knows no other (style rule 3)"},
	{"filehub/drops", []string{"filehub/hub", "filehub/cluster", "filehub/watch", "filehub/server"}, "drop links reach the room through hooks"},
	{"filehub/client", []string{"filehub/..."}, "the client speaks the server's public surface only"},
	{"filehub/links", []string{"filehub/hub", "filehub/cluster", "filehub/watch", "filehub/server", "filehub/dav"}, "share links reach the room through hooks"},
	{"filehub/dav", []string{"filehub/hub", "filehub/cluster", "filehub/drops", "filehub/watch", "filehub/server"}, "WebDAV writes reach the room through hooks"},
	{"filehub/watch", []string{"filehub/hub", "filehub/cluster", "filehub/drops", "filehub/server"}, "changes reach the room through a callback"},
	{"filehub/hub", []string{"filehub/cluster", "filehub/drops", "filehub/watch", "filehub/server", "filehub/echo"}, "scale-out plugs in behind hub.Broker"},
	{"filehub/cluster", []string{"filehub/server", "filehub/watch", "filehub/echo"}, "the broker plugs into hub.Broker and drops.Keeper, no more"},
	{"filehub/history", []string{"filehub/server", "filehub/cluster", "filehub/watch", "filehub/drops", "filehub/echo"}, "a node's history on disk plugs into hub.HistoryStore, no more"},
	{"filehub/hub", []string{"filehub/history"}, "the history store plugs in behind hub.HistoryStore"},
	{"filehub/echo", []string{"filehub/hub", "filehub/files", "filehub/server"}, "the echo endpoint is a leaf beside the hub"},
	{"filehub/index", []string{"filehub/hub", "filehub/cluster", "filehub/drops", "filehub/watch", "filehub/server"}, "the index is fed changes and handed to files and hub as a files.Lister and a func"},
	{"filehub/thumbs", []string{"filehub/hub", "filehub/cluster", "filehub/drops", "filehub/watch", "filehub/server", "filehub/echo", "filehub/web"}, "thumbnails reach the folder through files alone"},
	{"filehub/vocab", []string{"filehub/..."}, "the protocol's vocabulary is a leaf"},
	{"filehub/refusal", []string{"filehub/..."}, "the refusal body is a leaf"},
	{"filehub/origin", []string{"filehub/..."}, "the origin rule is a leaf"},
	{"filehub/guard", []string{"filehub/..."}, "the connection and body limits sit below every route and know none of them"},
	{"filehub/web", []string{"filehub/..."}, "the page knows no server package"},
}

// modRoot is the module's folder, from this package's.
const modRoot = ".."

// deps lists the filehub packages pkg imports, transitively, from the
// source (go/build, no go command): tests' imports left out.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		dir := filepath.Join(modRoot, filepath.FromSlash(strings.TrimPrefix(p, "filehub/")))
		bp, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, imp := range bp.Imports {
			if strings.HasPrefix(imp, "filehub/") && !seen[imp] {
				seen[imp] = true
				walk(imp)
			}
		}
	}
	walk(pkg)
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func TestBoundaries(t *testing.T) {
	t.Parallel()
	for _, b := range boundaries {
		got := deps(t, b.pkg)
		for _, never := range b.never {
			for _, d := range got {
				if d == never || never == "filehub/..." {
					t.Errorf("%s imports %s (via %v): %s", b.pkg, d, got, b.why)
				}
			}
		}
	}
}

// TestGateImports: the token gate knows none of files, hub or web; it
// shares the protocol's vocabulary through vocab, refusal and origin.
func TestGateImports(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "gate.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		switch p {
		case "filehub/files", "filehub/hub", "filehub/web", "filehub/drops", "filehub/links", "filehub/dav":
			t.Errorf("gate.go imports %s", p)
		}
	}
}
