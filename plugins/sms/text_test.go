package sms_test

import (
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/segl/segl/plugins/sms"
)

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		text string
		enc  sms.Encoding
		ok   bool
	}{
		{"Code 481516 for DKK 129.95 at Fakta. Valid 5 min. Never share it.", sms.GSM7, true},
		{strings.Repeat("a", 160), sms.GSM7, true},
		{strings.Repeat("a", 161), 0, false},
		{strings.Repeat("€", 80), sms.GSM7, true}, // 2 septets each: 160
		{strings.Repeat("€", 81), 0, false},
		{"Æble Ørsted Åby ü é", sms.GSM7, true},
		{"Zoë's Café", sms.UCS2, true}, // ë is not in GSM 03.38
		{strings.Repeat("ë", 70), sms.UCS2, true},
		{strings.Repeat("ë", 71), 0, false},
		{strings.Repeat("😀", 35), sms.UCS2, true}, // a surrogate pair each: 70 units
		{strings.Repeat("😀", 36), 0, false},
	} {
		enc, err := sms.Fit(tc.text)
		if (err == nil) != tc.ok || (tc.ok && enc != tc.enc) {
			t.Errorf("%.30q: %v %v, want %v ok=%v", tc.text, enc, err, tc.enc, tc.ok)
		}
	}
	if n, ok := sms.Septets("a{b}"); !ok || n != 6 {
		t.Fatalf("escaped characters: %d %v", n, ok)
	}
}

// FuzzFit: no text panics, and what fits does fit.
func FuzzFit(f *testing.F) {
	for _, s := range []string{"", "Code 123456", "Zoë", "€€€", "\xff\xfe", strings.Repeat("x", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc, err := sms.Fit(s)
		if err != nil {
			return
		}
		switch enc {
		case sms.GSM7:
			if n, ok := sms.Septets(s); !ok || n > sms.MaxGSM7 {
				t.Fatalf("%q fits GSM 03.38 in %d septets?", s, n)
			}
		case sms.UCS2:
			if !utf8.ValidString(s) && len(utf16.Encode([]rune(s))) > sms.MaxUCS2 {
				t.Fatalf("%q", s)
			}
			if len(utf16.Encode([]rune(s))) > sms.MaxUCS2 {
				t.Fatalf("%q takes %d UCS-2 units", s, len(utf16.Encode([]rune(s))))
			}
		default:
			t.Fatalf("encoding %v", enc)
		}
	})
}
