package links

import (
	"archive/zip"
	"compress/flate"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"

	"filehub/files"
)

// maxZipDepth bounds the folders a link's zip descends: deeper than any
// path the Store accepts.
const maxZipDepth = 2048

// zipFolder serves the folder p of a folder link as a zip, streamed: what
// the listing shows, all the way down, and nothing a symlink leads to out
// of the link's folder (files' own WriteZip follows links anywhere in the
// served folder, which a share link must not). A folder reached twice
// (a link back up) is written once.
func (h *handlers) zipFolder(w http.ResponseWriter, r *http.Request, link Link, p string, in files.Info) {
	name := in.Name
	if name == "" {
		name = "files"
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/zip")
	hd.Set("Content-Security-Policy", "sandbox")
	cd := mime.FormatMediaType("attachment", map[string]string{"filename": name + ".zip"})
	if cd == "" {
		cd = "attachment"
	}
	hd.Set("Content-Disposition", cd)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	cw := &countWriter{w: w}
	zw := zip.NewWriter(cw)
	var fl *flate.Writer
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		if fl != nil {
			fl.Reset(w)
			return fl, nil
		}
		var err error
		fl, err = flate.NewWriter(w, flate.BestSpeed)
		return fl, err
	})
	seen := map[string]bool{}
	var walk func(dir, prefix string, depth int) error
	walk = func(dir, prefix string, depth int) error {
		real, err := h.store.RealPath(dir)
		if err != nil || seen[real] || depth > maxZipDepth {
			return nil // gone meanwhile, or a loop: left out
		}
		seen[real] = true
		list, err := h.store.List(dir)
		if err != nil {
			return nil
		}
		for _, e := range list {
			if h.within(link, e.Path) != nil {
				continue
			}
			entry := prefix + e.Name
			if e.Dir {
				if _, err := zw.Create(entry + "/"); err != nil {
					return err
				}
				if err := walk(e.Path, entry+"/", depth+1); err != nil {
					return err
				}
				continue
			}
			if err := h.zipFile(zw, e, entry); err != nil {
				return err
			}
		}
		return nil
	}
	err := walk(p, name+"/", 0)
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		// The status is sent: the client must not take a cut archive for a
		// whole one.
		h.log.Debug("links: zip cut short", "link", Ref(link.ID), "path", p, "err", err)
		panic(http.ErrAbortHandler)
	}
	h.fetched(r.WithContext(contextWith(r, link)), files.ZipPath(p), cw.n)
}

// zipFile adds one file; one that vanished since the listing is left out.
func (h *handlers) zipFile(zw *zip.Writer, e files.Info, entry string) error {
	f, in, err := h.store.Open(e.Path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fh := &zip.FileHeader{Name: entry, Method: zip.Deflate, Modified: in.Modified}
	if path.Ext(entry) == ".zip" || path.Ext(entry) == ".jpg" || path.Ext(entry) == ".png" || path.Ext(entry) == ".mp4" {
		fh.Method = zip.Store // compressed already
	}
	zf, err := zw.CreateHeader(fh)
	if err != nil {
		return err
	}
	if _, err := io.Copy(zf, f); err != nil {
		return fmt.Errorf("links: zip %q: %w", e.Path, err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
