package web

import (
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestDropPage: the drop link's page goes out with the page's CSP, no
// referrer (its URL is the key) and no caching, with the status given;
// it holds no inline script or style and loads only embedded assets.
func TestDropPage(t *testing.T) {
	t.Parallel()
	for _, status := range []int{200, 404, 410} {
		rec := httptest.NewRecorder()
		DropPage(rec, status)
		res := rec.Result()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != status {
			t.Errorf("status %d, want %d", res.StatusCode, status)
		}
		for k, want := range map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Content-Security-Policy": ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"Cache-Control":           "no-store",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%d: %s = %q, want %q", status, k, got, want)
			}
		}
		if !strings.Contains(string(body), `<script type="module" src="/_/static/drop-page.js"></script>`) {
			t.Errorf("%d: the page does not load drop-page.js", status)
		}
	}
	page := string(dropPage)
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>`),
		regexp.MustCompile(`\sstyle\s*=`),
		regexp.MustCompile(`<style\b`),
		regexp.MustCompile(`\son[a-z]+\s*=`),
		regexp.MustCompile(`(?:src|href)="(?:https?:)?//`),
	} {
		if m := bad.FindString(page); m != "" {
			t.Errorf("drop.html: %q is not allowed under the CSP", m)
		}
	}
	for _, ref := range regexp.MustCompile(`(?:src|href)="/_/static/([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if _, err := static.ReadFile("static/" + ref[1]); err != nil {
			t.Errorf("drop.html loads %s: %v", ref[1], err)
		}
	}
}
