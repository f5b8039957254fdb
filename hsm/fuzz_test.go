package hsm_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/segl/segl/hsm"
)

// FuzzParseWrappedKey: a blob from storage either parses into a key that
// encodes back to the same bytes, or fails with ErrBadWrappedKey; it never
// panics.
func FuzzParseWrappedKey(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	for _, w := range []*hsm.WrappedKey{
		{Type: hsm.ECDSAP256, KEKID: []byte("0123456789abcdef"), Mechanism: pkcs11.CKM_AES_KEY_WRAP_PAD, Public: ecPub, Ciphertext: bytes.Repeat([]byte{7}, 80)},
		{Type: hsm.Ed25519, KEKID: []byte{1}, Mechanism: pkcs11.CKM_AES_CBC_PAD, IV: make([]byte, 16), Public: edDER, Ciphertext: make([]byte, 64)},
		{Type: hsm.HMACSecret, KEKID: []byte{2}, Mechanism: pkcs11.CKM_AES_KEY_WRAP_PAD, Ciphertext: make([]byte, 32)},
	} {
		b, err := w.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := hsm.ParseWrappedKey(b)
		if err != nil {
			if !errors.Is(err, hsm.ErrBadWrappedKey) {
				t.Fatalf("error %v is not ErrBadWrappedKey", err)
			}
			return
		}
		again, err := w.MarshalBinary()
		if err != nil {
			t.Fatalf("a parsed key does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			// DER is canonical: a second encoding means the parser
			// accepted something non-canonical.
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
		}
	})
}
