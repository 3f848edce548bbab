package watch

import (
	"slices"
	"testing"
	"time"
)

// The coalescer with a fake clock: times are passed in, so each case
// plays a burst of events out in virtual time and reads what settles when.

const (
	testQuiet = 150 * time.Millisecond
	testMax   = time.Second
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// play touches path at each time in ms and, at every millisecond up to
// end, takes what is due; it returns the times (ms) at which path settled.
func play(p *pending, path string, touches []int, end int) []int {
	var settled []int
	next := 0
	for ms := 0; ms <= end; ms++ {
		for next < len(touches) && touches[next] == ms {
			p.touch(path, at(ms))
			next++
		}
		if slices.Contains(p.take(at(ms)), path) {
			settled = append(settled, ms)
		}
	}
	return settled
}

func TestPendingQuietPeriod(t *testing.T) {
	t.Parallel()
	gather := int(testQuiet / 5 / time.Millisecond)
	tests := []struct {
		name    string
		touches []int
		want    []int
	}{
		{"one event settles a quiet period later (less the gathering window)", []int{0}, []int{150 - gather}},
		{"64 writes 5 ms apart settle once, after the last", every(0, 5, 64), []int{315 + 150 - gather}},
		// After each settle the next write starts a new span: 980, 1960.
		{"a file written without pause settles every MaxDelay", every(0, 10, 300), []int{1000 - gather, 1980 - gather, 2960 - gather, 2990 + 150 - gather}},
		{"two bursts apart settle twice", append(every(0, 10, 5), every(500, 10, 5)...), []int{40 + 150 - gather, 540 + 150 - gather}},
		{"pauses shorter than Quiet less the gathering window keep it waiting", []int{0, 119, 238}, []int{238 + 150 - gather}},
		{"a pause of Quiet settles it", []int{0, 150}, []int{150 - gather, 150 + 150 - gather}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPending(testQuiet, testMax)
			got := play(p, "a.txt", tc.touches, 4000)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("settled at %v ms, want %v", got, tc.want)
			}
			if p.len() != 0 {
				t.Fatalf("%d paths still pending", p.len())
			}
		})
	}
}

func every(start, step, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i*step
	}
	return out
}

// TestPendingBurst: 200 paths touched over 20 ms settle in one take, in
// order (a folder before what is in it), and next says when.
func TestPendingBurst(t *testing.T) {
	t.Parallel()
	p := newPending(testQuiet, testMax)
	if _, ok := p.next(); ok {
		t.Fatal("next with nothing pending")
	}
	var want []string
	for i := range 200 {
		name := "d/" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		want = append(want, name)
		p.touch(name, t0.Add(time.Duration(i)*100*time.Microsecond))
		p.touch(name, t0.Add(time.Duration(i)*100*time.Microsecond+time.Microsecond)) // its write
	}
	p.touch("d", t0)
	want = append(want, "d")
	slices.Sort(want)
	next, ok := p.next()
	if !ok || !next.Equal(t0.Add(testQuiet)) {
		t.Fatalf("next = %v %v, want %v", next, ok, t0.Add(testQuiet))
	}
	got := p.take(next)
	if !slices.Equal(got, want) {
		t.Fatalf("one take at next got %d paths, want all %d in order; first %v", len(got), len(want), got[:min(3, len(got))])
	}
	if got[0] != "d" {
		t.Fatalf("the folder must settle before what is in it: %v", got[:3])
	}
	if _, ok := p.next(); ok {
		t.Fatal("still pending after take")
	}
}

// TestPendingNewPathNotEarlier: a path touched after others is never due
// before them, which is what lets run leave an armed timer alone.
func TestPendingNewPathNotEarlier(t *testing.T) {
	t.Parallel()
	p := newPending(testQuiet, testMax)
	for ms := 0; ms < 3000; ms += 7 {
		p.touch("busy", at(ms)) // capped by MaxDelay
		before, _ := p.next()
		p.touch("new"+time.Duration(ms).String(), at(ms))
		after, _ := p.next()
		if after.Before(before) {
			t.Fatalf("at %d ms a new path moved next from %v to %v", ms, before, after)
		}
		p.take(at(ms))
	}
}
