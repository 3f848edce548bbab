package index

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// fold is s as search compares it: case folded (Unicode's full folding:
// "ß" is "ss") and without accents (decomposed, combining marks dropped,
// recomposed: "Résumé" is "resume"). An ASCII name costs a lowercasing,
// nothing when it is lowercase already.
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
	// Transformers keep state: one chain per call (names that are not
	// ASCII are the exception).
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), cases.Fold(), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		return strings.ToLower(s)
	}
	return out
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
