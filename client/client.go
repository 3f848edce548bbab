// Package client is filehub's command-line client, the subcommands of
// the same binary: "filehub send" uploads files and shares them into a
// room, "filehub get" downloads one, and "filehub listen" stays in a room
// and saves every file shared there. It speaks only the server's public
// surface (plain HTTP, the resumable uploads, Repr-Digest, the WebSocket
// protocol), as any other client would, and imports no server package.
//
// The token comes from FILEHUB_TOKEN, never from a flag (ps shows flags).
// Progress bars are drawn on standard error when it is a terminal, and
// never otherwise; each file done is one line on standard output. Every
// download is checked against the SHA-256 the server states, and written
// to a temp file that takes its name only once whole and checked, never
// over an existing file.
package client

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// UsageError is a mistake in how the subcommand was started: a flag, a
// missing argument. The caller exits 2 for it; the usage is printed already.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// IsCommand reports whether name is a subcommand of the client.
func IsCommand(name string) bool {
	return name == "send" || name == "get" || name == "listen"
}

// Run runs the subcommand args[0] with the arguments after it. It returns
// nil on success, a *UsageError for a wrong command line, flag.ErrHelp
// after -h, else the first failure.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || !IsCommand(args[0]) {
		return &UsageError{Err: errors.New("a subcommand is send, get or listen")}
	}
	e := &env{
		token:  getenv("FILEHUB_TOKEN"),
		stdout: stdout,
		stderr: stderr,
		http:   &http.Client{},
		bars:   isTerminal(stderr),
	}
	switch args[0] {
	case "send":
		return e.send(ctx, args[1:])
	case "get":
		return e.get(ctx, args[1:])
	}
	return e.listen(ctx, args[1:])
}

// env is what every subcommand uses.
type env struct {
	token          string
	stdout, stderr io.Writer
	http           *http.Client
	bars           bool // draw progress bars on stderr
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// parse parses fs from args, flags before, between and after the plain
// arguments (as the server's flags), and returns the plain ones. Usage
// goes to stderr on a mistake.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var plain []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &UsageError{Err: err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return plain, nil
		}
		plain = append(plain, args[0])
		args = args[1:]
	}
}

// serverURL checks the server's URL: http or https, a host, nothing after
// the path.
func serverURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &UsageError{Err: fmt.Errorf("%q is not a server URL such as http://host:8080/", s)}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// fileURL is the URL of the clean slash path p on the server at base.
func fileURL(base *url.URL, p string, query string) string {
	u := *base
	u.Path = base.Path + "/" + strings.TrimPrefix(p, "/")
	u.RawPath = ""
	u.RawQuery = query
	return u.String()
}

// request makes a request with the token.
func (e *env) request(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	return req, nil
}

// statusError is an answer that was not what was asked for, in one line.
func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.TrimSpace(string(b))
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return errors.New("the server needs its token: set FILEHUB_TOKEN")
	case http.StatusTooManyRequests:
		return fmt.Errorf("too many wrong tokens from this address; try again in %s s", resp.Header.Get("Retry-After"))
	}
	if msg == "" || strings.HasPrefix(msg, strconv.Itoa(resp.StatusCode)) {
		return fmt.Errorf("%s", cmp.Or(msg, resp.Status))
	}
	return fmt.Errorf("%s: %s", resp.Status, msg)
}

// bar is a progress bar on stderr, or nothing when stderr is no terminal.
func (e *env) bar(size int64, desc string) *progressbar.ProgressBar {
	if !e.bars {
		return progressbar.DefaultBytesSilent(size, desc)
	}
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionShowElapsedTimeOnFinish(),
	)
}

// digestOf reads a Repr-Digest header's sha-256, as hex; "" when none.
func digestOf(h http.Header) string {
	for _, v := range h.Values("Repr-Digest") {
		for item := range strings.SplitSeq(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
			if !ok || !strings.EqualFold(k, "sha-256") {
				continue
			}
			b, err := base64.StdEncoding.DecodeString(strings.Trim(val, ":"))
			if err == nil && len(b) == sha256.Size {
				return hex.EncodeToString(b)
			}
		}
	}
	return ""
}

// errChanged is a download whose bytes are not the ones the server
// hashed: the file changed meanwhile, or they were damaged.
var errChanged = errors.New("the bytes do not match the server's sha256")

// download fetches the clean path p into a new temp file in dir, checked
// against want (hex; "" asks the server for Repr-Digest), and returns the
// temp file's name, its size and sha256; the caller moves it into place
// (place) or removes it. A cut connection goes on where it stopped, for
// the same version of the file (If-Range), a few times.
func (e *env) download(ctx context.Context, base *url.URL, p, dir, want string) (tmp string, n int64, sum string, err error) {
	f, err := os.CreateTemp(dir, ".filehub-part-")
	if err != nil {
		return "", 0, "", err
	}
	tmp = f.Name()
	defer func() {
		f.Close()
		if err != nil {
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	var etag string
	var bar *progressbar.ProgressBar
	for try := 0; ; try++ {
		req, rerr := e.request(ctx, http.MethodGet, fileURL(base, p, ""), nil)
		if rerr != nil {
			return tmp, 0, "", rerr
		}
		req.Header.Set("Want-Repr-Digest", "sha-256=10")
		if n > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", n))
			req.Header.Set("If-Range", etag)
		}
		resp, rerr := e.http.Do(req)
		if rerr != nil {
			if ctx.Err() != nil || try >= 4 {
				return tmp, n, "", rerr
			}
			backoff(ctx, try)
			continue
		}
		switch {
		case resp.StatusCode == http.StatusOK && n > 0:
			// The file changed: start again from its first byte.
			f.Truncate(0)
			f.Seek(0, io.SeekStart)
			h.Reset()
			n = 0
		case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusPartialContent && n > 0:
		default:
			err = statusError(resp)
			resp.Body.Close()
			return tmp, n, "", fmt.Errorf("%s: %w", p, err)
		}
		etag = resp.Header.Get("ETag")
		// The server's digest of what it serves now wins over what the
		// room said of it earlier (the file may have been replaced since).
		if d := digestOf(resp.Header); d != "" && (n == 0 || want == "") {
			want = d
		}
		if bar == nil {
			bar = e.bar(n+resp.ContentLength, path.Base(p))
		}
		bar.Set64(n)
		m, cerr := io.Copy(io.MultiWriter(f, h, bar), resp.Body)
		resp.Body.Close()
		n += m
		if cerr == nil {
			break
		}
		if ctx.Err() != nil || try >= 4 || etag == "" {
			return tmp, n, "", cerr
		}
		backoff(ctx, try)
	}
	bar.Finish()
	// CreateTemp made it 0600: a file saved is as readable as any other.
	if err = f.Chmod(0o644); err != nil {
		return tmp, n, "", err
	}
	if err = f.Sync(); err != nil {
		return tmp, n, "", err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	switch {
	case want == "":
		return tmp, n, "", fmt.Errorf("%s: the server stated no sha256 (Repr-Digest): nothing to check against", p)
	case want != sum:
		return tmp, n, "", fmt.Errorf("%s: %w (got %s, want %s)", p, errChanged, sum, want)
	}
	return tmp, n, sum, nil
}

// place gives the checked temp file tmp the name dir/name, or, when that
// is taken, "name (2).ext" and so on: never over an existing file (a hard
// link fails on an existing name, where a rename would replace it).
// It returns the name taken.
func place(tmp, dir, name string) (string, error) {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 1; i < 1000; i++ {
		try := name
		if i > 1 {
			try = fmt.Sprintf("%s (%d)%s", stem, i, ext)
		}
		dst := filepath.Join(dir, try)
		err := os.Link(tmp, dst)
		if err == nil {
			os.Remove(tmp)
			return dst, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s: 999 files of that name in %s already", name, dir)
}

// backoff waits a little longer after each failed try, or until ctx ends.
func backoff(ctx context.Context, try int) {
	d := min(200*time.Millisecond<<try, 10*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// localName is the last element of a server path, as a file name here:
// it can hold no separator of this system, and is never empty or a dot.
func localName(p string) string {
	name := path.Base(p)
	name = strings.Map(func(r rune) rune {
		if r == filepath.Separator || r == '/' || r < 0x20 {
			return '_'
		}
		return r
	}, name)
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		name = "_" + strings.TrimLeft(name, ".")
	}
	return name
}
