package server

// Unit tests of the gate's parts that end-to-end tests cannot reach in
// reasonable time or at all: the limiter's bounded memory, the grouping of
// addresses, and the checks of next.

import (
	"net/netip"
	"testing"
	"time"
)

// TestLockoutForgetsTheLeastRecent: the limiter's memory is bounded, and
// what it forgets first is the network seen least recently.
func TestLockoutForgetsTheLeastRecent(t *testing.T) {
	t.Parallel()
	now := time.Now()
	l := newLockout(1.0/6, 2, 3)
	a, b, c, d := clientGroup("192.0.2.1:1"), clientGroup("192.0.2.2:1"), clientGroup("192.0.2.3:1"), clientGroup("192.0.2.4:1")
	for _, n := range []netip.Prefix{a, a, b, c} {
		l.fail(n, now)
	}
	if l.wait(a, now) == 0 {
		t.Fatal("a is not locked out after its burst")
	}
	// a was just seen (wait touches it), so d's arrival forgets b.
	l.fail(d, now)
	if l.len() != 3 {
		t.Fatalf("remembers %d networks, want 3", l.len())
	}
	if l.wait(a, now) == 0 {
		t.Fatal("the spray made the limiter forget the network that keeps guessing")
	}
	if left := l.fail(b, now); left != 1 {
		t.Fatalf("b: %d tries left, want 1 (forgotten, so fresh)", left)
	}
	if w := l.wait(a, now.Add(6*time.Second)); w != 0 {
		t.Fatalf("a still waits %v after 6 s", w)
	}
}

func TestClientGroup(t *testing.T) {
	t.Parallel()
	tests := []struct{ remote, want string }{
		{"203.0.113.9:4242", "203.0.113.9/32"},
		{"203.0.113.9", "203.0.113.9/32"},
		{"[::ffff:203.0.113.9]:4242", "203.0.113.9/32"},
		{"[2001:db8:1:2:3:4:5:6]:4242", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:4242", "fe80::/64"},
		{"[::1]:4242", "::/64"},
		{"@", "invalid Prefix"},
		{"", "invalid Prefix"},
	}
	for _, tc := range tests {
		if got := clientGroup(tc.remote).String(); got != tc.want {
			t.Errorf("clientGroup(%q) = %s, want %s", tc.remote, got, tc.want)
		}
	}
}
