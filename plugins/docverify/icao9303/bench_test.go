package icao9303_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"math/big"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/segl/segl/plugins/docverify/icao9303"
	"github.com/segl/segl/plugins/docverify/icao9303/cms"
	"github.com/segl/segl/plugins/docverify/icao9303/icaotest"
)

// BenchmarkVerify measures passive + active authentication of whole
// documents against the raw cost of the signatures in them, in one run:
//
//   - rsa-2048: an RSA-2048 signer and CSCA and an RSA-2048 chip key.
//     Raw: Go's crypto/rsa verifying the SOD's and the signer
//     certificate's signatures, and the chip's RSA public operation.
//   - brainpoolP384r1: a brainpoolP384r1 signer and CSCA with explicit
//     parameters, and a P-256 chip key (icaotest's EC chips are P-256).
//     Raw: two brainpoolP384r1 verifies at OpenSSL's rate (openssl speed,
//     run here; Go has no brainpool) and one P-256 verify in Go.
//
// Each reports docs/s and vs-raw, its rate over the raw rate.
func BenchmarkVerify(b *testing.B) {
	challenge := []byte("\x01\x23\x45\x67\x89\xab\xcd\xef")
	for _, c := range []struct {
		name string
		opt  icaotest.Options
		raw  func(b *testing.B, d *icaotest.Document) float64 // raw documents per second
	}{
		{"rsa-2048", icaotest.Options{Signer: "rsa", AA: "rsa"}, rawRSA},
		{"brainpoolP384r1", icaotest.Options{Signer: "brainpoolP384r1", Explicit: true, AA: "p256"}, rawBrainpool},
	} {
		d := icaotest.New(b, c.opt)
		var tr icao9303.Trust
		if err := tr.AddCSCA(d.CSCA, "bench"); err != nil {
			b.Fatal(err)
		}
		x := doc(d)
		x.AAChallenge, x.AASignature = challenge, d.SignAA(challenge)
		raw := c.raw(b, d)
		b.Run(c.name, func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				if v := icao9303.Verify(&tr, x); !v.Genuine || !v.ActiveAuthenticated {
					b.Fatalf("%s: %s", c.name, v.Reason)
				}
			}
			rate := float64(b.N) / time.Since(start).Seconds()
			b.ReportMetric(rate, "docs/s")
			b.ReportMetric(rate/raw, "vs-raw")
		})
	}
}

// timed runs f for about half a second and returns its rate.
func timed(f func()) float64 {
	n, start := 0, time.Now()
	for time.Since(start) < 500*time.Millisecond {
		f()
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}

func rawRSA(b *testing.B, d *icaotest.Document) float64 {
	sd, _, err := cms.ParseSOD(d.SOD)
	if err != nil {
		b.Fatal(err)
	}
	si := sd.SignerInfos[0]
	dsc, _ := x509.ParseCertificate(d.DSC)
	csca, _ := x509.ParseCertificate(d.CSCA)
	attrs := sha256.Sum256(si.SignedAttrsToVerify())
	tbs := sha256.Sum256(dsc.RawTBSCertificate)
	aaKey := d.AAKey.(*rsa.PrivateKey).PublicKey
	aaSig := new(big.Int).SetBytes(d.SignAA([]byte("12345678")))
	return timed(func() {
		if rsa.VerifyPKCS1v15(dsc.PublicKey.(*rsa.PublicKey), crypto.SHA256, attrs[:], si.Signature) != nil ||
			rsa.VerifyPKCS1v15(csca.PublicKey.(*rsa.PublicKey), crypto.SHA256, tbs[:], dsc.Signature) != nil {
			b.Fatal("raw RSA verify failed")
		}
		new(big.Int).Exp(aaSig, big.NewInt(int64(aaKey.E)), aaKey.N)
	})
}

var speedLine = regexp.MustCompile(`ecdsa \(brainpoolP384r1\)\s+\S+\s+\S+\s+\S+\s+([0-9.]+)`)

func rawBrainpool(b *testing.B, d *icaotest.Document) float64 {
	out, err := exec.Command("openssl", "speed", "-seconds", "1", "-elapsed", "ecdsabrp384r1").CombinedOutput()
	m := speedLine.FindSubmatch(out)
	if err != nil || m == nil {
		b.Fatalf("openssl speed ecdsabrp384r1: %v\n%s", err, out)
	}
	bp, _ := strconv.ParseFloat(string(m[1]), 64)
	k := d.AAKey.(*ecdsa.PrivateKey)
	sum := sha256.Sum256([]byte("12345678"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, sum[:])
	p256 := timed(func() { ecdsa.VerifyASN1(&k.PublicKey, sum[:], sig) })
	return 1 / (2/bp + 1/p256)
}
