package files

import (
	"io/fs"
	"net/http"
	"time"
)

// SlowPath makes s open every name through its root and check what it
// opened, as it does for names with a symlink on the way.
func SlowPath(s *Store) { s.fast = false }

// CheckByName makes s check what it opens the way it does where there is
// no /proc/self/fd (resolve.go), and take the slow path always, so that
// tests cover every way on Linux. Call it before s serves anything.
func CheckByName(s *Store) {
	s.fast = false
	if s.proc != nil {
		s.proc.Close()
		s.proc = nil
	}
}

// Resolve is Store.resolve: where the clean path p leads, link by link.
func Resolve(s *Store, p string) (string, fs.FileInfo, error) { return s.resolve(p) }

// ParseContentRange is parseContentRange.
var ParseContentRange = parseContentRange

// SmallFile is smallFile: files up to it are sent by read and write.
const SmallFile = smallFile

// DiskWait sets how long a large listing from the disk waits for its turn.
func DiskWait(d time.Duration) Option { return func(h *handler) { h.diskWait = d } }

// BigListing is bigListing: listings from the disk past it take turns.
const BigListing = bigListing

// TakeDiskTurn takes one of the handler's turns for large listings from
// the disk, as a listing being written holds it, until release.
func TakeDiskTurn(h http.Handler) (release func()) {
	hd := h.(*handler)
	hd.disk <- struct{}{}
	return func() { <-hd.disk }
}
