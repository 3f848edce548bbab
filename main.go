// Command filehub serves a folder over HTTP and a room over WebSocket on one
// port: browsers join a room, fetch files privately or share them with
// everyone, chat, and watch a live feed of who fetched what.
//
// main only starts and exits: the server, its configuration and its
// lifetime are package server.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"filehub/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := server.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(server.ExitCode(err, os.Stderr))
}
