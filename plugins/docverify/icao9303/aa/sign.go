package aa

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
)

// Sign answers a challenge as a chip does, for test documents and for the
// reference app that plays a chip (segl app document): an RSA key signs
// ISO/IEC 9796-2 scheme 1 with SHA-256 (header 6A, trailer 34CC, random
// M1), an ECDSA key signs plain r‖s over SHA-256(challenge). A real chip's
// key never leaves the chip; this is for keys made for tests.
func Sign(key crypto.PrivateKey, challenge []byte) ([]byte, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		n := k.Size()
		if n < 64 {
			return nil, errors.New("aa: the RSA key is too short")
		}
		m1 := make([]byte, n-1-sha256.Size-2)
		if _, err := rand.Read(m1); err != nil {
			return nil, err
		}
		h := sha256.New()
		h.Write(m1)
		h.Write(challenge)
		f := append(append(append([]byte{0x6a}, m1...), h.Sum(nil)...), 0x34, 0xcc)
		s := new(big.Int).Exp(new(big.Int).SetBytes(f), k.D, k.N)
		return s.FillBytes(make([]byte, n)), nil
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256(challenge)
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			return nil, err
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	}
	return nil, fmt.Errorf("aa: a %T cannot answer a challenge", key)
}
