package e2e

// Recovery, tried as a page does it: join, keep the last feed seq and the
// welcome's epoch, come back with since and epoch, and be told honestly
// whether what the welcome holds is everything that happened meanwhile.

import (
	"filehub/internal/harness"
	"filehub/internal/testutil"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// feedSeqs reads the seqs of a welcome's feed.
func feedSeqs(t *testing.T, w testutil.Frame) []uint64 {
	t.Helper()
	raw, ok := w["feed"].([]any)
	if !ok {
		t.Fatalf("welcome.feed is %T (%v), want an array", w["feed"], w["feed"])
	}
	var seqs []uint64
	for _, e := range raw {
		seqs = append(seqs, uint64(testutil.Frame(e.(map[string]any)).Num("seq")))
	}
	return seqs
}

func TestRecovery(t *testing.T) {
	t.Parallel()
	dir := harness.LabDir(t)
	ts := harness.Start(t, dir)

	// A fresh room: arrays, never null; an epoch; no recovered without since.
	a := harness.Dial(t, ts, "room=s&name=a")
	for _, k := range []string{"feed", "chat"} {
		if v, ok := a.Welcome[k].([]any); !ok || len(v) != 0 {
			t.Fatalf("fresh welcome.%s = %#v, want []", k, a.Welcome[k])
		}
	}
	epoch := a.Welcome.Str("epoch")
	if epoch == "" {
		t.Fatal("welcome without an epoch")
	}
	if _, ok := a.Welcome["recovered"]; ok {
		t.Fatal("recovered without since")
	}

	var seqs []uint64
	for _, p := range []string{"myfile1.txt", "myserver.py", "README.rst"} {
		a.Reply(a.Request("get", map[string]any{"path": p}))
		seqs = append(seqs, uint64(a.ReadKind("feed").Obj("event").Num("seq")))
	}
	a.Send(map[string]any{"kind": "chat", "text": "hello <b>later</b> joiners"})
	a.ReadKind("chat")

	join := func(name string, since uint64, epoch string) testutil.Frame {
		q := "room=s&name=" + name + "&since=" + strconv.FormatUint(since, 10)
		if epoch != "" {
			q += "&epoch=" + epoch
		}
		return harness.Dial(t, ts, q).Welcome
	}
	tests := []struct {
		name      string
		since     uint64
		epoch     string
		feed      []uint64
		recovered bool
	}{
		{"since the second, same epoch", seqs[1], epoch, seqs[2:], true},
		{"since the last, same epoch", seqs[2], epoch, nil, true},
		{"since 0, same epoch", 0, epoch, seqs, true},
		{"another epoch", seqs[1], "0123456789abcdef", seqs[2:], false},
		{"no epoch", seqs[1], "", seqs[2:], false},
		{"a seq from the future", seqs[2] + 1000, epoch, nil, false},
	}
	for i, tc := range tests {
		w := join(fmt.Sprint("b", i), tc.since, tc.epoch)
		if got := feedSeqs(t, w); fmt.Sprint(got) != fmt.Sprint(tc.feed) && !(len(got) == 0 && len(tc.feed) == 0) {
			t.Errorf("%s: feed %v, want %v", tc.name, got, tc.feed)
		}
		if got, ok := w["recovered"].(bool); !ok || got != tc.recovered {
			t.Errorf("%s: recovered %v, want %v", tc.name, w["recovered"], tc.recovered)
		}
		if w.Str("epoch") != epoch {
			t.Errorf("%s: epoch changed within one run: %q", tc.name, w.Str("epoch"))
		}
	}

	// A later joiner sees the chat, exactly as it was sent.
	c := harness.Dial(t, ts, "room=s&name=c")
	chat, _ := c.Welcome["chat"].([]any)
	if len(chat) != 1 || testutil.Frame(chat[0].(map[string]any)).Str("text") != "hello <b>later</b> joiners" ||
		testutil.Frame(chat[0].(map[string]any)).Kind() != "chat" {
		t.Fatalf("welcome.chat = %v", c.Welcome["chat"])
	}

	// The server restarts: the history is gone, and a page coming back
	// with its since and epoch is told so, never silently given a gap.
	ts.Stop()
	ts2 := harness.Start(t, dir)
	d := harness.Dial(t, ts2, "room=s&name=d&since="+strconv.FormatUint(seqs[2], 10)+"&epoch="+epoch)
	if d.Welcome.Str("epoch") == epoch {
		t.Fatal("the epoch survived a restart that lost the history")
	}
	if got, ok := d.Welcome["recovered"].(bool); !ok || got {
		t.Fatalf("after a restart: recovered %v, want false", d.Welcome["recovered"])
	}
}

// TestHistoryOutlivesMembers: a room whose members all left keeps its
// history, so a page that reloads alone in its room comes back recovered.
func TestHistoryOutlivesMembers(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	a := harness.Dial(t, ts, "room=alone&name=a")
	a.Reply(a.Request("get", map[string]any{"path": "myfile1.txt"}))
	seq := uint64(a.ReadKind("feed").Obj("event").Num("seq"))
	epoch := a.Welcome.Str("epoch")
	a.Conn.Close()
	// Until the room has seen a leave, the next join could find a in it.
	w := harness.Dial(t, ts, "room=alone&name=watch")
	for w.Welcome.Num("count") != 1 {
		w.Conn.Close()
		w = harness.Dial(t, ts, "room=alone&name=watch")
	}
	b := harness.Dial(t, ts, "room=alone&name=b&since="+strconv.FormatUint(seq, 10)+"&epoch="+epoch)
	if got, _ := b.Welcome["recovered"].(bool); !got || b.Welcome.Str("epoch") != epoch {
		t.Fatalf("rejoin of an emptied room: epoch %q (was %q), recovered %v", b.Welcome.Str("epoch"), epoch, b.Welcome["recovered"])
	}
}

// TestReconnectWhileFetching is the race that panicked the server: a page
// that reconnects with its browser cookie while it fetches files over
// HTTP. Thousands of reconnects, one cookie, fetches all along; every
// fetch is attributed to the page's name or (between sessions) to its
// address, and the server never panics.
func TestReconnectWhileFetching(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, harness.LabDir(t))
	jar, _ := cookiejar.New(nil)
	first := harness.DialJar(t, ts, "room=rw&name=page", jar)
	first.Conn.Close()
	hc := &http.Client{Jar: jar}
	stop := make(chan struct{})
	var fetches atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := hc.Get(ts.URL + "/myfile1.txt")
				if err != nil {
					errs <- err
					return
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("GET: %s", res.Status)
					return
				}
				fetches.Add(1)
			}
		})
	}
	const reconnects = 1000
	deadline := time.Now().Add(40 * time.Second)
	for i := 0; i < reconnects && time.Now().Before(deadline); i++ {
		c, _, err := harness.DialRaw(ts, "room=rw&name=page", nil, jar)
		if err != nil {
			t.Fatalf("reconnect %d: %v", i, err)
		}
		c.Close()
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if log := ts.Logs.Text(); strings.Contains(log, "panic") {
		t.Fatalf("the server panicked:\n%s", log[strings.Index(log, "panic"):])
	}
	t.Logf("%d fetches during the reconnects", fetches.Load())
}
