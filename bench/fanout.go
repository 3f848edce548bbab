package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// fanoutConfig is one fanout or sweep, as the flags gave it.
type fanoutConfig struct {
	common
	n        int
	rate     float64
	duration time.Duration
	size     int
	batch    bool
	room     string
	joinRate float64
	drain    time.Duration
	readBuf  int
	spread   string // more nodes' HOST:PORTs, comma-separated: subscribers go round-robin
	pubAt    string // the publisher's node, HOST:PORT, when not the target
	// sweep only
	bound   time.Duration
	factor  float64
	upTo    float64
	refine  int
	retries int
}

func runFanout(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	var c fanoutConfig
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	fs.IntVar(&c.n, "n", 100, "subscribers")
	fs.Float64Var(&c.rate, "rate", 1000, "chat messages per second from the publisher (sweep: the first rate)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "how long the publisher sends (sweep: per step)")
	fs.IntVar(&c.size, "size", 100, "bytes of chat text per message (a send timestamp and a sequence number, padded)")
	fs.BoolVar(&c.batch, "batch", false, "subscribers join with batch=1")
	fs.StringVar(&c.room, "room", "bench", "room to join")
	fs.Float64Var(&c.joinRate, "join-rate", 1000, "new sessions per second while joining")
	fs.DurationVar(&c.drain, "drain", 3*time.Second, "how long to wait for deliveries after the last send; later ones are lost")
	fs.IntVar(&c.readBuf, "read-buffer", 32<<10, "each subscriber's read buffer in bytes (batch frames can be large)")
	fs.StringVar(&c.pubAt, "publisher", "", "another node of the same room, HOST:PORT, for the publisher: what one hop between nodes adds")
	fs.StringVar(&c.spread, "spread", "", "other nodes of the same room, HOST:PORT comma-separated: subscribers are spread round-robin over the target and these; the publisher stays on the target")
	fs.DurationVar(&c.bound, "bound", 100*time.Millisecond, "sweep: the p99 latency a rate must stay under")
	fs.Float64Var(&c.factor, "factor", 1.5, "sweep: each step's rate is the last one's times this")
	fs.Float64Var(&c.upTo, "max-rate", 50000, "sweep: stop at this rate even if it passes")
	fs.IntVar(&c.refine, "refine", 2, "sweep: bisection steps between the last rate that passed and the first that failed")
	fs.IntVar(&c.retries, "retries", 1, "sweep: times a failed step is run again before the rate counts as failed (a loaded machine has hiccups)")
	stopProfile, err := c.setup(fs, args)
	if err != nil {
		return err
	}
	defer stopProfile()
	switch {
	case c.n < 1 || c.n > maxSessions:
		return fmt.Errorf("-n must be 1-%d", maxSessions)
	case c.rate <= 0 || c.rate > maxRate || c.upTo > maxRate:
		return fmt.Errorf("-rate and -max-rate must be in (0, %d]", maxRate)
	case c.duration <= 0 || c.duration > maxDuration || c.drain > maxDuration:
		return fmt.Errorf("-duration and -drain must be in (0, %v]", maxDuration)
	case c.size < 0 || c.size > 4000:
		return errors.New("-size must be 0-4000 (chat text is at most 4096 characters)")
	case c.joinRate <= 0 || c.joinRate > maxRate:
		return fmt.Errorf("-join-rate must be in (0, %d]", maxRate)
	case c.factor <= 1 || c.refine < 0 || c.refine > 10 || c.retries < 0 || c.retries > 5:
		return errors.New("-factor must be over 1, -refine 0-10 and -retries 0-5")
	}
	if c.pubAt != "" {
		if err := checkLoopback(c.pubAt, c.allowRemote); err != nil {
			return fmt.Errorf("-publisher: %w", err)
		}
	}
	if c.spread != "" {
		for _, addr := range strings.Split(c.spread, ",") {
			if err := checkLoopback(strings.TrimSpace(addr), c.allowRemote); err != nil {
				return fmt.Errorf("-spread: %w", err)
			}
		}
	}
	var rows []row
	for rep := range c.repeat {
		for _, t := range c.targets {
			fmt.Fprintf(stderr, "%s %s: run %d of %d, %d subscribers\n", cmd, t.Name, rep+1, c.repeat, c.n)
			var r row
			var err error
			if cmd == "sweep" {
				r, err = sweep(ctx, &c, t, stderr)
			} else {
				r, err = fanout(ctx, &c, t)
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", cmd, t.Name, err)
			}
			rows = append(rows, r)
		}
	}
	title := fmt.Sprintf("%s: %d subscribers, %d-byte messages, batch=%v", cmd, c.n, c.size, c.batch)
	report(stdout, title, rows, c.repeat, c.json)
	return nil
}

// fanout joins the audience, runs one step at -rate and leaves.
func fanout(ctx context.Context, c *fanoutConfig, t target) (*fanoutResult, error) {
	a, err := newAudience(ctx, c, t)
	if err != nil {
		return nil, err
	}
	defer a.close()
	return a.step(ctx, c.rate)
}

// sweep raises the rate by -factor until a step loses a message or its p99
// exceeds -bound (after -retries more tries), then bisects -refine times
// between the last rate that passed and the first that failed. When the
// first rate already fails, it halves the rate (up to four times) first.
func sweep(ctx context.Context, c *fanoutConfig, t target, progress io.Writer) (*sweepResult, error) {
	a, err := newAudience(ctx, c, t)
	if err != nil {
		return nil, err
	}
	defer a.close()
	res := &sweepResult{Target: t.Name, Batch: c.batch, Subscribers: c.n, Bound: c.bound.Seconds() * 1000}
	whyAt := map[float64]string{} // why each failed rate failed, last try
	try := func(r float64) (bool, error) {
		for attempt := 0; attempt <= c.retries; attempt++ {
			if err := a.rejoin(ctx); err != nil {
				return false, err
			}
			st, err := a.step(ctx, r)
			if err != nil {
				return false, err
			}
			why := st.failure(c.bound)
			fmt.Fprintf(progress, "  %-10s %8.0f msg/s: %9.0f deliveries/s p99 %7.1f ms lost %d dropped %d %s\n",
				t.Name, r, st.PerSec, st.P99, st.Lost, st.Dropped, why)
			if why == "" {
				if res.Best == nil || r >= res.Best.Offered {
					res.Best = st
				}
				return true, nil
			}
			whyAt[r] = why
		}
		return false, nil
	}
	lo, hi := 0.0, 0.0
	for r := c.rate; ; r *= c.factor {
		r = math.Min(r, c.upTo)
		ok, err := try(r)
		if err != nil {
			return nil, err
		}
		if !ok {
			hi = r
			break
		}
		lo = r
		if r >= c.upTo {
			break
		}
	}
	for i := 0; lo == 0 && i < 4; i++ {
		r := math.Round(hi / 2)
		ok, err := try(r)
		if err != nil {
			return nil, err
		}
		if ok {
			lo = r
		} else {
			hi = r
		}
	}
	for range c.refine {
		if hi == 0 || lo == 0 {
			break
		}
		mid := math.Round((lo + hi) / 2)
		if mid <= lo || mid >= hi {
			break
		}
		ok, err := try(mid)
		if err != nil {
			return nil, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	res.Sustained = lo
	if hi > 0 {
		res.FailRate, res.FailWhy = hi, whyAt[hi]
	}
	return res, nil
}

// audience is one target's subscribers and publisher, kept across the steps
// of a sweep.
type audience struct {
	c    *fanoutConfig
	t    target
	base time.Time // send times in messages are durations since base
	subs []*subscriber
	pub  *websocket.Conn
	run  uint64 // step number, in every message: late frames of a step are not the next one's
	wg   sync.WaitGroup

	pubDone     chan struct{}
	rateLimited atomic.Int64 // rate_limited errors the publisher received
}

func newAudience(ctx context.Context, c *fanoutConfig, t target) (*audience, error) {
	a := &audience{c: c, t: t, base: time.Now(), subs: make([]*subscriber, c.n)}
	conns, err := dialAll(ctx, c.n, c.joinRate, c.readBuf, a.subURL)
	if err != nil {
		return nil, fmt.Errorf("joining: %w", err)
	}
	for i, conn := range conns {
		a.subs[i] = a.startSub(conn)
	}
	if err := a.joinPublisher(ctx); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// subURL is subscriber i's URL: on the target, or with -spread on the
// next node in turn.
func (a *audience) subURL(i int) string {
	t := a.t
	if a.c.spread != "" {
		nodes := append([]string{t.Addr}, strings.Split(a.c.spread, ",")...)
		t.Addr = strings.TrimSpace(nodes[i%len(nodes)])
	}
	return a.c.wsURL(t, a.c.room, "sub-"+strconv.Itoa(i), a.c.batch)
}

// joinPublisher opens the publishing session. The publisher is in the room
// too and receives every message: it must read, or it would be the slow
// client.
func (a *audience) joinPublisher(ctx context.Context) error {
	t := a.t
	if a.c.pubAt != "" {
		t.Addr = a.c.pubAt
	}
	pub, err := dial(ctx, a.c.wsURL(t, a.c.room, "publisher", a.c.batch), 4096)
	if err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	a.pub, a.pubDone = pub, make(chan struct{})
	go func() {
		defer close(a.pubDone)
		for {
			_, b, err := pub.ReadMessage()
			if err != nil {
				return
			}
			if bytes.Contains(b, []byte(`"code":"rate_limited"`)) {
				a.rateLimited.Add(1)
			}
		}
	}()
	return nil
}

// rejoin replaces the sessions the server dropped (1013, or a baseline's
// own eviction) so that every step starts with all of them.
func (a *audience) rejoin(ctx context.Context) error {
	select {
	case <-a.pubDone:
		a.pub.Close()
		if err := a.joinPublisher(ctx); err != nil {
			return err
		}
	default:
	}
	for i, s := range a.subs {
		select {
		case <-s.done:
		default:
			continue
		}
		conn, err := dial(ctx, a.subURL(i), a.c.readBuf)
		if err != nil {
			return fmt.Errorf("rejoining: %w", err)
		}
		a.subs[i] = a.startSub(conn)
	}
	return nil
}

func (a *audience) startSub(conn *websocket.Conn) *subscriber {
	s := &subscriber{c: conn, done: make(chan struct{})}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		s.read(a.base, a.c.readBuf)
	}()
	return s
}

func (a *audience) close() {
	for _, s := range a.subs {
		if s != nil {
			s.c.Close()
		}
	}
	if a.pub != nil {
		a.pub.Close()
		<-a.pubDone
	}
	a.wg.Wait()
}

// step publishes at r messages a second for the configured duration, waits
// for the deliveries, and measures.
func (a *audience) step(ctx context.Context, r float64) (*fanoutResult, error) {
	a.run++
	n := int64(math.Ceil(r * a.c.duration.Seconds()))
	live := 0
	for _, s := range a.subs {
		if s.arm(a.run, n) {
			live++
		}
	}
	limited := a.rateLimited.Load()
	srv, self := startUsage(a.t.PID), startSelf()
	start := time.Since(a.base)
	sent, err := a.publish(ctx, r, n)
	sendTime := time.Since(a.base) - start
	pubErr := ""
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		// The server dropped the publisher (a baseline evicts a session
		// whose queue is full, the publisher's own copies included): the
		// step failed; rejoin replaces it.
		pubErr = fmt.Sprintf("publisher dropped after %d messages", sent)
	}
	// Wait until every subscriber has every message, or the drain time is
	// over: what has not arrived by then is lost.
	deadline := time.Now().Add(a.c.drain)
	for time.Now().Before(deadline) {
		if a.complete(sent) {
			break
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return nil, err
		}
	}
	srv.stop()
	self.stop()
	res := &fanoutResult{
		Target: a.t.Name, Batch: a.c.batch, Subscribers: live, Offered: r, Sent: sent, PubErr: pubErr,
		SendRate: float64(sent) / sendTime.Seconds(), Expected: sent * int64(live),
		ServerCPU: srv.cpuPct(), ServerRSS: srv.rssMiB(), ToolCPU: self.cpuPct(),
	}
	var h hist
	var last time.Duration
	for _, s := range a.subs {
		st, dead := s.disarm()
		if st == nil {
			continue
		}
		res.Deliveries += st.got
		res.Dups += st.dups
		res.Frames += st.frames
		if dead {
			res.Dropped++
		}
		last = max(last, st.last)
		h.merge(&st.hist)
	}
	res.Lost = res.Expected - res.Deliveries
	res.RateLimited = a.rateLimited.Load() - limited
	if span := last - start; span > 0 {
		res.PerSec = float64(res.Deliveries) / span.Seconds()
	}
	if res.Frames > 0 {
		res.PerFrame = float64(res.Deliveries) / float64(res.Frames)
	}
	res.latency = h.summary()
	return res, nil
}

// publish sends n chat messages at r a second, each carrying the step, its
// sequence number and its send time, padded to the configured size. A late
// publisher catches up in a burst rather than sending fewer.
func (a *audience) publish(ctx context.Context, r float64, n int64) (int64, error) {
	interval := time.Duration(float64(time.Second) / r)
	start := time.Now()
	var msg []byte
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if i%256 == 0 && ctx.Err() != nil {
			return i, ctx.Err()
		}
		msg = appendChat(msg[:0], a.run, i, time.Since(a.base), a.c.size)
		if err := a.pub.WriteMessage(websocket.TextMessage, msg); err != nil {
			return i, err
		}
	}
	return n, nil
}

// marker starts the text of every message the tool sends; the rest is
// run|seq|nanoseconds-since-base| and padding. It starts with a byte that
// JSON frames otherwise hardly hold ('~'), so that bytes.Index skips
// through a batch frame quickly instead of stopping at every quote.
var marker = []byte(`~fh|`)

func appendChat(b []byte, run uint64, seq int64, at time.Duration, size int) []byte {
	b = append(b, `{"kind":"chat","text":"`...)
	start := len(b)
	b = append(b, marker...)
	b = strconv.AppendUint(b, run, 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(at), 10)
	b = append(b, '|')
	for len(b)-start < size {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

func (a *audience) complete(sent int64) bool {
	for _, s := range a.subs {
		if !s.complete(sent) {
			return false
		}
	}
	return true
}

// subscriber is one receiving session; its reader goroutine records what
// arrives into the armed step's stats.
type subscriber struct {
	c    *websocket.Conn
	done chan struct{} // closed when the reader ends: the session is gone

	mu   sync.Mutex
	st   *stepStats // nil between steps
	dead bool
}

type stepStats struct {
	run          uint64
	seen         []uint64 // bit per sequence number
	got, dups    int64
	stray        int64 // messages of another step, or unreadable
	frames       int64
	last         time.Duration // when the last message arrived, since base
	hist         hist
	deadAtArming bool
}

// arm starts recording a step of n messages; it reports whether the
// session is still open.
func (s *subscriber) arm(run uint64, n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = &stepStats{run: run, seen: make([]uint64, (n+63)/64), deadAtArming: s.dead}
	return !s.dead
}

// disarm ends the step; it returns nil for a session that was gone before
// it, and whether it went during it.
func (s *subscriber) disarm() (*stepStats, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	s.st = nil
	if st == nil || st.deadAtArming {
		return nil, false
	}
	return st, s.dead
}

func (s *subscriber) complete(n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead || s.st == nil || s.st.got >= n
}

func (s *subscriber) read(base time.Time, bufSize int) {
	defer close(s.done)
	buf := make([]byte, 0, bufSize)
	for {
		_, r, err := s.c.NextReader()
		if err == nil {
			buf, err = readInto(buf[:0], r)
		}
		if err != nil {
			s.mu.Lock()
			s.dead = true
			s.mu.Unlock()
			return
		}
		now := time.Since(base)
		s.mu.Lock()
		if s.st != nil {
			s.st.frames++
			s.st.scan(buf, now)
		}
		s.mu.Unlock()
	}
}

// readInto reads r to its end into b, reusing b's array.
func readInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// scan records every message of the step in a frame: one chat frame, or a
// batch of them. It looks for the marker rather than decoding JSON, so that
// the tool can keep up with the servers it measures.
func (st *stepStats) scan(b []byte, now time.Duration) {
	for {
		i := bytes.Index(b, marker)
		if i < 0 {
			return
		}
		b = b[i+len(marker):]
		var run, seq, at uint64
		var ok bool
		if run, b, ok = cutUint(b); !ok {
			st.stray++
			continue
		}
		if seq, b, ok = cutUint(b); !ok {
			st.stray++
			continue
		}
		if at, b, ok = cutUint(b); !ok {
			st.stray++
			continue
		}
		if run != st.run || seq >= uint64(len(st.seen))*64 {
			st.stray++
			continue
		}
		w, bit := seq/64, uint64(1)<<(seq%64)
		if st.seen[w]&bit != 0 {
			st.dups++
			continue
		}
		st.seen[w] |= bit
		st.got++
		st.last = now
		st.hist.record(now - time.Duration(at))
	}
}

// cutUint parses a decimal number ended by '|'.
func cutUint(b []byte) (uint64, []byte, bool) {
	var v uint64
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9' && i < 20:
			v = v*10 + uint64(c-'0')
		case c == '|' && i > 0:
			return v, b[i+1:], true
		default:
			return 0, b[i:], false
		}
	}
	return 0, nil, false
}

// fanoutResult is one step.
type fanoutResult struct {
	Target      string  `json:"target"`
	Batch       bool    `json:"batch"`
	PubErr      string  `json:"publisher_error,omitempty"`
	Subscribers int     `json:"subscribers"`
	Offered     float64 `json:"offered_msgs_per_s"`
	SendRate    float64 `json:"sent_msgs_per_s"`
	Sent        int64   `json:"sent"`
	Expected    int64   `json:"expected"`
	Deliveries  int64   `json:"deliveries"`
	PerSec      float64 `json:"deliveries_per_s"`
	Lost        int64   `json:"lost"`
	Dups        int64   `json:"duplicates"`
	Dropped     int     `json:"dropped_sessions"`
	RateLimited int64   `json:"rate_limited"`
	Frames      int64   `json:"frames"`
	PerFrame    float64 `json:"msgs_per_frame"`
	latency
	ServerCPU float64 `json:"server_cpu_pct"`
	ServerRSS float64 `json:"server_rss_mib"`
	ToolCPU   float64 `json:"tool_cpu_pct"`
}

// failure says why a step does not count as sustained, or "".
func (r *fanoutResult) failure(bound time.Duration) string {
	switch {
	case r.PubErr != "":
		return r.PubErr
	case r.Lost > 0 || r.Dropped > 0:
		return fmt.Sprintf("lost %d (%d sessions dropped)", r.Lost, r.Dropped)
	case r.Dups > 0:
		return fmt.Sprintf("%d duplicates", r.Dups)
	case r.RateLimited > 0:
		return "publisher rate limited: start filehub with a higher -rate"
	case r.P99 > bound.Seconds()*1000:
		return fmt.Sprintf("p99 %.1f ms > %v", r.P99, bound)
	case r.SendRate < 0.95*r.Offered:
		return fmt.Sprintf("publisher reached only %.0f msg/s", r.SendRate)
	}
	return ""
}

func (r *fanoutResult) targetName() string { return r.Target }
func (r *fanoutResult) key() float64       { return r.PerSec }
func (r *fanoutResult) header() []string {
	return []string{"target", "batch", "subs", "msg/s", "deliveries/s", "lost", "dups", "dropped", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "msg/frame", "srv CPU%", "srv RSS MiB", "tool CPU%", "note"}
}

func (r *fanoutResult) cells() []string {
	return []string{r.Target, strconv.FormatBool(r.Batch), strconv.Itoa(r.Subscribers), f0(r.SendRate), f0(r.PerSec),
		strconv.FormatInt(r.Lost, 10), strconv.FormatInt(r.Dups, 10), strconv.Itoa(r.Dropped),
		f2(r.P50), f2(r.P90), f2(r.P99), f2(r.P999), f2(r.Max), f1(r.PerFrame), f0(r.ServerCPU), f1(r.ServerRSS), f0(r.ToolCPU), r.PubErr}
}

// sweepResult is one sweep: the highest rate sustained without loss at p99
// under the bound, and the step that failed above it.
type sweepResult struct {
	Target      string        `json:"target"`
	Batch       bool          `json:"batch"`
	Subscribers int           `json:"subscribers"`
	Bound       float64       `json:"bound_ms"`
	Sustained   float64       `json:"sustained_msgs_per_s"`
	Best        *fanoutResult `json:"at_sustained"`
	FailRate    float64       `json:"failed_at_msgs_per_s"`
	FailWhy     string        `json:"failed_because"`
}

func (r *sweepResult) targetName() string { return r.Target }
func (r *sweepResult) key() float64 {
	if r.Best == nil {
		return 0
	}
	return r.Best.PerSec
}

func (r *sweepResult) header() []string {
	return []string{"target", "batch", "subs", "sustained msg/s", "deliveries/s", "p50 ms", "p99 ms", "max ms", "msg/frame", "srv CPU%", "tool CPU%", "failed at", "because"}
}

func (r *sweepResult) cells() []string {
	b := r.Best
	if b == nil {
		b = &fanoutResult{}
	}
	return []string{r.Target, strconv.FormatBool(r.Batch), strconv.Itoa(r.Subscribers), f0(r.Sustained), f0(b.PerSec),
		f2(b.P50), f2(b.P99), f2(b.Max), f1(b.PerFrame), f0(b.ServerCPU), f0(b.ToolCPU), f0(r.FailRate), r.FailWhy}
}
