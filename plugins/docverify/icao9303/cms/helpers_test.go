package cms

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/segl/segl/plugins/docverify/icao9303/pki"
)

// openssl runs the openssl command in dir. The tests that call it need it:
// without openssl they fail, they do not skip.
func openssl(t testing.TB, dir string, args ...string) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("this test needs the openssl command, which is not installed: %v", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// toBER re-encodes DER as the BER a careless encoder sends: every
// constructed element with an indefinite length, every OCTET STRING longer
// than 16 bytes as a constructed string of 16-byte segments, and every other
// primitive element with a four-octet length. ber.Normalize must undo all
// of it exactly.
func toBER(t testing.TB, der []byte) []byte {
	t.Helper()
	s := cryptobyte.String(der)
	var out []byte
	for !s.Empty() {
		var content cryptobyte.String
		var tag cbasn1.Tag
		if !s.ReadAnyASN1(&content, &tag) {
			t.Fatalf("toBER: not DER at % x", []byte(s)[:min(len(s), 8)])
		}
		switch {
		case tag&0x20 != 0:
			out = append(out, byte(tag), 0x80)
			out = append(out, toBER(t, content)...)
			out = append(out, 0, 0)
		case tag == cbasn1.OCTET_STRING && len(content) > 16:
			out = append(out, 0x24, 0x80)
			for len(content) > 0 {
				n := min(16, len(content))
				out = append(out, 0x04, byte(n))
				out = append(out, content[:n]...)
				content = content[n:]
			}
			out = append(out, 0, 0)
		default:
			n := len(content)
			out = append(out, byte(tag), 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
			out = append(out, content...)
		}
	}
	return out
}

// edit returns der with the element at path replaced by f's result. path
// lists child indices from the outermost element, which is path []int{}.
// The lengths of the enclosing elements are re-encoded.
func edit(t testing.TB, der []byte, path []int, f func(el []byte) []byte) []byte {
	t.Helper()
	if len(path) == 0 {
		return f(der)
	}
	s := cryptobyte.String(der)
	var content cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&content, &tag) || !s.Empty() {
		t.Fatalf("edit: not one DER element")
	}
	var children []byte
	for i := 0; !content.Empty(); i++ {
		var el cryptobyte.String
		if !content.ReadAnyASN1Element(&el, nil) {
			t.Fatalf("edit: child %d is not DER", i)
		}
		if i == path[0] {
			children = append(children, edit(t, el, path[1:], f)...)
		} else {
			children = append(children, el...)
		}
	}
	var b cryptobyte.Builder
	b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes(children) })
	return b.BytesOrPanic()
}

// appendEl is an edit that adds extra after the element.
func appendEl(extra ...byte) func([]byte) []byte {
	return func(el []byte) []byte { return append(append([]byte{}, el...), extra...) }
}

// replaceEl is an edit that puts with in the element's place.
func replaceEl(with ...byte) func([]byte) []byte {
	return func([]byte) []byte { return with }
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parsePEMCert(t testing.TB, b []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("no PEM certificate in %q", b)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testSigner is a self-signed P-256 certificate and its key.
type testSigner struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newTestSigner(t testing.TB) *testSigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1234567),
		Subject:      pkix.Name{Country: []string{"NL"}, Organization: []string{"Segl Test"}, CommonName: "DS Test"},
		NotBefore:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		SubjectKeyId: []byte{1, 2, 3, 4, 5, 6, 7, 8},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testSigner{key: key, cert: cert}
}

var (
	oidSHA256          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSigningTime     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
)

// signedAttrs returns the standard signed attributes over content, in DER.
func signedAttrs(t testing.TB, contentType asn1.ObjectIdentifier, content []byte, extra ...Attribute) []byte {
	t.Helper()
	d := sha256.Sum256(content)
	attrs := append([]Attribute{
		{Type: OIDContentType, Values: [][]byte{mustMarshal(t, contentType)}},
		{Type: OIDMessageDigest, Values: [][]byte{mustMarshal(t, d[:])}},
	}, extra...)
	raw, err := MarshalSignedAttrs(attrs)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// signedData builds and signs a SignedData over content the way an
// EF.SOD is made: eContentType, one certificate, one SignerInfo with
// issuerAndSerialNumber and signed attributes.
func (s *testSigner) signedData(t testing.TB, contentType asn1.ObjectIdentifier, content []byte) *SignedData {
	t.Helper()
	sha := pki.AlgorithmIdentifier{Algorithm: oidSHA256}
	si := SignerInfo{
		Version:            1,
		Issuer:             s.cert.RawIssuer,
		SerialNumber:       s.cert.SerialNumber,
		DigestAlgorithm:    sha,
		SignatureAlgorithm: pki.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256},
		RawSignedAttrs: signedAttrs(t, contentType, content, Attribute{
			Type: oidSigningTime, Values: [][]byte{mustMarshal(t, time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC))},
		}),
	}
	s.sign(t, &si)
	return &SignedData{
		Version:          3,
		DigestAlgorithms: []pki.AlgorithmIdentifier{sha},
		EContentType:     contentType,
		EContent:         content,
		Certificates:     [][]byte{s.cert.Raw},
		SignerInfos:      []SignerInfo{si},
	}
}

func (s *testSigner) sign(t testing.TB, si *SignerInfo) {
	t.Helper()
	d := sha256.Sum256(si.SignedAttrsToVerify())
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	si.Signature = sig
}

// errField checks that err is a *ParseError about field whose reason
// contains reason.
func errField(t testing.TB, err error, field, reason string) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *ParseError", err)
	}
	if pe.Field != field || !strings.Contains(pe.Reason, reason) {
		t.Fatalf("error %q; want field %q and %q", err, field, reason)
	}
}
