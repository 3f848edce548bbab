package refusal

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		status    int
		code, msg string
	}{
		{http.StatusForbidden, "forbidden", "cross-site origin refused"},
		{http.StatusTooManyRequests, "rate_limited", `a "quoted" <message>`},
	} {
		rec := httptest.NewRecorder()
		Write(rec, tc.status, tc.code, tc.msg)
		if rec.Code != tc.status {
			t.Errorf("status %d, want %d", rec.Code, tc.status)
		}
		for k, want := range map[string]string{"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
			if got := rec.Header().Get(k); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
		var b body
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Error.Code != tc.code || b.Error.Message != tc.msg {
			t.Errorf("body %q (%v), want code %q message %q", rec.Body, err, tc.code, tc.msg)
		}
	}
}
