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
