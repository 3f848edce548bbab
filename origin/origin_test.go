package origin

import (
	"net/http/httptest"
	"testing"
)

func TestAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host, origin string
		allow        []string
		want         bool
	}{
		{"127.0.0.1:8080", "", nil, true},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", nil, true},
		{"127.0.0.1:8080", "HTTP://127.0.0.1:8080", nil, true},
		{"127.0.0.1:8080", "http://127.0.0.1:9090", nil, false},
		{"127.0.0.1:8080", "http://evil.example", nil, false},
		{"127.0.0.1:8080", "null", nil, false},
		{"127.0.0.1:8080", "://", nil, false},
		{"127.0.0.1:8080", "https://app.example", []string{"https://app.example/"}, true},
		{"127.0.0.1:8080", "https://app.example", []string{"http://app.example"}, false},
		{"127.0.0.1:8080", "https://any.example", []string{"*"}, true},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/ws", nil)
		r.Host = tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := Allowed(r, tc.allow); got != tc.want {
			t.Errorf("Host %s Origin %q allow %v: %v, want %v", tc.host, tc.origin, tc.allow, got, tc.want)
		}
	}
}
