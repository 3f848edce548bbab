package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandler(t *testing.T) {
	t.Parallel()
	h := Handler()
	for _, tc := range []struct {
		method, path string
		status       int
		ctype        string
		body         string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `<script type="module" src="/_/static/app.js">`},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/_/static/app.js", 200, "text/javascript; charset=utf-8", "import"},
		{"GET", "/_/static/qr.js", 200, "text/javascript; charset=utf-8", "export function qrSVG"},
		{"GET", "/_/static/requests.js", 200, "text/javascript; charset=utf-8", "export class Requests"},
		// Names starting with "_" are embedded too (all:static).
		{"GET", "/_/static/vendor/noble-hashes/_md.js", 200, "text/javascript; charset=utf-8", "export"},
		{"GET", "/_/static/vendor/noble-hashes/sha2.js", 200, "text/javascript; charset=utf-8", "export const sha256"},
		{"GET", "/_/static/style.css", 200, "text/css; charset=utf-8", "prefers-color-scheme: dark"},
		{"GET", "/_/static/icon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/_/static/", 404, "", ""},
		{"GET", "/_/static/nope.js", 404, "", ""},
		{"GET", "/_/static/../web.go", 404, "", ""},
		{"GET", "/README.md", 404, "", ""},
		{"POST", "/", 405, "", ""},
	} {
		res := get(t, h, tc.method, tc.path, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, res.StatusCode, tc.status)
			continue
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"Cache-Control":           "no-cache",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, got, want)
			}
		}
		if tc.ctype != "" && res.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s %s: Content-Type = %q, want %q", tc.method, tc.path, res.Header.Get("Content-Type"), tc.ctype)
		}
		if !strings.Contains(string(body), tc.body) {
			t.Errorf("%s %s: body does not contain %q", tc.method, tc.path, tc.body)
		}
	}
}

func TestConditionalGet(t *testing.T) {
	t.Parallel()
	h := Handler()
	res := get(t, h, "GET", "/_/static/app.js", nil)
	etag := res.Header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
		t.Fatalf("ETag = %q, want a strong hex tag", etag)
	}
	res = get(t, h, "GET", "/_/static/app.js", http.Header{"If-None-Match": {etag}})
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: status %d, want 304", res.StatusCode)
	}
	res = get(t, h, "GET", "/_/static/app.js", http.Header{"Range": {"bytes=0-5"}})
	if res.StatusCode != http.StatusPartialContent {
		t.Errorf("range: status %d, want 206", res.StatusCode)
	}
}

// TestNoMarkupFromStrings guards rule 14 of the house style and the CSP:
// no script may build markup from strings, and the page has no inline
// script, inline style or inline event handler.
func TestNoMarkupFromStrings(t *testing.T) {
	t.Parallel()
	sinks := regexp.MustCompile(`\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write|\beval\(|new Function\(|setAttribute\(\s*['"](style|on\w+)['"]`)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		src := string(b)
		switch {
		case strings.HasPrefix(p, "static/vendor/"):
			// Third-party code, unchanged (see each README): DOMPurify
			// parses markup in a document of its own, which is its job;
			// the page's own modules above it never build markup.
		case strings.HasSuffix(p, ".js"):
			for _, m := range sinks.FindAllString(src, -1) {
				t.Errorf("%s uses %s", p, m)
			}
		case strings.HasSuffix(p, ".html"):
			for _, tag := range regexp.MustCompile(`<script\b[^>]*>`).FindAllString(src, -1) {
				if !strings.Contains(tag, ` src="/_/static/`) {
					t.Errorf("%s: %s is not an embedded script", p, tag)
				}
			}
			for _, bad := range []*regexp.Regexp{
				regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>`), // inline script
				regexp.MustCompile(`\sstyle\s*=`),
				regexp.MustCompile(`<style\b`),
				regexp.MustCompile(`\son[a-z]+\s*=`),
				regexp.MustCompile(`(?:src|href)="(?:https?:)?//`), // anything off-origin
			} {
				if m := bad.FindString(src); m != "" {
					t.Errorf("%s: %q is not allowed under the CSP", p, m)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestImportsResolve guards the module graph: every relative import of an
// embedded script names an embedded file (a name with a leading "_" is left
// out of a plain //go:embed pattern, and the page would fail to load).
func TestImportsResolve(t *testing.T) {
	t.Parallel()
	imports := regexp.MustCompile(`(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}/[^"']+)["']`)
	n := 0
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range imports.FindAllStringSubmatch(string(b), -1) {
			target := path.Join(path.Dir(p), m[1])
			if _, err := fs.Stat(static, target); err != nil {
				t.Errorf("%s imports %s: %v", p, m[1], err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("found %d imports; the pattern no longer matches the page's modules", n)
	}
}
