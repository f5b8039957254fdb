package sms

import (
	"fmt"
	"unicode/utf16"
)

// One SMS holds 160 septets of GSM 03.38 or 70 UCS-2 characters.
const (
	MaxGSM7 = 160
	MaxUCS2 = 70
)

// gsmBasic is GSM 03.38's default alphabet (one septet each), gsmExtended
// its extension table (an escape and a septet: two each).
var (
	gsmBasic    = map[rune]bool{}
	gsmExtended = map[rune]bool{}
)

func init() {
	for _, r := range "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà" {
		gsmBasic[r] = true
	}
	for _, r := range "\f^{}\\[~]|€" {
		gsmExtended[r] = true
	}
}

// Septets is how many septets text takes in GSM 03.38, and false when a
// character of it has no GSM 03.38 form.
func Septets(text string) (int, bool) {
	n := 0
	for _, r := range text {
		switch {
		case gsmBasic[r]:
			n++
		case gsmExtended[r]:
			n += 2
		default:
			return 0, false
		}
	}
	return n, true
}

// Fit chooses how text is sent as one SMS: GSM 03.38 when every character
// has a form there and it takes at most 160 septets, else UCS-2 when it
// takes at most 70 UTF-16 units. Text that fits neither is an error saying
// by how much it is too long.
func Fit(text string) (Encoding, error) {
	if n, ok := Septets(text); ok {
		if n <= MaxGSM7 {
			return GSM7, nil
		}
		return 0, fmt.Errorf("the SMS takes %d GSM 03.38 septets, at most %d fit in one", n, MaxGSM7)
	}
	if n := len(utf16.Encode([]rune(text))); n <= MaxUCS2 {
		return UCS2, nil
	} else {
		return 0, fmt.Errorf("the SMS needs UCS-2 (it has characters GSM 03.38 lacks) and takes %d characters, at most %d fit in one", n, MaxUCS2)
	}
}
