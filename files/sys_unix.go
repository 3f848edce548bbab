//go:build unix

package files

import (
	"fmt"
	"os"
	"syscall"
)

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

// lockFile takes an exclusive advisory lock on f without waiting: errLocked
// when another open file of it holds one. The lock belongs to this open
// file: another open of the same file, in this process or another, cannot
// take it until f is closed, and the kernel drops it when the process
// dies, so a crash never leaves an upload locked. On Linux, flock(2) on NFS
// is a whole-file byte-range lock, seen by every client.
func lockFile(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	var lerr error
	if err := sc.Control(func(fd uintptr) {
		for {
			lerr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if lerr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	switch {
	case lerr == syscall.EWOULDBLOCK:
		return errLocked
	case lerr != nil:
		return fmt.Errorf("lock: %w", lerr)
	}
	return nil
}
