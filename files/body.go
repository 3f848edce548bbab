package files

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// minProgress is how many bytes a body must deliver to count as alive:
// the idle clock restarts only once that many arrived since it last did. A
// byte now and then holds a connection, a goroutine and an upload's slot
// for nothing (the review kept one open past 130 s at a byte every 20 s);
// 1 KiB per BodyIdleTimeout (34 bytes/s at 30 s) is far below any real
// network.
const minProgress = 1 << 10

// bodyClock holds an upload's body to Config.BodyIdleTimeout, and lets a
// newer request of the same resumable upload cut it at once (a takeover).
// Both work through the connection's read deadline: it is set when the
// request starts, pushed back as the body makes progress (minProgress),
// moved to now by a takeover, and cleared once the body ended, so that
// net/http's read of the next request, or its own check that the client is
// still there, is not cut.
//
// A deadline that passed cuts the reading side only: the answer (408) is
// still written, and net/http then closes the connection, whose body it
// can no longer read to the end.
type bodyClock struct {
	rc   *http.ResponseController
	idle time.Duration // <= 0: no idle timeout
	need int           // bytes that count as progress: minProgress, or more for a minimum rate

	// push is when the deadline may next be pushed back: pushing it on
	// every read would cost a timer update per few KiB, so it is pushed at
	// most every eighth of the timeout, and a body is cut after between 7/8
	// and all of the timeout without progress. got counts the bytes since
	// the last push. Only the reading goroutine uses them.
	push time.Time
	got  int

	mu     sync.Mutex
	active bool // deadlines are set on this connection and may still move
	cut    bool // by a takeover: nothing moves the deadline any more
}

func newBodyClock(w http.ResponseWriter, idle time.Duration) *bodyClock {
	c := &bodyClock{rc: http.NewResponseController(w), idle: idle, need: minProgress}
	if idle > 0 {
		now := time.Now()
		// A server that cannot set deadlines (ErrNotSupported) has no idle
		// timeout; its takeovers cannot cut the older body either, and wait.
		c.active = c.rc.SetReadDeadline(now.Add(idle)) == nil
		c.push = now.Add(idle / 8)
	}
	return c
}

// atLeast makes the body send rate bytes a second, over each idle period,
// to count as alive (not only minProgress): a minimum rate. The deadline
// is pushed back at most every eighth of idle once need bytes arrived
// since the last push, so a body slower than rate is cut within idle and
// an eighth of it.
func (c *bodyClock) atLeast(rate int64) {
	if c.idle > 0 && rate > 0 {
		c.need = max(minProgress, int(rate*int64(c.idle)/int64(time.Second)))
	}
}

// arrived notes that n bytes of the body arrived.
func (c *bodyClock) arrived(n int) {
	if c.idle <= 0 {
		return
	}
	if c.got += n; c.got < c.need {
		return
	}
	now := time.Now()
	if now.Before(c.push) {
		return
	}
	c.push, c.got = now.Add(c.idle/8), 0
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active && !c.cut {
		c.rc.SetReadDeadline(now.Add(c.idle))
	}
}

// ended notes that the whole body arrived: its deadline no longer applies.
func (c *bodyClock) ended() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active && !c.cut {
		c.rc.SetReadDeadline(time.Time{})
		c.active = false
	}
}

// stop cuts the body now: a newer request takes the upload over.
func (c *bodyClock) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	_ = c.rc.SetReadDeadline(time.Now()) // unsupported: the takeover waits, then gives up (ErrBusy)
}

// idleCut reports whether err, from reading the body, is the idle timeout
// at work rather than a takeover or the client going away.
func (c *bodyClock) idleCut(err error) bool {
	if c.idle <= 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.cut
}

// reader wraps the body r.
func (c *bodyClock) reader(r io.Reader) io.Reader { return &clockReader{r: r, c: c} }

type clockReader struct {
	r io.Reader
	c *bodyClock
}

func (r *clockReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.c.arrived(n)
	}
	switch {
	case err == io.EOF:
		r.c.ended()
	case err != nil && r.c.idleCut(err):
		err = fmt.Errorf("files: less than %d bytes in %v: %w (%w)", r.c.need, r.c.idle, ErrIdle, err)
	}
	return n, err
}

// IdleBody holds the body of an upload received by another handler than
// Handler's (a drop link's) to the same rule: it is cut after idle without
// 1 KiB of progress, and a read then fails with an error wrapping ErrIdle
// and ErrIncomplete (408). Call it first thing in the handler, before the
// request is refused for any reason: net/http reads (discards) a refused
// body after the handler returns, and that read must not last forever
// either. idle <= 0 turns the timeout off.
func IdleBody(w http.ResponseWriter, body io.Reader, idle time.Duration) io.Reader {
	return newBodyClock(w, idle).reader(body)
}
