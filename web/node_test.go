package web

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestNodeModels runs the page's DOM-free modules' tests (jstest/*.test.js:
// the URL's route, sort and filter, short types, progress, what becomes of
// a file's bytes) under node
// --test, so that `go test ./...` runs them too. Without node the test
// skips with a message, except under CI (CI non-empty), where a missing
// node is a failure, as a missing Chromium is for the browser tests.
// FILEHUB_NODE overrides node's path.
func TestNodeModels(t *testing.T) {
	t.Parallel()
	node := os.Getenv("FILEHUB_NODE")
	if node == "" {
		node = "node"
	}
	path, err := exec.LookPath(node)
	if err != nil {
		msg := "no node found (install Node.js 18 or newer, or set FILEHUB_NODE): the page's model tests in web/jstest did not run"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	files, err := filepath.Glob(filepath.Join("jstest", "*.test.js"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d test files in web/jstest, want the route, order, types and content tests", len(files))
	}
	cmd := exec.Command(path, append([]string{"--test", "--test-reporter=tap"}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}
