package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

type idleConfig struct {
	common
	n        int
	joinRate float64
	hold     time.Duration
	room     string
	share    string
	heap     bool
}

func runIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c idleConfig
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	fs.IntVar(&c.n, "n", 1000, "sessions to hold")
	fs.Float64Var(&c.joinRate, "join-rate", 2000, "new sessions per second while joining")
	fs.DurationVar(&c.hold, "hold", 5*time.Second, "how long to hold them before measuring")
	fs.StringVar(&c.room, "room", "idle", "room every session joins")
	fs.StringVar(&c.share, "share", "", "after measuring, the first session shares this path and every session must receive it (filehub only)")
	fs.BoolVar(&c.heap, "heap", false, "also read the Go heap and stacks from the target's /_/debug/pprof/heap (filehub -pprof, and the baselines)")
	stopProfile, err := c.setup(fs, args)
	if err != nil {
		return err
	}
	defer stopProfile()
	switch {
	case c.n < 1 || c.n > maxSessions:
		return fmt.Errorf("-n must be 1-%d", maxSessions)
	case c.joinRate <= 0 || c.joinRate > maxRate:
		return fmt.Errorf("-join-rate must be in (0, %d]", maxRate)
	case c.hold < 0 || c.hold > maxDuration:
		return fmt.Errorf("-hold must be 0-%v", maxDuration)
	}
	var rows []row
	for rep := range c.repeat {
		for _, t := range c.targets {
			fmt.Fprintf(stderr, "idle %s: run %d of %d, %d sessions\n", t.Name, rep+1, c.repeat, c.n)
			r, err := idle(ctx, &c, t)
			if err != nil {
				return fmt.Errorf("idle %s: %w", t.Name, err)
			}
			rows = append(rows, r)
			// Let the server take the disconnects in before the next target
			// (which may share this machine) is measured.
			if err := sleep(ctx, 2*time.Second); err != nil {
				return err
			}
		}
	}
	report(stdout, fmt.Sprintf("idle: %d sessions in one room, held %v", c.n, c.hold), rows, c.repeat, c.json)
	return nil
}

// idle joins n sessions in a storm, holds them, and measures the server's
// memory per session; then, with -share, checks every one receives a share.
func idle(ctx context.Context, c *idleConfig, t target) (*idleResult, error) {
	res := &idleResult{Target: t.Name, Sessions: c.n}
	var before procStat
	var err error
	if t.PID > 0 {
		if before, err = readProc(t.PID); err != nil {
			return nil, err
		}
	}
	var heapBefore goMem
	if c.heap {
		if heapBefore, err = readGoMem(ctx, t.Addr); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	conns, err := dialAll(ctx, c.n, c.joinRate, 1024, func(i int) string {
		return c.wsURL(t, c.room, "idle-"+strconv.Itoa(i), false)
	})
	if err != nil {
		return nil, fmt.Errorf("joining: %w", err)
	}
	res.JoinSeconds = time.Since(start).Seconds()
	defer closeAll(conns)

	// Every session reads (and so answers pings) until it is closed; it
	// notes the first shared frame it sees.
	var shared, gone atomic.Int64
	var lastShared atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	defer closeAll(conns) // before wg.Wait: the readers end when their conns close
	for _, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := false
			for {
				_, b, err := conn.ReadMessage()
				if err != nil {
					gone.Add(1)
					return
				}
				if !seen && bytes.Contains(b, []byte(`"kind":"shared"`)) {
					seen = true
					shared.Add(1)
					lastShared.Store(time.Now().UnixNano())
				}
			}
		}()
	}
	if err := sleep(ctx, c.hold); err != nil {
		return nil, err
	}
	if t.PID > 0 {
		after, err := readProc(t.PID)
		if err != nil {
			return nil, err
		}
		res.RSSBefore, res.RSSAfter = float64(before.RSS)/(1<<20), float64(after.RSS)/(1<<20)
		res.RSSPerSession = float64(after.RSS-before.RSS) / 1024 / float64(c.n)
	}
	if c.heap {
		m, err := readGoMem(ctx, t.Addr)
		if err != nil {
			return nil, err
		}
		res.HeapPerSession = float64(m.HeapInuse-heapBefore.HeapInuse) / 1024 / float64(c.n)
		res.StackPerSession = float64(m.StackInuse-heapBefore.StackInuse) / 1024 / float64(c.n)
	}
	res.Gone = int(gone.Load())
	if c.share != "" {
		b, _ := json.Marshal(map[string]string{"kind": "share", "path": c.share})
		sent := time.Now()
		if err := conns[0].WriteMessage(websocket.TextMessage, b); err != nil {
			return nil, fmt.Errorf("sharing: %w", err)
		}
		deadline := sent.Add(30 * time.Second)
		for shared.Load()+gone.Load() < int64(c.n) && time.Now().Before(deadline) {
			if shared.Load() == 0 && time.Since(sent) > 5*time.Second {
				break // not a filehub: nobody will receive it
			}
			if err := sleep(ctx, 5*time.Millisecond); err != nil {
				return nil, err
			}
		}
		// A baseline has no share: it broadcasts the request as it is, and
		// no session sees a shared frame. The row says 0 received.
		if res.Shared = int(shared.Load()); res.Shared > 0 {
			res.ShareMillis = float64(lastShared.Load()-sent.UnixNano()) / 1e6
		}
	}
	res.Gone = int(gone.Load())
	return res, nil
}

type idleResult struct {
	Target          string  `json:"target"`
	Sessions        int     `json:"sessions"`
	JoinSeconds     float64 `json:"join_s"`
	Gone            int     `json:"closed_by_server"`
	RSSBefore       float64 `json:"rss_before_mib"`
	RSSAfter        float64 `json:"rss_after_mib"`
	RSSPerSession   float64 `json:"rss_kib_per_session"`
	HeapPerSession  float64 `json:"heap_kib_per_session"`
	StackPerSession float64 `json:"stack_kib_per_session"`
	Shared          int     `json:"share_received"`
	ShareMillis     float64 `json:"share_to_all_ms"`
}

func (r *idleResult) targetName() string { return r.Target }

// key is the Go heap and stacks per session when read: RSS only falls
// back to the OS slowly, so its delta means something on a fresh server
// only (the first run), while the runtime's figures after a GC do not drift.
func (r *idleResult) key() float64 {
	if r.HeapPerSession > 0 {
		return r.HeapPerSession + r.StackPerSession
	}
	return r.RSSPerSession
}
func (r *idleResult) header() []string {
	return []string{"target", "sessions", "join s", "joins/s", "closed", "RSS before MiB", "RSS after MiB", "RSS KiB/session", "heap KiB/session", "stack KiB/session", "share received", "share to all ms"}
}

func (r *idleResult) cells() []string {
	return []string{r.Target, strconv.Itoa(r.Sessions), f2(r.JoinSeconds), f0(float64(r.Sessions) / r.JoinSeconds), strconv.Itoa(r.Gone),
		f1(r.RSSBefore), f1(r.RSSAfter), f1(r.RSSPerSession), f1(r.HeapPerSession), f1(r.StackPerSession),
		strconv.Itoa(r.Shared), f1(r.ShareMillis)}
}
