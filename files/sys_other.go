//go:build !unix

package files

import "os"

// Without these flags: such systems have no FIFOs in the file system to
// block on, and every open is followed by a stat that tells a folder from
// a file.
const (
	oDirectory = 0
	oNonblock  = 0
	oNoctty    = 0
)

// lockFile does nothing where there is no flock(2): the registry of
// partials still keeps two requests of one process from writing a partial
// at once, but not two processes sharing the folder.
func lockFile(f *os.File) error { return nil }
