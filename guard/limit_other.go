//go:build !unix

package guard

// DefaultMaxConns is MaxConns's default where descriptors are not counted
// by an rlimit.
func DefaultMaxConns() int { return 4096 }
