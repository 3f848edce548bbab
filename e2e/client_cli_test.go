package e2e

// The client's subcommands as a person meets them: the binary's exit
// statuses and one-line errors (main() in a child process, as the
// server's flags are tested), and a whole send, get and listen through it.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filehub/internal/harness"
)

func TestClientExitCodes(t *testing.T) {
	t.Parallel()
	srv := harness.Start(t, harness.LabDir(t), "-token", "cli-token-0123456789ab")
	for _, tc := range []struct {
		args []string
		env  []string
		code int
		err  string
	}{
		{[]string{"send"}, nil, 2, "filehub: send needs at least one FILE and the server's URL"},
		{[]string{"get", "x", "not a url"}, nil, 2, "is not a server URL"},
		{[]string{"listen", srv.URL}, nil, 2, "filehub: listen needs -save FOLDER"},
		{[]string{"get", "-nope"}, nil, 2, "flag provided but not defined: -nope"},
		{[]string{"get", "myfile1.txt", srv.URL}, nil, 1, "filehub: myfile1.txt: the server needs its token: set FILEHUB_TOKEN"},
		{[]string{"get", "nothing.txt", srv.URL}, []string{"FILEHUB_TOKEN=cli-token-0123456789ab"}, 1, "filehub: nothing.txt: 404"},
		{[]string{"get", "-h"}, nil, 0, "Usage: filehub get"},
	} {
		out, errOut, code := runMain(t, tc.env, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.err) {
			t.Errorf("filehub %q: exit %d, want %d; stderr %q, want %q; stdout %q", tc.args, code, tc.code, errOut, tc.err, out)
		}
		if code == 1 && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("filehub %q: a failure in more than one line: %q", tc.args, errOut)
		}
	}
	out, errOut, code := runMain(t, []string{"FILEHUB_TOKEN=cli-token-0123456789ab"}, "get", "docs/a.md", srv.URL)
	if code != 0 || !strings.HasPrefix(out, "got docs/a.md: a.md, 4 bytes, sha256 ") || errOut != "" {
		t.Errorf("get: exit %d, %q %q", code, out, errOut)
	}
}

// TestClientSendIntoReadOnly: a server without -upload refuses, in one line.
func TestClientSendIntoReadOnly(t *testing.T) {
	t.Parallel()
	srv := harness.Start(t, harness.LabDir(t))
	f := filepath.Join(t.TempDir(), "x.txt")
	os.WriteFile(f, []byte("x"), 0o644)
	_, errOut, code := runMain(t, nil, "send", "-no-share", f, srv.URL)
	if code != 1 || !strings.Contains(errOut, "403") {
		t.Errorf("send to a server without -upload: exit %d, %q", code, errOut)
	}
}
