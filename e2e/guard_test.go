package e2e

// Issue 20's server-wide guards, tried as the review tried them: stalled
// bodies on every route, connections from one address, a server open to
// the network without a token.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"filehub/internal/harness"
)

const guardToken = "guard-token-0123456789abcdef"

// stalled sends a request's head and the start of a body that never ends,
// from the loopback address from, and returns the answer's status and
// whether the connection was closed after it (0: no answer in time).
func stalled(t *testing.T, addr, from, head string) (int, bool) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second)) // far under the default body timeout (30 s)
	if _, err := io.WriteString(c, head+"Content-Length: 100000\r\n\r\ntoken=x"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte()
	return resp.StatusCode, err == io.EOF
}

// TestStalledBodiesAnswered: a request refused before its body, on every
// door, is answered at once and its connection closed, without the token;
// a body that a door reads (the login form) is cut at -body-timeout
// (issue 20, finding 1).
func TestStalledBodiesAnswered(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-token", guardToken, "-upload", "-body-timeout", "1s")
	host := "Host: " + ts.Addr + "\r\n"
	for _, tc := range []struct {
		name, head string
		want       int
	}{
		{"login POST, read until -body-timeout", "POST /_/login HTTP/1.1\r\n" + host + "Content-Type: application/x-www-form-urlencoded\r\n", 0}, // refused, whichever way
		{"drops POST", "POST /_/drops HTTP/1.1\r\n" + host, 401},
		{"GET with a body", "GET /myfile1.txt HTTP/1.1\r\n" + host, 401},
		{"PUT without the token", "PUT /new.txt HTTP/1.1\r\n" + host, 401},
		{"405", "DELETE /myfile1.txt HTTP/1.1\r\n" + host + "Authorization: Bearer " + guardToken + "\r\n", 405},
		{"421", "POST /_/login HTTP/1.1\r\nHost: evil.example\r\n", 421},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, closed := stalled(t, ts.Addr, "127.0.0.1", tc.head)
			if code == 0 || (tc.want != 0 && code != tc.want) || !closed {
				t.Fatalf("answered %d (0: not in 3 s), closed %v; want %d at once and the connection closed", code, closed, tc.want)
			}
		})
	}
}

// TestConnectionsPerClient: one address holding connections open cannot
// keep the token's holder out, and what it lost is counted.
func TestConnectionsPerClient(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t), "-token", guardToken, "-max-conns-per-client", "20")
	var conns []net.Conn
	var mu sync.Mutex
	closed := 0
	var wg sync.WaitGroup
	for range 30 {
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		// A request head with no end: the ones kept wait, the ones refused
		// read EOF at once.
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+ts.Addr+"\r\n")
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			var ne net.Error
			if _, err := c.Read(make([]byte, 1)); err != nil && !(errors.As(err, &ne) && ne.Timeout()) { // EOF, or a reset
				mu.Lock()
				closed++
				mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	wg.Wait()
	if closed != 10 {
		t.Errorf("%d of 30 connections from one address closed at once, want 10 past the limit of 20", closed)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/_/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+guardToken)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the token's holder: %d", resp.StatusCode)
	}
	if !strings.Contains(string(body), `filehub_connections_refused_total{limit="address"} 10`) {
		t.Errorf("metrics lack the refusals:\n%s", grepLines(string(body), "filehub_connections"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestOpenWarning: listening beyond loopback without a token says so once
// at start, and /_/info tells a page opened from another machine; with a
// token, or on loopback, neither (issue 20, finding 14).
func TestOpenWarning(t *testing.T) {
	t.Parallel()
	const warning = "listening beyond this machine without -token"
	open := harness.Start(t, harness.LabDir(t), "-addr", "0.0.0.0:0")
	if n := strings.Count(open.Logs.Text(), warning); n != 1 {
		t.Errorf("%d warnings at start, want 1", n)
	}
	info := func(ts *harness.Server, from string) string {
		t.Helper()
		_, port, _ := net.SplitHostPort(ts.Addr)
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{
			LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext}}
		resp, err := c.Get(fmt.Sprintf("http://%s/_/info", net.JoinHostPort(from, port)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := info(open, "127.0.0.1"); strings.Contains(got, `"open"`) {
		t.Errorf("/_/info from this machine: %s", got)
	}
	if v4, _ := lanAddrs(t); len(v4) > 0 {
		if got := info(open, v4[0]); !strings.Contains(got, `"open":true`) {
			t.Errorf("/_/info from %s: %s, want open", v4[0], got)
		}
	} else {
		t.Log("no network address: /_/info from another machine not tried")
	}
	closed := harness.Start(t, harness.LabDir(t), "-addr", "0.0.0.0:0", "-token", guardToken)
	local := harness.Start(t, harness.LabDir(t))
	for _, ts := range []*harness.Server{closed, local} {
		if strings.Contains(ts.Logs.Text(), warning) {
			t.Errorf("a warning with a token or on loopback")
		}
	}
}
