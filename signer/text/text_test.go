package text

import (
	"testing"
	"unicode/utf8"
)

func TestPrintable(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"ACK/", 160, "ACK/"},
		{"line\nforged", 160, "line?forged"},
		{"\x1b[2Jclear", 160, "?[2Jclear"},
		{"abc\u202edcba", 160, "abc?dcba"},
		{"zero\u200bwidth", 160, "zero?width"},
		{"bad\xffutf8", 160, "bad?utf8"},
		{"Zoë's Café", 3, "Zo"}, // ë is two bytes: not cut in half
		{"Zoë's Café", 4, "Zoë"},
		{"", 10, ""},
	} {
		if got := Printable(c.in, c.n); got != c.want {
			t.Errorf("Printable(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestHidden(t *testing.T) {
	for _, r := range []rune{
		0x00, 0x1b, 0x7f, 0x85, // controls
		0x202e, 0x2067, 0x200f, 0x061c, // bidirectional
		0x00ad, 0x200b, 0x2060, 0xfeff, 0x180e, // invisible, long known
		0xe0041, 0xe007f, // tag characters: an invisible "A" and the cancel tag
		0x206a, 0x206f, // deprecated shaping controls
		0xfff9, 0xfffb, // interlinear annotation
		0x034f, 0xfe0f, 0xe0100, 0x180b, // joiner and variation selectors
		0x115f, 0x3164, 0xffa0, // Hangul fillers, which render as nothing
		0x2028, 0x2029,
	} {
		if Hidden(r) == "" {
			t.Errorf("Hidden(%U) = \"\"; it reads as nothing", r)
		}
	}
	for _, r := range "aZ09 æøåÆØÅäöüßé€£$%&/()-_.,:;'\"!?€🙂中文кириллица" {
		if h := Hidden(r); h != "" {
			t.Errorf("Hidden(%q) = %q; it is seen", r, h)
		}
	}
}

func FuzzPrintable(f *testing.F) {
	f.Add("ACK/\u202e\n\xff", 20)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1000 {
			return
		}
		p := Printable(s, n)
		if len(p) > n || !utf8.ValidString(p) {
			t.Fatalf("Printable(%q, %d) = %q", s, n, p)
		}
		for _, r := range p {
			if Hidden(r) != "" {
				t.Fatalf("Printable(%q, %d) = %q keeps %U", s, n, p, r)
			}
		}
	})
}
