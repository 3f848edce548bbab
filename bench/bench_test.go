package main

// A seconds-long smoke run of every load command, for CI: against filehub's
// hub and files packages served in-process (the load tool cannot import the
// root package main), and against the baselines started through run itself.
// It checks that the tool works and its figures are sane, not performance.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filehub/files"
	"filehub/hub"
)

// startFilehub serves a hub and its files on loopback, as main.go wires them
// (the ws route and the files), with the rate limit raised as -rate does.
func startFilehub(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "1k.bin"), bytes.Repeat([]byte("k"), 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := files.Open(dir, files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(store, hub.Config{Rate: 1e6, Burst: 1e6, Logger: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	mux.Handle("GET /ws", h)
	mux.Handle("GET /{path...}", files.Handler(store, files.Hooks{}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.Shutdown()
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Error(err)
		}
		store.Close()
	})
	return srv.Listener.Addr().String()
}

// runTool runs the tool with args and returns its JSON lines, decoded.
func runTool(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errs bytes.Buffer
	if err := run(ctx, append(args, "-json"), func(string) string { return "" }, &out, &errs); err != nil {
		t.Fatalf("bench %s: %v\n%s", strings.Join(args, " "), err, errs.String())
	}
	t.Logf("bench %s\n%s", strings.Join(args, " "), out.String())
	var rows []map[string]any
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if line := sc.Bytes(); bytes.HasPrefix(line, []byte("{")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, m)
		}
	}
	if len(rows) == 0 {
		t.Fatal("no JSON line")
	}
	return rows
}

// startBaseline runs "bench NAME -addr 127.0.0.1:0" and returns its address.
func startBaseline(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{name, "-addr", "127.0.0.1:0"}, args...), os.Getenv, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("%s did not start: %v", name, err)
	}
	go io.Copy(io.Discard, pr)
	_, rest, _ := strings.Cut(line, "http://")
	addr, _, _ := strings.Cut(rest, "/")
	return addr
}

func TestSmoke(t *testing.T) {
	t.Parallel()
	fh := startFilehub(t)
	pid := fmt.Sprint(os.Getpid()) // the servers run in this process: its /proc is theirs
	mel := startBaseline(t, "baseline")
	gor := startBaseline(t, "gorilla")

	t.Run("fanout", func(t *testing.T) {
		rows := runTool(t, "fanout", "-target", "filehub="+fh+"@"+pid, "-target", "melody="+mel, "-target", "gorilla="+gor,
			"-n", "20", "-rate", "200", "-duration", "1s", "-batch")
		for _, r := range rows {
			if r["lost"].(float64) != 0 || r["duplicates"].(float64) != 0 || r["deliveries"].(float64) != 20*r["sent"].(float64) || r["sent"].(float64) < 190 {
				t.Errorf("%v: want every message delivered once", r)
			}
		}
		if rows[0]["server_rss_mib"].(float64) <= 0 {
			t.Errorf("no RSS read from /proc: %v", rows[0])
		}
	})
	t.Run("sweep", func(t *testing.T) {
		rows := runTool(t, "sweep", "-target", "filehub="+fh, "-n", "10", "-rate", "100", "-max-rate", "150", "-duration", "300ms", "-refine", "0",
			"-bound", "5s") // a smoke run checks the tool, not the machine: CI may be slow
		if rows[0]["sustained_msgs_per_s"].(float64) < 100 {
			t.Errorf("sweep: %v", rows[0])
		}
	})
	t.Run("idle", func(t *testing.T) {
		rows := runTool(t, "idle", "-target", "filehub="+fh+"@"+pid, "-n", "20", "-hold", "100ms", "-share", "1k.bin")
		if rows[0]["share_received"].(float64) != 20 {
			t.Errorf("share reached %v of 20 sessions", rows[0]["share_received"])
		}
	})
	t.Run("presence", func(t *testing.T) {
		rows := runTool(t, "presence", "-target", "filehub="+fh, "-n", "20", "-churn", "20", "-settle", "100ms", "-duration", "1s")
		// 20 pages and a small room: presence frames, not count frames;
		// each join and leave reaches each page.
		if r := rows[0]; r["churn_sessions"].(float64) < 5 || r["mean_bytes_per_page_s"].(float64) <= 0 || r["closed_by_server"].(float64) != 0 {
			t.Errorf("presence: %v", r)
		}
	})
	t.Run("rtt", func(t *testing.T) {
		rows := runTool(t, "rtt", "-target", "filehub="+fh, "-count", "50", "-get", "1k.bin")
		if len(rows) != 2 || rows[1]["p50_ms"].(float64) <= 0 {
			t.Errorf("rtt: %v", rows)
		}
	})
	t.Run("http", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "1k.bin"), bytes.Repeat([]byte("k"), 1024), 0o644); err != nil {
			t.Fatal(err)
		}
		fs := startBaseline(t, "fileserver", "-root", dir)
		rows := runTool(t, "http", "-target", "filehub="+fh, "-target", "fileserver="+fs, "-file", "/1k.bin", "-c", "2", "-duration", "300ms", "-repeat", "2")
		for _, r := range rows {
			if r["requests"].(float64) < 1 || r["body_bytes"].(float64) != 1024*r["requests"].(float64) {
				t.Errorf("http: %v", r)
			}
		}
	})
}

func TestRefusesRemote(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"rtt", "-target", "x=192.0.2.1:80"}, os.Getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not a loopback") {
		t.Fatalf("run against 192.0.2.1: %v, want a refusal", err)
	}
}

func TestHist(t *testing.T) {
	t.Parallel()
	var h hist
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct{ q, want float64 }{{.5, 500}, {.99, 990}, {1, 1000}} {
		if got := h.quantile(c.q); got < c.want*0.98 || got > c.want*1.02 {
			t.Errorf("quantile(%v) = %v ms, want %v±2%%", c.q, got, c.want)
		}
	}
}
