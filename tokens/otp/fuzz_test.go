package otp_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/sha1"
	"errors"
	"testing"

	"github.com/segl/segl/tokens/otp"
)

type softSeed []byte

func (k softSeed) Sum(_ crypto.Hash, msg []byte) ([]byte, error) {
	m := hmac.New(sha1.New, k)
	m.Write(msg)
	return m.Sum(nil), nil
}

// FuzzCode: whatever a user types as a code, the checks answer without
// panicking; anything but 6 digits is ErrFormat and never a match.
func FuzzCode(f *testing.F) {
	for _, s := range []string{"755224", "75522", "7552240", "75522a", "", "٧٥٥٢٢٤"} {
		f.Add(s)
	}
	seed := softSeed("12345678901234567890")
	f.Fuzz(func(t *testing.T, code string) {
		_, ok, err := otp.DefaultPolicy.MatchHOTP(seed, otp.SHA1, 6, 0, code)
		digits := len(code) == 6
		for _, c := range []byte(code) {
			digits = digits && c >= '0' && c <= '9'
		}
		if !digits && (ok || !errors.Is(err, otp.ErrFormat)) {
			t.Fatalf("%q: ok %v, err %v", code, ok, err)
		}
		_, _, ok, err = otp.DefaultPolicy.MatchTOTP(seed, otp.SHA1, 6, 30, 1_795_000_000, -1, 0, code)
		if !digits && (ok || !errors.Is(err, otp.ErrFormat)) {
			t.Fatalf("TOTP %q: ok %v, err %v", code, ok, err)
		}
	})
}
