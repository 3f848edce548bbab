package thumbs_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports holds the package's boundary: thumbs reaches the folder
// through files alone and knows no other filehub package (the server
// wires it), and files does not know thumbs.
func TestImports(t *testing.T) {
	t.Parallel()
	for dir, allowed := range map[string]map[string]bool{
		".":        {"filehub/files": true},
		"../files": {},
	} {
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(names) == 0 {
			t.Fatalf("%s: %v %v", dir, names, err)
		}
		for _, name := range names {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if (p == "filehub" || strings.HasPrefix(p, "filehub/")) && !allowed[p] {
					t.Errorf("%s imports %s", name, p)
				}
			}
		}
	}
}
