package server

import (
	"net/http/httptest"
	"testing"

	"filehub/files"
	"filehub/internal/testutil"
)

func TestReprDigest(t *testing.T) {
	t.Parallel()
	s, err := files.Open(testutil.Tree(t, map[string]string{"a.txt": "hello", ".env": "x"}), files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := reprDigest(s, files.Handler(s, files.Hooks{}))
	const helloSum = "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:" // sha256("hello")
	for _, tc := range []struct {
		method, path, want, digest string
	}{
		{"GET", "/a.txt", "sha-256=10", helloSum},
		{"HEAD", "/a.txt", "sha-512=3, sha-256=1", helloSum},
		{"GET", "/a.txt", "", ""},
		{"GET", "/a.txt", "sha-256=0", ""},
		{"GET", "/a.txt", "sha-512=10", ""},
		{"GET", "/.env", "sha-256=10", ""},
		{"GET", "/", "sha-256=10", ""},
		{"GET", "/nothing", "sha-256=10", ""},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.want != "" {
			req.Header.Set("Want-Repr-Digest", tc.want)
		}
		req.Header.Set("Range", "bytes=1-2") // the digest is of the whole file all the same
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if got := w.Header().Get("Repr-Digest"); got != tc.digest {
			t.Errorf("%s %s %q: Repr-Digest %q, want %q (status %d)", tc.method, tc.path, tc.want, got, tc.digest, w.Code)
		}
	}
}
