package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"testing"
)

func ecKeyFromStd(t testing.TB, k *ecdsa.PublicKey) *ECPublicKey {
	t.Helper()
	raw, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	c, _ := CurveByName(k.Curve.Params().Name)
	x, y, err := c.DecodePoint(raw)
	if err != nil {
		t.Fatal(err)
	}
	return &ECPublicKey{Curve: c, X: x, Y: y}
}

// TestGenericECDSAMatchesCryptoECDSA runs the generic verification (the
// one brainpool uses) on the NIST curves, where crypto/ecdsa decides,
// with digests shorter and longer than the order, valid and altered.
func TestGenericECDSAMatchesCryptoECDSA(t *testing.T) {
	for _, spec := range []string{"P-224", "P-256", "P-384", "P-521"} {
		priv := goKey(t, spec).(*ecdsa.PrivateKey)
		pub := ecKeyFromStd(t, &priv.PublicKey)
		n := pub.Curve.N
		for _, size := range []int{20, 28, 32, 48, 64, 66, 100} {
			digest := make([]byte, size)
			rand.Read(digest)
			r, s, err := ecdsa.Sign(rand.Reader, priv, digest)
			if err != nil {
				t.Fatal(err)
			}
			other := append([]byte{digest[0] ^ 0x80}, digest[1:]...)
			cases := []struct {
				name   string
				digest []byte
				r, s   *big.Int
			}{
				{"valid", digest, r, s},
				{"n − s", digest, r, new(big.Int).Sub(n, s)}, // ECDSA's malleability: valid too
				{"other digest", other, r, s},
				{"r + 1", digest, new(big.Int).Add(r, big.NewInt(1)), s},
				{"s + 1", digest, r, new(big.Int).Add(s, big.NewInt(1))},
				{"r = 0", digest, new(big.Int), s},
				{"s = 0", digest, r, new(big.Int)},
				{"r = n", digest, new(big.Int).Set(n), s},
				{"s = n", digest, r, new(big.Int).Set(n)},
				{"r + n", digest, new(big.Int).Add(r, n), s},
				{"r negative", digest, new(big.Int).Neg(r), s},
			}
			for _, tc := range cases {
				want := ecdsa.Verify(&priv.PublicKey, tc.digest, tc.r, tc.s)
				if got := verifyGeneric(pub, tc.digest, tc.r, tc.s); got != want {
					t.Errorf("%s, %d-byte digest, %s: generic %v, crypto/ecdsa %v", spec, size, tc.name, got, want)
				}
				if got := VerifyECDSA(pub, tc.digest, tc.r, tc.s); got != want {
					t.Errorf("%s, %d-byte digest, %s: VerifyECDSA %v, crypto/ecdsa %v", spec, size, tc.name, got, want)
				}
				if tc.name == "valid" && !want {
					t.Errorf("%s: crypto/ecdsa refuses its own signature", spec)
				}
			}
		}
	}
}

func TestVerifyECDSABadKeys(t *testing.T) {
	c := brainpoolP256r1
	r, s := big.NewInt(1), big.NewInt(1)
	for name, k := range map[string]*ECPublicKey{
		"nil":          nil,
		"no curve":     {X: c.Gx, Y: c.Gy},
		"off curve":    {Curve: c, X: c.Gx, Y: new(big.Int).Add(c.Gy, big.NewInt(1))},
		"nil point":    {Curve: c},
		"NIST off":     {Curve: p256, X: p256.Gx, Y: new(big.Int).Add(p256.Gy, big.NewInt(1))},
		"x ≥ p (NIST)": {Curve: p256, X: new(big.Int).Add(p256.Gx, p256.P), Y: p256.Gy},
	} {
		if VerifyECDSA(k, make([]byte, 32), r, s) {
			t.Errorf("%s: verifies", name)
		}
	}
	if VerifyECDSA(&ECPublicKey{Curve: c, X: c.Gx, Y: c.Gy}, make([]byte, 32), nil, s) {
		t.Error("nil r verifies")
	}
}

var opensslDigests = []struct {
	name string
	hash crypto.Hash
}{{"sha1", crypto.SHA1}, {"sha224", crypto.SHA224}, {"sha256", crypto.SHA256}, {"sha384", crypto.SHA384}, {"sha512", crypto.SHA512}}

// TestBrainpoolOpenSSLSignatures: keys made and messages signed by
// OpenSSL on every brainpool curve (openssl ecparam -genkey, openssl dgst
// -sign), with every hash, so that digests both shorter and longer than
// the order occur; verified here, and refused once altered.
func TestBrainpoolOpenSSLSignatures(t *testing.T) {
	dir := t.TempDir()
	msg := writeFile(t, filepath.Join(dir, "msg"), []byte("the data groups' hashes, as a document signer signs them"))
	for _, c := range []*Curve{brainpoolP224r1, brainpoolP256r1, brainpoolP320r1, brainpoolP384r1, brainpoolP512r1} {
		key := filepath.Join(dir, c.Name+".pem")
		mustOpenSSL(t, "ecparam", "-name", c.Name, "-genkey", "-noout", "-out", key)
		spki := mustOpenSSL(t, "ec", "-in", key, "-pubout", "-outform", "DER", "-param_enc", "explicit")
		_, pubAny, err := ParseSubjectPublicKeyInfo(spki)
		if err != nil {
			t.Fatal(err)
		}
		pub := pubAny.(*ECPublicKey)
		if pub.Curve != c || !pub.Explicit {
			t.Fatalf("%s: key on %s", c.Name, pub.Curve)
		}
		for _, d := range opensslDigests {
			t.Run(fmt.Sprintf("%s/%s", c.Name, d.name), func(t *testing.T) {
				sigFile := filepath.Join(dir, c.Name+d.name+".sig")
				mustOpenSSL(t, "dgst", "-"+d.name, "-sign", key, "-out", sigFile, msg)
				sig := readFile(t, sigFile)
				r, s, err := ParseECDSASignature(sig)
				if err != nil {
					t.Fatal(err)
				}
				h := d.hash.New()
				h.Write(readFile(t, msg))
				digest := h.Sum(nil)
				if !VerifyECDSA(pub, digest, r, s) {
					t.Fatal("OpenSSL's signature does not verify")
				}
				alg := ecdsaAlgorithm(d.hash)
				if err := VerifySignature(pub, alg, 0, readFile(t, msg), sig); err != nil {
					t.Errorf("VerifySignature: %v", err)
				}
				// As BSI TR-03111 plain r‖s.
				l := (c.N.BitLen() + 7) / 8
				plain := append(r.FillBytes(make([]byte, l)), s.FillBytes(make([]byte, l))...)
				if err := VerifySignature(pub, plainAlgorithm(d.hash), 0, readFile(t, msg), plain); err != nil {
					t.Errorf("plain: %v", err)
				}
				// id-ecPublicKey naming the algorithm, the digest given.
				if err := VerifySignature(pub, AlgorithmIdentifier{Algorithm: OIDECPublicKey}, d.hash, readFile(t, msg), sig); err != nil {
					t.Errorf("id-ecPublicKey: %v", err)
				}
				if VerifyECDSA(pub, digest, r, new(big.Int).Xor(s, big.NewInt(1))) {
					t.Error("a flipped bit of s verifies")
				}
				// (The first byte: the last is cut off when the digest is
				// longer than the order.)
				if VerifyECDSA(pub, append([]byte{digest[0] ^ 1}, digest[1:]...), r, s) {
					t.Error("another digest verifies")
				}
				if err := VerifySignature(pub, alg, 0, readFile(t, msg), flipLast(sig)); !errors.Is(err, ErrBadSignature) {
					t.Errorf("flipped signature: %v", err)
				}
				if err := VerifySignature(pub, alg, 0, []byte("other"), sig); !errors.Is(err, ErrBadSignature) {
					t.Errorf("other message: %v", err)
				}
			})
		}
	}
}

func ecdsaAlgorithm(h crypto.Hash) AlgorithmIdentifier {
	oid := map[crypto.Hash][]int{crypto.SHA1: OIDECDSAWithSHA1, crypto.SHA224: OIDECDSAWithSHA224,
		crypto.SHA256: OIDECDSAWithSHA256, crypto.SHA384: OIDECDSAWithSHA384, crypto.SHA512: OIDECDSAWithSHA512}[h]
	return AlgorithmIdentifier{Algorithm: oid}
}

func plainAlgorithm(h crypto.Hash) AlgorithmIdentifier {
	last := map[crypto.Hash]int{crypto.SHA1: 1, crypto.SHA224: 2, crypto.SHA256: 3, crypto.SHA384: 4, crypto.SHA512: 5}[h]
	return AlgorithmIdentifier{Algorithm: []int{0, 4, 0, 127, 0, 7, 1, 1, 4, 1, last}}
}

// TestHashToInt: the leftmost bits of a long digest; a short one whole.
func TestHashToInt(t *testing.T) {
	n := new(big.Int).Lsh(big.NewInt(1), 520) // a 521-bit order, as P-521's
	d := make([]byte, 66)
	for i := range d {
		d[i] = 0xff
	}
	if got := hashToInt(d, n); got.BitLen() != 521 {
		t.Errorf("66 bytes for 521 bits: %d bits", got.BitLen())
	}
	sum := sha256.Sum256([]byte("x"))
	if got := hashToInt(sum[:], brainpoolP512r1.N); got.Cmp(new(big.Int).SetBytes(sum[:])) != 0 {
		t.Error("a short digest is not used whole")
	}
	n224 := brainpoolP224r1.N
	long := make([]byte, 64)
	rand.Read(long)
	if got := hashToInt(long, n224); got.Cmp(new(big.Int).SetBytes(long[:28])) != 0 {
		t.Error("a 512-bit digest on a 224-bit order is not its first 28 bytes")
	}
}

func BenchmarkVerifyECDSA(b *testing.B) {
	for _, c := range []*Curve{brainpoolP256r1, brainpoolP384r1, brainpoolP512r1, p256} {
		b.Run(c.Name, func(b *testing.B) {
			k, _ := rand.Int(rand.Reader, c.N)
			x, y, _ := c.scalarMult(c.Gx, c.Gy, k)
			pub := &ECPublicKey{Curve: c, X: x, Y: y}
			digest := make([]byte, 32)
			r, s := big.NewInt(12345), big.NewInt(67890)
			for b.Loop() {
				verifyGeneric(pub, digest, r, s)
			}
		})
	}
}
