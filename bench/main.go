// Command bench measures a running filehub, and the baselines it is compared
// with, from the outside: it speaks the room protocol of docs/protocol.md
// over real loopback connections and reads the server's CPU and memory from
// /proc when given its PID.
//
//	go run ./bench fanout     -target filehub=127.0.0.1:8080@PID -n 1000 -rate 2000 -batch
//	go run ./bench sweep      -target … -n 1000 -batch          raise the rate until p99 > bound or a loss
//	go run ./bench idle       -target … -n 10000 -share a.txt    memory per idle session
//	go run ./bench presence   -target … -n 10000 -churn 50       presence bytes per page per second
//	go run ./bench rtt        -target … -get 1k.bin              ping/pong and private get round trips
//	go run ./bench http       -target … -file /1k.bin            requests/s and MB/s
//	go run ./bench fswatch    -target … -dir DIR -n 300          a file's creation to its fs frame
//	go run ./bench fstree     -dir DIR -folders 500 -files 20     a tree to watch
//	go run ./bench startup    -bin ./filehub -dir DIR            start-up time and memory, with and without -watch
//	go run ./bench baseline   -addr 127.0.0.1:9001               plain melody Broadcast server
//	go run ./bench gorilla    -addr 127.0.0.1:9002               gorilla chat-like server
//	go run ./bench fileserver -addr 127.0.0.1:9003 -root DIR     Go's bare http.FileServer
//
// Every load is bounded in count and time, and only loopback targets are
// accepted unless -allow-remote is given. BENCHMARKS.md has the figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(2)
	}
}

const usageText = `Usage: bench COMMAND [flags]

Load (against running servers; -target NAME=HOST:PORT[@PID], repeatable):
  fanout      N subscribers, one publisher at -rate chat messages/s
  sweep       fanout at rising rates until p99 > -bound or a message is lost
  idle        hold N sessions; server memory per session
  presence    N pages in one room while others join and leave: bytes per page per second
  rtt         ping/pong and private get round trips
  http        GET one URL on C connections: requests/s and MB/s
  fswatch     files created in the served folder (-dir): creation to fs frame

The live folder:
  fstree      make a tree of folders and files to watch
  startup     start a filehub binary on a folder: start-up time, RSS, Go heap

Baselines (servers, until interrupted):
  baseline    plain melody: m.Broadcast of every message, at /ws
  gorilla     gorilla/websocket's chat example, packing queued messages per write
  fileserver  Go's bare http.FileServer

Run "bench COMMAND -h" for a command's flags.
`

// run is the whole program; it returns when the command is done or ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "fanout", "sweep":
		return runFanout(ctx, cmd, rest, stdout, stderr)
	case "idle":
		return runIdle(ctx, rest, stdout, stderr)
	case "presence":
		return runPresence(ctx, rest, stdout, stderr)
	case "rtt":
		return runRTT(ctx, rest, stdout, stderr)
	case "http":
		return runHTTP(ctx, rest, stdout, stderr)
	case "fswatch":
		return runFSWatch(ctx, rest, stdout, stderr)
	case "fstree":
		return runFSTree(ctx, rest, stdout, stderr)
	case "startup":
		return runStartup(ctx, rest, stdout, stderr)
	case "baseline", "gorilla", "fileserver":
		return runBaseline(ctx, cmd, rest, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	fmt.Fprint(stderr, usageText)
	return fmt.Errorf("unknown command %q", cmd)
}
