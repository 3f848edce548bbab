package main

// The live folder, measured from the outside: how long a file created in
// the served folder (by this tool, through the OS) takes to reach a page as
// an fs frame (fswatch); the tree to measure a watcher's cost on (fstree);
// and what a filehub binary costs to start on it, with and without -watch
// (startup).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Bounds of the file system commands, whatever their flags say.
const (
	maxFSFiles   = 100_000 // files one run creates
	maxFSFolders = 10_000
)

type fswatchConfig struct {
	common
	dir   string
	n     int
	every time.Duration
	size  int
	room  string
}

func runFSWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c fswatchConfig
	fs := flag.NewFlagSet("fswatch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	fs.StringVar(&c.dir, "dir", "", "the folder the target serves (required): the tool creates its files in a new folder inside it, and removes it after")
	fs.IntVar(&c.n, "n", 300, "files to create")
	fs.DurationVar(&c.every, "every", 20*time.Millisecond, "time between two files (0: all at once, a burst)")
	fs.IntVar(&c.size, "size", 1024, "bytes in each file, written in one write")
	fs.StringVar(&c.room, "room", "fswatch", "room to join")
	stopProfile, err := c.setup(fs, args)
	if err != nil {
		return err
	}
	defer stopProfile()
	switch {
	case c.dir == "":
		return errors.New("-dir is required: the folder the target serves")
	case c.n < 1 || c.n > maxFSFiles:
		return fmt.Errorf("-n must be 1-%d", maxFSFiles)
	case c.every < 0 || time.Duration(c.n)*c.every > maxDuration:
		return fmt.Errorf("-every must be 0 or more, and -n × -every at most %v", maxDuration)
	case c.size < 0 || c.size > 1<<20:
		return errors.New("-size must be 0-1048576")
	}
	if fi, err := os.Stat(c.dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("-dir %s: not a folder", c.dir)
	}
	var rows []row
	for rep := range c.repeat {
		for _, t := range c.targets {
			fmt.Fprintf(stderr, "fswatch %s: run %d of %d, %d files\n", t.Name, rep+1, c.repeat, c.n)
			r, err := fswatch(ctx, &c, t)
			if err != nil {
				return fmt.Errorf("fswatch %s: %w", t.Name, err)
			}
			rows = append(rows, r)
		}
	}
	mode := fmt.Sprintf("one every %v", c.every)
	if c.every == 0 {
		mode = "all at once"
	}
	report(stdout, fmt.Sprintf("fswatch: %d files of %d bytes created in the served folder, %s; creation to fs frame", c.n, c.size, mode),
		rows, c.repeat, c.json)
	return nil
}

// fsSeen is what a page received of the tool's files.
type fsSeen struct {
	mu       sync.Mutex
	at       map[string]time.Time // first fs add of each path
	removed  map[string]time.Time
	wsFrames int // WebSocket frames carrying fs messages
	fsMsgs   int
	prefix   string        // the tool's folder and a slash: adds below it are counted
	mine     int           // distinct paths added below prefix
	changed  chan struct{} // a token after each frame that added something
}

// fswatch creates the files one at a time (or all at once) in a new folder
// of the served folder, and times each from just before its creation to
// its fs add at a page.
func fswatch(ctx context.Context, c *fswatchConfig, t target) (*fswatchResult, error) {
	conn, err := dial(ctx, c.wsURL(t, c.room, "fswatch", true), 64<<10)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	seen := &fsSeen{at: map[string]time.Time{}, removed: map[string]time.Time{}, changed: make(chan struct{}, 1)}
	readErr := make(chan error, 1)
	go func() { readErr <- readFS(conn, seen) }()
	wait := func(what string, done func() bool) error {
		timeout := time.NewTimer(30 * time.Second)
		defer timeout.Stop()
		for {
			seen.mu.Lock()
			ok := done()
			seen.mu.Unlock()
			if ok {
				return nil
			}
			select {
			case <-seen.changed:
			case err := <-readErr:
				return fmt.Errorf("waiting for %s: %w", what, err)
			case <-timeout.C:
				return fmt.Errorf("waiting for %s: no fs frame for 30 s (is the target watching %s?)", what, c.dir)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}

	// A folder of its own, announced (and so watched) before the files.
	sub := fmt.Sprintf("fswatch-%d", time.Now().UnixNano())
	seen.mu.Lock()
	seen.prefix = sub + "/"
	seen.mu.Unlock()
	if err := os.Mkdir(filepath.Join(c.dir, sub), 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(filepath.Join(c.dir, sub))
	if err := wait("the folder", func() bool { _, ok := seen.at[sub]; return ok }); err != nil {
		return nil, err
	}
	var before procStat
	if t.PID > 0 {
		if before, err = readProc(t.PID); err != nil {
			return nil, err
		}
	}
	seen.mu.Lock()
	frames0, msgs0 := seen.wsFrames, seen.fsMsgs
	seen.mu.Unlock()
	body := bytes.Repeat([]byte("x"), c.size)
	created := make(map[string]time.Time, c.n)
	var tick *time.Ticker
	if c.every > 0 {
		tick = time.NewTicker(c.every)
		defer tick.Stop()
	}
	began := time.Now()
	for i := range c.n {
		if tick != nil && i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		name := fmt.Sprintf("%s/f%06d.txt", sub, i)
		created[name] = time.Now()
		if err := os.WriteFile(filepath.Join(c.dir, filepath.FromSlash(name)), body, 0o644); err != nil {
			return nil, err
		}
	}
	wrote := time.Since(began)
	if err := wait(fmt.Sprintf("%d files", c.n), func() bool { return seen.mine >= c.n }); err != nil {
		return nil, err
	}
	all := time.Since(began)
	res := &fswatchResult{Target: t.Name, Files: c.n, Every: c.every.String(), WriteMS: ms(wrote), AllMS: ms(all)}
	if t.PID > 0 {
		after, err := readProc(t.PID)
		if err != nil {
			return nil, err
		}
		res.ServerCPUms = ms(after.CPU - before.CPU)
		res.ServerRSSMiB = float64(after.RSS) / (1 << 20)
	}
	var h hist
	seen.mu.Lock()
	for name, at := range created {
		h.record(seen.at[name].Sub(at))
	}
	res.Frames, res.Messages = seen.wsFrames-frames0, seen.fsMsgs-msgs0
	seen.mu.Unlock()
	res.latency = h.summary()

	// The folder removed with everything in it: one remove.
	began = time.Now()
	if err := os.RemoveAll(filepath.Join(c.dir, sub)); err != nil {
		return nil, err
	}
	if err := wait("the folder's removal", func() bool { _, ok := seen.removed[sub]; return ok }); err != nil {
		return nil, err
	}
	res.RemoveMS = ms(time.Since(began))
	return res, nil
}

// readFS reads frames until the connection ends, recording fs adds and
// removes.
func readFS(conn *websocket.Conn, seen *fsSeen) error {
	type fsMsg struct {
		Kind string `json:"kind"`
		Op   string `json:"op"`
		Path string `json:"path"`
	}
	for {
		_, b, err := conn.ReadMessage()
		now := time.Now()
		if err != nil {
			return err
		}
		var msgs []fsMsg
		if bytes.HasPrefix(b, []byte(`{"kind":"batch"`)) {
			var batch struct {
				Frames []fsMsg `json:"frames"`
			}
			if err := json.Unmarshal(b, &batch); err != nil {
				return err
			}
			msgs = batch.Frames
		} else {
			var m fsMsg
			if err := json.Unmarshal(b, &m); err != nil {
				return err
			}
			msgs = []fsMsg{m}
		}
		seen.mu.Lock()
		counted := false
		for _, m := range msgs {
			if m.Kind != "fs" {
				continue
			}
			seen.fsMsgs++
			if !counted {
				seen.wsFrames++
				counted = true
			}
			switch m.Op {
			case "add":
				if _, ok := seen.at[m.Path]; !ok {
					seen.at[m.Path] = now
					if seen.prefix != "" && strings.HasPrefix(m.Path, seen.prefix) {
						seen.mine++
					}
				}
			case "remove":
				seen.removed[m.Path] = now
			}
		}
		seen.mu.Unlock()
		if counted {
			select {
			case seen.changed <- struct{}{}:
			default:
			}
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type fswatchResult struct {
	Target       string  `json:"target"`
	Files        int     `json:"files"`
	Every        string  `json:"every"`
	WriteMS      float64 `json:"write_ms"` // creating them all
	AllMS        float64 `json:"all_ms"`   // from the first creation to the last fs frame
	Frames       int     `json:"ws_frames"`
	Messages     int     `json:"fs_messages"`
	RemoveMS     float64 `json:"remove_ms"` // rm -r of the folder to its remove frame
	ServerCPUms  float64 `json:"server_cpu_ms,omitempty"`
	ServerRSSMiB float64 `json:"server_rss_mib,omitempty"`
	latency
}

func (r *fswatchResult) targetName() string { return r.Target }
func (r *fswatchResult) key() float64       { return r.P50 }
func (r *fswatchResult) header() []string {
	return []string{"target", "files", "p50 ms", "p90 ms", "p99 ms", "max ms", "all in ms", "fs msgs", "ws frames", "rm -r ms", "server CPU ms", "RSS MiB"}
}

func (r *fswatchResult) cells() []string {
	return []string{r.Target, strconv.Itoa(r.Files), f1(r.P50), f1(r.P90), f1(r.P99), f1(r.Max), f0(r.AllMS),
		strconv.Itoa(r.Messages), strconv.Itoa(r.Frames), f0(r.RemoveMS), f0(r.ServerCPUms), f1(r.ServerRSSMiB)}
}

// runFSTree makes the tree the watcher's cost is measured on.
func runFSTree(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fstree", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the folder to fill (required; created if missing)")
	folders := fs.Int("folders", 500, "folders, 25 to a parent folder")
	perFolder := fs.Int("files", 20, "files in each folder")
	size := fs.Int("size", 1024, "bytes in each file")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *dir == "":
		return errors.New("-dir is required")
	case *folders < 1 || *folders > maxFSFolders:
		return fmt.Errorf("-folders must be 1-%d", maxFSFolders)
	case *perFolder < 0 || *folders**perFolder > maxFSFiles:
		return fmt.Errorf("-folders × -files must be at most %d", maxFSFiles)
	case *size < 0 || *size > 1<<20:
		return errors.New("-size must be 0-1048576")
	}
	body := bytes.Repeat([]byte("x"), *size)
	parents := map[string]bool{}
	for i := range *folders {
		parent := fmt.Sprintf("p%03d", i/25)
		parents[parent] = true
		d := filepath.Join(*dir, parent, fmt.Sprintf("d%05d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for j := range *perFolder {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%03d.txt", j)), body, 0o644); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "%s: %d folders (%d of them parents), %d files of %d bytes\n",
		*dir, *folders+len(parents), len(parents), *folders**perFolder, *size)
	return nil
}

// configs is the repeatable -config NAME=ARGS flag of startup.
type configs []struct{ name, args string }

func (c *configs) String() string { return fmt.Sprint(*c) }
func (c *configs) Set(v string) error {
	name, args, _ := strings.Cut(v, "=")
	if name == "" {
		return fmt.Errorf("%q: want NAME=ARGS", v)
	}
	*c = append(*c, struct{ name, args string }{name, args})
	return nil
}

type startupConfig struct {
	bin, dir string
	configs  configs
	repeat   int
	json     bool
	settle   time.Duration
}

// runStartup starts a filehub binary on a folder, once per configuration
// and repeat, interleaved, and measures the time to its "serving" line,
// then its resident memory and Go heap.
func runStartup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c startupConfig
	fs := flag.NewFlagSet("startup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.bin, "bin", "", "the filehub binary (required; go build -o /tmp/filehub .)")
	fs.StringVar(&c.dir, "dir", "", "the folder to serve (required)")
	fs.Var(&c.configs, "config", "NAME=ARGS: a configuration to start, with these extra space-separated flags; repeat to compare (default watch= and nowatch=-watch=false)")
	fs.IntVar(&c.repeat, "repeat", 3, "starts of each configuration, interleaved")
	fs.BoolVar(&c.json, "json", false, "also print each result as one JSON line")
	fs.DurationVar(&c.settle, "settle", 2*time.Second, "how long it runs before its memory is read")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case c.bin == "" || c.dir == "":
		return errors.New("-bin and -dir are required")
	case c.repeat < 1 || c.repeat > 20:
		return errors.New("-repeat must be 1-20")
	case c.settle < 0 || c.settle > time.Minute:
		return errors.New("-settle must be 0-1m")
	}
	if len(c.configs) == 0 {
		c.configs.Set("watch=")
		c.configs.Set("nowatch=-watch=false")
	}
	var rows []row
	for rep := range c.repeat {
		for _, cf := range c.configs {
			fmt.Fprintf(stderr, "startup %s: run %d of %d\n", cf.name, rep+1, c.repeat)
			r, err := startOnce(ctx, &c, cf.name, strings.Fields(cf.args), stderr)
			if err != nil {
				return fmt.Errorf("startup %s: %w", cf.name, err)
			}
			rows = append(rows, r)
		}
	}
	report(stdout, fmt.Sprintf("startup: %s serving %s", filepath.Base(c.bin), c.dir), rows, c.repeat, c.json)
	return nil
}

func startOnce(ctx context.Context, c *startupConfig, name string, extra []string, stderr io.Writer) (*startupResult, error) {
	args := append([]string{"-addr", "127.0.0.1:0", "-pprof", "-log-level", "warn"}, extra...)
	args = append(args, c.dir)
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("no serving line: %w", err)
	}
	res := &startupResult{Config: name, StartMS: ms(time.Since(began))}
	go io.Copy(io.Discard, out)
	_, rest, ok := strings.Cut(line, "http://")
	if !ok {
		return nil, fmt.Errorf("no address in %q", line)
	}
	addr, _, _ := strings.Cut(rest, "/")
	if err := sleep(ctx, c.settle); err != nil {
		return nil, err
	}
	mem, err := readGoMem(ctx, addr)
	if err != nil {
		return nil, err
	}
	ps, err := readProc(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	res.HeapMiB = float64(mem.HeapInuse) / (1 << 20)
	res.RSSMiB = float64(ps.RSS) / (1 << 20)
	res.CPUms = ms(ps.CPU)
	if res.WatchFolders, err = readMetric(ctx, addr, "filehub_watch_folders"); err != nil {
		return nil, err
	}
	return res, nil
}

// readMetric reads one unlabelled sample of the server's /_/metrics; -1
// when the server has none.
func readMetric(ctx context.Context, addr, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/_/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return -1, sc.Err()
}

type startupResult struct {
	Config       string  `json:"config"`
	StartMS      float64 `json:"start_ms"` // exec to the "serving" line
	RSSMiB       float64 `json:"rss_mib"`
	HeapMiB      float64 `json:"heap_inuse_mib"`
	CPUms        float64 `json:"cpu_ms"` // CPU used since exec
	WatchFolders float64 `json:"watch_folders"`
}

func (r *startupResult) targetName() string { return r.Config }
func (r *startupResult) key() float64       { return r.StartMS }
func (r *startupResult) header() []string {
	return []string{"config", "start ms", "RSS MiB", "Go heap MiB", "CPU ms", "inotify folders"}
}

func (r *startupResult) cells() []string {
	folders := f0(r.WatchFolders)
	if r.WatchFolders < 0 {
		folders = "-"
	}
	return []string{r.Config, f1(r.StartMS), f1(r.RSSMiB), f2(r.HeapMiB), f0(r.CPUms), folders}
}
