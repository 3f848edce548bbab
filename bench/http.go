package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

type httpConfig struct {
	common
	file     string
	conns    int
	duration time.Duration
}

func runHTTP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c httpConfig
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	fs.StringVar(&c.file, "file", "/", "URL path to GET, e.g. /1k.bin")
	fs.IntVar(&c.conns, "c", 32, "connections, each with one request in flight (keep-alive)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to load each target")
	stopProfile, err := c.setup(fs, args)
	if err != nil {
		return err
	}
	defer stopProfile()
	switch {
	case c.conns < 1 || c.conns > 10_000:
		return errors.New("-c must be 1-10000")
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("-duration must be in (0, %v]", maxDuration)
	case len(c.file) == 0 || c.file[0] != '/' || bytes.ContainsAny([]byte(c.file), " \r\n"):
		return errors.New("-file must be a URL path starting with /")
	}
	var rows []row
	for rep := range c.repeat {
		for _, t := range c.targets {
			fmt.Fprintf(stderr, "http %s: run %d of %d, GET %s on %d connections\n", t.Name, rep+1, c.repeat, c.file, c.conns)
			r, err := loadHTTP(ctx, &c, t)
			if err != nil {
				return fmt.Errorf("http %s: %w", t.Name, err)
			}
			rows = append(rows, r)
		}
	}
	report(stdout, fmt.Sprintf("http: GET %s, %d connections, %v", c.file, c.conns, c.duration), rows, c.repeat, c.json)
	return nil
}

// loadHTTP keeps c.conns keep-alive connections busy with GETs for the
// duration. Its client is a bare HTTP/1.1 loop (one fixed request, a
// Content-Length body discarded), wrk-like, so that it costs the machine
// less than net/http's client would and leaves more CPU to the server.
func loadHTTP(ctx context.Context, c *httpConfig, t target) (*httpResult, error) {
	req := []byte("GET " + c.file + " HTTP/1.1\r\nHost: " + t.Addr + "\r\nUser-Agent: filehub-bench\r\n\r\n")
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	srv, self := startUsage(t.PID), startSelf()
	type tally struct {
		n, bytes int64
		h        hist
		err      error
	}
	tallies := make([]tally, c.conns)
	var wg sync.WaitGroup
	for i := range c.conns {
		wg.Add(1)
		go func(tl *tally) {
			defer wg.Done()
			conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", t.Addr)
			if err != nil {
				if ctx.Err() == nil {
					tl.err = err
				}
				return
			}
			defer conn.Close()
			stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
			defer stop()
			br := bufio.NewReaderSize(conn, 64<<10)
			for ctx.Err() == nil {
				start := time.Now()
				if _, err := conn.Write(req); err != nil {
					if ctx.Err() == nil { // else: the deadline that ends the run
						tl.err = err
					}
					return
				}
				n, err := readResponse(br)
				if err != nil {
					if ctx.Err() == nil { // else: the deadline that ends the run
						tl.err = err
					}
					return
				}
				tl.n++
				tl.bytes += n
				tl.h.record(time.Since(start))
			}
		}(&tallies[i])
	}
	wg.Wait()
	srv.stop()
	self.stop()
	res := &httpResult{Target: t.Name, Path: c.file, Conns: c.conns, ServerCPU: srv.cpuPct(), ToolCPU: self.cpuPct()}
	var h hist
	for _, tl := range tallies {
		if tl.err != nil {
			return nil, tl.err
		}
		res.Requests += tl.n
		res.Bytes += tl.bytes
		h.merge(&tl.h)
	}
	secs := srv.wall.Seconds()
	res.PerSec = float64(res.Requests) / secs
	res.MiBPerSec = float64(res.Bytes) / (1 << 20) / secs
	res.latency = h.summary()
	return res, nil
}

// readResponse reads one response and discards its body, returning the
// body's length. It wants a 200 with a Content-Length (what a file server
// sends for a whole file).
func readResponse(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return 0, fmt.Errorf("status %q, want 200", bytes.TrimSpace(line))
	}
	length := int64(-1)
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, err = strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", v)
			}
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	_, err = br.Discard(int(length))
	return length, err
}

type httpResult struct {
	Target    string  `json:"target"`
	Path      string  `json:"path"`
	Conns     int     `json:"connections"`
	Requests  int64   `json:"requests"`
	Bytes     int64   `json:"body_bytes"`
	PerSec    float64 `json:"requests_per_s"`
	MiBPerSec float64 `json:"mib_per_s"`
	latency
	ServerCPU float64 `json:"server_cpu_pct"`
	ToolCPU   float64 `json:"tool_cpu_pct"`
}

func (r *httpResult) targetName() string { return r.Target }
func (r *httpResult) key() float64       { return r.PerSec }
func (r *httpResult) header() []string {
	return []string{"target", "path", "conns", "requests/s", "MiB/s", "p50 ms", "p99 ms", "max ms", "srv CPU%", "tool CPU%"}
}

func (r *httpResult) cells() []string {
	return []string{r.Target, r.Path, strconv.Itoa(r.Conns), f0(r.PerSec), f1(r.MiBPerSec), f3(r.P50), f3(r.P99), f2(r.Max), f0(r.ServerCPU), f0(r.ToolCPU)}
}
