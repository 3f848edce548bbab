//go:build unix

package guard

import "syscall"

// DefaultMaxConns is MaxConns's default: three quarters of the process's
// descriptors (RLIMIT_NOFILE; Go raises the soft limit to the hard one at
// start), leaving the rest for open files, inotify, logs and the store,
// and at most 16,384.
func DefaultMaxConns() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur == 0 {
		return 1024
	}
	return int(min(r.Cur/4*3, 16384))
}
