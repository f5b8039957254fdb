package otp_test

import (
	"crypto"
	"testing"
	"time"

	"github.com/segl/segl/softhsm/softhsmtest"
	"github.com/segl/segl/tokens/otp"
)

// BenchmarkOTP measures the raw HSM HMAC rate of a (cached) wrapped seed
// and the checks in the same run, so that the checks' cost can be stated in
// HMACs: the goal is a TOTP check within 4 HMACs' time.
func BenchmarkOTP(b *testing.B) {
	tok, ks := softhsmtest.Open(b)
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		b.Fatal(err)
	}
	w, err := ks.ImportSecret("kek", []byte("12345678901234567890"))
	if err != nil {
		b.Fatal(err)
	}
	seed, err := ks.WrappedHMAC(w)
	if err != nil {
		b.Fatal(err)
	}
	p := otp.DefaultPolicy
	now := time.Now().Unix()
	totp, _ := otp.TOTP(seed, otp.SHA1, now, 30, 6)
	hotp, _ := otp.HOTP(seed, otp.SHA1, 10, 6)
	b.Run("raw-hmac", func(b *testing.B) {
		msg := make([]byte, 8)
		for b.Loop() {
			if _, err := seed.Sum(crypto.SHA1, msg); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("totp-window-1", func(b *testing.B) {
		for b.Loop() {
			if _, _, ok, err := p.MatchTOTP(seed, otp.SHA1, 6, 30, now, -1, 0, totp); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("hotp-lookahead-10", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := p.MatchHOTP(seed, otp.SHA1, 6, 0, hotp); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}
