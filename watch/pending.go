package watch

import (
	"slices"
	"time"
)

// pending coalesces the events of each path: a path is due Quiet after its
// last event, or MaxDelay after its first, whichever comes first, so that a
// file written in many pieces is announced once when the writing stops, and
// one written without pause still every MaxDelay. It holds no clock and no
// timer: its owner passes the time in (the tests pass a fake one) and arms
// its own timer at next.
type pending struct {
	quiet, maxDelay time.Duration
	// gather widens a pass: paths due within gather of now settle with
	// those due now, so that a burst (200 files copied at once, whose
	// events span a few milliseconds) becomes one pass and one
	// FolderChanged call instead of one per timer tick. They are announced
	// up to gather early, which nobody can tell from a quiet period.
	gather time.Duration
	paths  map[string]span
}

// span is when a path's first and last events of this round arrived.
type span struct{ first, last time.Time }

func newPending(quiet, maxDelay time.Duration) *pending {
	return &pending{quiet: quiet, maxDelay: maxDelay, gather: quiet / 5, paths: make(map[string]span)}
}

// touch records an event for path at now.
func (p *pending) touch(path string, now time.Time) {
	s, ok := p.paths[path]
	if !ok {
		s.first = now
	}
	s.last = now
	p.paths[path] = s
}

// dueAt is when a path whose events span s settles.
func (p *pending) dueAt(s span) time.Time {
	quiet, capped := s.last.Add(p.quiet), s.first.Add(p.maxDelay)
	if capped.Before(quiet) {
		return capped
	}
	return quiet
}

// len is how many paths wait.
func (p *pending) len() int { return len(p.paths) }

// next is when the earliest path is due; ok is false when none waits.
// It scans every waiting path: the owner calls it once per pass, not per
// event (a new path is never due before the ones already waiting).
func (p *pending) next() (at time.Time, ok bool) {
	for _, s := range p.paths {
		if d := p.dueAt(s); !ok || d.Before(at) {
			at, ok = d, true
		}
	}
	return at, ok
}

// take removes and returns the paths due by now (and within gather of it),
// sorted, so that a folder comes before what is in it: a folder removed
// with everything in it is settled first, and what was in it is then
// already accounted for.
func (p *pending) take(now time.Time) []string {
	var out []string
	limit := now.Add(p.gather)
	for path, s := range p.paths {
		if !p.dueAt(s).After(limit) {
			out = append(out, path)
			delete(p.paths, path)
		}
	}
	slices.Sort(out)
	return out
}
