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

func TestCountKeepsReadFrom(t *testing.T) {
	t.Parallel()
	under := &readerFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	w, sent := count(under, false)
	// http.ServeContent copies with io.CopyN, which reaches ReadFrom.
	n, err := io.CopyN(w, strings.NewReader("hello, the rest is not sent"), 5)
	if err != nil || n != 5 || under.readFrom != 1 || sent.n != 5 || sent.status != http.StatusOK {
		t.Fatalf("n=%d err=%v readFrom=%d counted=%d status=%d", n, err, under.readFrom, sent.n, sent.status)
	}
	w.Write([]byte(", world"))
	if sent.n != 12 || under.Body.String() != "hello, world" {
		t.Errorf("counted %d, body %q", sent.n, under.Body.String())
	}
	if err := http.NewResponseController(w).Flush(); err != nil {
		t.Errorf("Flush through Unwrap: %v", err)
	}
}

// TestCountSmallSkipsSendfile: a small file is read and written, not
// handed to the connection's ReadFrom (sendfile).
func TestCountSmallSkipsSendfile(t *testing.T) {
	t.Parallel()
	under := &readerFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	w, sent := count(under, true)
	n, err := io.Copy(w, strings.NewReader("abc"))
	if err != nil || n != 3 || under.readFrom != 0 || sent.n != 3 || under.Body.String() != "abc" {
		t.Fatalf("n=%d err=%v readFrom=%d counted=%d body=%q", n, err, under.readFrom, sent.n, under.Body.String())
	}
}

// TestCountStatus: without ReadFrom below, copies go through Write and
// are counted; an interim 1xx is not the response's status.
func TestCountStatus(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	w, sent := count(rec, false)
	if _, ok := w.(io.ReaderFrom); ok {
		t.Error("the wrapper has a ReadFrom its writer lacks")
	}
	w.WriteHeader(http.StatusPartialContent)
	n, err := io.Copy(w, strings.NewReader("abc"))
	if err != nil || n != 3 || sent.n != 3 || sent.status != http.StatusPartialContent || rec.Body.String() != "abc" {
		t.Fatalf("n=%d err=%v counted=%d status=%d body=%q", n, err, sent.n, sent.status, rec.Body.String())
	}
	w, sent = count(httptest.NewRecorder(), false)
	w.WriteHeader(http.StatusEarlyHints)
	if sent.status != 0 {
		t.Fatalf("status %d after 103, want none yet", sent.status)
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
