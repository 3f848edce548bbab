package client

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const getUsage = `Usage: filehub get [-o FILE] PATH URL

Downloads PATH (a file of the folder, such as docs/report.pdf) from the
filehub server at URL, checks it against the sha256 the server states,
and saves it as FILE (default: its name, in the current folder), never
over an existing file. A cut connection goes on where it stopped.
The token, if the server has one, comes from FILEHUB_TOKEN.
`

func (e *env) get(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	out := fs.String("o", "", "save as `FILE` (default: the file's name, here)")
	fs.Usage = func() { fmt.Fprint(e.stderr, getUsage, "\nFlags:\n"); fs.PrintDefaults() }
	plain, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(plain) != 2 {
		fs.Usage()
		return &UsageError{Err: errors.New("get needs a PATH and the server's URL")}
	}
	p, raw := strings.Trim(plain[0], "/"), plain[1]
	base, err := serverURL(raw)
	if err != nil {
		return err
	}
	if p == "" {
		return &UsageError{Err: errors.New("get needs the PATH of a file, not the folder")}
	}
	dst := *out
	if dst == "" {
		dst = localName(p)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s exists already: choose another name with -o", dst)
	}
	dir, name := filepath.Split(dst)
	if dir == "" {
		dir = "."
	}
	tmp, n, sum, err := e.download(ctx, base, p, dir, "")
	if err != nil {
		return err
	}
	final := filepath.Join(dir, name)
	if err := os.Link(tmp, final); err != nil {
		os.Remove(tmp)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s appeared while downloading: not replaced", final)
		}
		return err
	}
	os.Remove(tmp)
	fmt.Fprintf(e.stdout, "got %s: %s, %d bytes, sha256 %s\n", p, final, n, sum)
	return nil
}
