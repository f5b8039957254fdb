package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var null = []byte{0x05, 0x00}

// TestBareRSAEncryption: the rsaEncryption OID as a signature algorithm
// (US and New Zealand SODs) is PKCS #1 v1.5 with the digest hash given.
func TestBareRSAEncryption(t *testing.T) {
	key := goKey(t, "rsa2048").(*rsa.PrivateKey)
	data := []byte("signed attributes")
	digest := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	for _, params := range [][]byte{null, nil} {
		alg := AlgorithmIdentifier{Algorithm: OIDRSAEncryption, Parameters: params}
		if err := VerifySignature(&key.PublicKey, alg, crypto.SHA256, data, sig); err != nil {
			t.Errorf("params % x: %v", params, err)
		}
		if err := VerifySignature(&key.PublicKey, alg, crypto.SHA384, data, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("the wrong hash: %v", err)
		}
		if err := VerifySignature(&key.PublicKey, alg, 0, data, sig); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("no hash: %v", err)
		}
		if err := VerifySignature(&key.PublicKey, alg, crypto.MD5, data, sig); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("MD5: %v", err)
		}
	}
	// The same signature under sha256WithRSAEncryption.
	if err := VerifySignature(&key.PublicKey, AlgorithmIdentifier{Algorithm: OIDSHA256WithRSA, Parameters: null}, 0, data, sig); err != nil {
		t.Error(err)
	}
	if err := VerifySignature(&key.PublicKey, AlgorithmIdentifier{Algorithm: OIDSHA256WithRSA, Parameters: []byte{0x02, 0x01, 0x00}}, 0, data, sig); !errors.Is(err, ErrMalformed) {
		t.Errorf("parameters: %v", err)
	}
}

func TestVerifySignatureRefusals(t *testing.T) {
	rsaKey := &goKey(t, "rsa2048").(*rsa.PrivateKey).PublicKey
	ecPriv := goKey(t, "P-256").(*ecdsa.PrivateKey)
	ecKey := ecKeyFromStd(t, &ecPriv.PublicKey)
	data := []byte("data")
	digest := sha256.Sum256(data)
	ecSig, _ := ecdsa.SignASN1(rand.Reader, ecPriv, digest[:])
	ecdsa256 := AlgorithmIdentifier{Algorithm: OIDECDSAWithSHA256}
	if err := VerifySignature(ecKey, ecdsa256, 0, data, ecSig); err != nil {
		t.Fatal(err)
	}
	// DER only: a non-minimal integer, trailing data.
	r, s, _ := ParseECDSASignature(ecSig)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.INTEGER, func(b *cryptobyte.Builder) { b.AddBytes(append([]byte{0, 0}, r.Bytes()...)) })
		b.AddASN1BigInt(s)
	})
	padded := b.BytesOrPanic()

	for name, tc := range map[string]struct {
		key  PublicKey
		alg  AlgorithmIdentifier
		hash crypto.Hash
		sig  []byte
		want error
	}{
		"RSA algorithm, EC key":    {ecKey, AlgorithmIdentifier{Algorithm: OIDSHA256WithRSA}, 0, ecSig, ErrKeyMismatch},
		"ECDSA algorithm, RSA key": {rsaKey, ecdsa256, 0, ecSig, ErrKeyMismatch},
		"nil key":                  {nil, ecdsa256, 0, ecSig, ErrKeyMismatch},
		"nil EC key":               {(*ECPublicKey)(nil), ecdsa256, 0, ecSig, ErrKeyMismatch},
		"unknown algorithm":        {ecKey, AlgorithmIdentifier{Algorithm: []int{1, 2, 3}}, 0, ecSig, ErrUnsupportedAlgorithm},
		"ECDSA with parameters":    {ecKey, AlgorithmIdentifier{Algorithm: OIDECDSAWithSHA256, Parameters: []byte{0x02, 0x01, 0x01}}, 0, ecSig, ErrMalformed},
		"ECDSA, trailing data":     {ecKey, ecdsa256, 0, append(ecSig, 0), ErrMalformed},
		"ECDSA, padded integer":    {ecKey, ecdsa256, 0, padded, ErrMalformed},
		"ECDSA, not DER":           {ecKey, ecdsa256, 0, []byte{1, 2, 3}, ErrMalformed},
		"ECDSA, flipped":           {ecKey, ecdsa256, 0, flipLast(ecSig), ErrBadSignature},
		"plain, wrong length":      {ecKey, plainAlgorithm(crypto.SHA256), 0, make([]byte, 63), ErrMalformed},
		"id-ecPublicKey, no hash":  {ecKey, AlgorithmIdentifier{Algorithm: OIDECPublicKey}, 0, ecSig, ErrUnsupportedAlgorithm},
		"PSS without parameters":   {rsaKey, AlgorithmIdentifier{Algorithm: OIDRSASSAPSS}, 0, ecSig, ErrMalformed},
		"PSS, bad parameters":      {rsaKey, AlgorithmIdentifier{Algorithm: OIDRSASSAPSS, Parameters: null}, 0, ecSig, ErrMalformed},
	} {
		if err := VerifySignature(tc.key, tc.alg, tc.hash, data, tc.sig); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// pssParams encodes RSASSA-PSS-params; zero fields are left out.
func pssParams(hash, mgf, mgfHash []int, salt, trailer int64) []byte {
	var b cryptobyte.Builder
	alg := func(b *cryptobyte.Builder, oid []int, params func(*cryptobyte.Builder)) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			if params != nil {
				params(b)
			}
		})
	}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if hash != nil {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				alg(b, hash, func(b *cryptobyte.Builder) { b.AddASN1NULL() })
			})
		}
		if mgf != nil {
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				alg(b, mgf, func(b *cryptobyte.Builder) { alg(b, mgfHash, nil) })
			})
		}
		if salt != 0 {
			b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(salt) })
		}
		if trailer != 0 {
			b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(trailer) })
		}
	})
	return b.BytesOrPanic()
}

func TestPSSParameters(t *testing.T) {
	sha1, sha256o, sha512o := []int(oidSHA1), []int(oidSHA256), []int(oidSHA512)
	mgf1 := []int(oidMGF1)
	for name, tc := range map[string]struct {
		der  []byte
		want PSSParameters
		err  error
	}{
		"defaults":                {pssParams(nil, nil, nil, 0, 0), PSSParameters{crypto.SHA1, crypto.SHA1, 20}, nil},
		"defaults written out":    {pssParams(sha1, mgf1, sha1, 20, 1), PSSParameters{crypto.SHA1, crypto.SHA1, 20}, nil},
		"SHA-256, salt 32":        {pssParams(sha256o, mgf1, sha256o, 32, 0), PSSParameters{crypto.SHA256, crypto.SHA256, 32}, nil},
		"SHA-512, MGF1 default":   {pssParams(sha512o, nil, nil, 64, 0), PSSParameters{crypto.SHA512, crypto.SHA1, 64}, nil},
		"trailer 2":               {pssParams(nil, nil, nil, 0, 2), PSSParameters{}, ErrUnsupportedAlgorithm},
		"another mask generation": {pssParams(nil, []int{1, 2, 3}, sha1, 0, 0), PSSParameters{}, ErrUnsupportedAlgorithm},
		"unknown hash":            {pssParams([]int{1, 2, 3}, nil, nil, 0, 0), PSSParameters{}, ErrUnsupportedAlgorithm},
		"trailing data":           {append(pssParams(nil, nil, nil, 0, 0), 0), PSSParameters{}, ErrMalformed},
		"negative salt":           {pssParams(nil, nil, nil, -1, 0), PSSParameters{}, ErrMalformed},
		"NULL":                    {null, PSSParameters{}, ErrMalformed},
	} {
		got, err := ParsePSSParameters(tc.der)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v, %v", name, got, err, tc.want, tc.err)
		}
	}
	// What crypto/rsa cannot verify is refused before it is tried: MGF1
	// over another hash, and an empty salt (crypto/rsa reads salt length
	// 0 as "any").
	key := &goKey(t, "rsa2048").(*rsa.PrivateKey).PublicKey
	var zeroSalt cryptobyte.Builder
	zeroSalt.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(0) })
	})
	for name, params := range map[string][]byte{
		"MGF1 hash differs": pssParams(sha512o, nil, nil, 64, 0),
		"salt 0":            zeroSalt.BytesOrPanic(),
	} {
		err := VerifySignature(key, AlgorithmIdentifier{Algorithm: OIDRSASSAPSS, Parameters: params}, 0, []byte("x"), make([]byte, 256))
		if !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("%s: %v, want ErrUnsupportedAlgorithm", name, err)
		}
	}
}

func TestDigestAlgorithm(t *testing.T) {
	for _, d := range digestOIDs {
		for _, p := range [][]byte{nil, null} {
			if h, err := DigestAlgorithm(AlgorithmIdentifier{Algorithm: d.oid, Parameters: p}); err != nil || h != d.hash {
				t.Errorf("%v: %v %v", d.oid, h, err)
			}
		}
	}
	if _, err := DigestAlgorithm(AlgorithmIdentifier{Algorithm: []int{1, 2, 840, 113549, 2, 5}}); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("MD5: %v", err)
	}
	if _, err := DigestAlgorithm(AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: []byte{0x02, 0x01, 0x00}}); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("parameters: %v", err)
	}
	a, err := ParseAlgorithmIdentifier([]byte{0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01})
	if err != nil || !a.Equal(AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: null}) || a.String() != "SHA-256" {
		t.Errorf("%v %v", a, err)
	}
	if _, err := ParseAlgorithmIdentifier([]byte{0x30, 0x00}); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty: %v", err)
	}
}
