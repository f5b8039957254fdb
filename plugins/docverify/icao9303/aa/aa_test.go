package aa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	keysOnce         sync.Once
	rsa1024, rsa2048 *rsa.PrivateKey
)

func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
		if rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return rsa1024, rsa2048
}

// The signer below is written from ISO/IEC 9796-2 scheme 1 independently
// of VerifyRSA: it lays out F by hand and applies the private exponent
// with math/big.

// representative is F = 0x6A ‖ M1 ‖ hash(M1 ‖ challenge) ‖ trailer, the
// size of the modulus, M1 random.
func representative(t testing.TB, priv *rsa.PrivateKey, h crypto.Hash, trailer, challenge []byte) []byte {
	t.Helper()
	k := priv.N.BitLen() / 8
	m1 := make([]byte, k-1-h.Size()-len(trailer))
	rand.Read(m1)
	d := h.New()
	d.Write(m1)
	d.Write(challenge)
	f := append([]byte{0x6A}, m1...)
	f = append(f, d.Sum(nil)...)
	return append(f, trailer...)
}

// rawSign is F^d mod n, the size of the modulus.
func rawSign(priv *rsa.PrivateKey, f []byte) []byte {
	s := new(big.Int).Exp(new(big.Int).SetBytes(f), priv.D, priv.N)
	return s.FillBytes(make([]byte, (priv.N.BitLen()+7)/8))
}

// complement is n − s: the other half of ISO/IEC 9796-2's min(s, n − s).
func complement(priv *rsa.PrivateKey, sig []byte) []byte {
	s := new(big.Int).Sub(priv.N, new(big.Int).SetBytes(sig))
	return s.FillBytes(make([]byte, len(sig)))
}

var challenge = []byte{0x47, 0xe4, 0xee, 0x7f, 0x21, 0x1f, 0x73, 0x26}

func TestVerifyRSA(t *testing.T) {
	k1024, k2048 := keys(t)
	for _, c := range []struct {
		name    string
		priv    *rsa.PrivateKey
		h       crypto.Hash
		trailer []byte
	}{
		{"1024 SHA-1 0xBC", k1024, crypto.SHA1, []byte{0xBC}},
		{"1024 SHA-256 0x34CC", k1024, crypto.SHA256, []byte{0x34, 0xCC}},
		{"2048 SHA-1 0xBC", k2048, crypto.SHA1, []byte{0xBC}},
		{"2048 SHA-1 0x33CC", k2048, crypto.SHA1, []byte{0x33, 0xCC}},
		{"2048 SHA-224 0x38CC", k2048, crypto.SHA224, []byte{0x38, 0xCC}},
		{"2048 SHA-256 0x34CC", k2048, crypto.SHA256, []byte{0x34, 0xCC}},
		{"2048 SHA-384 0x36CC", k2048, crypto.SHA384, []byte{0x36, 0xCC}},
		{"2048 SHA-512 0x35CC", k2048, crypto.SHA512, []byte{0x35, 0xCC}},
		{"1024 SHA-512 0x35CC", k1024, crypto.SHA512, []byte{0x35, 0xCC}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sig := rawSign(c.priv, representative(t, c.priv, c.h, c.trailer, challenge))
			if err := VerifyRSA(&c.priv.PublicKey, challenge, sig); err != nil {
				t.Fatalf("s: %v", err)
			}
			if err := VerifyRSA(&c.priv.PublicKey, challenge, complement(c.priv, sig)); err != nil {
				t.Fatalf("n − s: %v", err)
			}
			// Negatives.
			other := bytes.Clone(challenge)
			other[7] ^= 1
			if err := VerifyRSA(&c.priv.PublicKey, other, sig); !errors.Is(err, ErrInvalidSignature) ||
				!strings.Contains(err.Error(), "another challenge") {
				t.Errorf("another challenge: %v", err)
			}
			for _, i := range []int{0, len(sig) / 2, len(sig) - 1} {
				bad := bytes.Clone(sig)
				bad[i] ^= 0x01
				if err := VerifyRSA(&c.priv.PublicKey, challenge, bad); !errors.Is(err, ErrInvalidSignature) {
					t.Errorf("byte %d flipped: %v", i, err)
				}
			}
			if err := VerifyRSA(&anotherKey().PublicKey, challenge, sig); err == nil {
				t.Error("another key verified it")
			}
		})
	}
}

// otherKey is a key that signed nothing here.
var otherKey struct {
	sync.Once
	k *rsa.PrivateKey
}

func anotherKey() *rsa.PrivateKey {
	otherKey.Do(func() {
		var err error
		if otherKey.k, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
	})
	return otherKey.k
}

func TestVerifyRSARefusals(t *testing.T) {
	k1024, _ := keys(t)
	pub := &k1024.PublicKey
	good := representative(t, k1024, crypto.SHA1, []byte{0xBC}, challenge)
	withHeader := func(f []byte, h byte) []byte { f = bytes.Clone(f); f[0] = h; return f }
	withTrailer := func(f []byte, tr ...byte) []byte {
		f = bytes.Clone(f)
		copy(f[len(f)-len(tr):], tr)
		return f
	}
	// Total recovery: 0x4B BB … BA ‖ M ‖ hash(M) ‖ BC, here with M the challenge.
	total := func() []byte {
		d := crypto.SHA1.New()
		d.Write(challenge)
		tail := append(append(bytes.Clone(challenge), d.Sum(nil)...), 0xBC)
		f := bytes.Repeat([]byte{0xBB}, 128-len(tail))
		f[0], f[len(f)-1] = 0x4B, 0xBA
		return append(f, tail...)
	}()
	for name, c := range map[string]struct {
		sig  []byte
		want error
		says string
	}{
		"trailer 0x12":            {rawSign(k1024, withTrailer(good, 0x12)), ErrInvalidSignature, ""},
		"an unknown identifier":   {rawSign(k1024, withTrailer(good, 0x3F, 0xCC)), ErrInvalidSignature, "unknown hash identifier"},
		"RIPEMD-160":              {rawSign(k1024, withTrailer(good, 0x31, 0xCC)), ErrUnsupported, "RIPEMD-160"},
		"SHA-256 trailer on SHA1": {rawSign(k1024, withTrailer(good, 0x34, 0xCC)), ErrInvalidSignature, "hash(M1 ‖ challenge)"},
		"trailer 0xAC":            {rawSign(k1024, withTrailer(good, 0xAC)), ErrInvalidSignature, "trailer 0xAC"},
		"header 0x4A":             {rawSign(k1024, withHeader(good, 0x4A)), ErrInvalidSignature, "total message recovery"},
		"total recovery":          {rawSign(k1024, total), ErrInvalidSignature, "total message recovery"},
		"header 0x6B":             {rawSign(k1024, withHeader(good, 0x6B)), ErrInvalidSignature, "not 0x6A"},
		"header 0x2A":             {rawSign(k1024, withHeader(good, 0x2A)), ErrInvalidSignature, "not 01"},
		"a short representative":  {rawSign(k1024, withHeader(good, 0x00)), ErrInvalidSignature, "shorter than the modulus"},
		"a byte short":            {rawSign(k1024, good)[1:], ErrInvalidSignature, "127 bytes"},
		"a byte long":             {append([]byte{0}, rawSign(k1024, good)...), ErrInvalidSignature, "129 bytes"},
		"zero":                    {make([]byte, 128), ErrInvalidSignature, "between 0 and the modulus"},
		"the modulus":             {k1024.N.FillBytes(make([]byte, 128)), ErrInvalidSignature, "between 0 and the modulus"},
		"random":                  {func() []byte { b := make([]byte, 128); rand.Read(b); b[0] &= 0x7F; return b }(), ErrInvalidSignature, ""},
	} {
		t.Run(name, func(t *testing.T) {
			err := VerifyRSA(pub, challenge, c.sig)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("got %v; want %v saying %q", err, c.want, c.says)
			}
		})
	}
}

// publicOfPrimes makes a public key of two random primes of the sizes
// given, which rsa.GenerateKey will not make (too short, or odd sizes).
func publicOfPrimes(t *testing.T, bits1, bits2, e int) *rsa.PublicKey {
	t.Helper()
	p, err := rand.Prime(rand.Reader, bits1)
	if err != nil {
		t.Fatal(err)
	}
	q, err := rand.Prime(rand.Reader, bits2)
	if err != nil {
		t.Fatal(err)
	}
	return &rsa.PublicKey{N: new(big.Int).Mul(p, q), E: e}
}

func TestVerifyRSAKeys(t *testing.T) {
	k1024, _ := keys(t)
	short := publicOfPrimes(t, 384, 384, 65537)
	odd := publicOfPrimes(t, 520, 521, 65537)
	if odd.N.BitLen()%8 == 0 {
		t.Skip("the odd-size modulus came out a whole number of bytes")
	}
	for name, c := range map[string]struct {
		pub  *rsa.PublicKey
		says string
	}{
		"768 bits":            {short, "at least 1024"},
		"not whole bytes":     {odd, "not a whole number of bytes"},
		"9000 bits":           {&rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 9000), E: 3}, "at most 8192"},
		"even exponent":       {&rsa.PublicKey{N: k1024.N, E: 2}, "odd exponent"},
		"exponent 1":          {&rsa.PublicKey{N: k1024.N, E: 1}, "odd exponent"},
		"no key":              {nil, "no RSA key"},
		"no modulus":          {&rsa.PublicKey{E: 3}, "no RSA key"},
		"a negative modulus":  {&rsa.PublicKey{N: big.NewInt(-7), E: 3}, "no RSA key"},
		"a modulus of 0":      {&rsa.PublicKey{N: new(big.Int), E: 3}, "no RSA key"},
		"a negative exponent": {&rsa.PublicKey{N: k1024.N, E: -3}, "odd exponent"},
	} {
		t.Run(name, func(t *testing.T) {
			err := VerifyRSA(c.pub, challenge, make([]byte, 128))
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("got %v; want ErrUnsupported saying %q", err, c.says)
			}
		})
	}
	if err := VerifyRSA(&k1024.PublicKey, nil, make([]byte, 128)); err == nil {
		t.Error("no challenge: no error")
	}
}

// p256 is a test ECVerifier on crypto/ecdsa.
type p256 struct{ pub *ecdsa.PublicKey }

func (v p256) VerifyPlain(digest, rs []byte) error {
	if len(rs) != 64 {
		return errors.New("not 64 bytes")
	}
	r, s := new(big.Int).SetBytes(rs[:32]), new(big.Int).SetBytes(rs[32:])
	if !ecdsa.Verify(v.pub, digest, r, s) {
		return errors.New("ECDSA verification failed")
	}
	return nil
}

var _ ECVerifier = p256{}

// signPlain signs hash(msg) as plain r ‖ s.
func signPlain(t *testing.T, priv *ecdsa.PrivateKey, h crypto.Hash, msg []byte) []byte {
	t.Helper()
	d := h.New()
	d.Write(msg)
	r, s, err := ecdsa.Sign(rand.Reader, priv, d.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
}

func TestVerifyECDSAPlain(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v := p256{&priv.PublicKey}
	sig := signPlain(t, priv, crypto.SHA256, challenge)
	if err := VerifyECDSAPlain(v, crypto.SHA256, challenge, sig); err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(challenge)
	other[0] ^= 0x80
	flipped := bytes.Clone(sig)
	flipped[40] ^= 1
	for name, c := range map[string]struct {
		v         ECVerifier
		h         crypto.Hash
		ch, sig   []byte
		want      error
		wantInner bool
	}{
		"another challenge": {v, crypto.SHA256, other, sig, ErrInvalidSignature, true},
		"a flipped byte":    {v, crypto.SHA256, challenge, flipped, ErrInvalidSignature, true},
		"another hash":      {v, crypto.SHA384, challenge, sig, ErrInvalidSignature, true},
		"odd length":        {v, crypto.SHA256, challenge, sig[:63], ErrInvalidSignature, false},
		"empty":             {v, crypto.SHA256, challenge, nil, ErrInvalidSignature, false},
		"no hash":           {v, 0, challenge, sig, ErrUnsupported, false},
		"MD5":               {v, crypto.MD5, challenge, sig, ErrUnsupported, false},
		"no verifier":       {nil, crypto.SHA256, challenge, sig, ErrUnsupported, false},
	} {
		t.Run(name, func(t *testing.T) {
			err := VerifyECDSAPlain(c.v, c.h, c.ch, c.sig)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if c.wantInner && !strings.Contains(err.Error(), "ECDSA verification failed") {
				t.Errorf("the verifier's error is lost: %v", err)
			}
		})
	}
}

func dg15(spki []byte) []byte {
	var b cryptobyte.Builder
	b.AddUint8(0x6F)
	switch n := len(spki); {
	case n < 0x80:
		b.AddUint8(uint8(n))
	case n < 0x100:
		b.AddUint8(0x81)
		b.AddUint8(uint8(n))
	default:
		b.AddUint8(0x82)
		b.AddUint16(uint16(n))
	}
	b.AddBytes(spki)
	return b.BytesOrPanic()
}

// p256Parser is a test ECKeyParser for named P-256 keys.
func p256Parser(spki []byte) (ECVerifier, error) {
	k, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 key")
	}
	return p256{pub}, nil
}

func TestParseDG15(t *testing.T) {
	k1024, k2048 := keys(t)
	for _, priv := range []*rsa.PrivateKey{k1024, k2048} {
		spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParseDG15(dg15(spki))
		if err != nil {
			t.Fatal(err)
		}
		if !k.Algorithm.Equal(oidRSAEncryption) || !k.RSA.Equal(&priv.PublicKey) || !bytes.Equal(k.SPKI, spki) {
			t.Errorf("got %+v", k)
		}
		sig := rawSign(priv, representative(t, priv, crypto.SHA256, []byte{0x34, 0xCC}, challenge))
		if err := k.Verify(nil, 0, challenge, sig); err != nil {
			t.Errorf("PublicKey.Verify: %v", err)
		}
	}

	// rsaEncryption without the NULL parameters.
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidRSAEncryption) })
		b.AddASN1BitString(x509.MarshalPKCS1PublicKey(&k1024.PublicKey))
	})
	if k, err := ParseDG15(dg15(b.BytesOrPanic())); err != nil || !k.RSA.Equal(&k1024.PublicKey) {
		t.Errorf("RSA without NULL parameters: %v, %v", k, err)
	}

	// The modulus without the leading zero its top bit needs (negative in
	// DER), as the BSI 2008 reference passport has it.
	var neg cryptobyte.Builder
	neg.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidRSAEncryption)
			b.AddASN1NULL()
		})
		b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
			b.AddUint8(0)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.INTEGER, func(b *cryptobyte.Builder) { b.AddBytes(k1024.N.Bytes()) })
				b.AddASN1Int64(int64(k1024.E))
			})
		})
	})
	if k1024.N.Bytes()[0]&0x80 == 0 {
		t.Fatal("the test key's modulus does not have its top bit set")
	}
	if k, err := ParseDG15(dg15(neg.BytesOrPanic())); err != nil || !k.RSA.Equal(&k1024.PublicKey) {
		t.Errorf("a modulus lacking its leading zero: %v, %v", k, err)
	}

	// An EC key: its SPKI, for an ECKeyParser.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseDG15(dg15(spki))
	if err != nil {
		t.Fatal(err)
	}
	if k.RSA != nil || !k.Algorithm.Equal(oidECPublicKey) || !bytes.Equal(k.SPKI, spki) {
		t.Errorf("EC key: %+v", k)
	}
	sig := signPlain(t, priv, crypto.SHA256, challenge)
	if err := k.Verify(nil, crypto.SHA256, challenge, sig); !errors.Is(err, ErrNoECKeyParser) {
		t.Errorf("EC without a parser: %v", err)
	}
	if err := k.Verify(p256Parser, crypto.SHA256, challenge, sig); err != nil {
		t.Errorf("EC with a parser: %v", err)
	}
	if err := k.Verify(p256Parser, crypto.SHA256, challenge[1:], sig); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("EC, another challenge: %v", err)
	}
	failing := func([]byte) (ECVerifier, error) { return nil, errors.New("explicit parameters of an unknown curve") }
	if err := k.Verify(failing, crypto.SHA256, challenge, sig); err == nil || !strings.Contains(err.Error(), "unknown curve") {
		t.Errorf("EC with a failing parser: %v", err)
	}

	// Other keys.
	edPub := []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}
	edPub = append(edPub, make([]byte, 32)...)
	if _, err := ParseDG15(dg15(edPub)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Ed25519: %v", err)
	}
	var ecNoParams cryptobyte.Builder
	ecNoParams.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidECPublicKey) })
		b.AddASN1BitString([]byte{4, 1, 2})
	})

	rsaSPKI, _ := x509.MarshalPKIXPublicKey(&k1024.PublicKey)
	good := dg15(rsaSPKI)
	for name, b := range map[string][]byte{
		"empty":                nil,
		"another tag":          append([]byte{0x6E}, good[1:]...),
		"trailing data":        append(bytes.Clone(good), 0),
		"trailing in the SPKI": dg15(append(bytes.Clone(rsaSPKI), 0x05, 0x00)),
		"truncated":            good[:len(good)-1],
		"indefinite":           append([]byte{0x6F, 0x80}, append(bytes.Clone(rsaSPKI), 0, 0)...),
		"not an SPKI":          dg15([]byte{0x04, 0x02, 0x01, 0x02}),
		"EC without params":    dg15(ecNoParams.BytesOrPanic()),
		"a broken RSA key":     dg15(bytes.Replace(bytes.Clone(rsaSPKI), []byte{0x02, 0x81, 0x81}, []byte{0x04, 0x81, 0x81}, 1)),
	} {
		t.Run(name, func(t *testing.T) {
			k, err := ParseDG15(b)
			if !errors.Is(err, ErrMalformed) || k != nil {
				t.Fatalf("got %v, %v; want ErrMalformed", k, err)
			}
		})
	}
}

// securityInfo is SEQUENCE { protocol, then the DER elements given }.
func securityInfo(proto asn1.ObjectIdentifier, rest ...func(*cryptobyte.Builder)) func(*cryptobyte.Builder) {
	return func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(proto)
			for _, r := range rest {
				r(b)
			}
		})
	}
}

func integer(v int64) func(*cryptobyte.Builder) {
	return func(b *cryptobyte.Builder) { b.AddASN1Int64(v) }
}

func oid(o asn1.ObjectIdentifier) func(*cryptobyte.Builder) {
	return func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(o) }
}

func dg14(infos ...func(*cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, i := range infos {
			i(b)
		}
	})
	set := b.BytesOrPanic()
	out := dg15(set)
	out[0] = 0x6E
	return out
}

var (
	// PACE, chip authentication and terminal authentication infos, as
	// a DG14 or a CardAccess has them.
	paceInfo = securityInfo(asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 2, 2, 4, 2, 2}, integer(2), integer(13))
	caInfo   = securityInfo(asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 2, 2, 3, 2, 1}, integer(1))
	taInfo   = securityInfo(asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 2, 2, 2}, integer(1))
)

func aaInfo(version int64, alg asn1.ObjectIdentifier) func(*cryptobyte.Builder) {
	return securityInfo(oidAAProtocol, integer(version), oid(alg))
}

func plainOID(last int) asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier{}, oidECDSAPlain...), last)
}

func TestParseDG14AAInfo(t *testing.T) {
	for last, h := range map[int]crypto.Hash{1: crypto.SHA1, 2: crypto.SHA224, 3: crypto.SHA256, 4: crypto.SHA384, 5: crypto.SHA512} {
		info, err := ParseDG14AAInfo(dg14(paceInfo, caInfo, aaInfo(1, plainOID(last)), taInfo))
		if err != nil {
			t.Fatalf("ecdsa-plain .%d: %v", last, err)
		}
		if info.Hash != h || info.Version != 1 || !info.SignatureAlgorithm.Equal(plainOID(last)) {
			t.Errorf("ecdsa-plain .%d: %+v", last, info)
		}
	}
	// The ecdsa-plain-SHA256 of the brief: 0.4.0.127.0.7.1.1.4.1.3.
	if info, err := ParseDG14AAInfo(dg14(aaInfo(1, asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1, 3}))); err != nil || info.Hash != crypto.SHA256 {
		t.Errorf("ecdsa-plain-SHA256 alone: %+v, %v", info, err)
	}

	_, err := ParseDG14AAInfo(dg14(paceInfo, caInfo, taInfo))
	if !errors.Is(err, ErrNoAAInfo) || !strings.Contains(err.Error(), "3 other SecurityInfos: 0.4.0.127.0.7.2.2.4.2.2") {
		t.Errorf("no AA info: %v", err)
	}
	if _, err := ParseDG14AAInfo(dg14()); !errors.Is(err, ErrNoAAInfo) {
		t.Errorf("an empty set: %v", err)
	}

	good := dg14(caInfo, aaInfo(1, plainOID(3)))
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"version 2":                      {dg14(aaInfo(2, plainOID(3))), ErrUnsupported},
		"ecdsa-plain-RIPEMD160":          {dg14(aaInfo(1, plainOID(6))), ErrUnsupported},
		"ecdsa-with-SHA256":              {dg14(aaInfo(1, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2})), ErrUnsupported},
		"a longer OID":                   {dg14(aaInfo(1, append(plainOID(3), 1))), ErrUnsupported},
		"two AA infos":                   {dg14(aaInfo(1, plainOID(3)), aaInfo(1, plainOID(4))), ErrMalformed},
		"no version":                     {dg14(securityInfo(oidAAProtocol, oid(plainOID(3)))), ErrMalformed},
		"no algorithm":                   {dg14(securityInfo(oidAAProtocol, integer(1))), ErrMalformed},
		"more in the AA info":            {dg14(securityInfo(oidAAProtocol, integer(1), oid(plainOID(3)), integer(0))), ErrMalformed},
		"a SecurityInfo of only its OID": {dg14(securityInfo(oidAAProtocol)), ErrMalformed},
		"another tag":                    {append([]byte{0x6F}, good[1:]...), ErrMalformed},
		"trailing data":                  {append(bytes.Clone(good), 0), ErrMalformed},
		"truncated":                      {good[:len(good)-1], ErrMalformed},
		"a SEQUENCE, not a SET":          {append([]byte{good[0], good[1], 0x30}, good[3:]...), ErrMalformed},
		"empty":                          {nil, ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			info, err := ParseDG14AAInfo(c.b)
			if !errors.Is(err, c.want) || info != nil {
				t.Fatalf("got %+v, %v; want %v", info, err, c.want)
			}
		})
	}
}
