package server

// Tests of the server's pure parts, from inside: the gate's doors, the
// logs' spelling of drop links, the flags. The whole server is tested from
// outside in e2e/ and the root hub_test.go.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"filehub/drops"
	"filehub/internal/testutil"
)

// TestDropDoors: which paths the gate opens for a drop link's guest, and
// how the logs spell a drop link's URL.
func TestDropDoors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method, path string
		want         door
	}{
		{"GET", "/_/drop/ID", doorOpen},
		{"PUT", "/_/drop/ID/a.txt", doorOpen},
		{"GET", "/_/drop/ID/", doorOpen},
		{"GET", "/_/drops", doorHTTP},
		{"POST", "/_/drops", doorHTTP},
		{"DELETE", "/_/drops/ID", doorHTTP},
		{"GET", "/_/drop", doorHTTP},
		{"GET", "/_/drop/", doorHTTP},
		{"GET", "/_/drop/ID/../../drops", doorHTTP},
		{"GET", "/_/drop/../info", doorHTTP},
		{"GET", "/_/drop/../../myfile1.txt", doorHTTP},
		{"PUT", "/_/dropx/ID/a", doorHTTP},
		{"GET", "/_/dropsy/ID", doorHTTP},
	} {
		if got := doorOf(mustRequest(t, tc.method, "http://h"+tc.path)); got != tc.want {
			t.Errorf("%s %s: door %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
	const id = "PDUOV5R3KZEAU36SOQDUQBRPXT"
	ref := drops.Ref(id)
	for in, want := range map[string]string{
		"/_/drop/" + id:              "/_/drop/~" + ref,
		"/_/drop/" + id + "/a/b.txt": "/_/drop/~" + ref + "/a/b.txt",
		"/_/drop/" + id + "/":        "/_/drop/~" + ref + "/",
		"/_/drops/" + id:             "/_/drops/~" + ref,
		"/_/drops":                   "/_/drops",
		"/_/drop/":                   "/_/drop/",
		"/docs/a.md":                 "/docs/a.md",
	} {
		if got := logPath(in); got != want {
			t.Errorf("logPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWatchFlags: the watch settings are parsed as strictly as the others.
func TestWatchFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-watch=maybe"}, nil, `-watch: "maybe" is not a boolean`},
		{nil, map[string]string{"FILEHUB_WATCH": "yes"}, `FILEHUB_WATCH: "yes" is not a boolean`},
		{[]string{"-watch-limit", "-1"}, nil, `-watch-limit: "-1" is not a whole number`},
		{nil, map[string]string{"FILEHUB_WATCH_LIMIT": "many"}, `FILEHUB_WATCH_LIMIT: "many" is not a whole number`},
		{[]string{"-watch-interval", "5"}, nil, `-watch-interval: "5" is not a duration`},
		{[]string{"-watch-interval", "10ms"}, nil, `-watch-interval: 10ms is under 100ms`},
		{nil, map[string]string{"FILEHUB_WATCH_INTERVAL": "1ms"}, `-watch-interval: 1ms is under 100ms`},
	}
	for _, tc := range tests {
		_, err := parseFlags(tc.args, func(k string) string { return tc.env[k] }, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want %q", tc.args, tc.env, err, tc.want)
		}
	}
	o, err := parseFlags([]string{"-watch-limit", "10", "-watch-interval", "2s"}, func(k string) string {
		return map[string]string{"FILEHUB_WATCH": "0", "FILEHUB_WATCH_LIMIT": "5"}[k]
	}, nil)
	if err != nil || o.Watch || o.WatchLimit != 10 || o.WatchInterval != 2*time.Second {
		t.Fatalf("parsed %v %v %v, %v", o.Watch, o.WatchLimit, o.WatchInterval, err)
	}
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestNewWithoutFlags: the component graph is built from a Config alone,
// serves on a listener the test made, and stops cleanly when ctx ends.
func TestNewWithoutFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testutil.WriteTree(t, dir, map[string]string{"a.txt": "hello\n"})
	s, err := New(t.Context(), Config{Root: dir, StateDir: t.TempDir(), Watch: true}, nil, testutil.Logger(t, slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, io.Discard) }()
	base := "http://" + ln.Addr().String()
	for path, want := range map[string]string{"/a.txt": "hello\n", "/_/readyz": "ready\n"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, resp.StatusCode, body, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v after cancel", err)
		}
	case <-time.After(testutil.Timeout):
		t.Fatal("Serve did not return after cancel")
	}
}
