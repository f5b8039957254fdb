package pki

import (
	"bytes"
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"math/big"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TestNamedCurveConstants checks each curve's constants for what they
// must be: P and N prime, G on the curve, N·G = O, (N−1)·G = −G, the
// order within Hasse's bound, and brainpool's a ≠ −3.
func TestNamedCurveConstants(t *testing.T) {
	if len(NamedCurves()) != 9 {
		t.Fatalf("%d curves", len(NamedCurves()))
	}
	for _, c := range NamedCurves() {
		t.Run(c.Name, func(t *testing.T) {
			if !c.P.ProbablyPrime(32) || !c.N.ProbablyPrime(32) {
				t.Error("P or N is not prime")
			}
			if c.H != 1 {
				t.Errorf("cofactor %d", c.H)
			}
			if c.ByteLen() != (c.P.BitLen()+7)/8 {
				t.Errorf("ByteLen %d", c.ByteLen())
			}
			if !c.IsOnCurve(c.Gx, c.Gy) {
				t.Fatal("G is not on the curve")
			}
			// The discriminant 4a³ + 27b² is not 0.
			d := new(big.Int).Exp(c.A, big.NewInt(3), c.P)
			d.Mul(d, big.NewInt(4))
			d.Add(d, new(big.Int).Mul(big.NewInt(27), new(big.Int).Mul(c.B, c.B)))
			if d.Mod(d, c.P).Sign() == 0 {
				t.Error("singular curve")
			}
			// |N·H − (P+1)| ≤ 2√P
			diff := new(big.Int).Sub(new(big.Int).Mul(c.N, big.NewInt(int64(c.H))), new(big.Int).Add(c.P, big.NewInt(1)))
			diff.Abs(diff)
			if diff.Mul(diff, diff).Cmp(new(big.Int).Mul(big.NewInt(4), c.P)) > 0 {
				t.Error("order outside Hasse's bound")
			}
			if _, _, ok := c.scalarMult(c.Gx, c.Gy, c.N); ok {
				t.Error("N·G is not the point at infinity")
			}
			x, y, ok := c.scalarMult(c.Gx, c.Gy, new(big.Int).Sub(c.N, big.NewInt(1)))
			if !ok || x.Cmp(c.Gx) != 0 || y.Cmp(new(big.Int).Sub(c.P, c.Gy)) != 0 {
				t.Error("(N−1)·G is not −G")
			}
			aIsMinus3 := new(big.Int).Add(c.A, big.NewInt(3)).Cmp(c.P) == 0
			if brainpool := c.std == nil; brainpool == aIsMinus3 {
				t.Errorf("a = −3: %v", aIsMinus3)
			}
			if got, ok := CurveByOID(c.OID); !ok || got != c {
				t.Error("CurveByOID")
			}
			if got, ok := CurveByName(c.Name); !ok || got != c {
				t.Error("CurveByName")
			}
		})
	}
	if _, ok := CurveByOID(asn1.ObjectIdentifier{1, 3, 132, 0, 10}); ok { // secp256k1
		t.Error("CurveByOID(secp256k1)")
	}
}

var opensslCurveNames = map[string]string{
	"P-224": "secp224r1", "P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1",
}

func opensslCurveName(c *Curve) string {
	if n, ok := opensslCurveNames[c.Name]; ok {
		return n
	}
	return c.Name
}

// TestCurvesMatchOpenSSL: OpenSSL's encodings of each curve, by name and
// with explicit parameters, map to it.
func TestCurvesMatchOpenSSL(t *testing.T) {
	for _, c := range NamedCurves() {
		for _, enc := range []string{"named_curve", "explicit"} {
			der := mustOpenSSL(t, "ecparam", "-name", opensslCurveName(c), "-param_enc", enc, "-outform", "DER")
			got, explicit, err := ParseECParameters(der)
			if err != nil {
				t.Errorf("%s %s: %v", c.Name, enc, err)
				continue
			}
			if got != c || explicit != (enc == "explicit") {
				t.Errorf("%s %s: got %v, explicit %v", c.Name, enc, got, explicit)
			}
		}
	}
}

// specifiedECDomain encodes explicit parameters for tests.
func specifiedECDomain(p, a, b *big.Int, base []byte, n *big.Int, cofactor int64, byteLen int) []byte {
	var bld cryptobyte.Builder
	fe := func(v *big.Int) []byte { return v.FillBytes(make([]byte, byteLen)) }
	bld.AddASN1(cbasn1.SEQUENCE, func(b2 *cryptobyte.Builder) {
		b2.AddASN1Int64(1)
		b2.AddASN1(cbasn1.SEQUENCE, func(f *cryptobyte.Builder) {
			f.AddASN1ObjectIdentifier(oidPrimeField)
			f.AddASN1BigInt(p)
		})
		b2.AddASN1(cbasn1.SEQUENCE, func(cv *cryptobyte.Builder) {
			cv.AddASN1OctetString(fe(a))
			cv.AddASN1OctetString(fe(b))
		})
		b2.AddASN1OctetString(base)
		b2.AddASN1BigInt(n)
		if cofactor != 0 {
			b2.AddASN1Int64(cofactor)
		}
	})
	return bld.BytesOrPanic()
}

// TestExplicitParametersRefused: explicit parameters that differ from
// every named curve in any way are refused, including a named curve
// with another generator (the CurveBall attack) and a curve that is
// fine but unknown here (secp256k1).
func TestExplicitParametersRefused(t *testing.T) {
	c := brainpoolP256r1
	g2x, g2y, _ := c.scalarMult(c.Gx, c.Gy, big.NewInt(2))
	one := big.NewInt(1)
	k1p := mustHex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F")
	k1n := mustHex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141")
	k1g := append([]byte{4}, append(
		mustHex("79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798").FillBytes(make([]byte, 32)),
		mustHex("483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8").FillBytes(make([]byte, 32))...)...)
	g := c.EncodePoint(c.Gx, c.Gy)
	for name, der := range map[string][]byte{
		"another generator": specifiedECDomain(c.P, c.A, c.B, c.EncodePoint(g2x, g2y), c.N, 1, 32),
		"another a":         specifiedECDomain(c.P, new(big.Int).Add(c.A, one), c.B, g, c.N, 1, 32),
		"another b":         specifiedECDomain(c.P, c.A, new(big.Int).Add(c.B, one), g, c.N, 1, 32),
		"another order":     specifiedECDomain(c.P, c.A, c.B, g, new(big.Int).Add(c.N, one), 1, 32),
		"cofactor 2":        specifiedECDomain(c.P, c.A, c.B, g, c.N, 2, 32),
		"off-curve base":    specifiedECDomain(c.P, c.A, c.B, flipLast(g), c.N, 1, 32),
		"secp256k1":         specifiedECDomain(k1p, new(big.Int), big.NewInt(7), k1g, k1n, 1, 32),
	} {
		_, _, err := ParseECParameters(der)
		if !errors.Is(err, ErrUnknownCurve) {
			t.Errorf("%s: %v, want ErrUnknownCurve", name, err)
		}
	}
	// The same parameters without the cofactor, and with a compressed
	// base point, are the named curve.
	for name, der := range map[string][]byte{
		"no cofactor":     specifiedECDomain(c.P, c.A, c.B, g, c.N, 0, 32),
		"compressed base": specifiedECDomain(c.P, c.A, c.B, compress(c, c.Gx, c.Gy), c.N, 1, 32),
	} {
		got, explicit, err := ParseECParameters(der)
		if err != nil || got != c || !explicit {
			t.Errorf("%s: %v %v %v", name, got, explicit, err)
		}
	}
	for name, der := range map[string][]byte{
		"implicitlyCA": {0x05, 0x00},
		"unknown OID":  {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a},
	} {
		if _, _, err := ParseECParameters(der); !errors.Is(err, ErrUnknownCurve) {
			t.Errorf("%s: %v, want ErrUnknownCurve", name, err)
		}
	}
	if _, _, err := ParseECParameters(append(specifiedECDomain(c.P, c.A, c.B, g, c.N, 1, 32), 0)); !errors.Is(err, ErrMalformed) {
		t.Errorf("trailing byte: %v", err)
	}
}

func flipLast(b []byte) []byte {
	out := bytes.Clone(b)
	out[len(out)-1] ^= 1
	return out
}

func compress(c *Curve, x, y *big.Int) []byte {
	out := make([]byte, 1+c.ByteLen())
	out[0] = byte(2 + y.Bit(0))
	x.FillBytes(out[1:])
	return out
}

// TestScalarMultMatchesECDH checks the generic arithmetic on the NIST
// curves against crypto/ecdh.
func TestScalarMultMatchesECDH(t *testing.T) {
	for _, tc := range []struct {
		c    *Curve
		ecdh ecdh.Curve
	}{{p256, ecdh.P256()}, {p384, ecdh.P384()}, {p521, ecdh.P521()}} {
		for range 8 {
			priv, err := tc.ecdh.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			k := new(big.Int).SetBytes(priv.Bytes())
			x, y, ok := tc.c.scalarMult(tc.c.Gx, tc.c.Gy, k)
			if !ok || !bytes.Equal(tc.c.EncodePoint(x, y), priv.PublicKey().Bytes()) {
				t.Fatalf("%s: k·G differs from crypto/ecdh", tc.c.Name)
			}
		}
	}
}

func TestDecodePoint(t *testing.T) {
	for _, c := range NamedCurves() {
		k, _ := rand.Int(rand.Reader, c.N)
		x, y, _ := c.scalarMult(c.Gx, c.Gy, k)
		un := c.EncodePoint(x, y)
		if gx, gy, err := c.DecodePoint(un); err != nil || gx.Cmp(x) != 0 || gy.Cmp(y) != 0 {
			t.Errorf("%s uncompressed: %v", c.Name, err)
		}
		for _, p := range [][2]*big.Int{{x, y}, {x, new(big.Int).Sub(c.P, y)}} {
			comp := compress(c, p[0], p[1])
			if gx, gy, err := c.DecodePoint(comp); err != nil || gx.Cmp(p[0]) != 0 || gy.Cmp(p[1]) != 0 {
				t.Errorf("%s compressed %02x: %v", c.Name, comp[0], err)
			}
			if c.std != nil {
				ex, ey := elliptic.UnmarshalCompressed(c.std, comp)
				if ex == nil || ex.Cmp(p[0]) != 0 || ey.Cmp(p[1]) != 0 {
					t.Errorf("%s compressed: crypto/elliptic disagrees", c.Name)
				}
			}
		}
		xp := new(big.Int).Add(x, c.P) // x + p: the same residue, out of range
		bad := map[string][]byte{
			"infinity":       {0},
			"empty":          {},
			"off the curve":  flipLast(un),
			"hybrid":         append([]byte{6 + byte(y.Bit(0))}, un[1:]...),
			"short":          un[:len(un)-1],
			"long":           append(bytes.Clone(un), 0),
			"compressed, 04": append([]byte{4}, un[1:1+c.ByteLen()]...),
		}
		if xp.BitLen() <= 8*c.ByteLen() {
			bad["x ≥ p"] = append([]byte{4}, append(xp.FillBytes(make([]byte, c.ByteLen())), un[1+c.ByteLen():]...)...)
			bad["compressed x ≥ p"] = append([]byte{2}, xp.FillBytes(make([]byte, c.ByteLen()))...)
		}
		// An x that is no point's: try x = 0, 1, 2, …
		for i := int64(0); ; i++ {
			xi := big.NewInt(i)
			if new(big.Int).ModSqrt(c.rhs(xi), c.P) == nil {
				bad["compressed, no such x"] = compress(c, xi, big.NewInt(0))
				break
			}
		}
		for name, data := range bad {
			if _, _, err := c.DecodePoint(data); !errors.Is(err, ErrInvalidPoint) {
				t.Errorf("%s %s: %v, want ErrInvalidPoint", c.Name, name, err)
			}
		}
	}
}

// TestSPKIExplicitFile: a SubjectPublicKeyInfo with explicit parameters
// as OpenSSL writes it.
func TestSPKIExplicitFile(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.pem")
	mustOpenSSL(t, "ecparam", "-name", "brainpoolP384r1", "-genkey", "-noout", "-out", key)
	for _, enc := range []string{"named_curve", "explicit"} {
		der := mustOpenSSL(t, "ec", "-in", key, "-pubout", "-outform", "DER", "-param_enc", enc)
		alg, pub, err := ParseSubjectPublicKeyInfo(der)
		if err != nil {
			t.Fatal(enc, err)
		}
		k, ok := pub.(*ECPublicKey)
		if !ok || k.Curve != brainpoolP384r1 || k.Explicit != (enc == "explicit") || !alg.Algorithm.Equal(OIDECPublicKey) {
			t.Errorf("%s: %#v", enc, pub)
		}
		// A compressed point is read too.
		comp := mustOpenSSL(t, "ec", "-in", key, "-pubout", "-outform", "DER", "-param_enc", enc, "-conv_form", "compressed")
		_, pub2, err := ParseSubjectPublicKeyInfo(comp)
		if err != nil || !pub2.(*ECPublicKey).Equal(k) {
			t.Errorf("%s compressed: %v", enc, err)
		}
	}
}
