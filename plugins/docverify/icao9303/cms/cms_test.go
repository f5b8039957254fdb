package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/segl/segl/plugins/docverify/icao9303/ber"

	"github.com/segl/segl/plugins/docverify/icao9303/pki"
)

func testLDS(t testing.TB) []byte {
	t.Helper()
	o := &LDSSecurityObject{Hash: crypto.SHA256, DataGroupHashes: []DataGroupHash{
		{1, bytes.Repeat([]byte{1}, 32)}, {2, bytes.Repeat([]byte{2}, 32)}, {15, bytes.Repeat([]byte{15}, 32)},
	}}
	b, err := o.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignedDataRoundTrip(t *testing.T) {
	s := newTestSigner(t)
	lds := testLDS(t)
	sd := s.signedData(t, OIDLDSSecurityObject, lds)
	der, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSignedData(der)
	if err != nil {
		t.Fatal(err)
	}
	si := got.SignerInfos[0]
	if !got.EContentType.Equal(OIDLDSSecurityObject) || !bytes.Equal(got.EContent, lds) {
		t.Fatal("encapContentInfo changed")
	}
	if !si.ContentType.Equal(OIDLDSSecurityObject) {
		t.Fatalf("contentType attribute %v", si.ContentType)
	}
	if d := sha256.Sum256(lds); !bytes.Equal(si.MessageDigest, d[:]) {
		t.Fatal("messageDigest attribute wrong")
	}
	if len(si.SignedAttrs) != 3 {
		t.Fatalf("%d signed attributes, want 3", len(si.SignedAttrs))
	}
	if !bytes.Equal(si.Issuer, s.cert.RawIssuer) || si.SerialNumber.Cmp(s.cert.SerialNumber) != 0 {
		t.Fatal("sid changed")
	}
	toVerify := si.SignedAttrsToVerify()
	if toVerify[0] != 0x31 || !bytes.Equal(toVerify[1:], si.RawSignedAttrs[1:]) || si.RawSignedAttrs[0] != 0xa0 {
		t.Fatalf("SignedAttrsToVerify % x from % x", toVerify[:4], si.RawSignedAttrs[:4])
	}
	d := sha256.Sum256(toVerify)
	if !ecdsa.VerifyASN1(&s.key.PublicKey, d[:], si.Signature) {
		t.Fatal("signature does not verify over SignedAttrsToVerify")
	}
	again, err := got.Marshal()
	if err != nil || !bytes.Equal(again, der) {
		t.Fatalf("Marshal(Parse(der)) != der (%v)", err)
	}
	// The same in BER (indefinite lengths, the eContent in segments)
	// normalises back to these bytes.
	if norm, err := ber.Normalize(toBER(t, der)); err != nil || !bytes.Equal(norm, der) {
		t.Fatalf("Normalize(toBER(der)) != der (%v)", err)
	}
	// Nothing aliases the input.
	for i := range der {
		der[i] = 0
	}
	if !bytes.Equal(got.EContent, lds) {
		t.Fatal("EContent aliases the input")
	}
}

func TestSignedDataVariants(t *testing.T) {
	s := newTestSigner(t)
	lds := testLDS(t)
	for _, tc := range []struct {
		name  string
		edit  func(sd *SignedData)
		check func(t *testing.T, sd *SignedData)
	}{
		{"subjectKeyIdentifier sid", func(sd *SignedData) {
			si := &sd.SignerInfos[0]
			si.Version, si.Issuer, si.SerialNumber, si.SubjectKeyIdentifier = 3, nil, nil, s.cert.SubjectKeyId
		}, func(t *testing.T, sd *SignedData) {
			if si := sd.SignerInfos[0]; !bytes.Equal(si.SubjectKeyIdentifier, s.cert.SubjectKeyId) || si.Issuer != nil || si.SerialNumber != nil {
				t.Fatalf("sid %+v", si)
			}
		}},
		{"detached", func(sd *SignedData) { sd.EContent = nil }, func(t *testing.T, sd *SignedData) {
			if sd.EContent != nil {
				t.Fatal("EContent present")
			}
		}},
		{"empty eContent", func(sd *SignedData) { sd.EContent = []byte{} }, func(t *testing.T, sd *SignedData) {
			if sd.EContent == nil || len(sd.EContent) != 0 {
				t.Fatal("empty EContent lost")
			}
		}},
		{"no certificates", func(sd *SignedData) { sd.Certificates = nil }, func(t *testing.T, sd *SignedData) {
			if sd.Certificates != nil {
				t.Fatal("certificates present")
			}
		}},
		{"empty certificates", func(sd *SignedData) { sd.Certificates = [][]byte{} }, func(t *testing.T, sd *SignedData) {
			if sd.Certificates == nil || len(sd.Certificates) != 0 {
				t.Fatal("empty certificates lost")
			}
		}},
		{"CRLs", func(sd *SignedData) { sd.CRLs = [][]byte{{0x30, 0x00}, {0xa1, 0x00}} }, func(t *testing.T, sd *SignedData) {
			if len(sd.CRLs) != 2 || !bytes.Equal(sd.CRLs[1], []byte{0xa1, 0x00}) {
				t.Fatalf("CRLs %x", sd.CRLs)
			}
		}},
		{"no signed attributes", func(sd *SignedData) { sd.SignerInfos[0].RawSignedAttrs = nil }, func(t *testing.T, sd *SignedData) {
			si := sd.SignerInfos[0]
			if si.RawSignedAttrs != nil || si.SignedAttrs != nil || si.ContentType != nil || si.MessageDigest != nil || si.SignedAttrsToVerify() != nil {
				t.Fatalf("signed attributes %+v", si)
			}
		}},
		{"unsigned attributes", func(sd *SignedData) {
			sd.SignerInfos[0].RawUnsignedAttrs = []byte{0xa1, 0x07, 0x30, 0x05, 0x06, 0x01, 0x2a, 0x31, 0x00}
		}, func(t *testing.T, sd *SignedData) {
			if sd.SignerInfos[0].RawUnsignedAttrs == nil {
				t.Fatal("unsigned attributes lost")
			}
		}},
		{"RSASSA-PSS parameters and NULL digest parameters", func(sd *SignedData) {
			si := &sd.SignerInfos[0]
			si.DigestAlgorithm.Parameters = []byte{0x05, 0x00}
			si.SignatureAlgorithm = pki.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10},
				Parameters: []byte{0x30, 0x03, 0xa2, 0x01, 0x20}}
		}, func(t *testing.T, sd *SignedData) {
			si := sd.SignerInfos[0]
			if !bytes.Equal(si.SignatureAlgorithm.Parameters, []byte{0x30, 0x03, 0xa2, 0x01, 0x20}) || !bytes.Equal(si.DigestAlgorithm.Parameters, []byte{5, 0}) {
				t.Fatalf("parameters %x %x", si.SignatureAlgorithm.Parameters, si.DigestAlgorithm.Parameters)
			}
		}},
		{"negative serial and two signers", func(sd *SignedData) {
			si := sd.SignerInfos[0]
			si.SerialNumber = big.NewInt(-129)
			sd.SignerInfos = append(sd.SignerInfos, si)
		}, func(t *testing.T, sd *SignedData) {
			if len(sd.SignerInfos) != 2 || sd.SignerInfos[1].SerialNumber.Int64() != -129 {
				t.Fatalf("signerInfos %+v", sd.SignerInfos)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd := s.signedData(t, OIDLDSSecurityObject, lds)
			tc.edit(sd)
			der, err := sd.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseSignedData(der)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
			again, err := got.Marshal()
			if err != nil || !bytes.Equal(again, der) {
				t.Fatalf("Marshal(Parse(der)) != der (%v)", err)
			}
		})
	}
}

// Paths into the SignedData that testSigner.signedData makes.
var (
	pContent   = []int{1}
	pSD        = []int{1, 0}
	pAlgs      = []int{1, 0, 1}
	pECI       = []int{1, 0, 2}
	pEContent  = []int{1, 0, 2, 1}
	pEOctets   = []int{1, 0, 2, 1, 0}
	pCerts     = []int{1, 0, 3}
	pCert0     = []int{1, 0, 3, 0}
	pSIs       = []int{1, 0, 4}
	pSI        = []int{1, 0, 4, 0}
	pSID       = []int{1, 0, 4, 0, 1}
	pIssuer    = []int{1, 0, 4, 0, 1, 0}
	pSignature = []int{1, 0, 4, 0, 5}
)

func TestSignedDataErrors(t *testing.T) {
	s := newTestSigner(t)
	lds := testLDS(t)
	good, err := s.signedData(t, OIDLDSSecurityObject, lds).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	withAttrs := func(attrs ...Attribute) []byte {
		sd := s.signedData(t, OIDLDSSecurityObject, lds)
		raw, err := MarshalSignedAttrs(attrs)
		if err != nil {
			t.Fatal(err)
		}
		sd.SignerInfos[0].RawSignedAttrs = raw
		der, err := sd.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	ct := Attribute{Type: OIDContentType, Values: [][]byte{mustMarshal(t, OIDLDSSecurityObject)}}
	md := Attribute{Type: OIDMessageDigest, Values: [][]byte{mustMarshal(t, []byte{1, 2, 3})}}
	const si = "SignedData.signerInfos[0]"
	// The attributes are in DER order (MarshalSignedAttrs sorts them), so
	// the index in an error is that order's.
	for _, tc := range []struct {
		name          string
		der           []byte
		field, reason string
	}{
		{"trailing data", append(bytes.Clone(good), 0), "ContentInfo", "1 bytes of trailing data"},
		{"BER", toBER(t, good), "ContentInfo", "run ber.Normalize first"},
		{"not signedData", edit(t, good, []int{0}, replaceEl(mustMarshal(t, OIDData)...)), "ContentInfo.contentType", "want signedData"},
		{"data after the content", edit(t, good, pContent, appendEl(5, 0)), "ContentInfo", "data after the content"},
		{"data after the SignedData", edit(t, good, pSD, appendEl(5, 0)), "SignedData", "not a single DER SEQUENCE"},
		{"data after signerInfos", edit(t, good, pSIs, appendEl(5, 0)), "SignedData", "data after signerInfos"},
		{"digestAlgorithms not a SET", edit(t, good, pAlgs, replaceEl(0x30, 0x00)), "SignedData.digestAlgorithms", "not a SET"},
		{"digestAlgorithm with data after its parameters", edit(t, good, []int{1, 0, 1, 0, 0}, appendEl(5, 0, 5, 0)), "SignedData.digestAlgorithms[0]", "data after the parameters"},
		{"constructed eContent", edit(t, good, pEOctets, replaceEl(0x24, 0x03, 0x04, 0x01, 0xaa)), "SignedData.encapContentInfo.eContent", "constructed OCTET STRING (BER); run ber.Normalize first"},
		{"eContent not an OCTET STRING", edit(t, good, pEOctets, replaceEl(0x05, 0x00)), "SignedData.encapContentInfo.eContent", "not a single primitive OCTET STRING"},
		{"data after eContent's OCTET STRING", edit(t, good, pEOctets, appendEl(5, 0)), "SignedData.encapContentInfo.eContent", "not a single primitive OCTET STRING"},
		{"data after eContent", edit(t, good, pEContent, appendEl(5, 0)), "SignedData.encapContentInfo", "data after eContent"},
		{"eContent primitive [0]", edit(t, good, pEContent, replaceEl(0x80, 0x00)), "SignedData.encapContentInfo.eContent", "not a DER [0] EXPLICIT"},
		{"encapContentInfo not a SEQUENCE", edit(t, good, pECI, replaceEl(0x05, 0x00)), "SignedData.encapContentInfo", "not a SEQUENCE"},
		{"attribute certificate", edit(t, good, pCert0, replaceEl(0xa1, 0x00)), "SignedData.certificates[0]", "only X.509 certificates"},
		{"certificates primitive", edit(t, good, pCerts, replaceEl(0x80, 0x00)), "SignedData.signerInfos", "not a SET"},
		{"sid neither", edit(t, good, pSID, replaceEl(0x02, 0x01, 0x01)), si + ".sid", "neither an issuerAndSerialNumber"},
		{"sid issuer not a Name", edit(t, good, pIssuer, replaceEl(0x30, 0x03, 0x02, 0x01, 0x01)), si + ".sid.issuer", "not a SET"},
		{"sid without serial", edit(t, good, pSID, replaceEl(append([]byte{0x30, byte(len(s.cert.RawIssuer))}, s.cert.RawIssuer...)...)), si + ".sid.serialNumber", "not a DER INTEGER"},
		{"signature not an OCTET STRING", edit(t, good, pSignature, replaceEl(0x03, 0x01, 0x00)), si + ".signature", "not a primitive OCTET STRING"},
		{"data after the signature", edit(t, good, pSignature, appendEl(5, 0)), si, "data after the last field"},
		{"empty unsigned attributes", edit(t, good, pSignature, appendEl(0xa1, 0x00)), si + ".unsignedAttrs", "an empty SET"},
		{"signerInfo not a SEQUENCE", edit(t, good, pSI, replaceEl(0x05, 0x00)), si, "not a SEQUENCE"},
		{"empty signed attributes", withAttrs(), si + ".signedAttrs", "an empty SET"},
		{"no contentType", withAttrs(md), si + ".signedAttrs", "no contentType attribute"},
		{"no messageDigest", withAttrs(ct), si + ".signedAttrs", "no messageDigest attribute"},
		{"two contentTypes", withAttrs(ct, md, Attribute{Type: OIDContentType, Values: [][]byte{mustMarshal(t, OIDData)}}), si + ".signedAttrs[2]", "a second contentType"},
		{"two messageDigests", withAttrs(ct, md, Attribute{Type: OIDMessageDigest, Values: [][]byte{mustMarshal(t, []byte{9})}}), si + ".signedAttrs[1]", "a second messageDigest"},
		{"contentType with two values", withAttrs(md, Attribute{Type: OIDContentType, Values: [][]byte{mustMarshal(t, OIDData), mustMarshal(t, OIDLDSSecurityObject)}}), si + ".signedAttrs[1]", "contentType with 2 values"},
		{"messageDigest with no value", withAttrs(ct, Attribute{Type: OIDMessageDigest, Values: [][]byte{}}), si + ".signedAttrs[0]", "messageDigest with 0 values"},
		{"messageDigest not an OCTET STRING", withAttrs(ct, Attribute{Type: OIDMessageDigest, Values: [][]byte{{0x05, 0x00}}}), si + ".signedAttrs[0]", "not a primitive OCTET STRING"},
		{"contentType not an OID", withAttrs(md, Attribute{Type: OIDContentType, Values: [][]byte{{0x05, 0x00}}}), si + ".signedAttrs[0]", "not an OBJECT IDENTIFIER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd, err := ParseSignedData(tc.der)
			if err == nil {
				t.Fatalf("accepted: %+v", sd)
			}
			errField(t, err, tc.field, tc.reason)
		})
	}
}

// opensslSigned makes an EF.SOD-like SignedData with openssl cms -sign
// over content, signed by a fresh key of the given kind ("rsa", "rsa-pss",
// "ec"), with the sid by issuer and serial or by key identifier.
func opensslSigned(t *testing.T, kind string, keyid bool, econtentType string, content []byte) (der []byte, cert *x509.Certificate) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "content.bin"), content, 0o600); err != nil {
		t.Fatal(err)
	}
	keyArgs := map[string][]string{
		"rsa":     {"-newkey", "rsa:2048"},
		"rsa-pss": {"-newkey", "rsa:2048"},
		"ec":      {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"},
	}[kind]
	openssl(t, dir, append(append([]string{"req", "-x509"}, keyArgs...),
		"-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2",
		"-subj", "/C=NL/O=Segl Test/OU=Passports/CN=Document Signer "+kind,
		"-addext", "subjectKeyIdentifier=hash")...)
	args := []string{"cms", "-sign", "-binary", "-nodetach", "-in", "content.bin", "-outform", "DER", "-out", "sod.der",
		"-signer", "cert.pem", "-inkey", "key.pem", "-md", "sha256", "-econtent_type", econtentType, "-nosmimecap"}
	if kind == "rsa-pss" {
		args = append(args, "-keyopt", "rsa_padding_mode:pss")
	}
	if keyid {
		args = append(args, "-keyid")
	}
	openssl(t, dir, args...)
	der, err := os.ReadFile(filepath.Join(dir, "sod.der"))
	if err != nil {
		t.Fatal(err)
	}
	pemCert, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// openssl x509 -outform DER would do too; decoding the PEM here keeps
	// the test to one external tool.
	cert = parsePEMCert(t, pemCert)
	return der, cert
}

func TestOpenSSLSignedData(t *testing.T) {
	lds := testLDS(t)
	for _, tc := range []struct {
		kind  string
		keyid bool
	}{{"rsa", false}, {"rsa-pss", false}, {"ec", false}, {"ec", true}} {
		name := tc.kind
		if tc.keyid {
			name += "/keyid"
		}
		t.Run(name, func(t *testing.T) {
			der, cert := opensslSigned(t, tc.kind, tc.keyid, "2.23.136.1.1.1", lds)
			checkOpenSSLSignedData(t, der, cert, tc.kind, tc.keyid, lds)

			// The same SignedData in BER, the way New Zealand sends it:
			// indefinite lengths everywhere, the eContent (and every
			// other long OCTET STRING) in segments, non-minimal lengths.
			// Normalize gives back the DER exactly, so the certificate's
			// and the signed attributes' signatures still hold.
			b := toBER(t, der)
			if _, err := ParseSignedData(b); err == nil {
				t.Fatal("ParseSignedData accepted BER")
			}
			norm, err := ber.Normalize(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(norm, der) {
				t.Fatal("Normalize(BER) differs from the DER it was made of")
			}
			checkOpenSSLSignedData(t, norm, cert, tc.kind, tc.keyid, lds)

			// And as an EF.SOD, in its 0x77 wrapper with an indefinite
			// length.
			efSOD := append(append([]byte{0x77, 0x80}, b...), 0, 0)
			sd, o, err := ParseSOD(efSOD)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sd.EContent, lds) || o.Hash != crypto.SHA256 || len(o.DataGroupHashes) != 3 {
				t.Fatalf("ParseSOD: %+v", o)
			}
		})
	}
}

func checkOpenSSLSignedData(t *testing.T, der []byte, cert *x509.Certificate, kind string, keyid bool, content []byte) {
	t.Helper()
	sd, err := ParseSignedData(der)
	if err != nil {
		t.Fatal(err)
	}
	if !sd.EContentType.Equal(OIDLDSSecurityObject) || !bytes.Equal(sd.EContent, content) {
		t.Fatalf("eContent %v % x", sd.EContentType, sd.EContent)
	}
	if len(sd.Certificates) != 1 || !bytes.Equal(sd.Certificates[0], cert.Raw) {
		t.Fatal("the signer's certificate is not the one embedded")
	}
	if len(sd.SignerInfos) != 1 {
		t.Fatalf("%d signerInfos", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	if keyid {
		if si.Version != 3 || !bytes.Equal(si.SubjectKeyIdentifier, cert.SubjectKeyId) {
			t.Fatalf("sid: version %d, ski %x, want %x", si.Version, si.SubjectKeyIdentifier, cert.SubjectKeyId)
		}
	} else {
		if si.Version != 1 || !pki.EqualNames(si.Issuer, cert.RawIssuer) || si.SerialNumber.Cmp(cert.SerialNumber) != 0 {
			t.Fatalf("sid: version %d, serial %v", si.Version, si.SerialNumber)
		}
	}
	if !si.ContentType.Equal(OIDLDSSecurityObject) {
		t.Fatalf("contentType attribute %v", si.ContentType)
	}
	d := sha256.Sum256(content)
	if !bytes.Equal(si.MessageDigest, d[:]) {
		t.Fatal("messageDigest is not the SHA-256 of the content")
	}
	if h, ok := pki.HashForOID(si.DigestAlgorithm.Algorithm); !ok || h != crypto.SHA256 {
		t.Fatalf("digestAlgorithm %v", si.DigestAlgorithm.Algorithm)
	}
	// The signature verifies over SignedAttrsToVerify with the standard
	// library: the bytes are the ones openssl signed.
	sum := sha256.Sum256(si.SignedAttrsToVerify())
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if kind == "rsa-pss" {
			if !si.SignatureAlgorithm.Algorithm.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}) || si.SignatureAlgorithm.Parameters == nil {
				t.Fatalf("signatureAlgorithm %v params %x", si.SignatureAlgorithm.Algorithm, si.SignatureAlgorithm.Parameters)
			}
			err = rsa.VerifyPSS(pub, crypto.SHA256, sum[:], si.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		} else {
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], si.Signature)
		}
		if err != nil {
			t.Fatalf("RSA signature over SignedAttrsToVerify: %v", err)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, sum[:], si.Signature) {
			t.Fatal("ECDSA signature over SignedAttrsToVerify does not verify")
		}
	}
	again, err := sd.Marshal()
	if err != nil || !bytes.Equal(again, der) {
		t.Fatalf("Marshal(Parse(der)) != der (%v)", err)
	}
	if re, err := ParseSignedData(again); err != nil || !reflect.DeepEqual(re, sd) {
		t.Fatalf("re-parse differs (%v)", err)
	}
}

func TestMarshalChecksRawFields(t *testing.T) {
	s := newTestSigner(t)
	for _, tc := range []struct {
		name string
		edit func(sd *SignedData)
	}{
		{"certificate", func(sd *SignedData) { sd.Certificates[0] = []byte{0x30, 0x05} }},
		{"CRL", func(sd *SignedData) { sd.CRLs = [][]byte{{0x30, 0x00, 0x00}} }},
		{"parameters", func(sd *SignedData) { sd.DigestAlgorithms[0].Parameters = []byte{} }},
		{"signed attributes tag", func(sd *SignedData) { sd.SignerInfos[0].RawSignedAttrs[0] = 0x31 }},
		{"both sids", func(sd *SignedData) { sd.SignerInfos[0].SubjectKeyIdentifier = []byte{1} }},
		{"no sid", func(sd *SignedData) { sd.SignerInfos[0].Issuer = nil }},
		{"no serial", func(sd *SignedData) { sd.SignerInfos[0].SerialNumber = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd := s.signedData(t, OIDLDSSecurityObject, []byte("x"))
			tc.edit(sd)
			if der, err := sd.Marshal(); err == nil {
				t.Fatalf("Marshal accepted it: % x", der)
			}
		})
	}
}
