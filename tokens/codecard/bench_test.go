package codecard_test

import (
	"crypto"
	"strings"
	"testing"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm/softhsmtest"
	"github.com/segl/segl/tokens/codecard"
)

// BenchmarkCodeCard measures the master key's raw HMAC rate, checking one
// answer, and issuing whole cards (key numbers and 148 codes), in one run.
func BenchmarkCodeCard(b *testing.B) {
	_, ks := softhsmtest.Open(b)
	if _, err := ks.Generate("codecard", hsm.HMACSHA256); err != nil {
		b.Fatal(err)
	}
	m, err := ks.HMAC("codecard")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raw-hmac", func(b *testing.B) {
		msg := []byte(strings.Repeat("x", 40))
		for b.Loop() {
			if _, err := m.Sum(crypto.SHA256, msg); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	code, _ := codecard.Code(m, "4711000042", 17)
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			if ok, err := codecard.Check(m, "4711000042", 17, code); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("issue", func(b *testing.B) {
		for b.Loop() {
			serial, _ := codecard.NewSerial()
			if _, err := codecard.KeyNumbers(m, serial); err != nil {
				b.Fatal(err)
			}
			for i := range codecard.Entries {
				if _, err := codecard.Code(m, serial, i); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cards/s")
	})
}
