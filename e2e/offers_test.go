package e2e

// Offers (issue 23): a member that joins with offers=1 (the page does) is
// told of an upload shared as it arrives, and sent none of its bytes: it
// fetches the URL when its person asks. A member that did not ask (a
// script, filehub listen) follows the upload on a stream, as before.

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"filehub/internal/harness"
	"filehub/internal/testutil"
)

func TestShareAsItUploadsOffers(t *testing.T) {
	t.Parallel()
	ts := harness.Start(t, t.TempDir(), "-upload")
	jar, _ := cookiejar.New(nil)
	harness.DialJar(t, ts, "room=of&name=uploader", jar)
	page := harness.Dial(t, ts, "room=of&name=page&offers=1")
	script := harness.Dial(t, ts, "room=of&name=script")

	body := bytes.Repeat([]byte("offered!"), 1<<19) // 4 MiB
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, ts.URL+"/big.bin?share=1", pr)
	req.ContentLength = int64(len(body))
	done := make(chan *http.Response, 1)
	go func() {
		res, err := (&http.Client{Jar: jar}).Do(req)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	if _, err := pw.Write(body[:1<<20]); err != nil {
		t.Fatal(err)
	}
	// The page: an offer, while the upload goes on.
	offer := page.ReadKind("shared")
	if offer.Str("path") != "big.bin" || offer["growing"] != true || offer.Num("stream") != 0 ||
		offer.Str("content") != "" || int64(offer.Num("size")) != int64(len(body)) || offer.Str("url") != "/big.bin" ||
		offer.Obj("by").Str("name") != "uploader" {
		t.Fatalf("offer %v", offer)
	}
	// The script: a stream, as before.
	g := startGrowing(t, script, "big.bin", int64(len(body)))
	g.readUntil(t, 64<<10)
	if _, err := pw.Write(body[1<<20:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	res := <-done
	if res == nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %v", res)
	}
	res.Body.Close()
	g.readUntil(t, len(body)+1)
	if g.end.Kind() != "file-end" || !bytes.Equal(g.got.Bytes(), body) {
		t.Fatalf("script: %d bytes, end %v", g.got.Len(), g.end)
	}
	// The page heard the upload finish, and was sent no byte of it.
	fin, skipped := page.ReadUntil(func(f testutil.Frame) bool { return f.Kind() == "upload-finish" })
	frames := append(skipped, fin)
	frames = append(frames, page.Barrier()...)
	for _, f := range frames {
		if f.Kind() == "(binary)" || f.Kind() == "file-start" || f.Kind() == "file-end" {
			t.Fatalf("the page was sent bytes it did not ask for: %v", f)
		}
	}
	// Open: the URL answers with the whole file.
	_, got := harness.Get(t, http.DefaultClient, ts.URL+offer.Str("url"))
	if !bytes.Equal(got, body) {
		t.Fatalf("GET %s: %d bytes", offer.Str("url"), len(got))
	}
}
