// Package randid makes the random ids filehub hands out: session and
// browser ids, default names' suffixes, history epochs, a node's instance.
package randid

import (
	"crypto/rand"
	"encoding/hex"
)

// Hex is n random bytes in hex (2n characters), from crypto/rand, which
// never fails (it panics rather than return an error).
func Hex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
