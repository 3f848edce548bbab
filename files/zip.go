package files

import (
	"archive/zip"
	"compress/flate"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
)

// ZipPath is the path OnFetch reports for a zip of the folder dir (a clean
// path, "." for the root): the download's URL without its leading slash,
// "docs/?zip", or "?zip" for the root.
func ZipPath(dir string) string {
	if dir == "." || dir == "" {
		return "?zip"
	}
	return dir + "/?zip"
}

// WriteZip writes the folder dir and everything under it that the Store
// serves to w as a zip archive, streaming: one file at a time, read through
// the root, with no temp file and no more memory than the compressor's.
//
// Entries are what List returns, walked from dir, so the archive holds
// nothing the HTTP side would refuse: no hidden, temp, partial or reserved
// names, no symlink that leaves the folder, nothing but regular files and
// folders. A symlink to a folder inside is followed like any folder, except
// back into one of its own ancestors (a loop). Entry names are relative
// slash paths built from those clean paths, so unzipping can never write
// outside its target folder; each is checked again before it is written.
// A file that vanishes between the listing and the open is left out.
func (s *Store) WriteZip(w io.Writer, dir string) error {
	p, err := s.Clean(dir)
	if err != nil {
		return err
	}
	fi, entries, err := s.readDir(p) // a file is fs.ErrNotExist, before a byte is written
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	// One compressor for the whole archive (entries are written one after
	// the other, each closed before the next): a flate writer holds some
	// 700 KiB, and BestSpeed keeps a download at disk speed.
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
	if err := s.zipDir(zw, p, entries, []fs.FileInfo{fi}); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("files: zip %q: %w", p, err)
	}
	return nil
}

// zipDir adds entries, those of a folder under the zip's folder base, to
// zw. ancestors are the folders from base down to theirs, for loop
// detection.
func (s *Store) zipDir(zw *zip.Writer, base string, entries []Info, ancestors []fs.FileInfo) error {
	for _, e := range entries {
		name := zipName(base, e.Path)
		if !safeZipName(name) {
			// Unreachable for paths Clean accepted; a guard all the same,
			// since a bad name here would write outside the unzip folder.
			s.log.Warn("files: zip: refusing entry name", "name", name)
			continue
		}
		if e.Dir {
			fi, sub, err := s.readDir(e.Path)
			if err != nil {
				// A subfolder that went away or cannot be read is left out,
				// as List leaves out what it cannot stat: the rest is still
				// worth it.
				s.log.Debug("files: zip: skipping folder", "path", e.Path, "err", err)
				continue
			}
			if loops(ancestors, fi) {
				continue
			}
			dh := &zip.FileHeader{Name: name + "/", Modified: e.Modified, Method: zip.Store}
			dh.SetMode(fs.ModeDir | 0o755)
			if _, err := zw.CreateHeader(dh); err != nil {
				return fmt.Errorf("files: zip: %w", err)
			}
			if err := s.zipDir(zw, base, sub, append(ancestors, fi)); err != nil {
				return err
			}
			continue
		}
		if err := s.zipFile(zw, name, e.Path); err != nil {
			return err
		}
	}
	return nil
}

// zipFile adds one file.
func (s *Store) zipFile(zw *zip.Writer, name, p string) error {
	f, info, err := s.Open(p)
	if err != nil {
		s.log.Debug("files: zip: skipping", "path", p, "err", err)
		return nil
	}
	defer f.Close()
	method := zip.Store // most large files are compressed already
	if compressible(info.Type) {
		method = zip.Deflate
	}
	fh := &zip.FileHeader{Name: name, Modified: info.Modified, Method: method}
	fh.SetMode(0o644)
	dst, err := zw.CreateHeader(fh)
	if err != nil {
		return fmt.Errorf("files: zip: %w", err)
	}
	if _, err := io.Copy(dst, f); err != nil {
		return fmt.Errorf("files: zip %q: %w", p, err)
	}
	return nil
}

// zipName is p relative to base.
func zipName(base, p string) string {
	if base == "." {
		return p
	}
	return strings.TrimPrefix(p, base+"/")
}

// safeZipName accepts only a relative slash path of real names: no leading
// slash, backslash, NUL, empty, "." or ".." element, and no first element
// that Windows would read as a drive ("C:").
func safeZipName(name string) bool {
	if name == "" || strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") {
		return false
	}
	if len(name) >= 2 && name[1] == ':' {
		return false
	}
	for elem := range strings.SplitSeq(name, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
	}
	return path.Clean(name) == name
}

// loops reports whether fi is one of the ancestors: a symlink back up.
func loops(ancestors []fs.FileInfo, fi fs.FileInfo) bool {
	for _, a := range ancestors {
		if os.SameFile(a, fi) {
			return true
		}
	}
	return false
}

// compressible reports whether a type is worth deflating: text and the
// like, not images, archives or video.
func compressible(ctype string) bool {
	mt, _, _ := mime.ParseMediaType(ctype)
	switch {
	case strings.HasPrefix(mt, "text/"), strings.HasSuffix(mt, "+xml"), strings.HasSuffix(mt, "json"):
		return true
	}
	switch mt {
	case "application/javascript", "application/xml", "application/wasm", "application/x-tar", "image/bmp":
		return true
	}
	return false
}

// zip answers GET /{dir}/?zip: the folder as a zip archive, streamed.
func (h *handler) zip(w http.ResponseWriter, r *http.Request, name string) {
	info, err := h.s.Stat(name)
	if err == nil && !info.Dir {
		err = fmt.Errorf("files: zip %q: not a folder: %w", name, fs.ErrNotExist)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	file := h.s.name
	if name != "." {
		file = info.Name
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/zip")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "sandbox")
	hd.Set("Cache-Control", "no-store") // built on the fly: there is nothing to revalidate
	cd := mime.FormatMediaType("attachment", map[string]string{"filename": file + ".zip"})
	if cd == "" {
		cd = "attachment"
	}
	hd.Set("Content-Disposition", cd)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	cw, sent := count(w, false)
	if err := h.s.WriteZip(cw, name); err != nil {
		if sent.status == 0 {
			hd.Del("Content-Disposition")
			h.fail(w, r, err)
			return
		}
		// The status is sent: all that is left is to make sure the client
		// does not take a truncated archive for a whole one.
		h.s.log.Debug("files: zip cut short", "path", name, "err", err)
		panic(http.ErrAbortHandler)
	}
	if cb := h.hooks.OnFetch; cb != nil {
		cb(r, ZipPath(name), sent.n)
	}
}
