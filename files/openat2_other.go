//go:build !linux

package files

import (
	"errors"
	"os"
)

var (
	errLinks      = errors.New("a symlink on the way")
	errNoFastPath = errors.New("no openat2")
)

// initFastPath leaves the fast path off: only Linux has openat2(2).
func (s *Store) initFastPath() {}

// openNoLinks always sends the caller to the root.
func (s *Store) openNoLinks(p string, flag int) (*os.File, error) { return nil, errNoFastPath }
