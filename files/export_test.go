package files

import "io/fs"

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
