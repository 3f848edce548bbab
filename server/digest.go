package server

// Repr-Digest (RFC 9530) on request, so that a client (filehub get and
// listen) can check that the bytes it downloaded are the file's.

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strings"

	"filehub/files"
)

// reprDigest answers a GET or HEAD of a file that carries
// "Want-Repr-Digest: sha-256=N" (N > 0) with "Repr-Digest:
// sha-256=:BASE64:", the SHA-256 of the whole file whatever Range asks
// for. It reads the file once more to hash it, so it is only done when
// asked. The file may be replaced between the hash and the bytes served: a
// client that finds them different downloads again (the ETag tells it the
// file changed). Anything the Store refuses gets no header, and the files
// handler's own answer.
func reprDigest(store *files.Store, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && wantsSHA256(r.Header.Values("Want-Repr-Digest")) &&
			!strings.HasSuffix(r.URL.Path, "/") && !r.URL.Query().Has("resume") {
			if f, _, err := store.Open(r.URL.Path); err == nil {
				h := sha256.New()
				_, err := io.Copy(h, f)
				f.Close()
				if err == nil {
					w.Header().Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(h.Sum(nil))+":")
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// wantsSHA256 reads Want-Repr-Digest's dictionary ("sha-256=10,
// sha-512=3") for sha-256 with a preference other than 0.
func wantsSHA256(values []string) bool {
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			k, pref, _ := strings.Cut(strings.TrimSpace(item), "=")
			if strings.EqualFold(strings.TrimSpace(k), "sha-256") && strings.TrimSpace(pref) != "0" {
				return true
			}
		}
	}
	return false
}
