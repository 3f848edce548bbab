package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/webdav"

	"filehub/files"
)

// fsys is the folder as webdav.FileSystem sees it: every call goes to the
// Store, which checks names and resolves links itself.
type fsys struct {
	s     *files.Store
	props *deadProps
	hooks Hooks
}

var _ webdav.FileSystem = (*fsys)(nil)

// osErr turns the Store's errors into the ones webdav tests for with
// os.IsNotExist and os.IsExist, which do not unwrap; the request's state
// keeps the original for the status (state.fail).
func osErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	stateOf(ctx).fail(err)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.ErrNotExist
	case errors.Is(err, files.ErrExists):
		return os.ErrExist
	}
	return err
}

func (f *fsys) Mkdir(ctx context.Context, name string, _ os.FileMode) error {
	_, err := f.s.Mkdir(name)
	return osErr(ctx, err)
}

func (f *fsys) RemoveAll(ctx context.Context, name string) error {
	if err := f.s.Remove(name); err != nil {
		return osErr(ctx, err)
	}
	f.props.remove(clean(name))
	return nil
}

func (f *fsys) Rename(ctx context.Context, from, to string) error {
	if err := f.s.Rename(from, to); err != nil {
		return osErr(ctx, err)
	}
	f.props.rename(clean(from), clean(to))
	return nil
}

func (f *fsys) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	in, err := f.s.Stat(name)
	if err != nil {
		return nil, osErr(ctx, err)
	}
	return fileInfo{in}, nil
}

// OpenFile opens name for reading, or, with O_CREATE and O_TRUNC (how
// webdav asks for a PUT, a COPY's destination or a LOCK of a new name),
// starts an upload that replaces name atomically when the file is closed
// (writeFile). O_RDWR alone is how webdav opens a file to patch its
// properties: a read.
func (f *fsys) OpenFile(ctx context.Context, name string, flag int, _ os.FileMode) (webdav.File, error) {
	if flag&(os.O_CREATE|os.O_TRUNC) != 0 {
		return f.create(ctx, name)
	}
	file, in, err := f.s.Open(name)
	switch {
	case errors.Is(err, files.ErrIsDir):
		return &dirFile{fs: f, in: in}, nil
	case err != nil:
		return nil, osErr(ctx, err)
	}
	return &readFile{File: file, fs: f, in: in, st: stateOf(ctx)}, nil
}

// create starts the upload of name: Store.Put with overwrite, reading
// from a pipe that the file's writes fill.
func (f *fsys) create(ctx context.Context, name string) (webdav.File, error) {
	// A COPY of a file onto a folder's URL ("dir/") replaces the folder,
	// removed first, with a file of that name.
	name = strings.TrimSuffix(name, "/")
	if err := f.s.CheckPut(name, true); err != nil {
		return nil, osErr(ctx, err)
	}
	pr, pw := io.Pipe()
	w := &writeFile{fs: f, name: name, p: clean(name), st: stateOf(ctx), pw: pw, done: make(chan struct{})}
	go func() { // owned by w: Close waits for it
		defer close(w.done)
		w.res, w.err = f.s.Put(name, pr, true)
		// Whatever Put did not read fails the writer's next Write.
		pr.CloseWithError(errors.Join(w.err, io.ErrClosedPipe))
	}()
	return w, nil
}

// clean is name as the dead properties are keyed: a clean slash path.
func clean(name string) string {
	if p := strings.TrimPrefix(path.Clean("/"+name), "/"); p != "" {
		return p
	}
	return "."
}

// fileInfo is an Info as os.FileInfo, with the content type and ETag the
// Store gives, so that webdav never sniffs a file.
type fileInfo struct{ in files.Info }

func (i fileInfo) Name() string {
	if i.in.Name == "" {
		return "/"
	}
	return i.in.Name
}
func (i fileInfo) Size() int64 { return i.in.Size }
func (i fileInfo) Mode() fs.FileMode {
	if i.in.Dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i fileInfo) ModTime() time.Time { return i.in.Modified }
func (i fileInfo) IsDir() bool        { return i.in.Dir }
func (i fileInfo) Sys() any           { return nil }

// ContentType is webdav.ContentTyper: the type files serves the file with.
func (i fileInfo) ContentType(context.Context) (string, error) {
	if i.in.Dir {
		return "", webdav.ErrNotImplemented
	}
	return i.in.Type, nil
}

var errNotWritable = errors.New("dav: opened for reading")

// readFile is a regular file opened for reading. Read errors are kept in
// the request's state, so that a COPY whose source failed midway does not
// put a short copy in place.
type readFile struct {
	*os.File
	fs *fsys
	in files.Info
	st *state
}

func (r *readFile) Read(b []byte) (int, error) {
	n, err := r.File.Read(b)
	if err != nil && err != io.EOF {
		r.st.readFailed(err)
	}
	return n, err
}

func (r *readFile) Stat() (fs.FileInfo, error) { return fileInfo{r.in}, nil }
func (r *readFile) Write([]byte) (int, error)  { return 0, errNotWritable }
func (r *readFile) Readdir(int) ([]fs.FileInfo, error) {
	return nil, errors.New("dav: not a folder")
}
func (r *readFile) DeadProps() (map[xml.Name]webdav.Property, error) {
	return r.fs.props.get(r.in.Path), nil
}
func (r *readFile) Patch(p []webdav.Proppatch) ([]webdav.Propstat, error) {
	return r.fs.props.patch(r.in.Path, p), nil
}

// dirFile is a folder: its entries are the Store's listing.
type dirFile struct {
	fs   *fsys
	in   files.Info
	list []fs.FileInfo
	read bool
}

func (d *dirFile) Close() error                   { return nil }
func (d *dirFile) Read([]byte) (int, error)       { return 0, errors.New("dav: a folder") }
func (d *dirFile) Seek(int64, int) (int64, error) { return 0, errors.New("dav: a folder") }
func (d *dirFile) Write([]byte) (int, error)      { return 0, errNotWritable }
func (d *dirFile) Stat() (fs.FileInfo, error)     { return fileInfo{d.in}, nil }
func (d *dirFile) DeadProps() (map[xml.Name]webdav.Property, error) {
	return d.fs.props.get(d.in.Path), nil
}
func (d *dirFile) Patch(p []webdav.Proppatch) ([]webdav.Propstat, error) {
	return d.fs.props.patch(d.in.Path, p), nil
}

// Readdir lists the folder as the Store does (hidden names, links out,
// FIFOs left out), in the http.File way: count > 0 reads in pieces.
func (d *dirFile) Readdir(count int) ([]fs.FileInfo, error) {
	if !d.read {
		list, err := d.fs.s.List(d.in.Path)
		if err != nil {
			return nil, osErr(context.Background(), err)
		}
		d.list = make([]fs.FileInfo, len(list))
		for i, in := range list {
			d.list[i] = fileInfo{in}
		}
		d.read = true
	}
	if count <= 0 {
		out := d.list
		d.list = nil
		return out, nil
	}
	if len(d.list) == 0 {
		return nil, io.EOF
	}
	n := min(count, len(d.list))
	out := d.list[:n]
	d.list = d.list[n:]
	return out, nil
}

// writeFile is an upload in progress: its writes go through a pipe to
// Store.Put, which writes a temp file and moves it into place; Close
// ends the body and waits. The upload is only put in place when the bytes
// written are the whole of what was sent: a PUT whose body did not reach
// its end, or a COPY whose source failed, is cut short with
// files.ErrIncomplete instead (state.complete), and leaves nothing.
type writeFile struct {
	fs   *fsys
	name string // as asked
	p    string // clean
	st   *state
	pw   *io.PipeWriter
	n    int64

	done chan struct{} // closed when Put returned: res and err are set
	res  files.PutResult
	err  error
}

func (w *writeFile) Write(b []byte) (int, error) {
	n, err := w.pw.Write(b)
	w.n += int64(n)
	if err != nil {
		<-w.done
		return n, osErr(context.Background(), w.fail(w.err))
	}
	return n, nil
}

// fail records err in the request's state, so that the answer's status
// says why (a file too large is 413, not webdav's 405).
func (w *writeFile) fail(err error) error {
	if err == nil {
		err = io.ErrClosedPipe
	}
	w.st.fail(err)
	return err
}

func (w *writeFile) Close() error {
	if err := w.st.complete(); err != nil {
		w.pw.CloseWithError(err)
	} else {
		w.pw.Close()
	}
	<-w.done
	if w.err != nil {
		return osErr(context.Background(), w.fail(w.err))
	}
	// A LOCK of a new name makes it an empty file, which davfs2 and
	// Finder fill with a PUT at once: that PUT is the write to tell.
	if w.fs.hooks.OnWrite != nil && w.st != nil && w.st.method != "LOCK" {
		w.fs.hooks.OnWrite(w.st.r, w.res)
	}
	return nil
}

func (w *writeFile) Read([]byte) (int, error)       { return 0, errors.New("dav: opened for writing") }
func (w *writeFile) Seek(int64, int) (int64, error) { return 0, errors.New("dav: opened for writing") }
func (w *writeFile) Readdir(int) ([]fs.FileInfo, error) {
	return nil, errors.New("dav: not a folder")
}

// Stat describes the file as written so far: webdav asks before Close
// for the ETag of a PUT's answer.
func (w *writeFile) Stat() (fs.FileInfo, error) {
	return fileInfo{files.Info{Path: w.p, Name: path.Base(w.p), Size: w.n, Modified: time.Now().UTC(), Type: files.ContentType(w.p)}}, nil
}
func (w *writeFile) DeadProps() (map[xml.Name]webdav.Property, error) {
	return w.fs.props.get(w.p), nil
}
func (w *writeFile) Patch(p []webdav.Proppatch) ([]webdav.Propstat, error) {
	return w.fs.props.patch(w.p, p), nil
}

// Bounds of the dead properties, which are kept in memory only.
const (
	maxPropPaths   = 4096    // names with dead properties
	maxPropsPer    = 64      // dead properties of one name
	maxPropValue   = 4 << 10 // bytes of one property's value
	propsFullState = http.StatusInsufficientStorage
)

// deadProps holds the properties clients set with PROPPATCH (Finder's
// and Windows' own metadata, litmus's tests), by clean path. They live in
// memory: a restart forgets them, and so does another node. Renames and
// removals through WebDAV carry them along; changes made by other doors
// do not.
type deadProps struct {
	mu sync.Mutex
	m  map[string]map[xml.Name]webdav.Property
}

func (d *deadProps) get(p string) map[xml.Name]webdav.Property {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[xml.Name]webdav.Property, len(d.m[p]))
	for k, v := range d.m[p] {
		out[k] = v
	}
	return out
}

// patch applies p to the properties of path, all or nothing, as
// webdav.DeadPropsHolder's Patch.
func (d *deadProps) patch(p string, patches []webdav.Proppatch) []webdav.Propstat {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.m[p]
	next := make(map[xml.Name]webdav.Property, len(cur))
	for k, v := range cur {
		next[k] = v
	}
	ok := webdav.Propstat{Status: http.StatusOK}
	tooBig := false
	for _, patch := range patches {
		for _, prop := range patch.Props {
			ok.Props = append(ok.Props, webdav.Property{XMLName: prop.XMLName})
			if patch.Remove {
				delete(next, prop.XMLName)
				continue
			}
			if len(prop.InnerXML) > maxPropValue {
				tooBig = true
			}
			next[prop.XMLName] = prop
		}
	}
	if tooBig || len(next) > maxPropsPer || (cur == nil && len(next) > 0 && len(d.m) >= maxPropPaths) {
		ok.Status = propsFullState
		return []webdav.Propstat{ok}
	}
	if d.m == nil {
		d.m = make(map[string]map[xml.Name]webdav.Property)
	}
	if len(next) == 0 {
		delete(d.m, p)
	} else {
		d.m[p] = next
	}
	return []webdav.Propstat{ok}
}

// under calls f for p and every path below it.
func (d *deadProps) under(p string, f func(k string)) {
	for k := range d.m {
		if k == p || strings.HasPrefix(k, p+"/") || p == "." {
			f(k)
		}
	}
}

func (d *deadProps) remove(p string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.under(p, func(k string) { delete(d.m, k) })
}

func (d *deadProps) rename(from, to string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	moved := make(map[string]map[xml.Name]webdav.Property)
	d.under(from, func(k string) {
		moved[to+strings.TrimPrefix(k, from)] = d.m[k]
		delete(d.m, k)
	})
	d.under(to, func(k string) { delete(d.m, k) })
	for k, v := range moved {
		d.m[k] = v
	}
}
