//go:build !unix

package files

// Without these flags: such systems have no FIFOs in the file system to
// block on, and every open is followed by a stat that tells a folder from
// a file.
const (
	oDirectory = 0
	oNonblock  = 0
	oNoctty    = 0
)
