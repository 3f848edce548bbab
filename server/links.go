package server

// Share links' wiring: where they are kept, whose tries a wrong password
// spends, and how the room hears of their downloads.

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"filehub/drops"
	"filehub/hub"
	"filehub/links"

	"golang.org/x/time/rate"
)

// shareLinks builds the share links' doors: kept in NATS with several
// nodes, else in a state file beside the drop links'.
func (s *Server) shareLinks(ctx context.Context, getenv func(string) string, log *slog.Logger) (links.Handlers, error) {
	var keeper drops.Keeper
	var err error
	if s.nodes != nil {
		kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		keeper, err = s.nodes.ShareKeeper(kctx)
		cancel()
	} else {
		keeper, err = shareState(s.cfg, s.folder, getenv, log)
	}
	if err != nil {
		return links.Handlers{}, err
	}
	l := links.New(links.Config{Keeper: keeper, Logger: log.With("component", "links")})
	h := s.hub
	return links.NewHandlers(l, s.store, &passwordGuard{s: s, own: newLockout(rate.Every(6*time.Second), 10, 10000)}, links.Hooks{
		OnDownload: func(l links.Link, path string, bytes int64) {
			h.RecordLinkDownload(hub.ShareLink{Room: l.Room, Ref: links.Ref(l.ID), Label: l.Label}, path, bytes)
		},
	}), nil
}

// passwordGuard counts wrong share-link passwords in the token gate's
// lockout, so that a guess at a link's password costs what a guess at
// the token does, from the same budget; without a token (no gate) in a
// lockout of its own, with the gate's defaults.
type passwordGuard struct {
	s   *Server // its gate is set by the end of New, before anything is served
	own *lockout
}

func (g *passwordGuard) lockout() *lockout {
	if g.s.gate != nil {
		return g.s.gate.fails
	}
	return g.own
}

func (g *passwordGuard) Wait(r *http.Request) time.Duration {
	return g.lockout().wait(clientGroup(r.RemoteAddr), time.Now())
}

func (g *passwordGuard) Fail(r *http.Request) bool {
	return g.lockout().fail(clientGroup(r.RemoteAddr), time.Now()) >= 0
}
