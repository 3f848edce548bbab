package e2e

// End-to-end tests of what an operator relies on: metrics, health and
// readiness, the echo endpoint, logs, TLS, the access token, trusted
// proxies and cross-site protection.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"filehub/internal/harness"
	"filehub/internal/testutil"
	"filehub/server"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// metric reads one sample from /_/metrics (0 when absent).
func metric(t *testing.T, ts *harness.Server, c *http.Client, series string) float64 {
	t.Helper()
	resp, body := harness.Get(t, c, ts.URL+"/_/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("/_/metrics = %d", resp.StatusCode)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`)
	m := re.FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMetricsMove(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	resp, body := harness.Get(t, nil, ts.URL+"/_/metrics")
	for _, want := range []string{"filehub_sessions", "go_goroutines", "process_resident_memory_bytes", "filehub_broadcast_fanout_seconds"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/_/metrics lacks %s", want)
		}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}

	before := metric(t, ts, nil, `filehub_fetches_total{via="http"}`)
	harness.Get(t, nil, ts.URL+"/myfile1.txt")
	if got := metric(t, ts, nil, `filehub_fetches_total{via="http"}`); got != before+1 {
		t.Fatalf("http fetches %v → %v, want +1", before, got)
	}

	cl := harness.Dial(t, ts, "room=m&name=m")
	if got := metric(t, ts, nil, "filehub_sessions"); got != 1 {
		t.Fatalf("sessions = %v, want 1", got)
	}
	cl.Reply(cl.Request("get", map[string]any{"path": "myfile1.txt"}))
	if got := metric(t, ts, nil, `filehub_fetches_total{via="ws"}`); got != 1 {
		t.Fatalf("ws fetches = %v, want 1", got)
	}
	cl.Reply(cl.Request("dance", nil))
	if got := metric(t, ts, nil, `filehub_errors_total{code="unknown_kind"}`); got != 1 {
		t.Fatalf("unknown_kind errors = %v, want 1", got)
	}
	if got := metric(t, ts, nil, `filehub_frames_in_total{kind="unknown"}`); got != 1 {
		t.Fatalf("unknown frames in = %v, want 1", got)
	}
	cl.Send(map[string]any{"kind": "chat", "text": strings.Repeat("x", 400<<10)})
	if code := cl.CloseCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close %d", code)
	}
	// The close is counted when the server has finished with the session.
	deadline := time.Now().Add(testutil.Timeout)
	for metric(t, ts, nil, `filehub_closes_total{code="1009"}`) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("closes_total{code=1009} did not move")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded by deadline
	}
	c, resp2, _ := harness.DialRaw(ts, "room=bad/room", nil, nil)
	if c != nil || resp2.StatusCode != 400 {
		t.Fatal("bad room accepted")
	}
	if got := metric(t, ts, nil, `filehub_handshake_refusals_total{reason="bad_request"}`); got != 1 {
		t.Fatalf("refusals = %v", got)
	}
}

func TestMetricsOff(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-metrics=false")
	resp, _ := harness.Get(t, nil, ts.URL+"/_/metrics")
	if resp.StatusCode != 404 {
		t.Fatalf("/_/metrics with -metrics=false = %d, want 404", resp.StatusCode)
	}
}

func TestReadyzFlipsAtShutdown(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-drain", "3s")
	if resp, _ := harness.Get(t, nil, ts.URL+"/_/readyz"); resp.StatusCode != 200 {
		t.Fatalf("readyz = %d before shutdown", resp.StatusCode)
	}
	ts.Cancel() // shutdown begins; the drain keeps serving for 3 s
	deadline := time.Now().Add(2 * time.Second)
	for {
		resp, _ := harness.Get(t, nil, ts.URL+"/_/readyz")
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readyz still 200 after shutdown began")
		}
	}
	if resp, _ := harness.Get(t, nil, ts.URL+"/_/healthz"); resp.StatusCode != 200 {
		t.Fatalf("healthz = %d during the drain, want 200", resp.StatusCode)
	}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	c, _, err := websocket.DefaultDialer.Dial("ws://"+ts.Addr+"/_/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := make([]byte, 512<<10)
	rand.Read(big)
	for _, m := range []struct {
		typ  int
		data []byte
	}{{websocket.TextMessage, []byte("hello")}, {websocket.BinaryMessage, big}} {
		if err := c.WriteMessage(m.typ, m.data); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(testutil.Timeout))
		typ, got, err := c.ReadMessage()
		if err != nil || typ != m.typ || string(got) != string(m.data) {
			t.Fatalf("echo of %d bytes: type %d, %d bytes, %v", len(m.data), typ, len(got), err)
		}
	}
	// Over the 1 MiB limit: 1009.
	c.WriteMessage(websocket.BinaryMessage, make([]byte, 1<<20+1))
	for {
		_, _, err := c.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Fatalf("got %v, want close 1009", err)
			}
			break
		}
	}
	h := http.Header{"Origin": {"https://evil.example"}}
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.Addr+"/_/echo", h); err == nil || resp.StatusCode != 403 {
		t.Fatal("cross-site echo accepted")
	}
}

func TestJSONLogsHoldNoSecret(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-token-value"
	ts := harness.Start(t, harness.LabDir(t), "-log-format", "json", "-token", secret)
	bearer := &http.Client{Transport: bearerTransport(secret)}
	harness.Get(t, bearer, ts.URL+"/myfile1.txt")
	harness.Get(t, nil, ts.URL+"/myfile1.txt?token="+secret) // refused: URLs do not carry it
	jar, _ := cookiejar.New(nil)
	login(t, ts, jar, secret)
	harness.Get(t, bearer, ts.URL+"/%1b%5b31mred.txt") // a control character in the path
	cl := harness.Dial(t, ts, "name=carol&token="+secret)
	cl.Reply(cl.Request("get", map[string]any{"path": "README.rst"}))
	cl.Conn.Close()
	ts.Stop()
	logs := ts.Logs.Text()
	if strings.Contains(logs, secret) {
		t.Fatal("the token appears in the log")
	}
	if strings.Contains(logs, "\x1b") {
		t.Fatal("a raw control character reached the log")
	}
	if strings.Contains(logs, harness.LabFiles()["README.rst"]) {
		t.Fatal("file content reached the log")
	}
	lines := 0
	for line := range strings.Lines(logs) {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		lines++
	}
	if !strings.Contains(logs, `"msg":"session closed"`) || !strings.Contains(logs, `"msg":"http"`) {
		t.Fatalf("no session or access lines in %d lines", lines)
	}
}

type bearerTransport string

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// login posts the token form and returns the response.
func login(t *testing.T, ts *harness.Server, jar http.CookieJar, token string) *http.Response {
	t.Helper()
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(ts.URL+"/_/login", url.Values{"token": {token}, "next": {"/docs/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestTokenEverywhere(t *testing.T) {
	t.Parallel()
	const token = "open-sesame-0123456789"
	ts := harness.Start(t, harness.LabDir(t), "-token", token, "-upload")

	// Without the token: 401 everywhere but health and static assets;
	// browsers get the login form.
	for _, p := range []string{"/", "/myfile1.txt", "/docs/", "/_/metrics"} {
		resp, _ := harness.Get(t, nil, ts.URL+p)
		if resp.StatusCode != 401 {
			t.Errorf("GET %s without token = %d, want 401", p, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", ts.URL+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(body), `action="/_/login"`) {
		t.Fatalf("browser without token: %d, no login form", resp.StatusCode)
	}
	for _, p := range []string{"/_/healthz", "/_/readyz", "/_/static/style.css"} {
		if resp, _ := harness.Get(t, nil, ts.URL+p); resp.StatusCode != 200 {
			t.Errorf("GET %s without token = %d, want 200", p, resp.StatusCode)
		}
	}
	if _, resp, _ := harness.DialRaw(ts, "", nil, nil); resp == nil || resp.StatusCode != 401 {
		t.Fatal("ws without token not 401")
	}

	// Bearer for scripts.
	if resp, body := harness.Get(t, &http.Client{Transport: bearerTransport(token)}, ts.URL+"/myfile1.txt"); resp.StatusCode != 200 || string(body) != harness.LabFiles()["myfile1.txt"] {
		t.Fatalf("bearer: %d", resp.StatusCode)
	}

	// The login form: a cookie, HttpOnly and SameSite=Strict, and a
	// redirect whose URL does not carry the token.
	jar, _ := cookiejar.New(nil)
	resp = login(t, ts, jar, token)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/docs/" {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	sc := resp.Header.Get("Set-Cookie")
	if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
		t.Fatalf("cookie %q", sc)
	}
	if strings.Contains(resp.Header.Get("Location"), token) {
		t.Fatal("the redirect carries the token")
	}
	if resp, _ := harness.Get(t, &http.Client{Jar: jar}, ts.URL+"/myfile1.txt"); resp.StatusCode != 200 {
		t.Fatalf("with the cookie: %d", resp.StatusCode)
	}
	if c, _, err := harness.DialRaw(ts, "name=cookie", nil, jar); err != nil {
		t.Fatalf("ws with the cookie: %v", err)
	} else {
		c.Close()
	}
	// An open redirect is not possible through next.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = c.PostForm(ts.URL+"/_/login", url.Values{"token": {token}, "next": {"//evil.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Location") != "/" {
		t.Fatalf("next=//evil.example redirected to %q", resp.Header.Get("Location"))
	}

	// Wrong tokens: 401, then 429 for that address.
	codes := map[int]int{}
	for range 15 {
		resp := login(t, ts, nil, "guess")
		codes[resp.StatusCode]++
	}
	if codes[401] != 10 || codes[429] != 5 {
		t.Fatalf("wrong tokens answered %v, want 10×401 then 429", codes)
	}
}

func TestTrustedProxy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		xff   string
		wantW string
	}{
		{"untrusted peer", nil, "203.0.113.7", "anonymous (127.0.0.1)"},
		{"trusted peer", []string{"-trusted-proxy", "127.0.0.1/32"}, "203.0.113.7", "anonymous (203.0.113.7)"},
		{"trusted chain", []string{"-trusted-proxy", "127.0.0.0/8,10.0.0.0/8"}, "198.51.100.1, 203.0.113.7, 10.1.2.3", "anonymous (203.0.113.7)"},
		{"garbage", []string{"-trusted-proxy", "127.0.0.1"}, "not-an-ip", "anonymous (127.0.0.1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := harness.Start(t, harness.LabDir(t), tc.args...)
			w := harness.Dial(t, ts, "name=w")
			req, _ := http.NewRequest("GET", ts.URL+"/myfile1.txt", nil)
			req.Header.Set("X-Forwarded-For", tc.xff)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := w.ReadKind("feed").Obj("event").Str("who"); got != tc.wantW {
				t.Fatalf("who = %q, want %q", got, tc.wantW)
			}
		})
	}
}

func TestCrossSitePutRefused(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-upload")
	put := func(name string, h http.Header) int {
		req, _ := http.NewRequest("PUT", ts.URL+"/"+name, strings.NewReader("data"))
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := put("evil.txt", http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}); got != 403 {
		t.Fatalf("cross-site PUT = %d, want 403", got)
	}
	if _, err := os.Stat(filepath.Join(ts.Dir, "evil.txt")); err == nil {
		t.Fatal("the cross-site PUT wrote a file")
	}
	if got := put("same.txt", http.Header{"Origin": {ts.URL}, "Sec-Fetch-Site": {"same-origin"}}); got != 201 {
		t.Fatalf("same-origin PUT = %d, want 201", got)
	}
	if got := put("curl.txt", nil); got != 201 {
		t.Fatalf("PUT without browser headers = %d, want 201", got)
	}
	ro := harness.Start(t, harness.LabDir(t), "-read-only")
	req, _ := http.NewRequest("PUT", ro.URL+"/x.txt", strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("-read-only PUT = %d, want 403", resp.StatusCode)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	ts := harness.Start(t, harness.LabDir(t), "-tls-cert", certFile, "-tls-key", keyFile)
	tlsConf := &tls.Config{RootCAs: pool}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}
	resp, body := harness.Get(t, c, "https://"+ts.Addr+"/README.rst")
	if resp.StatusCode != 200 || string(body) != harness.LabFiles()["README.rst"] || resp.TLS == nil {
		t.Fatalf("https fetch: %d %q", resp.StatusCode, body)
	}
	d := websocket.Dialer{TLSClientConfig: tlsConf, HandshakeTimeout: testutil.Timeout}
	conn, resp, err := d.Dial("wss://"+ts.Addr+"/ws?name=secure", nil)
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	defer conn.Close()
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "Secure") {
		t.Errorf("cookie over TLS not Secure: %q", sc)
	}
	cl := &testutil.Client{T: t, Conn: conn}
	if w := cl.ReadKind("welcome"); w.Obj("you").Str("name") != "secure" {
		t.Fatalf("welcome %v", w)
	}
	// Plain HTTP on the TLS port is refused.
	raw, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	fmt.Fprintf(raw, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	r, err := http.ReadResponse(bufio.NewReader(raw), nil)
	if err == nil && r.StatusCode == 200 {
		t.Fatal("plain HTTP served on the TLS port")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and returns its files and a
// pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "filehub test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := server.Run(context.Background(), []string{"-version"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "filehub ") {
		t.Fatalf("-version printed %q", out.String())
	}
}

// TestEchoShutdown: echo sessions, like room sessions, get 1001 when the
// server stops, and run waits for them.
func TestEchoShutdown(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	c, _, err := websocket.DefaultDialer.Dial("ws://"+ts.Addr+"/_/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("up?")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(testutil.Timeout))
	if _, _, err := c.ReadMessage(); err != nil { // the session is registered: its echo came back
		t.Fatal(err)
	}
	go ts.Stop()
	for {
		_, _, err := c.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
				t.Fatalf("got %v, want close 1001", err)
			}
			return
		}
	}
}
