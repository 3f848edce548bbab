// Package natstest runs a real NATS server with JetStream in the test's
// process, on a loopback port, its store in a t.TempDir(): for the cluster
// broker's own tests and the whole-server tests of several nodes. It is a
// package of its own so that tests which need no NATS do not link it.
package natstest

import (
	"fmt"
	"sync"
	"testing"

	"filehub/internal/testutil"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server with JetStream, which a test may stop and start
// again on the same port and store.
type Server struct {
	t    testing.TB
	dir  string
	port int
	mu   sync.Mutex
	s    *server.Server
}

// Start starts a server, stopped at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	ns := &Server{t: t, dir: t.TempDir(), port: testutil.FreePort(t)}
	ns.Restart()
	t.Cleanup(ns.Stop)
	return ns
}

// StoreDir is the folder of the server's JetStream store, for a test that
// wipes it while the server is stopped.
func (ns *Server) StoreDir() string { return ns.dir }

// URL is the server's client URL.
func (ns *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", ns.port) }

// Restart starts the server again, after Stop, on the same port and store.
func (ns *Server) Restart() {
	ns.t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: ns.port, JetStream: true, StoreDir: ns.dir,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		ns.t.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(testutil.Timeout) {
		ns.t.Fatal("nats server not ready")
	}
	ns.mu.Lock()
	ns.s = s
	ns.mu.Unlock()
}

// Stop shuts the server down and waits for it; again is harmless.
func (ns *Server) Stop() {
	ns.mu.Lock()
	s := ns.s
	ns.s = nil
	ns.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}
