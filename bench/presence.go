package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

type presenceConfig struct {
	common
	n          int
	joinRate   float64
	churn      float64
	settle     time.Duration
	duration   time.Duration
	room       string
	whoOnCount bool
}

func runPresence(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c presenceConfig
	fs := flag.NewFlagSet("presence", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	fs.IntVar(&c.n, "n", 10_000, "pages that stay in the room and are measured")
	fs.Float64Var(&c.joinRate, "join-rate", 2000, "new sessions per second while joining")
	fs.Float64Var(&c.churn, "churn", 50, "other sessions joining, and as many leaving, per second while measuring")
	fs.DurationVar(&c.settle, "settle", 3*time.Second, "wait after the joins before measuring")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to measure")
	fs.StringVar(&c.room, "room", "presence", "room every session joins")
	fs.BoolVar(&c.whoOnCount, "who-on-count", false, "behave like the page before: ask who (the whole list) within 2 s of each count frame")
	stopProfile, err := c.setup(fs, args)
	if err != nil {
		return err
	}
	defer stopProfile()
	switch {
	case c.n < 1 || c.n > maxSessions:
		return fmt.Errorf("-n must be 1-%d", maxSessions)
	case c.joinRate <= 0 || c.joinRate > maxRate, c.churn < 0 || c.churn > maxRate:
		return fmt.Errorf("-join-rate and -churn must be in (0, %d]", maxRate)
	case c.duration <= 0 || c.duration > maxDuration, c.settle < 0 || c.settle > maxDuration:
		return fmt.Errorf("-duration and -settle must be 0-%v", maxDuration)
	}
	var rows []row
	for rep := range c.repeat {
		for _, t := range c.targets {
			fmt.Fprintf(stderr, "presence %s: run %d of %d, %d pages, churn %g/s\n", t.Name, rep+1, c.repeat, c.n, c.churn)
			r, err := presence(ctx, &c, t)
			if err != nil {
				return fmt.Errorf("presence %s: %w", t.Name, err)
			}
			rows = append(rows, r)
			if err := sleep(ctx, 2*time.Second); err != nil {
				return err
			}
		}
	}
	report(stdout, fmt.Sprintf("presence: %d pages in one room, %g joins and %g leaves a second, measured %v", c.n, c.churn, c.churn, c.duration), rows, c.repeat, c.json)
	return nil
}

// presence holds n pages (batch=1, as the page joins) in one room, then
// lets other sessions join and leave at the churn rate, and counts what
// each page receives meanwhile: the presence traffic a page pays for being
// in a crowded room.
func presence(ctx context.Context, c *presenceConfig, t target) (*presenceResult, error) {
	conns, err := dialAll(ctx, c.n, c.joinRate, 1024, func(i int) string {
		return c.wsURL(t, c.room, "page-"+strconv.Itoa(i), true)
	})
	if err != nil {
		return nil, fmt.Errorf("joining: %w", err)
	}
	defer closeAll(conns)
	var measuring atomic.Bool
	got := make([]atomic.Int64, len(conns)) // bytes received while measuring
	frames := make([]atomic.Int64, len(conns))
	var gone atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	defer closeAll(conns)
	who, _ := json.Marshal(map[string]string{"kind": "who"})
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var asked time.Time
			for {
				_, b, err := conn.ReadMessage()
				if err != nil {
					gone.Add(1)
					return
				}
				if measuring.Load() {
					got[i].Add(int64(len(b)) + wsHeader(len(b)))
					frames[i].Add(1)
				}
				if c.whoOnCount && bytes.Contains(b, []byte(`"kind":"count"`)) && time.Since(asked) > 2*time.Second {
					asked = time.Now()
					_ = conn.WriteMessage(websocket.TextMessage, who)
				}
			}
		}()
	}
	if err := sleep(ctx, c.settle); err != nil {
		return nil, err
	}
	// Churn: sessions join at the rate and each leaves a moment later, so
	// the room sees as many leaves as joins.
	cctx, cancel := context.WithCancel(ctx)
	var churned atomic.Int64
	var cwg sync.WaitGroup
	lim := rate.NewLimiter(rate.Limit(max(c.churn, 1)), 1)
	if c.churn > 0 {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for i := 0; lim.Wait(cctx) == nil; i++ {
				cwg.Add(1)
				go func() {
					defer cwg.Done()
					conn, err := dial(cctx, c.wsURL(t, c.room, "churn-"+strconv.Itoa(i), true), 1024)
					if err != nil {
						return
					}
					churned.Add(1)
					_ = sleep(cctx, 200*time.Millisecond)
					conn.Close()
				}()
			}
		}()
	}
	measuring.Store(true)
	start := time.Now()
	err = sleep(ctx, c.duration)
	measuring.Store(false)
	el := time.Since(start).Seconds()
	cancel()
	cwg.Wait()
	if err != nil {
		return nil, err
	}
	per := make([]float64, len(got))
	var total, nframes int64
	for i := range got {
		per[i] = float64(got[i].Load()) / el
		total += got[i].Load()
		nframes += frames[i].Load()
	}
	slices.Sort(per)
	return &presenceResult{
		Target: t.Name, Pages: c.n, Churned: int(churned.Load()), Seconds: el,
		MeanBps: float64(total) / el / float64(len(got)), MedianBps: per[len(per)/2], MaxBps: per[len(per)-1],
		FramesPerSec: float64(nframes) / el / float64(len(got)), Gone: int(gone.Load()),
	}, nil
}

// wsHeader is the size of a server frame's header for a payload of n bytes
// (servers do not mask): what the network carries besides the payload.
func wsHeader(n int) int64 {
	switch {
	case n < 126:
		return 2
	case n < 1<<16:
		return 4
	}
	return 10
}

type presenceResult struct {
	Target       string  `json:"target"`
	Pages        int     `json:"pages"`
	Churned      int     `json:"churn_sessions"`
	Seconds      float64 `json:"seconds"`
	MeanBps      float64 `json:"mean_bytes_per_page_s"`
	MedianBps    float64 `json:"median_bytes_per_page_s"`
	MaxBps       float64 `json:"max_bytes_per_page_s"`
	FramesPerSec float64 `json:"frames_per_page_s"`
	Gone         int     `json:"closed_by_server"`
}

func (r *presenceResult) targetName() string { return r.Target }
func (r *presenceResult) key() float64       { return r.MeanBps }
func (r *presenceResult) header() []string {
	return []string{"target", "pages", "churn sessions", "s", "bytes/page/s mean", "median", "max", "frames/page/s", "closed"}
}

func (r *presenceResult) cells() []string {
	return []string{r.Target, strconv.Itoa(r.Pages), strconv.Itoa(r.Churned), f1(r.Seconds),
		f1(r.MeanBps), f1(r.MedianBps), f1(r.MaxBps), f2(r.FramesPerSec), strconv.Itoa(r.Gone)}
}
