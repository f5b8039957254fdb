// Package text knows which characters change how a text reads without
// being seen, for the checks on what a user approves and for cleaning
// what a gateway or plugin reports before it reaches a log, the store or
// an officer's terminal. It depends on nothing, so a plugin may use it.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Hidden names what r is when it is a character that changes how text
// reads without being seen, or "": C0 and C1 control characters and DEL;
// bidirectional overrides, embeddings, isolates and marks; every other
// format character (Unicode's Cf: zero-width characters, the soft hyphen,
// tag characters, interlinear annotation marks, deprecated shaping
// controls); the invisible marks and letters outside Cf (the combining
// grapheme joiner, variation selectors, Hangul fillers); the Unicode line
// and paragraph separators.
func Hidden(r rune) string {
	switch {
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return "a control character"
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return "a bidirectional control"
	case unicode.Is(unicode.Cf, r), r == 0x180e,
		r == 0x034f,                                              // combining grapheme joiner
		r >= 0xfe00 && r <= 0xfe0f, r >= 0xe0100 && r <= 0xe01ef, // variation selectors
		r >= 0x180b && r <= 0x180d, r == 0x180f, // Mongolian variation selectors
		r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0: // Hangul fillers
		return "an invisible character"
	case r == 0x2028 || r == 0x2029:
		return "a line or paragraph separator"
	}
	return ""
}

// Printable is s cut to at most n bytes of whole characters, with each
// hidden character and each byte that is not UTF-8 replaced by '?': a
// foreign text made safe to keep and show.
func Printable(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if (r == utf8.RuneError && size == 1) || Hidden(r) != "" {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > n {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
