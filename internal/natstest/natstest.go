// Package natstest runs a real NATS server with JetStream in the test's
// process, on a loopback port, its store in a t.TempDir(): for the cluster
// broker's own tests and the whole-server tests of several nodes. It is a
// package of its own so that tests which need no NATS do not link it.
package natstest

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"filehub/internal/testutil"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server with JetStream, which a test may stop and start
// again on the same port and store.
type Server struct {
	t    testing.TB
	dir  string
	port int
	// In a cluster (StartCluster): this server's name, its route port,
	// and every member's route port.
	name      string
	routePort int
	routes    []int
	mu        sync.Mutex
	s         *server.Server
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
	opts := &server.Options{
		Host: "127.0.0.1", Port: ns.port, JetStream: true, StoreDir: ns.dir,
		NoLog: true, NoSigs: true,
	}
	if ns.name != "" {
		opts.ServerName = ns.name
		opts.Cluster = server.ClusterOpts{Name: "filehub-test", Host: "127.0.0.1", Port: ns.routePort}
		for _, p := range ns.routes {
			if p != ns.routePort {
				opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
			}
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		ns.t.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(2 * testutil.Timeout) {
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

// StartCluster starts n servers (3 for a JetStream quorum) as one NATS
// cluster, each with its own store, stopped at cleanup; Stop and Restart
// work on each as on a single server. It returns once the cluster has a
// JetStream meta leader, so streams can be made at once.
func StartCluster(t testing.TB, n int) []*Server {
	t.Helper()
	out := NewCluster(t, n)
	var wg sync.WaitGroup
	for _, ns := range out {
		wg.Go(ns.Restart) // start them together, as a cluster is started
	}
	wg.Wait()
	deadline := time.Now().Add(2 * testutil.Timeout)
	for !out[0].hasMetaLeader() {
		if time.Now().After(deadline) {
			t.Fatal("the NATS cluster elected no JetStream leader")
		}
		time.Sleep(20 * time.Millisecond) // polling the server's state, bounded by deadline
	}
	return out
}

// NewCluster is StartCluster without starting anything: the test starts
// each server (Restart) when it wants, for a cluster that forms while
// its clients connect.
func NewCluster(t testing.TB, n int) []*Server {
	t.Helper()
	routes := make([]int, n)
	for i := range n {
		routes[i] = testutil.FreePort(t)
	}
	var out []*Server
	for i := range n {
		ns := &Server{t: t, dir: t.TempDir(), port: testutil.FreePort(t), name: fmt.Sprintf("n%d", i), routePort: routes[i], routes: routes}
		t.Cleanup(ns.Stop)
		out = append(out, ns)
	}
	return out
}

// URLs lists the client URLs of servers, comma-separated, as -nats takes them.
func URLs(servers []*Server) string {
	var us []string
	for _, ns := range servers {
		us = append(us, ns.URL())
	}
	return strings.Join(us, ",")
}

func (ns *Server) hasMetaLeader() bool {
	ns.mu.Lock()
	s := ns.s
	ns.mu.Unlock()
	if s == nil {
		return false
	}
	jsz, err := s.Jsz(&server.JSzOptions{})
	return err == nil && jsz.Meta != nil && jsz.Meta.Leader != ""
}
