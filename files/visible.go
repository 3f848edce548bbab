package files

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// CheckVisible tells why a name people will read could pass for another
// (an error wrapping ErrBadPath), or nil. It is the one rule for every
// name filehub lets someone choose: new files, files sent through a drop
// link, members of a room. It refuses
//
//   - whitespace at either end (" .env" reads as ".env", "x " as "x");
//   - whitespace other than U+0020 anywhere (NBSP, U+3000, U+2028 line and
//     U+2029 paragraph separators): each looks like a space, or a break;
//   - default-ignorable code points, which show as nothing: zero-width
//     spaces and joiners, U+FEFF, U+034F, the Hangul fillers U+115F and
//     U+3164, soft hyphens, variation selectors, tag characters
//     (U+E0000-U+E007F) and the other format characters (category Cf);
//   - whatever Clean refuses (controls, bidirectional controls).
//
// One exception keeps emoji writable: U+200D (zero-width joiner) and
// U+FE0E/U+FE0F (text and emoji presentation) right after a symbol (So, Sk,
// as in "👩‍💻" and "❤️"), or U+200D after U+FE0F ("🏳️‍🌈"). There they join
// or style a pictograph and cannot make a plain word look like another.
//
// It does not fold lookalike letters (Cyrillic "а" for Latin "a"): members,
// whose names must not collide, are compared after PRECIS (package hub).
func CheckVisible(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("files: name %q is not UTF-8: %w", s, ErrBadPath)
	}
	if first, _ := utf8.DecodeRuneInString(s); unicode.IsSpace(first) {
		return fmt.Errorf("files: name %q starts with a space: %w", s, ErrBadPath)
	}
	if last, _ := utf8.DecodeLastRuneInString(s); unicode.IsSpace(last) {
		return fmt.Errorf("files: name %q ends with a space: %w", s, ErrBadPath)
	}
	prev := rune(-1)
	for _, r := range s {
		if invisible(prev, r) {
			return fmt.Errorf("files: name %q has %U: %w", s, r, ErrBadPath)
		}
		prev = r
	}
	return nil
}

// invisible reports whether r, after prev, may not be in a name.
func invisible(prev, r rune) bool {
	if r < 0x80 { // ASCII: only controls are refused
		return r < 0x20 || r == 0x7f
	}
	switch {
	case refusedRune(r):
		return true
	case r == 0x200d:
		return !(prev == 0xfe0f || pictograph(prev))
	case r == 0xfe0e || r == 0xfe0f:
		return !pictograph(prev)
	case unicode.IsSpace(r), // NBSP, U+3000, U+2028, U+2029…
		unicode.Is(unicode.Cf, r),                                 // format: U+200B, U+FEFF, U+2060, tags…
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r), // U+034F, U+115F, U+3164…
		unicode.Is(unicode.Variation_Selector, r):
		return true
	}
	return false
}

// pictograph: a symbol an emoji joiner or presentation selector may follow.
func pictograph(r rune) bool { return r >= 0x80 && unicode.In(r, unicode.So, unicode.Sk) }
