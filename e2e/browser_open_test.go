package e2e

import (
	"net"
	"testing"

	"filehub/internal/harness"
)

// TestBrowserOpenWarning: a server without a token, listening on every
// interface, tells a visitor from another machine that whoever is on the
// network reads its files; on this machine the page says nothing (issue
// 20, finding 14).
func TestBrowserOpenWarning(t *testing.T) {
	t.Parallel()
	v4, _ := lanAddrs(t)
	if len(v4) == 0 {
		t.Skip("no network address to visit from")
	}
	browserCtx := startBrowser(t)
	ts := harness.Start(t, harness.LabDir(t), "-addr", "0.0.0.0:0")
	_, port, _ := net.SplitHostPort(ts.Addr)
	for _, tc := range []struct {
		host string
		want bool
	}{
		{v4[0], true},
		{"127.0.0.1", false},
	} {
		tb := openTab(t, browserCtx, "visitor "+tc.host, "http://"+net.JoinHostPort(tc.host, port)+"/?room=r&name=v")
		keepOnFailure(t, tb)
		if tc.want {
			tb.waitFor(t, "the warning", `!document.getElementById('open-warning').hidden`)
		} else {
			// On this machine the page offers the network addresses from
			// /_/info, in the same step that shows or hides the warning.
			tb.waitFor(t, "/_/info read", `document.getElementById('invite-addr').options.length > 0`)
			if eval[bool](t, tb, `!document.getElementById('open-warning').hidden`) {
				t.Errorf("from %s: the warning is shown", tc.host)
			}
		}
		if tc.want {
			text := eval[string](t, tb, `document.getElementById('open-warning').textContent`)
			if text == "" {
				t.Error("the warning says nothing")
			}
		}
	}
}
