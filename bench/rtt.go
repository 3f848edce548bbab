package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

type rttConfig struct {
	common
	count int
	get   string
	room  string
}

func runRTT(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c rttConfig
	fs := flag.NewFlagSet("rtt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	fs.IntVar(&c.count, "count", 2000, "round trips of each kind, one at a time")
	fs.StringVar(&c.get, "get", "", "also time private gets of this path (a 1 KiB file: an inline file frame)")
	fs.StringVar(&c.room, "room", "rtt", "room to join")
	stopProfile, err := c.setup(fs, args)
	if err != nil {
		return err
	}
	defer stopProfile()
	if c.count < 1 || c.count > 1_000_000 {
		return errors.New("-count must be 1-1000000")
	}
	var rows []row
	for rep := range c.repeat {
		for _, t := range c.targets {
			fmt.Fprintf(stderr, "rtt %s: run %d of %d\n", t.Name, rep+1, c.repeat)
			rs, err := rtt(ctx, &c, t)
			if err != nil {
				return fmt.Errorf("rtt %s: %w", t.Name, err)
			}
			rows = append(rows, rs...)
		}
	}
	report(stdout, fmt.Sprintf("rtt: %d sequential round trips on one session", c.count), rows, c.repeat, c.json)
	return nil
}

// rtt times request/reply round trips on one session, one in flight at a
// time: ping → pong, and with -get a private get → file.
func rtt(ctx context.Context, c *rttConfig, t target) ([]row, error) {
	conn, err := dial(ctx, c.wsURL(t, c.room, "rtt", false), 64<<10)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	kinds := []struct{ name, req string }{{"ping", `{"kind":"ping","id":"%s"}`}}
	if c.get != "" {
		path, _ := jsonString(c.get)
		kinds = append(kinds, struct{ name, req string }{"get " + c.get, `{"kind":"get","id":"%s","path":` + path + `}`})
	}
	var rows []row
	for _, k := range kinds {
		var h hist
		// A few untimed round trips first: connection and caches warm.
		for i := range 50 {
			if _, err := roundTrip(ctx, conn, k.req, "w"+strconv.Itoa(i)); err != nil {
				return nil, fmt.Errorf("%s: %w", k.name, err)
			}
		}
		start := time.Now()
		for i := range c.count {
			d, err := roundTrip(ctx, conn, k.req, strconv.Itoa(i))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k.name, err)
			}
			h.record(d)
		}
		rows = append(rows, &rttResult{Target: t.Name, Kind: k.name, Count: c.count,
			PerSec: float64(c.count) / time.Since(start).Seconds(), latency: h.summary()})
	}
	return rows, nil
}

// roundTrip sends one request and waits for the frame carrying its id,
// skipping others (the room's feed, presence).
func roundTrip(ctx context.Context, conn *websocket.Conn, format, id string) (time.Duration, error) {
	want := []byte(`"id":"` + id + `"`)
	start := time.Now()
	if err := conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, format, id)); err != nil {
		return 0, err
	}
	conn.SetReadDeadline(time.Now().Add(dialTimeout))
	for ctx.Err() == nil {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return 0, err
		}
		if !bytes.Contains(b, want) {
			continue
		}
		if bytes.Contains(b, []byte(`"kind":"error"`)) {
			if bytes.Contains(b, []byte(`rate_limited`)) {
				return 0, errors.New("rate limited: start filehub with a higher -rate")
			}
			return 0, fmt.Errorf("error reply: %.200s", b)
		}
		return time.Since(start), nil
	}
	return 0, ctx.Err()
}

func jsonString(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

type rttResult struct {
	Target string  `json:"target"`
	Kind   string  `json:"kind"`
	Count  int     `json:"count"`
	PerSec float64 `json:"round_trips_per_s"`
	latency
}

func (r *rttResult) targetName() string { return r.Target + " " + r.Kind }
func (r *rttResult) key() float64       { return r.P50 }
func (r *rttResult) header() []string {
	return []string{"target", "request", "count", "round trips/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"}
}

func (r *rttResult) cells() []string {
	return []string{r.Target, r.Kind, strconv.Itoa(r.Count), f0(r.PerSec), f3(r.P50), f3(r.P90), f3(r.P99), f3(r.P999), f3(r.Max)}
}
