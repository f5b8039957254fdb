package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// compareWithX509 checks what ParseCertificate read against crypto/x509
// reading the same certificate.
func compareWithX509(t *testing.T, ours *Certificate, theirs *x509.Certificate) {
	t.Helper()
	for name, pair := range map[string][2][]byte{
		"Raw":                     {ours.Raw, theirs.Raw},
		"RawTBSCertificate":       {ours.RawTBSCertificate, theirs.RawTBSCertificate},
		"RawIssuer":               {ours.RawIssuer, theirs.RawIssuer},
		"RawSubject":              {ours.RawSubject, theirs.RawSubject},
		"RawSubjectPublicKeyInfo": {ours.RawSubjectPublicKeyInfo, theirs.RawSubjectPublicKeyInfo},
		"Signature":               {ours.Signature, theirs.Signature},
		"SubjectKeyID":            {ours.SubjectKeyID, theirs.SubjectKeyId},
		"AuthorityKeyID":          {ours.AuthorityKeyID, theirs.AuthorityKeyId},
	} {
		if !bytes.Equal(pair[0], pair[1]) {
			t.Errorf("%s differs from crypto/x509's", name)
		}
	}
	if ours.Version != theirs.Version || ours.SerialNumber.Cmp(theirs.SerialNumber) != 0 ||
		!ours.NotBefore.Equal(theirs.NotBefore) || !ours.NotAfter.Equal(theirs.NotAfter) ||
		ours.KeyUsage != theirs.KeyUsage || ours.BasicConstraintsValid != theirs.BasicConstraintsValid ||
		ours.IsCA != theirs.IsCA {
		t.Errorf("fields differ from crypto/x509's: %+v", ours)
	}
	if theirs.BasicConstraintsValid && ours.MaxPathLen != theirs.MaxPathLen {
		t.Errorf("MaxPathLen %d, crypto/x509 %d", ours.MaxPathLen, theirs.MaxPathLen)
	}
	if ours.Subject.String() != theirs.Subject.String() || ours.Issuer.String() != theirs.Issuer.String() {
		t.Errorf("names %q / %q, crypto/x509 %q / %q", ours.Subject, ours.Issuer, theirs.Subject, theirs.Issuer)
	}
	switch k := theirs.PublicKey.(type) {
	case *rsa.PublicKey:
		if !k.Equal(ours.PublicKey) {
			t.Error("RSA key differs")
		}
	case *ecdsa.PublicKey:
		if !ecKeyFromStd(t, k).Equal(ours.PublicKey.(*ECPublicKey)) || ours.PublicKey.(*ECPublicKey).Explicit {
			t.Error("EC key differs")
		}
	}
}

// TestGoMadeChains: CSCA → DSC chains crypto/x509 makes, with RSA
// (PKCS #1 v1.5 and PSS) and ECDSA on the NIST curves, named.
func TestGoMadeChains(t *testing.T) {
	cases := []struct {
		name       string
		csca, dsc  string
		alg        x509.SignatureAlgorithm
		wantScheme string
	}{
		{"sha256WithRSA", "rsa3072", "rsa2048", x509.SHA256WithRSA, "sha256WithRSAEncryption"},
		{"sha1WithRSA", "rsa2048", "rsa2048b", x509.SHA1WithRSA, "sha1WithRSAEncryption"},
		{"sha384WithRSA", "rsa3072", "rsa2048", x509.SHA384WithRSA, "sha384WithRSAEncryption"},
		{"sha512WithRSA", "rsa3072", "P-256", x509.SHA512WithRSA, "sha512WithRSAEncryption"},
		{"PSS SHA-256", "rsa3072", "rsa2048", x509.SHA256WithRSAPSS, "RSASSA-PSS"},
		{"PSS SHA-384", "rsa3072", "rsa2048", x509.SHA384WithRSAPSS, "RSASSA-PSS"},
		{"PSS SHA-512", "rsa3072", "P-384", x509.SHA512WithRSAPSS, "RSASSA-PSS"},
		{"P-256", "P-256", "P-256b", x509.ECDSAWithSHA256, "ecdsa-with-SHA256"},
		{"P-384 → P-256", "P-384", "P-256", x509.ECDSAWithSHA384, "ecdsa-with-SHA384"},
		{"P-521 → P-384", "P-521", "P-384", x509.ECDSAWithSHA512, "ecdsa-with-SHA512"},
		{"P-224 with SHA-1", "P-224", "P-224b", x509.ECDSAWithSHA1, "ecdsa-with-SHA1"},
		{"P-256 → RSA", "P-256", "rsa2048", x509.ECDSAWithSHA256, "ecdsa-with-SHA256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cscaKey, dscKey := goKey(t, tc.csca), goKey(t, tc.dsc)
			tmpl := cscaTemplate("CSCA "+tc.name, 1)
			tmpl.SignatureAlgorithm = tc.alg
			tmpl.NotAfter = time.Date(2060, 1, 1, 0, 0, 0, 0, time.UTC) // a GeneralizedTime
			cscaDER, cscaX := goCert(t, tmpl, cscaKey, nil, nil)
			dt := dscTemplate("DSC "+tc.name, 1001)
			dt.SignatureAlgorithm = tc.alg
			dscDER, dscX := goCert(t, dt, dscKey, cscaX, cscaKey)

			csca, dsc := mustParse(t, cscaDER), mustParse(t, dscDER)
			compareWithX509(t, csca, cscaX)
			compareWithX509(t, dsc, dscX)
			if dsc.SignatureAlgorithm.String() != tc.wantScheme {
				t.Errorf("algorithm %s", dsc.SignatureAlgorithm)
			}
			if err := csca.CheckSignatureFrom(csca); err != nil {
				t.Errorf("CSCA self-signature: %v", err)
			}
			if err := dsc.CheckSignatureFrom(csca); err != nil {
				t.Errorf("DSC from CSCA: %v", err)
			}

			// A flipped byte in the TBS (in the subject's CN).
			tampered := mustParse(t, flipIn(t, dscDER, "DSC "+tc.name))
			if err := tampered.CheckSignatureFrom(csca); !errors.Is(err, ErrBadSignature) {
				t.Errorf("flipped TBS byte: %v, want ErrBadSignature", err)
			}
			// A flipped signature.
			tampered = mustParse(t, dscDER)
			tampered.Signature = flipLast(tampered.Signature)
			if err := tampered.CheckSignatureFrom(csca); !errors.Is(err, ErrBadSignature) {
				t.Errorf("flipped signature: %v, want ErrBadSignature", err)
			}
			// Another CSCA of the same name, with another key.
			otherKey := goKey(t, map[bool]string{true: "rsa2048b", false: "P-256b"}[isRSA(cscaKey)])
			if tc.csca == "rsa2048" || tc.csca == "P-256b" {
				otherKey = goKey(t, map[bool]string{true: "rsa3072", false: "P-256"}[isRSA(cscaKey)])
			}
			otherDER, _ := goCert(t, tmpl, otherKey, nil, nil)
			if err := dsc.CheckSignatureFrom(mustParse(t, otherDER)); !errors.Is(err, ErrBadSignature) {
				t.Errorf("same name, other key: %v, want ErrBadSignature", err)
			}
			// A CSCA of another name.
			wrongDER, _ := goCert(t, cscaTemplate("Another CSCA", 2), cscaKey, nil, nil)
			if err := dsc.CheckSignatureFrom(mustParse(t, wrongDER)); !errors.Is(err, ErrIssuerMismatch) {
				t.Errorf("other name: %v, want ErrIssuerMismatch", err)
			}
			// The DSC is no CA: what it "signs" is refused.
			subDER, _ := goCert(t, dscTemplate("Sub", 3), dscKey, dscX, dscKey)
			if err := mustParse(t, subDER).CheckSignatureFrom(dsc); !errors.Is(err, ErrNotAuthorized) {
				t.Errorf("issued by the DSC: %v, want ErrNotAuthorized", err)
			}
		})
	}
}

func isRSA(k crypto.Signer) bool { _, ok := k.(*rsa.PrivateKey); return ok }

// TestOpenSSLMadeChains: chains OpenSSL makes (req -x509 -newkey, x509
// -req), with brainpool and NIST curves named and explicit, RSA with
// PKCS #1 v1.5 and PSS (its parameters, defaults, and PSS keys).
func TestOpenSSLMadeChains(t *testing.T) {
	pss := func(salt int, mgf string) []string {
		o := []string{"rsa_padding_mode:pss", fmt.Sprintf("rsa_pss_saltlen:%d", salt)}
		if mgf != "" {
			o = append(o, "rsa_mgf1_md:"+mgf)
		}
		return o
	}
	cases := []struct {
		name            string
		cscaKey, cscaMD string
		dscKey, dscMD   string
		sigopts         []string // for both signatures
		wantCSCA        string
		wantDSC         string
		explicit        bool
		wantPSS         *PSSParameters
		wantUnsupported bool
		criticalUnknown bool
		pssKey          bool // the keys are id-RSASSA-PSS keys
		emptyPSSParams  bool // OpenSSL leaves every default out
	}{
		{name: "AT: brainpoolP384r1 → brainpoolP256r1, explicit", cscaKey: "ec:brainpoolP384r1:explicit", cscaMD: "sha384",
			dscKey: "ec:brainpoolP256r1:explicit", dscMD: "sha384", wantCSCA: "brainpoolP384r1", wantDSC: "brainpoolP256r1", explicit: true},
		{name: "DE: brainpoolP512r1 → brainpoolP384r1, named", cscaKey: "ec:brainpoolP512r1", cscaMD: "sha512",
			dscKey: "ec:brainpoolP384r1", dscMD: "sha512", wantCSCA: "brainpoolP512r1", wantDSC: "brainpoolP384r1"},
		{name: "brainpoolP224r1 → brainpoolP320r1, explicit", cscaKey: "ec:brainpoolP224r1:explicit", cscaMD: "sha224",
			dscKey: "ec:brainpoolP320r1:explicit", dscMD: "sha256", wantCSCA: "brainpoolP224r1", wantDSC: "brainpoolP320r1", explicit: true},
		{name: "brainpoolP320r1 → brainpoolP224r1, named", cscaKey: "ec:brainpoolP320r1", cscaMD: "sha256",
			dscKey: "ec:brainpoolP224r1", dscMD: "sha1", wantCSCA: "brainpoolP320r1", wantDSC: "brainpoolP224r1"},
		{name: "FI: brainpoolP512r1 → brainpoolP512r1, explicit", cscaKey: "ec:brainpoolP512r1:explicit", cscaMD: "sha512",
			dscKey: "ec:brainpoolP512r1:explicit", dscMD: "sha512", wantCSCA: "brainpoolP512r1", wantDSC: "brainpoolP512r1", explicit: true},
		{name: "RU: P-256 explicit, ecdsa-with-SHA1", cscaKey: "ec:prime256v1:explicit", cscaMD: "sha1",
			dscKey: "ec:prime256v1:explicit", dscMD: "sha1", wantCSCA: "P-256", wantDSC: "P-256", explicit: true},
		{name: "UK: P-384 → P-256, explicit", cscaKey: "ec:secp384r1:explicit", cscaMD: "sha256",
			dscKey: "ec:prime256v1:explicit", dscMD: "sha256", wantCSCA: "P-384", wantDSC: "P-256", explicit: true},
		{name: "P-521 → P-224, explicit", cscaKey: "ec:secp521r1:explicit", cscaMD: "sha512",
			dscKey: "ec:secp224r1:explicit", dscMD: "sha384", wantCSCA: "P-521", wantDSC: "P-224", explicit: true},
		{name: "sha224WithRSA, an unknown critical extension", cscaKey: "rsa:2048", cscaMD: "sha224",
			dscKey: "rsa:2048", dscMD: "sha224", wantCSCA: "RSA", wantDSC: "RSA", criticalUnknown: true},
		{name: "PSS SHA-256, salt 32", cscaKey: "rsa:2048", cscaMD: "sha256", dscKey: "rsa:2048", dscMD: "sha256",
			sigopts: pss(32, "sha256"), wantCSCA: "RSA", wantDSC: "RSA", wantPSS: &PSSParameters{crypto.SHA256, crypto.SHA256, 32}},
		{name: "PSS SHA-512, salt 64", cscaKey: "rsa:3072", cscaMD: "sha512", dscKey: "rsa:2048", dscMD: "sha512",
			sigopts: pss(64, ""), wantCSCA: "RSA", wantDSC: "RSA", wantPSS: &PSSParameters{crypto.SHA512, crypto.SHA512, 64}},
		{name: "PSS, all defaults (SHA-1, salt 20)", cscaKey: "rsa:2048", cscaMD: "sha1", dscKey: "rsa:2048", dscMD: "sha1",
			sigopts: pss(20, "sha1"), wantCSCA: "RSA", wantDSC: "RSA", wantPSS: &PSSParameters{crypto.SHA1, crypto.SHA1, 20}, emptyPSSParams: true},
		{name: "PSS keys (id-RSASSA-PSS)", cscaKey: "rsa-pss", cscaMD: "sha256", dscKey: "rsa-pss", dscMD: "sha256",
			sigopts: pss(32, "sha256"), wantCSCA: "RSA", wantDSC: "RSA", wantPSS: &PSSParameters{crypto.SHA256, crypto.SHA256, 32}, pssKey: true},
		{name: "PSS with MGF1-SHA-1 under SHA-256", cscaKey: "rsa:2048", cscaMD: "sha256", dscKey: "rsa:2048", dscMD: "sha256",
			sigopts: pss(32, "sha1"), wantCSCA: "RSA", wantDSC: "RSA", wantPSS: &PSSParameters{crypto.SHA256, crypto.SHA1, 32}, wantUnsupported: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := opensslDir(t)
			ca := opensslCSCA(t, dir, "csca", tc.cscaKey, "/C=XX/O=Segl Test/CN=CSCA XX", tc.cscaMD, tc.sigopts...)
			ext := "dsc"
			if tc.criticalUnknown {
				ext = "dsc_critical"
			}
			ds := ca.issue(t, "dsc", tc.dscKey, "/C=XX/O=Segl Test/OU=Document Signer/CN=DSC XX", tc.dscMD, ext, 4242, tc.sigopts...)
			csca, dsc := mustParse(t, ca.der), mustParse(t, ds.der)
			for _, c := range []struct {
				what     string
				cert     *Certificate
				want     string
				explicit bool
			}{{"CSCA", csca, tc.wantCSCA, tc.explicit}, {"DSC", dsc, tc.wantDSC, tc.explicit}} {
				kind, explicit := keyKindOf(c.cert.PublicKey)
				if kind != c.want || explicit != c.explicit {
					t.Errorf("%s key %s (explicit %v), want %s (explicit %v)", c.what, kind, explicit, c.want, c.explicit)
				}
			}
			if !csca.IsCA || csca.MaxPathLen != 0 || csca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign || csca.SubjectKeyID == nil {
				t.Errorf("CSCA extensions: %+v", csca)
			}
			if dsc.SerialNumber.Int64() != 4242 || dsc.Version != 3 || !bytes.Equal(dsc.AuthorityKeyID, csca.SubjectKeyID) {
				t.Errorf("DSC: serial %v, version %d, AKI %x (CSCA's SKI %x)", dsc.SerialNumber, dsc.Version, dsc.AuthorityKeyID, csca.SubjectKeyID)
			}
			if tc.criticalUnknown {
				if len(dsc.UnhandledCriticalExtensions) != 1 || !dsc.UnhandledCriticalExtensions[0].Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}) {
					t.Errorf("unhandled critical extensions %v", dsc.UnhandledCriticalExtensions)
				}
			} else if len(dsc.UnhandledCriticalExtensions) != 0 {
				t.Errorf("unhandled critical extensions %v", dsc.UnhandledCriticalExtensions)
			}
			if tc.emptyPSSParams != bytes.Equal(dsc.SignatureAlgorithm.Parameters, []byte{0x30, 0x00}) {
				t.Errorf("PSS parameters % x", dsc.SignatureAlgorithm.Parameters)
			}
			if tc.pssKey != dsc.PublicKeyAlgorithm.Algorithm.Equal(OIDRSASSAPSS) {
				t.Errorf("key algorithm %s", dsc.PublicKeyAlgorithm)
			}
			if tc.wantPSS != nil {
				p, err := ParsePSSParameters(dsc.SignatureAlgorithm.Parameters)
				if err != nil || p != *tc.wantPSS {
					t.Errorf("PSS parameters %+v, %v; want %+v", p, err, *tc.wantPSS)
				}
			}
			err := dsc.CheckSignatureFrom(csca)
			if tc.wantUnsupported {
				if !errors.Is(err, ErrUnsupportedAlgorithm) {
					t.Errorf("DSC from CSCA: %v, want ErrUnsupportedAlgorithm", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DSC from CSCA: %v", err)
			}
			if err := csca.CheckSignatureFrom(csca); err != nil {
				t.Errorf("CSCA self-signature: %v", err)
			}
			if err := mustParse(t, flipIn(t, ds.der, "DSC XX")).CheckSignatureFrom(csca); !errors.Is(err, ErrBadSignature) {
				t.Errorf("flipped TBS byte: %v, want ErrBadSignature", err)
			}
			// The wrong issuer: a CSCA of the same name with another key.
			other := opensslCSCA(t, dir, "other", tc.cscaKey, "/C=XX/O=Segl Test/CN=CSCA XX", tc.cscaMD, tc.sigopts...)
			if err := dsc.CheckSignatureFrom(mustParse(t, other.der)); !errors.Is(err, ErrBadSignature) {
				t.Errorf("same name, other key: %v, want ErrBadSignature", err)
			}
			if err := dsc.CheckSignatureFrom(dsc); !errors.Is(err, ErrIssuerMismatch) {
				t.Errorf("DSC from itself: %v, want ErrIssuerMismatch", err)
			}
			// An off-curve point: the last byte of the DSC's key.
			if k, ok := dsc.PublicKey.(*ECPublicKey); ok {
				point := k.Bytes()
				i := bytes.Index(ds.der, point)
				if i < 0 {
					t.Fatal("the DSC's point is not in its DER")
				}
				bad := bytes.Clone(ds.der)
				bad[i+len(point)-1] ^= 1
				if _, err := ParseCertificate(bad); !errors.Is(err, ErrInvalidPoint) {
					t.Errorf("off-curve point: %v, want ErrInvalidPoint", err)
				}
			}
		})
	}
}

func keyKindOf(k PublicKey) (string, bool) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return "RSA", false
	case *ECPublicKey:
		return k.Curve.Name, k.Explicit
	}
	return fmt.Sprintf("%T", k), false
}

// TestExplicitCurveBallRefused: a certificate whose explicit parameters
// are brainpoolP256r1's with another generator does not parse.
func TestExplicitCurveBallRefused(t *testing.T) {
	dir := opensslDir(t)
	ca := opensslCSCA(t, dir, "csca", "ec:brainpoolP256r1:explicit", "/C=XX/O=Segl Test/CN=CSCA XX", "sha256")
	c := brainpoolP256r1
	g := c.EncodePoint(c.Gx, c.Gy)
	i := bytes.Index(ca.der, g)
	if i < 0 {
		t.Fatal("no base point in the DER")
	}
	g2x, g2y, _ := c.scalarMult(c.Gx, c.Gy, big.NewInt(2))
	bad := append(append(bytes.Clone(ca.der[:i]), c.EncodePoint(g2x, g2y)...), ca.der[i+len(g):]...)
	if _, err := ParseCertificate(bad); !errors.Is(err, ErrUnknownCurve) {
		t.Errorf("%v, want ErrUnknownCurve", err)
	}
}

// TestCertificateEncodings: DER only, nothing after the certificate,
// the same algorithm inside and outside the TBS.
func TestCertificateEncodings(t *testing.T) {
	key := goKey(t, "P-256")
	tmpl := cscaTemplate("CSCA encodings", 1)
	tmpl.SignatureAlgorithm = x509.ECDSAWithSHA256
	der, _ := goCert(t, tmpl, key, nil, nil)
	mustParse(t, der)
	if der[0] != 0x30 || der[1] != 0x82 {
		t.Fatalf("header % x", der[:4])
	}
	body := der[4:]
	nonMinimal := append([]byte{0x30, 0x83, 0, der[2], der[3]}, body...)
	indefinite := append(append([]byte{0x30, 0x80}, body...), 0, 0)
	sigOID := []byte{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}
	last := bytes.LastIndex(der, sigOID)
	otherOuter := bytes.Clone(der)
	otherOuter[last+len(sigOID)-1] = 0x03 // ecdsa-with-SHA384 outside, SHA256 inside
	for name, in := range map[string][]byte{
		"trailing byte":        append(bytes.Clone(der), 0),
		"another certificate":  append(bytes.Clone(der), der...),
		"truncated":            der[:len(der)-1],
		"empty":                nil,
		"non-minimal length":   nonMinimal,
		"indefinite length":    indefinite,
		"algorithms differ":    otherOuter,
		"not a SEQUENCE":       append([]byte{0x31}, der[1:]...),
		"garbage":              []byte("-----BEGIN CERTIFICATE-----"),
		"TBS only":             mustParse(t, der).RawTBSCertificate,
		"extensions in a v1":   handCert(t, handOptions{version: 0, exts: [][]byte{bcExt(nil, 0xff, 0)}}),
		"negative path length": handCert(t, handOptions{version: 2, exts: [][]byte{bcExt(nil, 0xff, -1)}}),
		"extension twice":      handCert(t, handOptions{version: 2, exts: [][]byte{bcExt(nil, 0xff, 0), bcExt(nil, 0xff, 0)}}),
		"empty extensions":     handCert(t, handOptions{version: 2, exts: [][]byte{}}),
		"BOOLEAN of 2 bytes":   handCert(t, handOptions{version: 2, exts: [][]byte{bcExt([]byte{0xff, 0xff}, 0xff, 0)}}),
		"version 4":            handCert(t, handOptions{version: 3}),
		"time not in UTC":      handCert(t, handOptions{version: 2, notBefore: "260101000000+0100"}),
		"time without seconds": handCert(t, handOptions{version: 2, notBefore: "2601010000Z"}),
		"fractional seconds":   handCert(t, handOptions{version: 2, notBefore: "20260101000000.5Z", generalized: true}),
		"UTCTime of 4 digits":  handCert(t, handOptions{version: 2, notBefore: "20260101000000Z"}),
	} {
		if _, err := ParseCertificate(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// handOptions describe a certificate made by hand, to be wrong on
// purpose in ways crypto/x509 will not write.
type handOptions struct {
	version     int64    // the [0] version's value; −1 leaves it out
	exts        [][]byte // each a whole Extension; nil: no [3] at all
	notBefore   string   // the UTCTime (or GeneralizedTime) text
	generalized bool
}

// handCert makes a self-signed P-256 certificate from opts.
func handCert(t *testing.T, opts handOptions) []byte {
	t.Helper()
	key := goKey(t, "P-256").(*ecdsa.PrivateKey)
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := asn1.Marshal(pkix.Name{CommonName: "Hand-made CSCA", Country: []string{"XX"}}.ToRDNSequence())
	if opts.notBefore == "" {
		opts.notBefore = "260101000000Z"
	}
	alg := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(OIDECDSAWithSHA256) })
	}
	var tb cryptobyte.Builder
	tb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if opts.version >= 0 {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(opts.version) })
		}
		b.AddASN1Int64(77)
		alg(b)
		b.AddBytes(name)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			tag := cbasn1.UTCTime
			if opts.generalized {
				tag = cbasn1.GeneralizedTime
			}
			b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(opts.notBefore)) })
			b.AddASN1(cbasn1.UTCTime, func(b *cryptobyte.Builder) { b.AddBytes([]byte("360101000000Z")) })
		})
		b.AddBytes(name)
		b.AddBytes(spki)
		if opts.exts != nil {
			b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, e := range opts.exts {
						b.AddBytes(e)
					}
				})
			})
		}
	})
	tbs := tb.BytesOrPanic()
	digest := sha256.Sum256(tbs)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	var cb cryptobyte.Builder
	cb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		alg(b)
		b.AddASN1BitString(sig)
	})
	return cb.BytesOrPanic()
}

// bcExt is a basicConstraints extension: critical written as the given
// BOOLEAN contents (nil: left out), cA as the byte ca, and pathLen (or
// none when < −1).
func bcExt(critical []byte, ca byte, pathLen int64) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{2, 5, 29, 19})
		if critical != nil {
			b.AddASN1(cbasn1.BOOLEAN, func(b *cryptobyte.Builder) { b.AddBytes(critical) })
		}
		b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.BOOLEAN, func(b *cryptobyte.Builder) { b.AddBytes([]byte{ca}) })
				if pathLen >= -1 {
					b.AddASN1Int64(pathLen)
				}
			})
		})
	})
	return b.BytesOrPanic()
}

// TestCertificateLenientBooleans: the two departures from DER that real
// CSCAs need: cA TRUE written as 01 (Ukraine's CSCA of 2015), and an
// explicit critical FALSE. The signature covers the bytes as they are.
func TestCertificateLenientBooleans(t *testing.T) {
	for name, tc := range map[string]struct {
		critical []byte
		ca       byte
		wantCA   bool
		wantCrit bool
	}{
		"cA 01":            {nil, 0x01, true, false},
		"critical 01":      {[]byte{0x01}, 0xff, true, true},
		"critical FALSE":   {[]byte{0x00}, 0xff, true, false},
		"cA FALSE written": {nil, 0x00, false, false},
	} {
		c := mustParse(t, handCert(t, handOptions{version: 2, exts: [][]byte{bcExt(tc.critical, tc.ca, -2)}}))
		if !c.BasicConstraintsValid || c.IsCA != tc.wantCA || c.MaxPathLen != -1 || c.Extensions[0].Critical != tc.wantCrit {
			t.Errorf("%s: %+v", name, c)
		}
		err := c.CheckSignatureFrom(c)
		if tc.wantCA && err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !tc.wantCA && !errors.Is(err, ErrNotAuthorized) {
			t.Errorf("%s: %v, want ErrNotAuthorized", name, err)
		}
	}
	if c := mustParse(t, handCert(t, handOptions{version: 2, notBefore: "20260101000000Z", generalized: true})); !c.NotBefore.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("GeneralizedTime: %v", c.NotBefore)
	}
	if c := mustParse(t, handCert(t, handOptions{version: 2, notBefore: "500101000000Z"})); c.NotBefore.Year() != 1950 {
		t.Errorf("UTCTime 50: %v", c.NotBefore)
	}
	// Version 1 and 2 certificates without extensions; a v3 issuer
	// without basicConstraints may not sign.
	for v, want := range map[int64]error{-1: nil, 0: nil, 1: nil, 2: ErrNotAuthorized} {
		opts := handOptions{version: v}
		if v == 2 {
			opts.exts = [][]byte{ekuExt()}
		}
		c := mustParse(t, handCert(t, opts))
		if wantV := int(max(v, 0)) + 1; c.Version != wantV {
			t.Errorf("version %d: %d", v, c.Version)
		}
		if err := c.CheckSignatureFrom(c); !errors.Is(err, want) {
			t.Errorf("version %d: %v, want %v", v, err, want)
		}
		if v == 2 && (len(c.ExtKeyUsage) != 1 || !c.ExtKeyUsage[0].Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2})) {
			t.Errorf("extKeyUsage %v", c.ExtKeyUsage)
		}
	}
	// An extKeyUsage without a purpose is malformed.
	if _, err := ParseCertificate(handCert(t, handOptions{version: 2, exts: [][]byte{{0x30, 0x09, 0x06, 0x03, 0x55, 0x1d, 0x25, 0x04, 0x02, 0x30, 0x00}}})); !errors.Is(err, ErrMalformed) {
		t.Errorf("an empty extKeyUsage: %v", err)
	}
}

// ekuExt is an extKeyUsage extension (not critical).
func ekuExt() []byte {
	return []byte{0x30, 0x13, 0x06, 0x03, 0x55, 0x1d, 0x25, 0x04, 0x0c, 0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02}
}

func TestNames(t *testing.T) {
	parse := func(n pkix.Name) Name {
		der, _ := asn1.Marshal(n.ToRDNSequence())
		name, err := ParseName(der)
		if err != nil {
			t.Fatal(err)
		}
		return name
	}
	a := parse(pkix.Name{Country: []string{"MY"}, Organization: []string{"Jabatan Imigresen Malaysia"}, CommonName: "Malaysia Country Signer"})
	// The same attributes in the reverse RDN order (as Malaysia's
	// SignerInfo names its issuer), in another case, with other spaces.
	reversed := Name{}
	for i := len(a) - 1; i >= 0; i-- {
		reversed = append(reversed, a[i])
	}
	b := parse(pkix.Name{Country: []string{"my"}, Organization: []string{"  Jabatan   Imigresen Malaysia"}, CommonName: "MALAYSIA COUNTRY SIGNER"})
	c := parse(pkix.Name{Country: []string{"MY"}, Organization: []string{"Jabatan Imigresen Malaysia"}, CommonName: "Malaysia Doc Signer"})
	d := parse(pkix.Name{Country: []string{"MY"}, Organization: []string{"Jabatan Imigresen Malaysia"}})
	if !a.Equal(reversed) || !a.Equal(b) || a.Equal(c) || a.Equal(d) || d.Equal(a) {
		t.Error("Name.Equal")
	}
	if got := a.String(); got != "CN=Malaysia Country Signer,O=Jabatan Imigresen Malaysia,C=MY" {
		t.Errorf("String: %q", got)
	}
	if _, err := ParseName([]byte{0x30, 0x02, 0x31, 0x00}); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty RDN: %v", err)
	}
}
