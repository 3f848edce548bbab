package files

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// readerFromRecorder stands in for net/http's response, whose ReadFrom is
// where sendfile(2) happens.
type readerFromRecorder struct {
	*httptest.ResponseRecorder
	readFrom int
}

func (r *readerFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.readFrom++
	return io.Copy(r.ResponseRecorder, src)
}

func TestFetchWriterKeepsReadFrom(t *testing.T) {
	t.Parallel()
	under := &readerFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	w := &fetchWriter{ResponseWriter: under}
	// http.ServeContent copies with io.CopyN, which reaches ReadFrom.
	n, err := io.CopyN(w, strings.NewReader("hello, the rest is not sent"), 5)
	if err != nil || n != 5 || under.readFrom != 1 || w.n != 5 || w.status != http.StatusOK {
		t.Fatalf("n=%d err=%v readFrom=%d counted=%d status=%d", n, err, under.readFrom, w.n, w.status)
	}
	w.Write([]byte(", world"))
	if w.n != 12 || under.Body.String() != "hello, world" {
		t.Errorf("counted %d, body %q", w.n, under.Body.String())
	}
	if w.Unwrap() != http.ResponseWriter(under) {
		t.Error("Unwrap does not return the wrapped writer")
	}
	if err := http.NewResponseController(w).Flush(); err != nil {
		t.Errorf("Flush through Unwrap: %v", err)
	}
}

func TestFetchWriterWithoutReadFrom(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder() // no ReadFrom: the fallback must not recurse
	w := &fetchWriter{ResponseWriter: rec}
	w.WriteHeader(http.StatusPartialContent)
	n, err := w.ReadFrom(strings.NewReader("abc"))
	if err != nil || n != 3 || w.n != 3 || w.status != http.StatusPartialContent || rec.Body.String() != "abc" {
		t.Fatalf("n=%d err=%v counted=%d status=%d body=%q", n, err, w.n, w.status, rec.Body.String())
	}
}

func TestHumanSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB", 1 << 40: "1.0 TiB",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
