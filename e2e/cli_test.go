package e2e

// Tests of the command line as a person meets it: main() itself in a child
// process (the test binary run again, as os/exec's own tests do) for exit
// statuses and exact output; run() on a loopback port for what the
// settings do; the environment as Docker passes it; /_/info and the
// addresses printed at start; -healthcheck.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"filehub/internal/harness"
	"filehub/internal/testutil"
	"filehub/server"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mainEnv, when set, makes TestMainProcess run main() instead of testing.
const mainEnv = "GO_TEST_FILEHUB_MAIN"

// TestMainProcess is not a test: runMain runs the test binary again with
// mainEnv set, and this runs main() with the arguments after "--", as the
// filehub binary would.
func TestMainProcess(t *testing.T) {
	if os.Getenv(mainEnv) != "1" {
		t.Skip("runs main() for runMain")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	// What main.go does, line for line: a signal context, Run, the exit code.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := server.Run(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(server.ExitCode(err, os.Stderr))
}

// runMain runs main() in a child process with args and env (FILEHUB_*
// variables of the test's own environment left out), in a temporary
// folder, and returns its output and exit status. A child that starts
// serving (it should not have) is stopped after a few seconds.
func runMain(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^TestMainProcess$", "--"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FILEHUB_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, mainEnv+"=1")
	cmd.Env = append(cmd.Env, env...)
	cmd.Dir = t.TempDir()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	// A server that started anyway is stopped once it says so.
	watch := &serveWatch{cancel: cancel, w: &out}
	cmd.Stdout = watch
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running main: %v", err)
	}
	if watch.served {
		t.Errorf("filehub %q started serving: %q", args, out.String())
	}
	return out.String(), errb.String(), code
}

// serveWatch passes a child's stdout on and cancels it when it serves.
type serveWatch struct {
	cancel context.CancelFunc
	w      io.Writer
	served bool
}

func (s *serveWatch) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "filehub serving") {
		s.served = true
		s.cancel()
	}
	return s.w.Write(p)
}

// TestCommandLine: each mistake is said once, in one line (plus a hint to
// -h when the command line was wrong), with exit status 2; -h prints the
// usage to stdout with status 0; a failure while running is status 1.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	dir := harness.LabDir(t)
	file := filepath.Join(dir, "myfile1.txt")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // after the parallel subtests
	const hint = "Run 'filehub -h' for usage.\n"
	port0 := "FILEHUB_ADDR=127.0.0.1:0" // never the shared default port, should a case start a server
	tests := []struct {
		name       string
		env        []string
		args       []string
		code       int
		stderr     string // exact
		stdoutHas  string
		stdoutNone bool
	}{
		{"help", nil, []string{"-h"}, 0, "", "Usage: filehub [flags] [FOLDER]", false},
		{"long help", nil, []string{"-help"}, 0, "", "Usage: filehub [flags] [FOLDER]", false},
		{"unknown flag", nil, []string{"-x"}, 2, "filehub: flag provided but not defined: -x\n" + hint, "", true},
		{"unknown flag after the folder", nil, []string{dir, "-x"}, 2, "filehub: flag provided but not defined: -x\n" + hint, "", true},
		{"missing value", nil, []string{"-addr"}, 2, "filehub: flag needs an argument: -addr\n" + hint, "", true},
		{"bad duration", nil, []string{"-drain", "5"}, 2, "filehub: -drain: \"5\" is not a duration such as 30s\n" + hint, "", true},
		{"bad boolean", nil, []string{"-upload=yes"}, 2, "filehub: -upload: \"yes\" is not a boolean such as true or false\n" + hint, "", true},
		{"bad size", nil, []string{"-max-upload", "lots"}, 2, "filehub: -max-upload: \"lots\" is not a size such as 1048576, 512MiB or 1GiB\n" + hint, "", true},
		{"bad address", nil, []string{"-addr", "8080"}, 2, "filehub: -addr: \"8080\" is not an address such as 127.0.0.1:8080 or :8080\n" + hint, "", true},
		{"bad host", nil, []string{"-allow-host", "files.example.org:443"}, 2,
			"filehub: -allow-host: \"files.example.org:443\" is not a host name such as files.example.org (without a port: any port is allowed)\n" + hint, "", true},
		{"missing folder", []string{port0}, []string{"/nonexistent-filehub"}, 2, "filehub: folder /nonexistent-filehub: no such file or directory\n", "", true},
		{"missing -root", []string{port0}, []string{"-root", "/nonexistent-filehub"}, 2, "filehub: folder /nonexistent-filehub: no such file or directory\n", "", true},
		{"folder is a file", []string{port0}, []string{file}, 2, "filehub: folder " + file + ": not a folder\n", "", true},
		{"two folders", []string{port0}, []string{dir, "/tmp"}, 2, "filehub: one folder at most, not 2: " + dir + " /tmp\n" + hint, "", true},
		{"-root and another folder", []string{port0}, []string{"-root", dir, "/tmp"}, 2, "filehub: two folders: -root " + dir + " and /tmp; give one\n" + hint, "", true},
		{"env duration", []string{port0, "FILEHUB_DRAIN=5"}, nil, 2, "filehub: FILEHUB_DRAIN: \"5\" is not a duration such as 30s\n", "", true},
		{"env boolean", []string{port0, "FILEHUB_READ_ONLY=yes"}, nil, 2, "filehub: FILEHUB_READ_ONLY: \"yes\" is not a boolean such as true or false\n", "", true},
		{"env number", []string{port0, "FILEHUB_RATE=fast"}, nil, 2, "filehub: FILEHUB_RATE: \"fast\" is not a number such as 20\n", "", true},
		{"env size", []string{port0, "FILEHUB_MAX_UPLOAD=1 GB"}, nil, 2, "filehub: FILEHUB_MAX_UPLOAD: \"1 GB\" is not a size such as 1048576, 512MiB or 1GiB\n", "", true},
		{"env list", []string{port0, "FILEHUB_TRUSTED_PROXY=10.0.0.1,proxy.lan"}, nil, 2,
			"filehub: FILEHUB_TRUSTED_PROXY: \"proxy.lan\" is not an address or CIDR such as 10.0.0.1 or 10.0.0.0/8\n", "", true},
		{"env origin", []string{port0, "FILEHUB_ALLOW_ORIGIN=example.org"}, nil, 2,
			"filehub: FILEHUB_ALLOW_ORIGIN: \"example.org\" is not an origin such as https://example.org\n", "", true},
		{"env log level", []string{port0, "FILEHUB_LOG_LEVEL=loud"}, nil, 2,
			"filehub: FILEHUB_LOG_LEVEL: \"loud\" is not a level: debug, info, warn or error\n", "", true},
		{"env address", []string{"FILEHUB_ADDR=localhost"}, nil, 2,
			"filehub: FILEHUB_ADDR: \"localhost\" is not an address such as 127.0.0.1:8080 or :8080\n", "", true},
		{"port in use", nil, []string{"-addr", busy.Addr().String(), dir}, 1,
			"filehub: listen tcp " + busy.Addr().String() + ": bind: address already in use\n", "", true},
		// Issue 20, findings 12 and 14: one line, exit 2, the token never shown.
		{"short token", []string{port0, "FILEHUB_TOKEN= "}, nil, 2,
			"filehub: -token (FILEHUB_TOKEN) is shorter than 16 characters (1); make one with: openssl rand -hex 16\n", "", true},
		{"short token flag", []string{port0}, []string{"-token", "hunter2", dir}, 2,
			"filehub: -token (FILEHUB_TOKEN) is shorter than 16 characters (7); make one with: openssl rand -hex 16\n", "", true},
		{"token with a space", []string{port0, "FILEHUB_TOKEN=0123456789abcdef 0123"}, nil, 2,
			"filehub: -token (FILEHUB_TOKEN) has whitespace in it; make one with: openssl rand -hex 16\n", "", true},
		{"upload and read-only", []string{port0}, []string{"-upload", "-read-only", dir}, 2,
			"filehub: -upload and -read-only contradict each other; give one\n" + hint, "", true},
		{"version", nil, []string{"-version"}, 0, "", "filehub ", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runMain(t, tc.env, tc.args...)
			if code != tc.code || stderr != tc.stderr {
				t.Fatalf("filehub %q: exit %d, stderr %q; want exit %d, stderr %q", tc.args, code, stderr, tc.code, tc.stderr)
			}
			if !strings.Contains(stdout, tc.stdoutHas) || (tc.stdoutNone && stdout != "") {
				t.Fatalf("filehub %q: stdout %q", tc.args, stdout)
			}
		})
	}
}

// TestUsage: -h lists every flag once, each setting with its environment
// variable, and each default once, written as one would type it.
func TestUsage(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	if err := server.Run(context.Background(), []string{"-h"}, func(string) string { return "" }, &out, &errb); err == nil || errb.Len() != 0 {
		t.Fatalf("run -h: %v, stderr %q", err, errb.String())
	}
	usage := out.String()
	flags := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(usage, -1)
	if len(flags) < 19 {
		t.Fatalf("only %d flags in -h:\n%s", len(flags), usage)
	}
	noEnv := map[string]bool{"version": true, "healthcheck": true}
	for _, f := range flags {
		name := f[1]
		section := usage[strings.Index(usage, "  -"+name):]
		if next := regexp.MustCompile(`\n  -`).FindStringIndex(section[1:]); next != nil {
			section = section[:next[0]+1]
		}
		env := "FILEHUB_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if has := strings.Contains(section, env); has == noEnv[name] {
			t.Errorf("-%s: environment variable %s shown: %v\n%s", name, env, has, section)
		}
	}
	for _, want := range []string{"-allow-host name", "-healthcheck URL", "(FILEHUB_MAX_UPLOAD, default 1GiB)", "(FILEHUB_ADDR, default 127.0.0.1:8080)"} {
		if !strings.Contains(usage, want) {
			t.Errorf("-h lacks %q", want)
		}
	}
	if n := strings.Count(usage, "1GiB"); n != 2 || strings.Contains(usage, "1073741824") { // the example in the text, and the default
		t.Errorf("-max-upload's default appears %d times, or in bytes:\n%s", n, usage)
	}
}

// TestEnvironmentHonoured: each variable means what its flag means, a
// flag on the command line wins over it, and a list given on the command
// line replaces the variable's list.
func TestEnvironmentHonoured(t *testing.T) {
	t.Parallel()
	put := func(ts *harness.Server, name string, size int) int {
		req, _ := http.NewRequest("PUT", ts.URL+"/"+name, strings.NewReader(strings.Repeat("x", size)))
		return httpFrom(t, "", req).status
	}
	getHost := func(ts *harness.Server, host string) int {
		req := mustRequest(t, "GET", ts.URL+"/myfile1.txt")
		req.Host = host
		return httpFrom(t, "", req).status
	}
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(t *testing.T, ts *harness.Server)
	}{
		{"FILEHUB_UPLOAD=TRUE", map[string]string{"FILEHUB_UPLOAD": "TRUE"}, nil, func(t *testing.T, ts *harness.Server) {
			if got := put(ts, "a.txt", 1); got != 201 {
				t.Fatalf("PUT: %d, want 201", got)
			}
		}},
		{"FILEHUB_READ_ONLY=1", map[string]string{"FILEHUB_READ_ONLY": "1"}, nil, func(t *testing.T, ts *harness.Server) {
			if got := put(ts, "a.txt", 1); got != 403 {
				t.Fatalf("PUT: %d, want 403", got)
			}
		}},
		{"-read-only=false wins over FILEHUB_READ_ONLY=true", map[string]string{"FILEHUB_READ_ONLY": "true"}, []string{"-upload", "-read-only=false"},
			func(t *testing.T, ts *harness.Server) {
				if got := put(ts, "a.txt", 1); got != 201 {
					t.Fatalf("PUT: %d, want 201", got)
				}
			}},
		{"FILEHUB_MAX_UPLOAD=1KiB", map[string]string{"FILEHUB_MAX_UPLOAD": "1KiB"}, []string{"-upload"}, func(t *testing.T, ts *harness.Server) {
			if got := put(ts, "big.txt", 1025); got != 413 {
				t.Fatalf("PUT of 1025 bytes: %d, want 413", got)
			}
		}},
		{"FILEHUB_ALLOW_HOST", map[string]string{"FILEHUB_ALLOW_HOST": "files.example.org, share.example.org"}, nil, func(t *testing.T, ts *harness.Server) {
			for host, want := range map[string]int{"files.example.org": 200, "share.example.org": 200, "attacker.example": 421} {
				if got := getHost(ts, host); got != want {
					t.Errorf("Host %s: %d, want %d", host, got, want)
				}
			}
		}},
		{"-allow-host replaces FILEHUB_ALLOW_HOST", map[string]string{"FILEHUB_ALLOW_HOST": "files.example.org"}, []string{"-allow-host", "share.example.org"},
			func(t *testing.T, ts *harness.Server) {
				for host, want := range map[string]int{"files.example.org": 421, "share.example.org": 200} {
					if got := getHost(ts, host); got != want {
						t.Errorf("Host %s: %d, want %d", host, got, want)
					}
				}
			}},
		{"FILEHUB_TOKEN", map[string]string{"FILEHUB_TOKEN": "from-env-0123456789abc"}, nil, func(t *testing.T, ts *harness.Server) {
			req := mustRequest(t, "GET", ts.URL+"/myfile1.txt")
			if got := httpFrom(t, "", req).status; got != 401 {
				t.Fatalf("without the token: %d", got)
			}
			req.Header = bearer("from-env-0123456789abc")
			if got := httpFrom(t, "", req).status; got != 200 {
				t.Fatalf("with the token: %d", got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"FILEHUB_ADDR": "127.0.0.1:0", "FILEHUB_ROOT": harness.LabDir(t)}
			for k, v := range tc.env {
				env[k] = v
			}
			tc.check(t, harness.StartEnv(t, env, tc.args...))
		})
	}
}

// TestFolderArgument: the folder is a plain argument, before or after the
// flags; -root still works, and the same folder given both ways is fine.
func TestFolderArgument(t *testing.T) {
	t.Parallel()
	dir := harness.LabDir(t)
	tests := []struct {
		env  map[string]string
		args []string
	}{
		{nil, []string{dir, "-upload"}},
		{nil, []string{"-upload", dir}},
		{nil, []string{"-upload", "-root", dir}},
		{nil, []string{"-root", dir, "-upload", dir + "/"}},
		{nil, []string{"-upload", "--", dir}},
		{map[string]string{"FILEHUB_ROOT": "/nonexistent-filehub"}, []string{dir, "-upload"}},
		{map[string]string{"FILEHUB_ROOT": dir, "FILEHUB_UPLOAD": "true"}, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.env, tc.args), func(t *testing.T) {
			t.Parallel()
			args := tc.args
			ts := harness.StartEnv(t, tc.env, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
			if resp, body := harness.Get(t, nil, ts.URL+"/myfile1.txt"); resp.StatusCode != 200 || string(body) != harness.LabFiles()["myfile1.txt"] {
				t.Fatalf("GET /myfile1.txt: %d %q", resp.StatusCode, body)
			}
			req, _ := http.NewRequest("PUT", ts.URL+"/up-"+strconv.Itoa(len(args))+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), strings.NewReader("x"))
			if a := httpFrom(t, "", req); a.status != 201 {
				t.Fatalf("PUT: %d, want 201 (-upload lost?)", a.status)
			}
		})
	}
}

// TestInfo: /_/info names the folder and, on a loopback address, lists no
// network URL; it is behind the token like the other endpoints.
func TestInfo(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "Holiday photos")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ts := harness.Start(t, dir, "-token", "right-token-0123456789")
	if resp, _ := harness.Get(t, nil, ts.URL+"/_/info"); resp.StatusCode != 401 {
		t.Fatalf("/_/info without the token: %d, want 401", resp.StatusCode)
	}
	req := mustRequest(t, "GET", ts.URL+"/_/info")
	req.Header = bearer("right-token-0123456789")
	a := httpFrom(t, "", req)
	if a.status != 200 || a.header.Get("Content-Type") != "application/json" ||
		strings.TrimSpace(string(a.body)) != `{"folder":"Holiday photos","urls":[]}` {
		t.Fatalf("/_/info: %d %s %s", a.status, a.header.Get("Content-Type"), a.body)
	}
}

// lanAddrs lists this machine's addresses that others can reach, as the
// test sees them: neither loopback nor link-local.
func lanAddrs(t *testing.T) (v4, v6 []string) {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifaces {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			p, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			ip := p.Addr()
			if ip.IsLoopback() || ip.IsLinkLocalUnicast() {
				continue
			}
			if ip.Is4() {
				v4 = append(v4, ip.String())
			} else {
				v6 = append(v6, "["+ip.String()+"]")
			}
		}
	}
	return v4, v6
}

// TestNetworkURLs: listening on every interface, the start prints a URL
// for this machine and one for each of its network addresses (never
// "[::]"), and /_/info lists the latter for the page's invitations.
// 0.0.0.0 asks for IPv4 only.
func TestNetworkURLs(t *testing.T) {
	t.Parallel()
	v4, v6 := lanAddrs(t)
	tests := []struct {
		addr string
		want []string
	}{
		{":0", append(append([]string{}, v4...), v6...)},
		{"0.0.0.0:0", v4},
		{"[::]:0", append(append([]string{}, v4...), v6...)},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- server.Run(ctx, []string{"-addr", tc.addr, harness.LabDir(t)}, func(string) string { return "" }, pw, testutil.NewLog(t))
				pw.Close()
			}()
			defer func() {
				cancel()
				go io.Copy(io.Discard, pr)
				if err := <-done; err != nil {
					t.Errorf("run: %v", err)
				}
			}()
			sc := bufio.NewScanner(pr)
			if !sc.Scan() {
				t.Fatal("nothing printed")
			}
			first := sc.Text()
			m := regexp.MustCompile(`^filehub serving .* at http://localhost:(\d+)/$`).FindStringSubmatch(first)
			if m == nil {
				t.Fatalf("first line %q, want the localhost URL", first)
			}
			port := m[1]
			var printed []string
			for range tc.want {
				if !sc.Scan() {
					t.Fatalf("printed %q, then stopped; want %d network URLs", printed, len(tc.want))
				}
				printed = append(printed, sc.Text())
			}
			var want []string
			for i, host := range tc.want {
				u := "http://" + host + ":" + port + "/"
				want = append(want, u)
				if printed[i] != "  on your network: "+u {
					t.Errorf("line %d: %q, want the URL %s", i+2, printed[i], u)
				}
			}
			resp, body := harness.Get(t, nil, "http://127.0.0.1:"+port+"/_/info")
			var info struct {
				Folder string
				URLs   []string
			}
			if err := json.Unmarshal(body, &info); err != nil || resp.StatusCode != 200 {
				t.Fatalf("/_/info: %d %s", resp.StatusCode, body)
			}
			if strings.Join(info.URLs, " ") != strings.Join(want, " ") || info.URLs == nil {
				t.Fatalf("/_/info urls %q, want %q", info.URLs, want)
			}
		})
	}
}

// TestHealthcheck: -healthcheck asks a URL once: exit 0 on 2xx, 1 on
// anything else, a refused connection or a server that does not answer
// in time. A path alone is asked of the configured address.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-token", "right-token-0123456789")
	_, port, _ := net.SplitHostPort(ts.Addr)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close) // after the parallel subtests
	// silent accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		ok     bool
		errHas string
	}{
		{"healthz", nil, []string{"-healthcheck", ts.URL + "/_/healthz"}, true, ""},
		{"path on -addr", nil, []string{"-addr", ts.Addr, "-healthcheck", "/_/healthz"}, true, ""},
		{"path on FILEHUB_ADDR", map[string]string{"FILEHUB_ADDR": ts.Addr}, []string{"-healthcheck", "/_/healthz"}, true, ""},
		{"path on every interface", map[string]string{"FILEHUB_ADDR": ":" + port}, []string{"-healthcheck", "/_/readyz"}, true, ""},
		{"behind the token", nil, []string{"-healthcheck", ts.URL + "/myfile1.txt"}, false, "401 Unauthorized"},
		{"503", nil, []string{"-healthcheck", failing.URL + "/"}, false, "503 Service Unavailable"},
		{"refused", nil, []string{"-healthcheck", "http://" + closed.Addr().String() + "/_/healthz"}, false, "connection refused"},
		{"port 0", map[string]string{"FILEHUB_ADDR": "127.0.0.1:0"}, []string{"-healthcheck", "/_/healthz"}, false, "port is 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			err := server.Run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &out, io.Discard)
			if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), tc.errHas)) {
				t.Fatalf("healthcheck: %v, want ok=%v or an error with %q", err, tc.ok, tc.errHas)
			}
			// Docker reserves status 2: a check says 0 or 1.
			if code := server.ExitCode(err, io.Discard); (code == 0) != tc.ok || code > 1 {
				t.Fatalf("exit status %d", code)
			}
			if tc.ok && !strings.Contains(out.String(), "200 OK") {
				t.Fatalf("stdout %q", out.String())
			}
		})
	}
	t.Run("no answer", func(t *testing.T) {
		t.Parallel()
		// The check's own 5 s bound is ctx's here: the same path, sooner.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := server.Run(ctx, []string{"-healthcheck", "http://" + silent.Addr().String() + "/_/healthz"}, func(string) string { return "" }, io.Discard, io.Discard)
		if !errors.Is(err, context.DeadlineExceeded) || server.ExitCode(err, io.Discard) != 1 {
			t.Fatalf("a server that never answers: %v", err)
		}
	})
	t.Run("main", func(t *testing.T) {
		t.Parallel()
		if _, stderr, code := runMain(t, []string{"FILEHUB_ADDR=" + ts.Addr}, "-healthcheck", "/_/healthz"); code != 0 || stderr != "" {
			t.Fatalf("healthy: exit %d, %q", code, stderr)
		}
		_, stderr, code := runMain(t, nil, "-healthcheck", failing.URL+"/")
		if code != 1 || stderr != "filehub: healthcheck "+failing.URL+"/: 503 Service Unavailable\n" {
			t.Fatalf("unhealthy: exit %d, %q", code, stderr)
		}
	})
}

// TestHealthcheckTLS: the path form checks a TLS server at 127.0.0.1,
// which its certificate does not name, by trusting exactly that
// certificate; another certificate is refused.
func TestHealthcheckTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, _ := selfSigned(t, t.TempDir())
	otherCert, _, _ := selfSigned(t, t.TempDir())
	ts := harness.Start(t, harness.LabDir(t), "-tls-cert", certFile, "-tls-key", keyFile)
	env := map[string]string{"FILEHUB_ADDR": ts.Addr, "FILEHUB_TLS_CERT": certFile, "FILEHUB_TLS_KEY": keyFile}
	var out strings.Builder
	if err := server.Run(context.Background(), []string{"-healthcheck", "/_/healthz"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatalf("own certificate: %v", err)
	}
	if !strings.HasPrefix(out.String(), "healthcheck https://") {
		t.Fatalf("stdout %q", out.String())
	}
	env["FILEHUB_TLS_CERT"] = otherCert
	if err := server.Run(context.Background(), []string{"-healthcheck", "/_/healthz"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil {
		t.Fatal("a server with another certificate passed")
	}
}

// TestDockerfile: the image's ENTRYPOINT, ENV and HEALTHCHECK work as
// Docker would run them (Docker itself cannot run here): the environment
// is honoured, not overridden by fixed flags, and the healthcheck runs
// filehub itself (distroless has no shell and no curl).
func TestDockerfile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var entry, health []string
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "ENTRYPOINT "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "ENTRYPOINT ")), &entry); err != nil {
				t.Fatalf("ENTRYPOINT not in exec form: %v", err)
			}
		case strings.HasPrefix(line, "ENV "):
			for _, kv := range strings.Fields(strings.TrimPrefix(line, "ENV ")) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("ENV %q: want KEY=VALUE", kv)
				}
				env[k] = v
			}
		case strings.HasPrefix(line, "HEALTHCHECK "):
			_, cmd, ok := strings.Cut(line, " CMD ")
			if !ok || json.Unmarshal([]byte(cmd), &health) != nil {
				t.Fatalf("HEALTHCHECK %q: want CMD in exec form", line)
			}
		}
	}
	if len(entry) != 1 || entry[0] != "/usr/local/bin/filehub" {
		t.Fatalf("ENTRYPOINT %q: fixed flags would override FILEHUB_* variables", entry)
	}
	if env["FILEHUB_ADDR"] != ":8080" || env["FILEHUB_ROOT"] != "/srv" {
		t.Fatalf("ENV %v: want FILEHUB_ADDR=:8080 and FILEHUB_ROOT=/srv", env)
	}
	if len(health) < 3 || health[0] != entry[0] || health[1] != "-healthcheck" {
		t.Fatalf("HEALTHCHECK CMD %q: want filehub -healthcheck", health)
	}
	// docker run -e FILEHUB_ADDR=… -v DIR:/srv, and no arguments.
	env["FILEHUB_ADDR"], env["FILEHUB_ROOT"] = "127.0.0.1:0", harness.LabDir(t)
	ts := harness.StartEnv(t, env)
	if resp, body := harness.Get(t, nil, ts.URL+"/myfile1.txt"); resp.StatusCode != 200 || string(body) != harness.LabFiles()["myfile1.txt"] {
		t.Fatalf("the image's server: %d %q", resp.StatusCode, body)
	}
	env["FILEHUB_ADDR"] = ":" + ts.Addr[strings.LastIndexByte(ts.Addr, ':')+1:] // as -e FILEHUB_ADDR=:PORT
	var out strings.Builder
	if err := server.Run(context.Background(), health[1:], func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatalf("the image's healthcheck: %v", err)
	}
}
