package guard_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"filehub/guard"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// routes refuse the way the server's doors do, before reading a body.
func routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "401 unauthorized", 401) })
	mux.HandleFunc("POST /forbidden", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "403 forbidden", 403) })
	mux.HandleFunc("POST /misdirected", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "421", 421) })
	mux.HandleFunc("PUT /big", func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 100 {
			http.Error(w, "413", 413)
			return
		}
		io.Copy(io.Discard, r.Body)
	})
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "content") })
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "400 bad request", 400)
			return
		}
		w.Write(b)
	})
	return mux
}

func serve(t *testing.T, h http.Handler, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	if wrap != nil {
		srv.Listener = wrap(srv.Listener)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func dial(t *testing.T, addr, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails fast
	return c
}

// TestRefusedBeforeBody: a request refused before its body (401, 403,
// 405, 413 by Content-Length, 421) whose body never comes is answered at
// once, and its connection closed (issue 20, finding 1).
func TestRefusedBeforeBody(t *testing.T) {
	t.Parallel()
	m := guard.NewMetrics(prometheus.NewRegistry())
	addr := serve(t, guard.Bodies(routes(), guard.BodyConfig{Timeout: time.Minute, Metrics: m}), nil)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/login", 401},
		{"POST", "/forbidden", 403},
		{"DELETE", "/login", 405},
		{"PUT", "/big", 413},
		{"POST", "/misdirected", 421},
		{"GET", "/file", 200}, // a GET with a body it ignores
	} {
		t.Run(fmt.Sprint(tc.want), func(t *testing.T) {
			t.Parallel()
			c := dial(t, addr, "")
			c.SetDeadline(time.Now().Add(3 * time.Second)) // far less than Timeout: answered at once
			fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789", tc.method, tc.path)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer while the body stalls: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want || !resp.Close {
				t.Fatalf("%s %s = %d, close %v; want %d and the connection closed", tc.method, tc.path, resp.StatusCode, resp.Close, tc.want)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the answer: %v, want EOF", err)
			}
		})
	}
	t.Cleanup(func() {
		if got := testutil.ToFloat64(m.BodiesCut.WithLabelValues("refused")); got != 6 {
			t.Errorf("request_bodies_cut_total{why=refused} = %v, want 6", got)
		}
	})
}

// TestBodyTimeout: a body that stops arriving on a route that reads it is
// cut at Timeout, and a whole body read by a JSON-like reader keeps the
// connection alive (issue 20, finding 1).
func TestBodyTimeout(t *testing.T) {
	t.Parallel()
	m := guard.NewMetrics(prometheus.NewRegistry())
	addr := serve(t, guard.Bodies(routes(), guard.BodyConfig{Timeout: 300 * time.Millisecond, Metrics: m,
		Own: func(r *http.Request) bool { return r.Method == http.MethodPut }}), nil)
	c := dial(t, addr, "")
	br := bufio.NewReader(c)
	// A whole body: answered, and the connection kept.
	fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "hello" || resp.Close {
		t.Fatalf("a whole body = %d %q close %v", resp.StatusCode, b, resp.Close)
	}
	// The same connection, a body that stops: cut at the deadline.
	began := time.Now()
	fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || time.Since(began) > 5*time.Second {
		t.Fatalf("a stalled body = %d after %v, want 400 soon after the timeout", resp.StatusCode, time.Since(began))
	}
	if got := testutil.ToFloat64(m.BodiesCut.WithLabelValues("deadline")); got != 1 {
		t.Errorf("request_bodies_cut_total{why=deadline} = %v, want 1", got)
	}
}

// get makes one request on c and reports whether it was answered.
func get(c net.Conn) bool {
	if _, err := io.WriteString(c, "GET /file HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == 200 && string(b) == "content"
}

// TestListenerLimits: one client network cannot take every connection,
// and the total is bounded; both free up as connections close (issue 20,
// finding 1).
func TestListenerLimits(t *testing.T) {
	t.Parallel()
	m := guard.NewMetrics(prometheus.NewRegistry())
	addr := serve(t, routes(), func(l net.Listener) net.Listener {
		return guard.Listen(l, guard.ListenerConfig{MaxConns: 5, MaxPerClient: 3, Metrics: m})
	})
	var hog []net.Conn
	for i := range 3 {
		c := dial(t, addr, "127.0.0.2")
		if !get(c) {
			t.Fatalf("connection %d of the client refused", i)
		}
		hog = append(hog, c)
	}
	if get(dial(t, addr, "127.0.0.2")) {
		t.Fatal("a fourth connection from one client was served")
	}
	if !get(dial(t, addr, "127.0.0.1")) { // kept open: 4 in all
		t.Fatal("another client was refused")
	}
	if !get(dial(t, addr, "127.0.0.3")) { // 5
		t.Fatal("a third client was refused")
	}
	if get(dial(t, addr, "127.0.0.4")) {
		t.Fatal("a sixth connection was served past MaxConns")
	}
	hog[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for !get(dial(t, addr, "127.0.0.4")) { // the server sees the close soon, not at once
		if time.Now().After(deadline) {
			t.Fatal("a closed connection never gave its place back")
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
	}
	if got := testutil.ToFloat64(m.ConnsRefused.WithLabelValues("address")); got != 1 {
		t.Errorf("connections_refused_total{limit=address} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.ConnsRefused.WithLabelValues("total")); got < 1 {
		t.Errorf("connections_refused_total{limit=total} = %v", got)
	}
	if got := testutil.ToFloat64(m.Conns); got != 5 {
		t.Errorf("connections = %v, want 5", got)
	}
}

func TestClientGroup(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.7:1234":                "192.0.2.7/32",
		"[::ffff:192.0.2.7]:1":          "192.0.2.7/32",
		"[2001:db8:1:2:3:4:5:6]:80":     "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1%eth0]:1": "2001:db8:1:2::/64",
		"unix":                          "invalid Prefix",
	} {
		if got := guard.ClientGroup(in).String(); got != want {
			t.Errorf("ClientGroup(%q) = %s, want %s", in, got, want)
		}
	}
	_ = strings.TrimSpace
}
