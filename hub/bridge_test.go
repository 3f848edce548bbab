package hub

import (
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestFetchEventBudget: HTTP fetches go to the feed within a budget, a
// member's own and one shared by everyone without a session here; beyond
// it they are served but not announced, so a loop of GETs cannot flood a
// room. The budgets barely refill here, so the counts are exact.
func TestFetchEventBudget(t *testing.T) {
	t.Parallel()
	const burst = 3
	metrics := NewMetrics(prometheus.NewRegistry())
	th := newTestHub(t, Config{FetchEvents: 1e-9, FetchEventBurst: burst, Metrics: metrics}, nil)
	watcher := th.dial(t, "room=f&name=watcher", false)
	lobbyWatcher := th.dial(t, "room="+th.cfg.DefaultRoom+"&name=lw", false)
	pageCookie := th.dialCookie(t, "room=f&name=page")
	otherCookie := th.dialCookie(t, "room=f&name=other")

	fetch := func(cookie *http.Cookie, path string) {
		r, err := http.NewRequest(http.MethodGet, "http://"+th.addr+"/"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.RemoteAddr = "192.0.2.7:1234"
		if cookie != nil {
			r.AddCookie(cookie)
		}
		th.RecordFetch(r, path, 1)
	}
	for range 10 {
		fetch(pageCookie, "loop.txt") // 3 announced, 7 not
	}
	fetch(otherCookie, "other.txt") // its own budget: announced
	for range 20 {
		fetch(nil, "anon.txt") // the shared budget, 5 times a member's: 15 announced
	}
	watcher.Send(map[string]any{"kind": "chat", "text": "end"})
	lobbyWatcher.Send(map[string]any{"kind": "chat", "text": "end"})

	// count reads cl's frames until its chat "end": the fetch events before
	// it, by path.
	count := func(cl *wsClient) map[string]int {
		got := map[string]int{}
		for {
			m := cl.Read()
			switch m.Kind() {
			case "feed":
				if e := m["event"].(map[string]any); e["action"] == "fetch" {
					got[e["path"].(string)]++
				}
			case "chat":
				if m["text"] == "end" {
					return got
				}
			}
		}
	}
	if got, want := count(watcher), map[string]int{"loop.txt": burst, "other.txt": 1}; !maps.Equal(got, want) {
		t.Errorf("room f: fetch events %v, want %v", got, want)
	}
	if got, want := count(lobbyWatcher), map[string]int{"anon.txt": 5 * burst}; !maps.Equal(got, want) {
		t.Errorf("default room: fetch events %v, want %v", got, want)
	}
	if got := testutil.ToFloat64(metrics.FetchesUnannounced); got != 7+5 {
		t.Errorf("fetches_unannounced_total = %v, want 12", got)
	}
	if got := testutil.ToFloat64(metrics.Fetches.WithLabelValues(viaHTTP)); got != 31 {
		t.Errorf("fetches_total{via=http} = %v, want 31: every fetch counts", got)
	}
}

// dialCookie joins as a page does and returns the browser cookie the
// server set, which names the session's fetches.
func (th *testHub) dialCookie(t *testing.T, query string) *http.Cookie {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	th.dialWith(t, query, websocket.Dialer{HandshakeTimeout: readTimeout, Jar: jar})
	for _, ck := range jar.Cookies(&url.URL{Scheme: "http", Host: th.addr, Path: "/"}) {
		if ck.Name == browserCookie {
			return ck
		}
	}
	t.Fatal("no browser cookie set")
	return nil
}
