package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	"time"
)

const sendUsage = `Usage: filehub send [-room ROOM] [-to FOLDER] [-live] [-overwrite] FILE... URL

Uploads each FILE to the filehub server at URL (into FOLDER, default the
top folder) and shares it into ROOM (default lobby), as a member named
-name. An upload cut off goes on where it stopped, a few times now, or
when the same command is run again. The sha256 the server answers is
checked against the file's. With -live the room gets each file while it
uploads (?share=1), and a cut upload starts over. The token, if the
server has one, comes from FILEHUB_TOKEN.
`

// result is what the server answers a finished upload.
type result struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func (e *env) send(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	room := fs.String("room", "lobby", "the `room` to share into")
	name := fs.String("name", "filehub-send", "the member `name` the room sees")
	to := fs.String("to", "", "the server's `folder` to upload into, such as incoming/ (it must exist)")
	live := fs.Bool("live", false, "share each file while it uploads (not resumable)")
	overwrite := fs.Bool("overwrite", false, "replace a file of the same name on the server")
	noShare := fs.Bool("no-share", false, "upload only, share nothing")
	fs.Usage = func() { fmt.Fprint(e.stderr, sendUsage, "\nFlags:\n"); fs.PrintDefaults() }
	plain, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(plain) < 2 {
		fs.Usage()
		return &UsageError{Err: errors.New("send needs at least one FILE and the server's URL")}
	}
	base, err := serverURL(plain[len(plain)-1])
	if err != nil {
		return err
	}
	paths := plain[:len(plain)-1]
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a file", p)
		}
	}
	var s *session
	if !*noShare {
		// Joined first: the upgrade's cookie names the uploads after this
		// member, in this room.
		if s, err = e.join(ctx, base, *room, *name, 0, ""); err != nil {
			return err
		}
		defer s.close()
	}
	for _, p := range paths {
		dest := path.Join(*to, filepath.Base(p))
		var res result
		if *live && s != nil {
			res, err = e.putLive(ctx, base, p, dest, *overwrite)
		} else {
			res, err = e.putResumable(ctx, base, p, dest, *overwrite)
		}
		if err != nil {
			return err
		}
		if s != nil && !*live {
			if err := s.share(res.Path); err != nil {
				return err
			}
		}
		fmt.Fprintf(e.stdout, "sent %s: %s, %d bytes, sha256 %s\n", p, res.Path, res.Size, res.SHA256)
	}
	return nil
}

// hashFile is the sha256 of a local file, in hex.
func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// finish reads a finished upload's answer and checks its sha256.
func finish(resp *http.Response, local, sum string) (result, error) {
	var res result
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&res); err != nil {
		return res, fmt.Errorf("%s: the server's answer: %w", local, err)
	}
	if res.SHA256 != sum {
		return res, fmt.Errorf("%s: the server stored sha256 %s, the file's is %s", local, res.SHA256, sum)
	}
	return res, nil
}

func query(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q.Encode()
}

func flagValue(on bool) string {
	if on {
		return "1"
	}
	return ""
}

// openLocal hashes the file local and opens it to send, with its size:
// the two uploads' common start.
func openLocal(local string) (sum string, f *os.File, fi os.FileInfo, err error) {
	if sum, err = hashFile(local); err != nil {
		return "", nil, nil, err
	}
	if f, err = os.Open(local); err != nil {
		return "", nil, nil, err
	}
	if fi, err = f.Stat(); err != nil {
		f.Close()
		return "", nil, nil, err
	}
	return sum, f, fi, nil
}

// putLive uploads local as dest in one plain PUT with ?share=1: the room
// gets it while it arrives.
func (e *env) putLive(ctx context.Context, base *url.URL, local, dest string, overwrite bool) (result, error) {
	sum, f, fi, err := openLocal(local)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	bar := e.bar(fi.Size(), filepath.Base(local))
	req, err := e.request(ctx, http.MethodPut, fileURL(base, dest, query("share", "1", "overwrite", flagValue(overwrite))), io.TeeReader(f, bar))
	if err != nil {
		return result{}, err
	}
	req.ContentLength = fi.Size()
	resp, err := e.http.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", local, err)
	}
	defer resp.Body.Close()
	bar.Finish()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return result{}, fmt.Errorf("%s: %w", local, statusError(resp))
	}
	return finish(resp, local, sum)
}

// uploadKey names a resumable upload of local to dest: the same for the
// same file (path, size, modification time) to the same name, so that the
// command run again goes on where the last run stopped.
func uploadKey(local, dest string, fi os.FileInfo) string {
	abs, _ := filepath.Abs(local)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d\x00%s", abs, fi.Size(), fi.ModTime().UnixNano(), dest))
	return hex.EncodeToString(sum[:16])
}

// putResumable uploads local as dest with ?resume: it asks the server
// where to start (HEAD), sends the rest with a Content-Range, and after a
// cut goes on from where the server says, a few times.
func (e *env) putResumable(ctx context.Context, base *url.URL, local, dest string, overwrite bool) (result, error) {
	sum, f, fi, err := openLocal(local)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	size := fi.Size()
	u := fileURL(base, dest, query("resume", uploadKey(local, dest, fi), "overwrite", flagValue(overwrite)))
	bar := e.bar(size, filepath.Base(local))
	defer bar.Finish()
	for try := 0; ; try++ {
		offset, err := e.offset(ctx, u)
		if err != nil {
			return result{}, fmt.Errorf("%s: %w", local, err)
		}
		if offset > size {
			offset = 0
		}
		bar.Set64(offset)
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return result{}, err
		}
		req, err := e.request(ctx, http.MethodPut, u, io.TeeReader(io.LimitReader(f, size-offset), bar))
		if err != nil {
			return result{}, err
		}
		req.ContentLength = size - offset
		if size > 0 {
			req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", offset, size-1, size))
		}
		if size-offset == 0 {
			req.Body = http.NoBody
		}
		resp, err := e.http.Do(req)
		if err != nil {
			if ctx.Err() != nil || try >= 5 {
				return result{}, fmt.Errorf("%s: %w", local, err)
			}
			backoff(ctx, try)
			continue
		}
		switch resp.StatusCode {
		case http.StatusCreated, http.StatusOK:
			res, err := finish(resp, local, sum)
			resp.Body.Close()
			return res, err
		case http.StatusNoContent, http.StatusConflict, http.StatusServiceUnavailable, http.StatusRequestTimeout:
			// Short of the end, or not where the server is: ask again.
			// A 409 without Upload-Offset is a name taken.
			if resp.StatusCode == http.StatusConflict && resp.Header.Get("Upload-Offset") == "" {
				err := statusError(resp)
				resp.Body.Close()
				return result{}, fmt.Errorf("%s: %s exists on the server (-overwrite replaces it): %w", local, dest, err)
			}
			if resp.StatusCode == http.StatusServiceUnavailable {
				if s, _ := strconv.Atoi(resp.Header.Get("Retry-After")); s > 0 {
					wait(ctx, time.Duration(s)*time.Second)
				}
			}
			resp.Body.Close()
			if try >= 5 {
				return result{}, fmt.Errorf("%s: the upload does not finish", local)
			}
			continue
		}
		err = statusError(resp)
		resp.Body.Close()
		return result{}, fmt.Errorf("%s: %w", local, err)
	}
}

// offset asks where a resumable upload goes on.
func (e *env) offset(ctx context.Context, u string) (int64, error) {
	req, err := e.request(ctx, http.MethodHead, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, statusError(resp)
	}
	return strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
