package aa

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"math/big"
	"testing"
)

func FuzzParseDG15(f *testing.F) {
	k1024, _ := keys(f)
	spki, _ := x509.MarshalPKIXPublicKey(&k1024.PublicKey)
	f.Add(dg15(spki))
	f.Add([]byte{0x6F, 0x80, 0x30, 0x00})
	f.Add([]byte{0x6F, 0x82, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseDG15(b)
		if (k == nil) == (err == nil) {
			t.Fatalf("%v, %v", k, err)
		}
		if k != nil && k.RSA == nil && len(k.SPKI) == 0 {
			t.Fatal("an EC key without its SPKI")
		}
	})
}

func FuzzParseDG14(f *testing.F) {
	f.Add(dg14(paceInfo, caInfo, aaInfo(1, plainOID(3)), taInfo))
	f.Add(dg14(caInfo))
	f.Add(dg14())
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseDG14AAInfo(b)
		if (info == nil) == (err == nil) {
			t.Fatalf("%v, %v", info, err)
		}
		if info != nil && info.Hash == 0 {
			t.Fatal("an AA info without a hash")
		}
	})
}

// FuzzVerifyRSA feeds any modulus, exponent, challenge and signature:
// VerifyRSA must not panic, and with the test key only the signature made
// for it verifies.
func FuzzVerifyRSA(f *testing.F) {
	k1024, _ := keys(f)
	good := rawSign(k1024, representative(f, k1024, crypto.SHA1, []byte{0xBC}, challenge))
	f.Add(k1024.N.Bytes(), uint32(k1024.E), challenge, good)
	f.Add(k1024.N.Bytes(), uint32(k1024.E), challenge, complement(k1024, good))
	f.Add(k1024.N.Bytes(), uint32(3), challenge, good)
	f.Add([]byte{}, uint32(0), []byte{}, []byte{})
	f.Add([]byte{0x01}, uint32(1), challenge, []byte{0x00})
	f.Fuzz(func(t *testing.T, n []byte, e uint32, ch, sig []byte) {
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(e)}
		_ = VerifyRSA(pub, ch, sig)
	})
}
