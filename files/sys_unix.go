//go:build unix

package files

import "syscall"

const (
	// oDirectory makes opening anything but a folder fail at once with
	// ENOTDIR, so that a FIFO where a folder is expected is refused by the
	// kernel instead of waiting for a writer.
	oDirectory = syscall.O_DIRECTORY
	// oNonblock makes opening a FIFO return at once (reading) or fail with
	// ENXIO (writing) instead of waiting for the other end. It has no effect
	// on regular files and folders.
	oNonblock = syscall.O_NONBLOCK
	// oNoctty keeps a terminal device in the folder from becoming the
	// process's controlling terminal when it is opened to be refused.
	oNoctty = syscall.O_NOCTTY
)
