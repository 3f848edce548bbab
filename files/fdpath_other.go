//go:build !linux

package files

import (
	"errors"
	"os"
)

var errNoProc = errors.New("no /proc/self/fd on this system")

// openProcFD returns nil: without /proc/self/fd the Store checks what it
// opened by resolving the name and comparing the files (checkOpenedByName).
func openProcFD() *os.Root { return nil }

func (s *Store) fdPath(f *os.File) (string, error) { return "", errNoProc }

func (s *Store) pinFolder(f *os.File) (*os.Root, error) { return nil, errNoProc }
