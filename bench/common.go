package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// Bounds on what one command may do, whatever its flags say: the tool is
// for one machine's loopback, and every run must end by itself.
const (
	maxSessions = 50_000
	maxDuration = 5 * time.Minute
	maxRate     = 1_000_000 // messages or connections per second
	// dialTimeout bounds one handshake, welcome included.
	dialTimeout = 10 * time.Second
)

// target is a server under test: a name for the table, its address, and
// its PID when its CPU and memory are to be read from /proc.
type target struct {
	Name string
	Addr string
	PID  int
}

// targets is the repeatable -target NAME=HOST:PORT[@PID] flag.
type targets []target

func (t *targets) String() string {
	var s []string
	for _, x := range *t {
		s = append(s, fmt.Sprintf("%s=%s@%d", x.Name, x.Addr, x.PID))
	}
	return strings.Join(s, ",")
}

func (t *targets) Set(v string) error {
	name, rest, ok := strings.Cut(v, "=")
	if !ok {
		name, rest = "server", v
	}
	addr, pid, _ := strings.Cut(rest, "@")
	x := target{Name: name, Addr: addr}
	if pid != "" {
		n, err := strconv.Atoi(pid)
		if err != nil || n <= 0 {
			return fmt.Errorf("%q: PID must be a positive number", v)
		}
		x.PID = n
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%q: want NAME=HOST:PORT[@PID]: %w", v, err)
	}
	*t = append(*t, x)
	return nil
}

// common are the flags every load command shares.
type common struct {
	targets     targets
	allowRemote bool
	json        bool
	repeat      int
	path        string
	cpuProfile  string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.Var(&c.targets, "target", "server under test, NAME=HOST:PORT[@PID]; repeat to compare servers in one run (default filehub=127.0.0.1:8080)")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow targets that are not loopback addresses")
	fs.BoolVar(&c.json, "json", false, "also print each result as one JSON line")
	fs.IntVar(&c.repeat, "repeat", 1, "runs per target, interleaved across targets; the table adds each target's median")
	fs.StringVar(&c.path, "path", "/ws", "WebSocket path")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write the tool's own CPU profile to this file (is the load generator the bottleneck?)")
}

// profile starts the tool's CPU profile when asked; the returned func stops it.
// setup parses a command's flags, checks the common ones and starts the
// tool's own CPU profile; the caller defers the returned stop.
func (c *common) setup(fs *flag.FlagSet, args []string) (stop func(), err error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.profile()
}

func (c *common) profile() (stop func(), err error) {
	if c.cpuProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(c.cpuProfile)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// check validates the shared flags: loopback only, bounded repeats.
func (c *common) check() error {
	if len(c.targets) == 0 {
		c.targets = targets{{Name: "filehub", Addr: "127.0.0.1:8080"}}
	}
	if c.repeat < 1 || c.repeat > 20 {
		return errors.New("-repeat must be 1-20")
	}
	for _, t := range c.targets {
		if err := checkLoopback(t.Addr, c.allowRemote); err != nil {
			return err
		}
	}
	return nil
}

// checkLoopback refuses a host that is not on this machine's loopback, so
// that a load meant for a laptop never lands on someone else's server.
func checkLoopback(hostport string, allowRemote bool) error {
	if allowRemote {
		return nil
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("address %q: %w", hostport, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("target %s is not a loopback address (127.0.0.0/8, ::1, localhost); pass -allow-remote to load it anyway", hostport)
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// wsURL is the URL a session joins with.
func (c *common) wsURL(t target, room, name string, batch bool) string {
	q := url.Values{"room": {room}, "name": {name}}
	if batch {
		q.Set("batch", "1")
	}
	return "ws://" + t.Addr + c.path + "?" + q.Encode()
}

// dial opens one session and reads its first frame, which must be welcome
// (the baselines send a bare {"kind":"welcome"} for the same reason: a
// session counts once the server has taken it in).
func dial(ctx context.Context, u string, readBuf int) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: dialTimeout, ReadBufferSize: readBuf, WriteBufferSize: 1024}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, resp, err := d.DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	c.SetReadDeadline(time.Now().Add(dialTimeout))
	_, b, err := c.ReadMessage()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("reading welcome: %w", err)
	}
	if !bytes.Contains(b, []byte(`"kind":"welcome"`)) {
		c.Close()
		return nil, fmt.Errorf("first frame is not welcome: %.80s", b)
	}
	c.SetReadDeadline(time.Time{})
	return c, nil
}

// dialAll opens n sessions at most perSec a second, a few handshakes at a
// time, and returns them in order; fn names each one's URL.
func dialAll(ctx context.Context, n int, perSec float64, readBuf int, fn func(i int) string) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	lim := rate.NewLimiter(rate.Limit(perSec), max(1, int(perSec/50)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	const workers = 64 // handshakes in flight: enough for thousands a second on loopback
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := dial(ctx, fn(i), readBuf)
				if err != nil {
					once.Do(func() { first = fmt.Errorf("session %d: %w", i, err); cancel() })
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := 0; i < n; i++ {
		if err := lim.Wait(ctx); err != nil {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	if first != nil {
		closeAll(conns)
		return nil, first
	}
	return conns, nil
}

func closeAll(conns []*websocket.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// procStat is what /proc says of a process: CPU time used so far, resident
// memory now and at its peak.
type procStat struct {
	CPU      time.Duration
	RSS, HWM int64 // bytes
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTick = 100

// readProc reads /proc/PID/stat and /proc/PID/status (pid 0: this process).
func readProc(pid int) (procStat, error) {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	var ps procStat
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return ps, fmt.Errorf("reading %s/stat: %w", dir, err)
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return ps, fmt.Errorf("%s/stat: too few fields", dir)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of stat
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	ps.CPU = time.Duration(utime+stime) * time.Second / clockTick
	st, err := os.Open(dir + "/status")
	if err != nil {
		return ps, fmt.Errorf("reading %s/status: %w", dir, err)
	}
	defer st.Close()
	sc := bufio.NewScanner(st)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if k == "VmRSS" {
			ps.RSS = kb << 10
		} else {
			ps.HWM = kb << 10
		}
	}
	return ps, sc.Err()
}

// usage is a process's CPU and memory over a measured window.
type usage struct {
	pid           int // 0: this process
	before, after procStat
	start         time.Time
	wall          time.Duration
	ok            bool
}

// startUsage starts measuring the server with the given PID (none when 0:
// the row then leaves its CPU and memory blank).
func startUsage(pid int) *usage {
	u := &usage{pid: pid, start: time.Now()}
	if pid > 0 {
		ps, err := readProc(pid)
		u.before, u.ok = ps, err == nil
	}
	return u
}

// startSelf measures this process, the load's own cost.
func startSelf() *usage {
	ps, err := readProc(0)
	return &usage{before: ps, ok: err == nil, start: time.Now()}
}

func (u *usage) stop() {
	u.wall = time.Since(u.start)
	if !u.ok {
		return
	}
	ps, err := readProc(u.pid)
	u.after, u.ok = ps, err == nil
}

// cpuPct is CPU used over the window, in percent of one core.
func (u *usage) cpuPct() float64 {
	if !u.ok || u.wall <= 0 {
		return 0
	}
	return 100 * float64(u.after.CPU-u.before.CPU) / float64(u.wall)
}

func (u *usage) rssMiB() float64 {
	if !u.ok {
		return 0
	}
	return float64(u.after.RSS) / (1 << 20)
}

// goMem is what the runtime says of its memory, read from a pprof heap
// profile in text form (the server's -pprof): gc=1 collects first, so the
// figures are live memory, not garbage waiting for the next cycle.
type goMem struct {
	HeapInuse, StackInuse int64
}

func readGoMem(ctx context.Context, addr string) (goMem, error) {
	var m goMem
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/_/debug/pprof/heap?debug=1&gc=1", nil)
	if err != nil {
		return m, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, fmt.Errorf("heap profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("heap profile: HTTP %d (is the server's -pprof on?)", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, f := range []struct {
			key string
			v   *int64
		}{{"# HeapInuse = ", &m.HeapInuse}, {"# Stack = ", &m.StackInuse}} {
			if rest, ok := strings.CutPrefix(line, f.key); ok {
				rest, _, _ = strings.Cut(rest, " ")
				*f.v, _ = strconv.ParseInt(rest, 10, 64)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("heap profile: %w", err)
	}
	if m.HeapInuse == 0 {
		return m, errors.New("heap profile: no HeapInuse line")
	}
	return m, nil
}

// hist is a latency histogram in microseconds with about 1.5% precision:
// 64 linear sub-buckets per power of two (HdrHistogram's layout, small).
type hist struct {
	counts [histBuckets]uint32
	n      int64
	max    int64
}

const histBuckets = 64 * 30 // up to 2^30 µs, about 18 minutes

func histIndex(us int64) int {
	if us < 0 {
		us = 0
	}
	if us < 128 {
		return int(us)
	}
	e := bits.Len64(uint64(us)) - 7 // us>>e is in [64, 128)
	i := (e+1)*64 + int(us>>e) - 64
	return min(i, histBuckets-1)
}

func histValue(i int) int64 {
	if i < 128 {
		return int64(i)
	}
	e := i/64 - 1
	m := int64(i - e*64)
	return m<<e + (1<<e)/2
}

func (h *hist) record(d time.Duration) {
	us := d.Microseconds()
	h.counts[histIndex(us)]++
	h.n++
	h.max = max(h.max, us)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile in milliseconds.
func (h *hist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(q * float64(h.n))
	if rank >= h.n {
		rank = h.n - 1
	}
	var seen int64
	for i, c := range h.counts {
		seen += int64(c)
		if seen > rank {
			return min(float64(histValue(i)), float64(h.max)) / 1000
		}
	}
	return float64(h.max) / 1000
}

// latency is the percentile summary every table shows, in milliseconds.
type latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

func (h *hist) summary() latency {
	return latency{P50: h.quantile(.5), P90: h.quantile(.9), P99: h.quantile(.99), P999: h.quantile(.999), Max: float64(h.max) / 1000}
}

// row is one result line: the table's cells and the JSON object.
type row interface {
	header() []string
	cells() []string
	key() float64 // the figure the median is taken on
	targetName() string
}

// report prints rows as a table, each target's median row after them when
// runs were repeated, and with asJSON each row as a JSON line.
func report(w io.Writer, title string, rows []row, repeat int, asJSON bool) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(append([]string{"run"}, rows[0].header()...), "\t")+"\t")
	for i, r := range rows {
		fmt.Fprintln(tw, strings.Join(append([]string{strconv.Itoa(i/max(1, len(rows)/repeat) + 1)}, r.cells()...), "\t")+"\t")
	}
	if repeat > 1 {
		for _, m := range medians(rows) {
			fmt.Fprintln(tw, strings.Join(append([]string{"median"}, m.cells()...), "\t")+"\t")
		}
	}
	tw.Flush()
	if asJSON {
		for _, r := range rows {
			b, _ := json.Marshal(r)
			fmt.Fprintln(w, string(b))
		}
	}
}

// medians returns, per target in first-seen order, its row with the median key.
func medians(rows []row) []row {
	var names []string
	by := map[string][]row{}
	for _, r := range rows {
		if _, ok := by[r.targetName()]; !ok {
			names = append(names, r.targetName())
		}
		by[r.targetName()] = append(by[r.targetName()], r)
	}
	var out []row
	for _, n := range names {
		rs := slices.Clone(by[n])
		slices.SortStableFunc(rs, func(a, b row) int {
			switch {
			case a.key() < b.key():
				return -1
			case a.key() > b.key():
				return 1
			}
			return 0
		})
		out = append(out, rs[(len(rs)-1)/2])
	}
	return out
}

func f0(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
func f3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
