package files_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"filehub/files"
)

// TestFairResumableSlots: one client holding every resumable slot with
// uploads under way does not keep another out: the newcomer gets a slot
// of the client with the most (issue 20, finding 5).
func TestFairResumableSlots(t *testing.T) {
	t.Parallel()
	o, started := starts(files.Config{MaxPartials: 4, MaxPartialsPerClient: 4, BodyIdleTimeout: time.Minute, MinResumableRate: -1})
	e := newEnv(t, o)
	var held []*slowConn
	for i := range 4 {
		c := dialFrom(t, e, "127.0.0.1")
		c.start(t, "PUT", fmt.Sprintf("/hog%d.bin?resume=hog-key-%d", i, i), "Content-Length: 1000")
		c.send(t, "0123456789")
		held = append(held, c)
	}
	waitStarts(t, started, 4)
	other := dialFrom(t, e, "127.0.0.2")
	other.start(t, "PUT", "/other.bin?resume=other-key-01", "Content-Length: 5", "Connection: close")
	other.send(t, "other")
	if resp, body := other.response(t); resp.StatusCode != http.StatusCreated {
		t.Fatalf("another client, every slot taken by one = %d %q, want 201", resp.StatusCode, body)
	}
	// Exactly one of the four was cut for it, and told to try again.
	cut := 0
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond)) // the cut one has answered already
		if resp, err := http.ReadResponse(c.br, nil); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("the cut upload = %d", resp.StatusCode)
			}
			cut++
		}
	}
	if cut != 1 {
		t.Errorf("%d uploads cut for the newcomer, want 1", cut)
	}
	// A client with as many as the others gets nothing more by asking.
	same := dialFrom(t, e, "127.0.0.1")
	same.start(t, "PUT", "/hog9.bin?resume=hog-key-9", "Content-Length: 5", "Connection: close")
	same.send(t, "again")
	if resp, body := same.response(t); resp.StatusCode != http.StatusCreated {
		t.Logf("the hog again = %d %q", resp.StatusCode, body) // a slot was free, or not: either is fair
	}
}

// TestResumableMinRate: a resumable upload must keep sending at
// MinResumableRate, not only stay alive; a plain PUT at the same pace is
// taken (issue 20, finding 5).
func TestResumableMinRate(t *testing.T) {
	t.Parallel()
	const idle = time.Second
	e := newEnv(t, opts{cfg: files.Config{Uploads: true, BodyIdleTimeout: idle, MinResumableRate: 16 << 10}})
	for _, tc := range []struct {
		name, target string
		want         int
	}{
		{"plain", "/plain.bin", http.StatusCreated},
		{"resumable", "/slow-r.bin?resume=slow-key-01", http.StatusRequestTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// 1 KiB every idle/10: 10 KiB/s, alive by the idle rule, under
			// 16 KiB/s.
			const n, piece = 25, 1 << 10
			c := dialFrom(t, e, "")
			c.start(t, "PUT", tc.target, fmt.Sprintf("Content-Length: %d", n*piece))
			stop, sent := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(sent)
				tick := time.NewTicker(idle / 10) // pacing a slow client, not synchronising
				defer tick.Stop()
				for range n {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := io.WriteString(c, strings.Repeat("x", piece)); err != nil {
						return
					}
				}
			}()
			resp, body := c.response(t)
			close(stop)
			<-sent
			if resp.StatusCode != tc.want {
				t.Fatalf("got %d %q, want %d", resp.StatusCode, body, tc.want)
			}
		})
	}
}
