package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
)

// runBaseline serves one of the servers filehub is compared with, on the
// same machine, until ctx ends. Each serves Go's pprof at /_/debug/pprof/
// (as filehub does with -pprof), so that idle -heap reads all of them alike.
func runBaseline(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	root := fs.String("root", ".", "fileserver: the folder to serve")
	if err := parse(fs, args); err != nil {
		return err
	}
	mux := http.NewServeMux()
	// pprof.Index finds profiles under /debug/pprof/: strip the /_ prefix.
	mux.Handle("GET /_/debug/pprof/", http.StripPrefix("/_", http.HandlerFunc(pprof.Index)))
	var stop func()
	switch cmd {
	case "baseline":
		stop = melodyBaseline(mux)
	case "gorilla":
		stop = gorillaBaseline(ctx, mux)
	case "fileserver":
		if _, err := os.Stat(*root); err != nil {
			return fmt.Errorf("-root: %w", err)
		}
		mux.Handle("GET /", http.FileServer(http.Dir(*root)))
		stop = func() {}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "%s listening on http://%s/ (pid %d)\n", cmd, ln.Addr(), os.Getpid())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// welcome is all the baselines say on connect: the load tool counts a
// session once its first frame has arrived, as with filehub's welcome.
var welcome = []byte(`{"kind":"welcome"}`)

// melodyBaseline is plain melody, every default kept: each message a client
// sends is broadcast to every session with m.Broadcast.
func melodyBaseline(mux *http.ServeMux) (stop func()) {
	m := melody.New()
	m.HandleConnect(func(s *melody.Session) { _ = s.Write(welcome) })
	m.HandleMessage(func(_ *melody.Session, msg []byte) { _ = m.Broadcast(msg) })
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) { _ = m.HandleRequest(w, r) })
	return func() { _ = m.Close() }
}

// gorillaBaseline is gorilla/websocket's examples/chat (hub.go, client.go)
// with its constants: one hub goroutine fans out to each client's 256-slot
// channel and drops a client whose channel is full; each client's write
// goroutine packs every message queued meanwhile into one WebSocket message.
// The example joins them with newlines; this one wraps them in filehub's
// batch frame instead, which costs the same and keeps each frame JSON.
func gorillaBaseline(ctx context.Context, mux *http.ServeMux) (stop func()) {
	h := &gHub{
		broadcast:  make(chan []byte),
		register:   make(chan *gClient),
		unregister: make(chan *gClient),
		clients:    make(map[*gClient]bool),
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.run(ctx)
	}()
	upgrader := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &gClient{hub: h, conn: conn, send: make(chan []byte, 256)}
		c.send <- welcome
		select {
		case h.register <- c:
		case <-ctx.Done():
			conn.Close()
			return
		}
		go c.writePump()
		go c.readPump(ctx)
	})
	return func() { cancel(); wg.Wait() }
}

// The example's constants.
const (
	gWriteWait      = 10 * time.Second
	gPongWait       = 60 * time.Second
	gPingPeriod     = (gPongWait * 9) / 10 // must be less than gPongWait
	gMaxMessageSize = 512
)

type gHub struct {
	clients    map[*gClient]bool
	broadcast  chan []byte
	register   chan *gClient
	unregister chan *gClient
}

func (h *gHub) run(ctx context.Context) {
	for {
		select {
		case c := <-h.register:
			h.clients[c] = true
		case c := <-h.unregister:
			if h.clients[c] {
				delete(h.clients, c)
				close(c.send)
			}
		case msg := <-h.broadcast:
			for c := range h.clients {
				select {
				case c.send <- msg:
				default:
					close(c.send)
					delete(h.clients, c)
				}
			}
		case <-ctx.Done():
			for c := range h.clients {
				close(c.send)
			}
			return
		}
	}
}

type gClient struct {
	hub  *gHub
	conn *websocket.Conn
	send chan []byte
}

func (c *gClient) readPump(ctx context.Context) {
	defer func() {
		select {
		case c.hub.unregister <- c:
		case <-ctx.Done():
		}
		c.conn.Close()
	}()
	c.conn.SetReadLimit(gMaxMessageSize)
	c.conn.SetReadDeadline(time.Now().Add(gPongWait))
	c.conn.SetPongHandler(func(string) error { c.conn.SetReadDeadline(time.Now().Add(gPongWait)); return nil })
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		select {
		case c.hub.broadcast <- msg:
		case <-ctx.Done():
			return
		}
	}
}

func (c *gClient) writePump() {
	ticker := time.NewTicker(gPingPeriod)
	defer func() {
		ticker.Stop()
		c.conn.Close()
	}()
	for {
		select {
		case msg, ok := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(gWriteWait))
			if !ok {
				c.conn.WriteMessage(websocket.CloseMessage, []byte{})
				return
			}
			w, err := c.conn.NextWriter(websocket.TextMessage)
			if err != nil {
				return
			}
			if n := len(c.send); n == 0 {
				w.Write(msg)
			} else {
				w.Write([]byte(`{"kind":"batch","frames":[`))
				w.Write(msg)
				for range n {
					w.Write([]byte{','})
					w.Write(<-c.send)
				}
				w.Write([]byte(`]}`))
			}
			if err := w.Close(); err != nil {
				return
			}
		case <-ticker.C:
			c.conn.SetWriteDeadline(time.Now().Add(gWriteWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}
