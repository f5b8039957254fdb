package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"math/big"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// seedCertificates are certificates of every kind the tests make:
// crypto/x509's (RSA, PSS, NIST curves) and OpenSSL's (brainpool and
// explicit parameters, PSS keys).
func seedCertificates(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, tc := range []struct {
		key string
		alg x509.SignatureAlgorithm
	}{{"rsa2048", x509.SHA256WithRSA}, {"rsa2048", x509.SHA256WithRSAPSS}, {"P-256", x509.ECDSAWithSHA256}, {"P-521", x509.ECDSAWithSHA512}} {
		tmpl := cscaTemplate("CSCA seed", 1)
		tmpl.SignatureAlgorithm = tc.alg
		der, _ := goCert(f, tmpl, goKey(f, tc.key), nil, nil)
		seeds = append(seeds, der)
	}
	dir := opensslDir(f)
	ca := opensslCSCA(f, dir, "csca", "ec:brainpoolP384r1:explicit", "/C=XX/O=Segl Test/CN=CSCA XX", "sha384")
	dsc := ca.issue(f, "dsc", "ec:prime256v1:explicit", "/C=XX/CN=DSC XX", "sha256", "dsc_critical", 7)
	pss := opensslCSCA(f, dir, "pss", "rsa-pss", "/C=XX/CN=PSS", "sha256", "rsa_padding_mode:pss", "rsa_pss_saltlen:32")
	return append(seeds, ca.der, dsc.der, pss.der)
}

func FuzzParseCertificate(f *testing.F) {
	for _, der := range seedCertificates(f) {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := ParseCertificate(der)
		if err != nil {
			if c != nil {
				t.Fatal("a certificate and an error")
			}
			return
		}
		if !bytes.Equal(c.Raw, der) {
			t.Fatal("Raw is not the input")
		}
		again, err := ParseCertificate(c.Raw)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("parsing Raw again: %v", err)
		}
		if _, key, err := ParseSubjectPublicKeyInfo(c.RawSubjectPublicKeyInfo); err != nil || !reflect.DeepEqual(key, c.PublicKey) {
			t.Fatalf("parsing the SubjectPublicKeyInfo again: %v", err)
		}
		if k, ok := c.PublicKey.(*ECPublicKey); ok && !k.Curve.IsOnCurve(k.X, k.Y) {
			t.Fatal("an EC key off its curve")
		}
		if n, err := ParseName(c.RawSubject); err != nil || !n.Equal(c.Subject) {
			t.Fatalf("parsing the subject again: %v", err)
		}
		_ = c.Subject.String() + c.Issuer.String()
		_ = c.CheckSignatureFrom(c)
	})
}

func seedCRLs(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, tc := range []struct {
		key string
		alg x509.SignatureAlgorithm
	}{{"rsa2048", x509.SHA256WithRSA}, {"P-256", x509.ECDSAWithSHA256}} {
		tmpl := cscaTemplate("CSCA seed", 1)
		tmpl.SignatureAlgorithm = tc.alg
		_, ca := goCert(f, tmpl, goKey(f, tc.key), nil, nil)
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			SignatureAlgorithm: tc.alg, Number: big.NewInt(3), ThisUpdate: testNow, NextUpdate: testNow.AddDate(0, 1, 0),
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(5), RevocationTime: testNow, ReasonCode: 4}},
		}, ca, goKey(f, tc.key))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, der)
	}
	dir := opensslDir(f)
	ca := opensslCSCA(f, dir, "csca", "ec:brainpoolP256r1:explicit", "/C=XX/CN=CSCA XX", "sha256")
	dsc := ca.issue(f, "dsc", "ec:brainpoolP256r1", "/C=XX/CN=DSC", "sha256", "dsc", 9)
	cnf := filepath.Join(dir, "openssl.cnf")
	mustOpenSSL(f, "ca", "-config", cnf, "-keyfile", ca.key, "-cert", ca.pem, "-md", "sha256", "-revoke", dsc.pem, "-crl_reason", "keyCompromise")
	out := filepath.Join(dir, "crl.pem")
	mustOpenSSL(f, "ca", "-config", cnf, "-keyfile", ca.key, "-cert", ca.pem, "-md", "sha256", "-gencrl", "-crlexts", "crlext_critical", "-out", out)
	return append(seeds, pemDER(f, out))
}

func FuzzParseCRL(f *testing.F) {
	for _, der := range seedCRLs(f) {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		crl, err := ParseCRL(der)
		if err != nil {
			if crl != nil {
				t.Fatal("a CRL and an error")
			}
			return
		}
		if !bytes.Equal(crl.Raw, der) {
			t.Fatal("Raw is not the input")
		}
		again, err := ParseCRL(crl.Raw)
		if err != nil || !reflect.DeepEqual(crl, again) {
			t.Fatalf("parsing Raw again: %v", err)
		}
		for _, e := range crl.Revoked {
			if !crl.IsRevoked(e.SerialNumber) {
				t.Fatalf("%v listed but not revoked", e.SerialNumber)
			}
		}
		_ = crl.Issuer.String()
	})
}

func FuzzDecodePoint(f *testing.F) {
	for i, c := range namedCurves {
		f.Add(uint8(i), c.EncodePoint(c.Gx, c.Gy))
		f.Add(uint8(i), compress(c, c.Gx, c.Gy))
		f.Add(uint8(i), flipLast(c.EncodePoint(c.Gx, c.Gy)))
		f.Add(uint8(i), []byte{0})
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		c := namedCurves[int(which)%len(namedCurves)]
		x, y, err := c.DecodePoint(data)
		if err != nil {
			return
		}
		if !c.IsOnCurve(x, y) {
			t.Fatal("decoded a point off the curve")
		}
		enc := c.EncodePoint(x, y)
		if data[0] == 4 && !bytes.Equal(enc, data) {
			t.Fatal("the uncompressed encoding is not stable")
		}
		if (data[0] == 2 || data[0] == 3) && !bytes.Equal(compress(c, x, y), data) {
			t.Fatal("the compressed encoding is not stable")
		}
		x2, y2, err := c.DecodePoint(enc)
		if err != nil || x2.Cmp(x) != 0 || y2.Cmp(y) != 0 {
			t.Fatalf("decoding the encoding again: %v", err)
		}
		// Exercise the arithmetic with the point as key and as
		// signature; on the NIST curves the generic code must agree with
		// crypto/ecdsa.
		pub := &ECPublicKey{Curve: c, X: x, Y: y}
		r, s := new(big.Int).Mod(x, c.N), new(big.Int).Mod(y, c.N)
		generic := verifyGeneric(pub, data, r, s)
		if c.std != nil && generic != VerifyECDSA(pub, data, r, s) {
			t.Fatal("the generic ECDSA and crypto/ecdsa disagree")
		}
	})
}

func FuzzName(f *testing.F) {
	f.Add(nameDER(f, rdn(ps(oidC, "MY")), rdn(u8(oidO, "Government of Malaysia")), rdn(u8(oidCN, " CSCA  Malaysia"))))
	f.Add(nameDER(f, rdn(ps(oidC, "gb"), bmp(oidO, "UKKPA")), rdn(atv{oidCN, cbasn1.Tag(28), "\x00\x00\x00A"})))
	f.Add(nameDER(f))
	f.Fuzz(func(t *testing.T, in []byte) {
		n, err := ParseName(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("an error that is not ErrMalformed: %v", err)
			}
			if EqualNames(in, in) {
				t.Fatal("a Name that does not parse equals itself")
			}
			return
		}
		_ = n.String()
		if out := n.Marshal(); !bytes.Equal(out, in) {
			t.Fatalf("re-encoding differs\nin  % x\nout % x", in, out)
		}
		if !EqualNames(in, in) {
			t.Fatal("a Name is not equal to itself")
		}
		// The same attributes with the RDNs in the reverse order.
		rev := slices.Clone(n)
		slices.Reverse(rev)
		if !EqualNames(in, rev.Marshal()) {
			t.Fatal("a Name with its RDNs reversed is another name")
		}
	})
}
