package client

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

const listenUsage = `Usage: filehub listen [-room ROOM] [-name NAME] -save FOLDER URL

Joins ROOM (default lobby) on the filehub server at URL as a member named
NAME, and saves every file shared there into FOLDER as it arrives:
downloaded over HTTP, checked against the sha256 the server states,
never over an existing file ("report (2).pdf"). When the connection
drops it joins again, and saves what was shared meanwhile (the room's
feed since the last event seen). Stops on Ctrl-C. The token, if the
server has one, comes from FILEHUB_TOKEN.
`

func (e *env) listen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	room := fs.String("room", "lobby", "the `room` to join")
	name := fs.String("name", "filehub-listen", "the member `name` the room sees")
	save := fs.String("save", "", "the `folder` to save shared files into (required)")
	fs.Usage = func() { fmt.Fprint(e.stderr, listenUsage, "\nFlags:\n"); fs.PrintDefaults() }
	plain, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(plain) != 1 || *save == "" {
		fs.Usage()
		return &UsageError{Err: errors.New("listen needs -save FOLDER and the server's URL")}
	}
	base, err := serverURL(plain[0])
	if err != nil {
		return err
	}
	if fi, err := os.Stat(*save); err != nil || !fi.IsDir() {
		return fmt.Errorf("-save %s: not a folder", *save)
	}
	l := &listener{env: e, base: base, dir: *save, recent: map[string]int{}, streams: map[int]string{}, growing: map[string]bool{}}
	return l.run(ctx, *room, *name)
}

// listener is one listen: where it is in the room's feed, and the shares
// it is waiting on.
type listener struct {
	*env
	base *url.URL
	dir  string

	since uint64 // the last feed event seen
	epoch string // of the welcome it came from

	// recent counts the shares of each path saved from a "shared" frame
	// whose feed event has not come yet: that event, live or in the
	// welcome after a reconnect, is then not saved again.
	recent  map[string]int
	streams map[int]string  // a growing share's stream: its path, saved at file-end
	growing map[string]bool // growing shares without a stream, saved at upload-finish
}

// run joins, reads until the connection drops, and joins again, until
// ctx ends. A refusal of the join itself (the token, the room's name) ends
// it; anything else is tried again, with a growing wait.
func (l *listener) run(ctx context.Context, room, name string) error {
	for try := 0; ; {
		s, err := l.join(ctx, l.base, room, name, l.since, l.epoch)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if strings.Contains(err.Error(), "FILEHUB_TOKEN") || strings.Contains(err.Error(), "400 Bad Request") {
				return err
			}
			fmt.Fprintf(l.stderr, "filehub listen: %v; trying again\n", err)
			backoff(ctx, min(try, 6))
			try++
			continue
		}
		if try > 0 || l.epoch != "" {
			fmt.Fprintf(l.stderr, "filehub listen: joined %s again as %s\n", s.welcome.Room, s.welcome.You.Name)
		} else {
			fmt.Fprintf(l.stderr, "filehub listen: joined %s as %s, saving into %s\n", s.welcome.Room, s.welcome.You.Name, l.dir)
		}
		l.welcome(ctx, s.welcome)
		began := time.Now()
		err = l.session(ctx, s)
		s.close()
		if ctx.Err() != nil {
			return nil
		}
		fmt.Fprintf(l.stderr, "filehub listen: %v; joining again\n", err)
		if time.Since(began) > time.Minute {
			try = 0 // it had worked for a while: come back at once
		}
		backoff(ctx, min(try, 6))
		try++
	}
}

// welcome takes a (re)join's welcome: the shares of its feed that came
// while away are saved.
func (l *listener) welcome(ctx context.Context, w frame) {
	gap := l.epoch != "" && (w.Recovered == nil || !*w.Recovered)
	first := l.epoch == ""
	l.epoch = w.Epoch
	for _, ev := range w.Feed {
		l.since = max(l.since, ev.Seq)
		if !first && ev.Action == "share" {
			l.shareEvent(ctx, ev)
		}
	}
	if gap {
		fmt.Fprintln(l.stderr, "filehub listen: the room's history does not reach back to the last event seen (a restart?): shares made meanwhile may be missing")
	}
	// Streams and growing shares of the last session will not end here.
	clear(l.streams)
	clear(l.growing)
}

// session reads one session's frames until it ends, pinging so that a
// dead connection is found.
func (l *listener) session(ctx context.Context, s *session) error {
	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	done := make(chan struct{})
	defer close(done)
	s.conn.SetPongHandler(func(string) error { return nil })
	go func() { // owned by session: stops when it returns
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)) != nil {
					return
				}
			}
		}
	}()
	for {
		// Any frame, pong included, within pongWait: the server pings too.
		s.conn.SetPingHandler(func(data string) error {
			s.conn.SetReadDeadline(time.Now().Add(pongWait))
			return s.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		fs, err := s.read(time.Now().Add(pongWait))
		if err != nil {
			return err
		}
		for _, f := range fs {
			l.frame(ctx, f)
		}
	}
}

// frame handles one message.
func (l *listener) frame(ctx context.Context, f frame) {
	switch f.Kind {
	case "feed":
		ev := f.feedEvent()
		if ev == nil {
			return
		}
		l.since = max(l.since, ev.Seq)
		if ev.Action == "share" {
			l.shareEvent(ctx, *ev)
		}
	case "shared":
		l.recent[f.Path]++
		switch {
		case f.Stream != 0:
			l.streams[f.Stream] = f.Path // saved at its file-end, once in place
		case f.Growing:
			l.growing[f.Path] = true // saved at its upload-finish
		default:
			l.save(ctx, f.Path, "")
		}
	case "file-end":
		if p, ok := l.streams[f.Stream]; ok {
			delete(l.streams, f.Stream)
			l.save(ctx, p, f.SHA256)
		}
	case "error":
		if f.Stream != 0 {
			if p, ok := l.streams[f.Stream]; ok {
				delete(l.streams, f.Stream)
				fmt.Fprintf(l.stderr, "filehub listen: %s was not shared whole: %s\n", p, f.Message)
			}
		}
	case "upload-finish":
		if l.growing[f.Path] {
			delete(l.growing, f.Path)
			l.save(ctx, f.Path, f.SHA256)
		}
	case "upload-abort":
		delete(l.growing, f.Path)
	}
}

// shareEvent is a share in the feed: saved unless a "shared" frame of it
// was seen.
func (l *listener) shareEvent(ctx context.Context, ev event) {
	if l.recent[ev.Path] > 0 {
		l.recent[ev.Path]--
		if l.recent[ev.Path] == 0 {
			delete(l.recent, ev.Path)
		}
		return
	}
	l.save(ctx, ev.Path, "")
}

// save downloads p into the folder, checked against want (hex) when the
// room said it, and against the server's Repr-Digest always. A failure is
// told, and listening goes on.
func (l *listener) save(ctx context.Context, p, want string) {
	tmp, n, sum, err := l.download(ctx, l.base, p, l.dir, want)
	if err != nil {
		fmt.Fprintf(l.stderr, "filehub listen: %v\n", err)
		return
	}
	final, err := place(tmp, l.dir, localName(p))
	if err != nil {
		os.Remove(tmp)
		fmt.Fprintf(l.stderr, "filehub listen: %s: %v\n", p, err)
		return
	}
	fmt.Fprintf(l.stdout, "saved %s: %s, %d bytes, sha256 %s\n", p, final, n, sum)
}
