package e2e

// End-to-end tests of the server's doors: the access token on every way in,
// the lockout of wrong tokens, the Host guard against DNS rebinding, and
// the login form's redirect. run() itself on a loopback port, real
// http.Clients and gorilla dials, raw TCP where a request must be odd.
// Other client addresses are real too: on Linux all of 127.0.0.0/8 is
// loopback, so a client can connect from 127.0.0.2; whole networks
// (IPv6 /64s) come through a trusted proxy's X-Forwarded-For.

import (
	"bufio"
	"encoding/json"
	"filehub/internal/harness"
	"filehub/internal/testutil"
	"filehub/server"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// answer is what one request got.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// refusalCode is the protocol's error code in a JSON refusal, or "".
func (a answer) refusalCode() string {
	var v struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(a.body, &v) != nil || v.Error.Message == "" {
		return ""
	}
	return v.Error.Code
}

// otherLoopback is a second client address on this machine; tests that
// need one skip where the system does not route it (127.0.0.2 is loopback
// on Linux, not on macOS by default).
func otherLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 is not usable here: %v", err)
	}
	ln.Close()
	return "127.0.0.2"
}

// dialerFrom connects from the local address ip ("" for the default).
func dialerFrom(ip string) *net.Dialer {
	d := &net.Dialer{Timeout: testutil.Timeout}
	if ip != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	return d
}

// httpFrom sends one request from the local address ip, without following
// redirects, and reads the whole answer.
func httpFrom(t *testing.T, ip string, req *http.Request) answer {
	t.Helper()
	c := &http.Client{
		Transport:     &http.Transport{DialContext: dialerFrom(ip).DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       testutil.Timeout,
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, body}
}

// wsFrom dials a WebSocket from the local address ip: 101 when it opened.
func wsFrom(t *testing.T, ip, u string, h http.Header) answer {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testutil.Timeout, NetDialContext: dialerFrom(ip).DialContext}
	c, resp, err := d.Dial(u, h)
	if c != nil {
		c.Close()
		return answer{status: http.StatusSwitchingProtocols, header: resp.Header}
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body) // gorilla keeps the start of a refusal's body
	return answer{resp.StatusCode, resp.Header, body}
}

// tokenDoor is one way in that takes the token.
type tokenDoor struct {
	name   string
	socket bool // answers refusals in the protocol's JSON
	in     int  // the status of a request let in
	try    func(t *testing.T, ts *harness.Server, from, token string) answer
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }
func cookie(token string) http.Header {
	return http.Header{"Cookie": {server.TokenCookie + "=" + token}}
}

// tokenDoors are every door of the gate, each taking the token in one way.
var tokenDoors = []tokenDoor{
	{"http bearer", false, 200, func(t *testing.T, ts *harness.Server, from, token string) answer {
		req, _ := http.NewRequest("GET", ts.URL+"/myfile1.txt", nil)
		req.Header = bearer(token)
		return httpFrom(t, from, req)
	}},
	{"http cookie", false, 200, func(t *testing.T, ts *harness.Server, from, token string) answer {
		req, _ := http.NewRequest("GET", ts.URL+"/docs/", nil)
		req.Header = cookie(token)
		return httpFrom(t, from, req)
	}},
	{"http put", false, 201, func(t *testing.T, ts *harness.Server, from, token string) answer {
		req, _ := http.NewRequest("PUT", ts.URL+"/up-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".txt", strings.NewReader("x"))
		req.Header = bearer(token)
		return httpFrom(t, from, req)
	}},
	{"login form", false, http.StatusSeeOther, func(t *testing.T, ts *harness.Server, from, token string) answer {
		req, _ := http.NewRequest("POST", ts.URL+"/_/login", strings.NewReader(url.Values{"token": {token}, "next": {"/docs/"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return httpFrom(t, from, req)
	}},
	{"ws query", true, 101, func(t *testing.T, ts *harness.Server, from, token string) answer {
		return wsFrom(t, from, "ws://"+ts.Addr+"/ws?name=door&token="+url.QueryEscape(token), nil)
	}},
	{"ws bearer", true, 101, func(t *testing.T, ts *harness.Server, from, token string) answer {
		return wsFrom(t, from, "ws://"+ts.Addr+"/ws?name=door", bearer(token))
	}},
	{"ws cookie", true, 101, func(t *testing.T, ts *harness.Server, from, token string) answer {
		return wsFrom(t, from, "ws://"+ts.Addr+"/ws?name=door", cookie(token))
	}},
	{"echo query", true, 101, func(t *testing.T, ts *harness.Server, from, token string) answer {
		return wsFrom(t, from, "ws://"+ts.Addr+"/_/echo?token="+url.QueryEscape(token), nil)
	}},
	{"echo cookie", true, 101, func(t *testing.T, ts *harness.Server, from, token string) answer {
		return wsFrom(t, from, "ws://"+ts.Addr+"/_/echo", cookie(token))
	}},
}

// TestTokenLockoutEveryDoor: every door counts wrong tokens against one
// limiter; once an address is locked out it gets 429 whatever it sends,
// the right token included, while another address still gets in.
func TestTokenLockoutEveryDoor(t *testing.T) {
	t.Parallel()
	other := otherLoopback(t)
	const token = "right-token-0123456789"
	for _, d := range tokenDoors {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			ts := harness.Start(t, harness.LabDir(t), "-token", token, "-upload")
			start := time.Now()
			for i := range 10 {
				a := d.try(t, ts, "127.0.0.1", fmt.Sprintf("guess-%d", i))
				if a.status != http.StatusUnauthorized {
					t.Fatalf("wrong token %d: %d, want 401", i+1, a.status)
				}
				if d.socket && a.refusalCode() != "unauthorized" {
					t.Fatalf("wrong token %d: body %q, want the protocol's unauthorized refusal", i+1, a.body)
				}
			}
			for _, tc := range []struct{ what, token string }{{"an 11th wrong token", "guess-10"}, {"the right token", token}} {
				a := d.try(t, ts, "127.0.0.1", tc.token)
				if a.status != http.StatusTooManyRequests {
					t.Fatalf("%s during the lockout: %d, want 429", tc.what, a.status)
				}
				if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
					t.Errorf("%s: Retry-After %q", tc.what, a.header.Get("Retry-After"))
				}
				if d.socket && a.refusalCode() != "rate_limited" {
					t.Fatalf("%s: body %q, want the protocol's rate_limited refusal", tc.what, a.body)
				}
			}
			if time.Since(start) > 5*time.Second {
				t.Skip("too slow to judge a lockout that lets one try in every 6 s")
			}
			if a := d.try(t, ts, other, token); a.status != d.in {
				t.Fatalf("another address with the right token: %d, want %d", a.status, d.in)
			}
		})
	}
}

// TestTokenGuessingAsReviewed redoes the security review's runs: 200 tries
// from one address with the right token at try 150 must not find it, and
// the WebSocket doors must limit too.
func TestTokenGuessingAsReviewed(t *testing.T) {
	t.Parallel()
	const token = "right-token-0123456789"
	door := func(name string) tokenDoor {
		for _, d := range tokenDoors {
			if d.name == name {
				return d
			}
		}
		panic(name)
	}
	tests := []struct {
		door    string
		tries   int
		rightAt int // 1-based; 0: never
		want    map[int]int
	}{
		{"http bearer", 200, 150, map[int]int{401: 10, 429: 190}},
		{"login form", 200, 150, map[int]int{401: 10, 429: 190}},
		{"ws query", 50, 0, map[int]int{401: 10, 429: 40}},
		{"ws query", 200, 150, map[int]int{401: 10, 429: 190}},
		{"echo query", 50, 0, map[int]int{401: 10, 429: 40}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %d tries right at %d", tc.door, tc.tries, tc.rightAt), func(t *testing.T) {
			t.Parallel()
			ts := harness.Start(t, harness.LabDir(t), "-token", token)
			d := door(tc.door)
			got := map[int]int{}
			start := time.Now()
			for i := 1; i <= tc.tries; i++ {
				guess := "guess-" + strconv.Itoa(i)
				if i == tc.rightAt {
					guess = token
				}
				got[d.try(t, ts, "127.0.0.1", guess).status]++
			}
			if time.Since(start) > 5*time.Second {
				t.Skip("too slow to judge a lockout that lets one try in every 6 s")
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("answers %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTokenLockoutGroupsNetworks: an IPv6 /64 is one client, and an
// IPv4-mapped address is its IPv4 address; neighbours outside stay free.
// The addresses come through a trusted proxy, as from the Internet.
func TestTokenLockoutGroupsNetworks(t *testing.T) {
	t.Parallel()
	const token = "right-token-0123456789"
	ts := harness.Start(t, harness.LabDir(t), "-token", token, "-trusted-proxy", "127.0.0.1")
	from := func(client, token string) int {
		req, _ := http.NewRequest("GET", ts.URL+"/myfile1.txt", nil)
		req.Header = bearer(token)
		req.Header.Set("X-Forwarded-For", client)
		return httpFrom(t, "", req).status
	}
	tests := []struct {
		name, guesser, other string
		locked               bool
	}{
		{"same IPv6 /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", true},
		{"next IPv6 /64", "2001:db8:1:4::1", "2001:db8:1:5::1", false},
		{"IPv4-mapped then IPv4", "::ffff:203.0.113.9", "203.0.113.9", true},
		{"IPv4 then IPv4-mapped", "203.0.113.20", "::ffff:203.0.113.20", true},
		{"next IPv4 address", "203.0.113.30", "203.0.113.31", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for i := range 11 {
				from(tc.guesser, "guess-"+strconv.Itoa(i))
			}
			if got := from(tc.guesser, token); got != http.StatusTooManyRequests {
				t.Fatalf("the guesser with the right token: %d, want 429", got)
			}
			want := http.StatusOK
			if tc.locked {
				want = http.StatusTooManyRequests
			}
			if got := from(tc.other, token); got != want {
				t.Fatalf("%s with the right token: %d, want %d", tc.other, got, want)
			}
		})
	}
}

// TestTokenLockoutOutlastsASpray: wrong tokens from more addresses than the
// limiter remembers (10,000) do not free an address that keeps guessing.
// The limiter used to forget everyone at once when it was full.
func TestTokenLockoutOutlastsASpray(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 requests")
	}
	t.Parallel()
	const token = "right-token-0123456789"
	ts := harness.Start(t, harness.LabDir(t), "-token", token, "-trusted-proxy", "127.0.0.1", "-log-level", "warn")
	// One keep-alive connection, requests pipelined in batches: the spray
	// costs the server its handler time, not a TCP connection each.
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	send := func(client, token string, n int, next func(int) string) []int {
		var b strings.Builder
		for i := range n {
			c := client
			if next != nil {
				c = next(i)
			}
			fmt.Fprintf(&b, "GET /myfile1.txt HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nX-Forwarded-For: %s\r\n\r\n", ts.Addr, token, c)
		}
		conn.SetDeadline(time.Now().Add(60 * time.Second))
		go io.WriteString(conn, b.String()) // the server answers while we write
		codes := make([]int, n)
		for i := range n {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}
		return codes
	}
	guesser := "198.51.100.7"
	send(guesser, "guess", 10, nil)
	lockedAt := time.Now()
	// granted counts the guesser's tries that were judged (not 429) after
	// its first 10: only as many as the lockout let back in since (one per
	// 6 s), however long this takes; a limiter that forgot it would grant
	// a fresh 10.
	granted := 0
	judge := func(c int) {
		switch c {
		case http.StatusTooManyRequests:
		case http.StatusUnauthorized, http.StatusOK:
			granted++
		default:
			t.Fatalf("the guesser got %d", c)
		}
	}
	for batch := range 10 {
		// 1,001 other addresses a batch, each with one wrong token; the
		// guesser keeps trying in between, so it stays among the newest.
		codes := send("", "guess", 1001, func(i int) string {
			n := batch*1001 + i
			return fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
		})
		for i, c := range codes {
			if c != http.StatusUnauthorized {
				t.Fatalf("batch %d, address %d: %d, want 401", batch, i, c)
			}
		}
		judge(send(guesser, "guess", 1, nil)[0])
	}
	for _, c := range send(guesser, "guess", 9, nil) {
		judge(c)
	}
	judge(send(guesser, token, 1, nil)[0])
	if allowed := int(time.Since(lockedAt) / (6 * time.Second)); granted > allowed {
		t.Fatalf("after 10,010 sprayed addresses the guesser had %d of 20 tries judged in %v; the lockout allows %d",
			granted, time.Since(lockedAt).Round(time.Millisecond), allowed)
	}
}

// TestTokenGateSpeaksTheProtocol: the WebSocket doors refuse in the
// protocol's JSON, as the hub did (the page's conn.js probes /ws with
// fetch and reads the code); a cross-site origin is refused before the
// token is looked at, and spends no try.
func TestTokenGateSpeaksTheProtocol(t *testing.T) {
	t.Parallel()
	const token = "right-token-0123456789"
	ts := harness.Start(t, harness.LabDir(t), "-token", token, "-allow-origin", "https://friend.example")

	// The page's probe: a plain fetch of the /ws URL.
	req, _ := http.NewRequest("GET", ts.URL+"/ws?room=lobby&name=ada", nil)
	req.Header.Set("Accept", "application/json")
	a := httpFrom(t, "", req)
	if a.status != 401 || a.header.Get("Content-Type") != "application/json" ||
		strings.TrimSpace(string(a.body)) != `{"error":{"code":"unauthorized","message":"a valid token is required"}}` {
		t.Fatalf("probe without token: %d %s %q", a.status, a.header.Get("Content-Type"), a.body)
	}
	for i := range 20 {
		h := http.Header{"Origin": {"https://evil.example"}}
		a := wsFrom(t, "", "ws://"+ts.Addr+"/ws?token=guess"+strconv.Itoa(i), h)
		if a.status != 403 || a.refusalCode() != "forbidden" {
			t.Fatalf("cross-site join %d: %d %q, want 403 forbidden", i, a.status, a.body)
		}
	}
	for _, origin := range []string{"", ts.URL, "https://friend.example"} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		if a := wsFrom(t, "", "ws://"+ts.Addr+"/ws?token="+token, h); a.status != 101 {
			t.Fatalf("origin %q with the right token after 20 cross-site tries: %d %q", origin, a.status, a.body)
		}
	}
	// A plain GET with the token is told to upgrade, by the hub.
	req, _ = http.NewRequest("GET", ts.URL+"/ws", nil)
	req.Header = bearer(token)
	if a := httpFrom(t, "", req); a.status != http.StatusUpgradeRequired {
		t.Fatalf("plain GET /ws with the token: %d, want 426", a.status)
	}
	// URLs carry the token to the WebSocket doors only.
	if a := httpFrom(t, "", mustRequest(t, "GET", ts.URL+"/myfile1.txt?token="+token)); a.status != 401 {
		t.Fatalf("GET /myfile1.txt?token=: %d, want 401", a.status)
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

// TestTokenCookieFlow: the page's way in (the login form, then an HttpOnly
// cookie for the page, its endpoints and its WebSocket) works through the
// one gate, and a stale cookie is dropped rather than spending tries.
func TestTokenCookieFlow(t *testing.T) {
	t.Parallel()
	const token = "right-token-0123456789"
	ts := harness.Start(t, harness.LabDir(t), "-token", token)
	jar, _ := cookiejar.New(nil)
	if resp := login(t, ts, jar, token); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/docs/" {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	c := &http.Client{Jar: jar}
	for _, p := range []string{"/", "/docs/", "/myfile1.txt", "/_/info"} {
		if resp, _ := harness.Get(t, c, ts.URL+p); resp.StatusCode != 200 {
			t.Fatalf("GET %s with the cookie: %d", p, resp.StatusCode)
		}
	}
	cl := harness.DialJar(t, ts, "room=r&name=cookie", jar)
	if cl.Name() != "cookie" {
		t.Fatalf("welcome %v", cl.Welcome)
	}
	ec, _, err := (&websocket.Dialer{Jar: jar, HandshakeTimeout: testutil.Timeout}).Dial("ws://"+ts.Addr+"/_/echo", nil)
	if err != nil {
		t.Fatalf("echo with the cookie: %v", err)
	}
	ec.Close()

	// A cookie from before the token changed.
	req := mustRequest(t, "GET", ts.URL+"/")
	req.Header = cookie("old-token")
	req.Header.Set("Accept", "text/html")
	a := httpFrom(t, "", req)
	if a.status != 401 || !strings.Contains(string(a.body), `action="/_/login"`) {
		t.Fatalf("stale cookie: %d, want 401 and the form", a.status)
	}
	if sc := a.header.Get("Set-Cookie"); !strings.HasPrefix(sc, server.TokenCookie+"=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("stale cookie not dropped: Set-Cookie %q", sc)
	}
}

// TestLoginNext: the login form goes back only to a clean local path.
// Browsers drop tabs and newlines from a URL and read \ as /, so "/\t/x"
// would be "//x": another site.
func TestLoginNext(t *testing.T) {
	t.Parallel()
	const token = "right-token-0123456789"
	ts := harness.Start(t, harness.LabDir(t), "-token", token)
	tests := []struct{ next, want string }{
		{"/docs/", "/docs/"},
		{"/README.rst?download", "/README.rst?download"},
		{"/docs/a.md#top", "/docs/a.md"},
		{"/café/", "/caf%C3%A9/"},
		{"/a%20b.txt", "/a%20b.txt"},
		{"/%2F/evil.example", "/%2F/evil.example"}, // one path segment "/": stays here
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r\n/evil.example", "/"},
		{"/ /evil.example", "/"},
		{"/\u00a0/evil.example", "/"},
		{"/\u202e/txt.exe", "/"},
		{"/\x7f", "/"},
		{"/\xff", "/"},
		{"//evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"", "/"},
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range tests {
		t.Run(strconv.Quote(tc.next), func(t *testing.T) {
			resp, err := c.PostForm(ts.URL+"/_/login", url.Values{"token": {token}, "next": {tc.next}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want {
				t.Fatalf("next %q: %d to %q, want 303 to %q", tc.next, resp.StatusCode, resp.Header.Get("Location"), tc.want)
			}
		})
	}
}

// TestHostGuard: a server on a loopback address answers only loopback
// names and the -allow-host ones (DNS rebinding: a page of
// attacker.example that resolves its own name to 127.0.0.1 sends Host and
// Origin attacker.example, same-origin as far as its browser knows); the
// others get 421, over HTTP and WebSocket alike, before the token.
func TestHostGuard(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-token", "right-token-0123456789")
	testHosts(t, ts, false)
}

// TestHostGuardAllowHost: -allow-host adds names and addresses, exactly.
func TestHostGuardAllowHost(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-token", "right-token-0123456789", "-allow-host", "files.example.org,192.0.2.7")
	testHosts(t, ts, true)
}

// testHosts asks ts for a file and a WebSocket with each Host, the
// WebSocket also with an Origin that matches it, as a rebinding page's
// would; ts was started with -allow-host files.example.org,192.0.2.7 when
// allowing.
func testHosts(t *testing.T, ts *harness.Server, allowing bool) {
	_, port, _ := net.SplitHostPort(ts.Addr)
	tests := []struct {
		host  string
		plain int // without -allow-host: 200 (and 101 for the WebSocket) or 421
		allow int // with -allow-host files.example.org,192.0.2.7
	}{
		{"127.0.0.1:" + port, 200, 200},
		{"localhost:" + port, 200, 200},
		{"localhost", 200, 200},
		{"LocalHost:" + port, 200, 200},
		{"localhost.:" + port, 200, 200},
		{"app.localhost:" + port, 200, 200},
		{"[::1]:" + port, 200, 200},
		{"[::ffff:127.0.0.1]:" + port, 200, 200},
		{"127.1.2.3:80", 200, 200},
		{"attacker.example:" + port, 421, 421},
		{"attacker.example", 421, 421},
		{"localhost.attacker.example:" + port, 421, 421},
		{"127.0.0.1.attacker.example:" + port, 421, 421},
		{"localhostx:" + port, 421, 421},
		{"192.168.1.5:" + port, 421, 421},
		{"[::2]:" + port, 421, 421},
		{"0.0.0.0:" + port, 421, 421},
		{"files.example.org", 421, 200},
		{"Files.Example.Org:443", 421, 200},
		{"sub.files.example.org", 421, 421},
		{"192.0.2.7:" + port, 421, 200},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			want := tc.plain
			if allowing {
				want = tc.allow
			}
			req := mustRequest(t, "GET", ts.URL+"/myfile1.txt")
			req.Host = tc.host
			req.Header = bearer("right-token-0123456789")
			if a := httpFrom(t, "", req); a.status != want {
				t.Fatalf("GET with Host %q: %d, want %d", tc.host, a.status, want)
			}
			h := http.Header{"Host": {tc.host}, "Origin": {"http://" + tc.host}}
			h.Set("Authorization", "Bearer right-token-0123456789")
			if want == 200 {
				want = 101
			}
			if a := wsFrom(t, "", "ws://"+ts.Addr+"/ws?name=rebind", h); a.status != want {
				t.Fatalf("WebSocket with Host and Origin %q: %d %q, want %d", tc.host, a.status, a.body, want)
			}
		})
	}
}

// TestHostGuardRaw: odd requests over raw TCP. A request without Host
// names no loopback host; a refused Host spends no token try.
func TestHostGuardRaw(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-token", "right-token-0123456789")
	raw := func(req string) int {
		conn, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(testutil.Timeout))
		io.WriteString(conn, req)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := raw("GET /myfile1.txt HTTP/1.0\r\nAuthorization: Bearer right-token-0123456789\r\n\r\n"); got != 421 {
		t.Fatalf("HTTP/1.0 without Host: %d, want 421", got)
	}
	for i := range 20 {
		req := fmt.Sprintf("GET /ws?token=guess%d HTTP/1.1\r\nHost: attacker.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", i)
		if got := raw(req); got != 421 {
			t.Fatalf("rebinding join %d: %d, want 421", i, got)
		}
	}
	if got := raw("GET /myfile1.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer guess\r\n\r\n"); got != 401 {
		t.Fatalf("a wrong token after 20 refused Hosts: %d, want 401 (the 421s spent no try)", got)
	}
}

// TestHostGuardOnlyOnLoopback: a server on every interface, or told to
// allow any Host, answers any Host as before.
func TestHostGuardOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-addr", ":0"}, {"-allow-host", "*"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			ts := harness.Start(t, harness.LabDir(t), args...)
			_, port, _ := net.SplitHostPort(ts.Addr)
			req := mustRequest(t, "GET", "http://127.0.0.1:"+port+"/myfile1.txt")
			req.Host = "attacker.example:" + port
			if a := httpFrom(t, "", req); a.status != 200 {
				t.Fatalf("Host attacker.example: %d, want 200", a.status)
			}
		})
	}
}
