package index

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// fold is s as search compares it: lowercased and without accents
// (decomposed, combining marks dropped: "Résumé" is "resume"; "ß" is "ss",
// as Unicode's full case folding has it). Names and queries go through the
// same fold, so what matters is that it is the same both ways: a Hangul
// syllable stays decomposed into its jamo, on both sides. An ASCII name
// costs a lowercasing, nothing when it is lowercase already.
//
// x/text's transform chain (NFD, remove Mn, cases.Fold, NFC) does the same
// at 12–66 µs a name: folding the 10,000 names with accents of a tree of
// 100,000 took most of a second. This is about one microsecond.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	d := norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		switch {
		case r < utf8.RuneSelf:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
		case unicode.Is(unicode.Mn, r):
			// a combining mark: an accent
		case r == 'ß' || r == 'ẞ':
			b.WriteString("ss")
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// wordStart reports whether the byte at i of the folded s starts a word:
// the first, or one after a byte that is neither a letter nor a digit
// ("-", "_", ".", " ", "/", "(": "rep" starts a word of "annual-report").
// Bytes of a multi-byte character count as letters.
func wordStart(s string, i int) bool {
	if i == 0 {
		return true
	}
	c := s[i-1]
	return c < utf8.RuneSelf && !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z')
}
