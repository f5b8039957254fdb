// Package icaotest makes test documents: a CSCA, a document signer, an
// SOD over DG1 (an MRZ), DG14 and DG15 (an active-authentication key),
// and the chip's answer to a challenge, so that tests of the verifier,
// the plugin, segld and segl exercise real cryptography without real
// passports. Keys of every kind real documents use: RSA (PKCS #1 v1.5 and
// PSS), ECDSA on P-256 and on brainpool curves (through openssl, with
// named or explicit parameters). Test code only: no binary links it.
package icaotest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/plugins/docverify/icao9303/aa"
	"github.com/segl/segl/plugins/docverify/icao9303/cms"

	"github.com/segl/segl/plugins/docverify/icao9303/pki"
)

// Options say what document to make; the zero value is an RSA-signed
// Utopian passport of Anna Maria Eriksson with an RSA AA key, valid now.
type Options struct {
	// Signer is the CSCA's and document signer's key: "rsa" (default),
	// "rsa-pss", "p256", or a brainpool curve ("brainpoolP256r1",
	// "brainpoolP384r1", "brainpoolP512r1"), made by openssl.
	Signer string
	// Explicit gives brainpool keys their curve as explicit parameters.
	Explicit bool
	// AA is the chip's key: "rsa" (default), "p256", or "none".
	AA string
	// BER encodes the SOD with indefinite lengths, as New Zealand does.
	BER bool
	// The holder; defaults are ICAO 9303's specimen.
	Surname, GivenNames, DocumentNumber, Nationality, Sex string
	Birth, Expiry                                         time.Time
	// Extra data groups to put in the SOD (number → file).
	Extra map[int][]byte
	// SignedBy makes the document under another document's CSCA and
	// document signer, as a country's passports share them; Signer and
	// Explicit are then that document's.
	SignedBy *Document
	// CriticalExtension gives the document signer certificate an
	// extension of this OID marked critical that no verifier knows
	// (Go-made signers only).
	CriticalExtension asn1.ObjectIdentifier
}

// Document is a test document and the PKI behind it.
type Document struct {
	CSCA, DSC  []byte // DER certificates
	SOD        []byte // EF.SOD with its 0x77 tag
	DataGroups map[int][]byte
	// AAKey is the chip's private key (*rsa.PrivateKey or
	// *ecdsa.PrivateKey), nil without AA.
	AAKey crypto.PrivateKey

	signer     cryptoSigner
	cscaKey    cryptoSigner
	signerKind string // Options.Signer
	dir        string
	t          testing.TB
}

// cryptoSigner signs: Go's keys directly, brainpool keys through openssl.
type cryptoSigner interface {
	sign(t testing.TB, hash crypto.Hash, msg []byte) []byte
	public() string // what the certificate tool needs: a PEM file path or ""
}

func defaults(o *Options) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Signer, "rsa")
	def(&o.AA, "rsa")
	def(&o.Surname, "ERIKSSON")
	def(&o.GivenNames, "ANNA MARIA")
	def(&o.DocumentNumber, "L898902C3")
	def(&o.Nationality, "UTO")
	def(&o.Sex, "F")
	if o.Birth.IsZero() {
		o.Birth = time.Date(1974, 8, 12, 0, 0, 0, 0, time.UTC)
	}
	if o.Expiry.IsZero() {
		o.Expiry = time.Now().AddDate(5, 0, 0).UTC()
	}
}

// New makes a document as o says.
func New(t testing.TB, o Options) *Document {
	t.Helper()
	if o.SignedBy != nil {
		o.Signer = o.SignedBy.signerKind
	}
	defaults(&o)
	d := &Document{signerKind: o.Signer, t: t, dir: t.TempDir(), DataGroups: map[int][]byte{}}
	if p := o.SignedBy; p != nil {
		d.CSCA, d.cscaKey, d.DSC, d.signer = p.CSCA, p.cscaKey, p.DSC, p.signer
	} else {
		d.CSCA, d.cscaKey = d.certificate("CSCA Utopia", o, nil, true)
		d.DSC, d.signer = d.certificate("Document Signer Utopia", o, d.CSCA, false)
	}
	d.DataGroups[1] = DG1(TD3(o))
	switch o.AA {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		d.AAKey = k
		d.DataGroups[15] = dg15(t, &k.PublicKey)
	case "p256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		d.AAKey = k
		d.DataGroups[15] = dg15(t, &k.PublicKey)
		d.DataGroups[14] = DG14AA(t, asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1, 3}) // ecdsa-plain-SHA256
	case "none":
	default:
		t.Fatalf("icaotest: AA key %q", o.AA)
	}
	for n, f := range o.Extra {
		d.DataGroups[n] = f
	}
	d.SOD = d.sod(o)
	return d
}

// TD3 is a passport's MRZ for o, check digits computed.
func TD3(o Options) string {
	pad := func(s string, n int) string { return (s + strings.Repeat("<", n))[:n] }
	name := strings.ReplaceAll(o.Surname, " ", "<") + "<<" + strings.ReplaceAll(o.GivenNames, " ", "<")
	l1 := pad("P<"+pad(o.Nationality, 3)+name, 44)
	num := pad(o.DocumentNumber, 9)
	birth, expiry := o.Birth.Format("060102"), o.Expiry.Format("060102")
	l2 := num + digit(num) + pad(o.Nationality, 3) + birth + digit(birth) + o.Sex + expiry + digit(expiry) + strings.Repeat("<", 14) + "<"
	composite := l2[0:10] + l2[13:20] + l2[21:43]
	return l1 + l2 + digit(composite)
}

// digit is ICAO 9303's check digit: weights 7, 3, 1; < is 0, A is 10.
func digit(s string) string {
	sum := 0
	for i, c := range s {
		v := 0
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'A' && c <= 'Z':
			v = int(c-'A') + 10
		}
		sum += v * []int{7, 3, 1}[i%3]
	}
	return fmt.Sprint(sum % 10)
}

// DG1 wraps an MRZ as EF.DG1: 61 { 5F1F mrz }.
func DG1(mrz string) []byte {
	inner := append([]byte{0x5f, 0x1f}, tlvLen(len(mrz))...)
	inner = append(inner, mrz...)
	return append(append([]byte{0x61}, tlvLen(len(inner))...), inner...)
}

func tlvLen(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n < 0x100:
		return []byte{0x81, byte(n)}
	}
	return []byte{0x82, byte(n >> 8), byte(n)}
}

func dg15(t testing.TB, pub crypto.PublicKey) []byte {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte{0x6f}, tlvLen(len(spki))...), spki...)
}

// DG14AA is an EF.DG14 holding only an ActiveAuthenticationInfo naming
// the signature algorithm.
func DG14AA(t testing.TB, alg asn1.ObjectIdentifier) []byte {
	info, err := asn1.Marshal(struct {
		Protocol asn1.ObjectIdentifier
		Version  int
		Alg      asn1.ObjectIdentifier
	}{asn1.ObjectIdentifier{2, 23, 136, 1, 1, 5}, 1, alg})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: info})
	return append(append([]byte{0x6e}, tlvLen(len(set))...), set...)
}

// SignAA is the chip's answer to a challenge (aa.Sign): ISO/IEC 9796-2
// scheme 1 with SHA-256 for RSA, a plain r‖s over SHA-256 for ECDSA.
func (d *Document) SignAA(challenge []byte) []byte {
	sig, err := aa.Sign(d.AAKey, challenge)
	if err != nil {
		d.t.Fatal(err)
	}
	return sig
}

// WriteDump writes the document as segl documents verify --dir reads it
// (EF_SOD.bin, EF_DG1.bin, …), and the AA key as aa-key.pem, to dir.
func (d *Document) WriteDump(dir string) {
	os.MkdirAll(dir, 0o755)
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			d.t.Fatal(err)
		}
	}
	write("EF_SOD.bin", d.SOD)
	for n, f := range d.DataGroups {
		write(fmt.Sprintf("EF_DG%d.bin", n), f)
	}
	if d.AAKey != nil {
		der, err := x509.MarshalPKCS8PrivateKey(d.AAKey)
		if err != nil {
			d.t.Fatal(err)
		}
		write("aa-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	write("csca.der", d.CSCA)
}

// sod signs the data groups' hashes.
func (d *Document) sod(o Options) []byte {
	t := d.t
	lds := &cms.LDSSecurityObject{Version: 0, HashAlgorithm: pki.AlgorithmIdentifier{Algorithm: pki.OIDForHash(crypto.SHA256)}, Hash: crypto.SHA256}
	for n := 1; n <= 16; n++ {
		if f, ok := d.DataGroups[n]; ok {
			sum := sha256.Sum256(f)
			lds.DataGroupHashes = append(lds.DataGroupHashes, cms.DataGroupHash{DataGroup: n, Hash: sum[:]})
		}
	}
	if len(lds.DataGroupHashes) < 2 { // the ASN.1 says 2 to 16
		sum := sha256.Sum256(d.DataGroups[1])
		lds.DataGroupHashes = append(lds.DataGroupHashes, cms.DataGroupHash{DataGroup: 2, Hash: sum[:]})
	}
	content, err := lds.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	der := signedData(t, cms.OIDLDSSecurityObject, content, d.DSC, d.signer, signatureAlgorithm(o.Signer))
	if o.BER {
		der = toBER(der)
	}
	return append(append([]byte{0x77}, tlvLen(len(der))...), der...)
}

// signedData is a DER SignedData of content of type contentType, signed
// with SHA-256 by signer, whose certificate cert it holds and names by
// issuer and serial number.
func signedData(t testing.TB, contentType asn1.ObjectIdentifier, content, cert []byte, signer cryptoSigner, sigAlg pki.AlgorithmIdentifier) []byte {
	digest := sha256.Sum256(content)
	ct, _ := asn1.Marshal(contentType)
	md, _ := asn1.Marshal(digest[:])
	attrs, err := cms.MarshalSignedAttrs([]cms.Attribute{{Type: cms.OIDContentType, Values: [][]byte{ct}}, {Type: cms.OIDMessageDigest, Values: [][]byte{md}}})
	if err != nil {
		t.Fatal(err)
	}
	toSign := append([]byte{0x31}, attrs[1:]...)
	var issuer, serial []byte
	if c, err := x509.ParseCertificate(cert); err == nil {
		issuer, serial = c.RawIssuer, c.SerialNumber.Bytes()
	} else {
		issuer, serial = rawIssuerSerial(t, cert)
	}
	si := cms.SignerInfo{Version: 1, Issuer: issuer, SerialNumber: new(big.Int).SetBytes(serial),
		DigestAlgorithm: pki.AlgorithmIdentifier{Algorithm: pki.OIDForHash(crypto.SHA256)}, RawSignedAttrs: attrs,
		SignatureAlgorithm: sigAlg, Signature: signer.sign(t, crypto.SHA256, toSign)}
	sd := &cms.SignedData{Version: 3, DigestAlgorithms: []pki.AlgorithmIdentifier{si.DigestAlgorithm}, EContentType: contentType,
		EContent: content, Certificates: [][]byte{cert}, SignerInfos: []cms.SignerInfo{si}}
	der, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// OIDMasterListSigner is the extended key usage of a master list
// signer's certificate (ICAO 9303 part 12, id-icao-cscaMasterListSigningKey).
var OIDMasterListSigner = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 3}

// MasterList is a CSCA master list of cscas, signed by a master list
// signer that d's CSCA issued (d's CSCA is the list's anchor; Go-made
// CSCAs only). The signer's certificate has the master list signer's
// extended key usage, critical, as ICAO 9303 part 12 wants, unless eku
// is nil; then it has eku instead, or none when eku is empty.
func (d *Document) MasterList(t testing.TB, cscas [][]byte, eku []asn1.ObjectIdentifier) []byte {
	t.Helper()
	g, ok := d.cscaKey.(goSigner)
	if !ok {
		t.Fatal("icaotest: master lists of Go-made CSCAs only")
	}
	csca, err := x509.ParseCertificate(d.CSCA)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if eku == nil {
		eku = []asn1.ObjectIdentifier{OIDMasterListSigner}
	}
	serials++
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serials), Subject: pkix.Name{Country: []string{"UT"}, CommonName: "Master List Signer Utopia"},
		NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(3, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	if len(eku) > 0 {
		v, err := asn1.Marshal(eku)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: v}}
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, csca, key.Public(), g.key)
	if err != nil {
		t.Fatal(err)
	}
	content, err := (&cms.MasterList{Certificates: cscas}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return signedData(t, cms.OIDCscaMasterList, content, cert, goSigner{key: key}, signatureAlgorithm("p256"))
}

// rawIssuerSerial reads a certificate Go cannot parse (explicit curve
// parameters): its issuer Name and serial, from the TBS.
func rawIssuerSerial(t testing.TB, der []byte) (issuer, serial []byte) {
	var cert struct {
		TBS struct {
			Version   asn1.RawValue `asn1:"optional,explicit,tag:0"`
			Serial    *big.Int
			Algorithm asn1.RawValue
			Issuer    asn1.RawValue
		}
	}
	if _, err := asn1.UnmarshalWithParams(der, &cert, ""); err != nil {
		// The TBS has more fields: decode just the prefix.
		var raw struct {
			TBS asn1.RawValue
		}
		if _, err := asn1.Unmarshal(der, &raw); err != nil {
			t.Fatal(err)
		}
		rest := raw.TBS.Bytes
		var v asn1.RawValue
		rest, _ = asn1.Unmarshal(rest, &v)
		if v.Class == asn1.ClassContextSpecific {
			rest, _ = asn1.Unmarshal(rest, &v)
		}
		s := v.Bytes
		rest, _ = asn1.Unmarshal(rest, &v) // algorithm
		asn1.Unmarshal(rest, &v)           // issuer
		return v.FullBytes, s
	}
	return cert.TBS.Issuer.FullBytes, cert.TBS.Serial.Bytes()
}

func signatureAlgorithm(signer string) pki.AlgorithmIdentifier {
	switch {
	case signer == "rsa":
		return pki.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, Parameters: []byte{5, 0}}
	case signer == "rsa-pss":
		return pki.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}, Parameters: pssParams}
	}
	return pki.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}} // ecdsa-with-SHA256
}

// pssParams: SHA-256, MGF1 with SHA-256, salt 32, as RFC 4055 writes them.
var pssParams = func() []byte {
	sha := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, Parameters: asn1.NullRawValue}
	shaDER, _ := asn1.Marshal(sha)
	b, _ := asn1.Marshal(struct {
		Hash pkix.AlgorithmIdentifier `asn1:"explicit,tag:0"`
		MGF  pkix.AlgorithmIdentifier `asn1:"explicit,tag:1"`
		Salt int                      `asn1:"explicit,tag:2"`
	}{sha, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}, Parameters: asn1.RawValue{FullBytes: shaDER}}, 32})
	return b
}()

// toBER gives every constructed element an indefinite length.
func toBER(der []byte) []byte {
	var out []byte
	for len(der) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(der, &v)
		if err != nil {
			return append(out, der...)
		}
		if v.IsCompound {
			head := v.FullBytes[:len(v.FullBytes)-len(v.Bytes)]
			tag := head[:1]
			if head[0]&0x1f == 0x1f {
				tag = head[:2]
			}
			out = append(out, tag...)
			out = append(out, 0x80)
			out = append(out, toBER(v.Bytes)...)
			out = append(out, 0, 0)
		} else {
			out = append(out, v.FullBytes...)
		}
		der = rest
	}
	return out
}

func run(t testing.TB, dir string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

type goSigner struct {
	key crypto.Signer
	pss bool
}

func (g goSigner) sign(t testing.TB, hash crypto.Hash, msg []byte) []byte {
	h := hash.New()
	h.Write(msg)
	var opts crypto.SignerOpts = hash
	if g.pss {
		opts = &rsa.PSSOptions{SaltLength: 32, Hash: hash}
	}
	sig, err := g.key.Sign(rand.Reader, h.Sum(nil), opts)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func (goSigner) public() string { return "" }

// sslSigner is a key openssl holds in a PEM file (brainpool, which Go's
// crypto cannot sign with).
type sslSigner struct{ dir, key string }

func (s sslSigner) sign(t testing.TB, hash crypto.Hash, msg []byte) []byte {
	in := filepath.Join(s.dir, "tosign.bin")
	os.WriteFile(in, msg, 0o600)
	run(t, s.dir, "openssl", "dgst", "-"+strings.ToLower(strings.ReplaceAll(hash.String(), "-", "")), "-sign", s.key, "-out", "sig.der", in)
	b, err := os.ReadFile(filepath.Join(s.dir, "sig.der"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s sslSigner) public() string { return s.key }

var serials int64 = 1000

// certificate makes a CA (the CSCA, self-signed) or the document signer
// (issued by the CSCA whose DER is issuer).
func (d *Document) certificate(cn string, o Options, issuer []byte, ca bool) ([]byte, cryptoSigner) {
	t := d.t
	serials++
	now := time.Now()
	if strings.HasPrefix(o.Signer, "brainpool") {
		if o.CriticalExtension != nil {
			t.Fatal("icaotest: CriticalExtension with Go-made signers only")
		}
		return d.sslCertificate(cn, o, issuer, ca)
	}
	var key crypto.Signer
	var err error
	algo := x509.SHA256WithRSA
	switch o.Signer {
	case "rsa", "rsa-pss":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		if o.Signer == "rsa-pss" {
			algo = x509.SHA256WithRSAPSS
		}
	case "p256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		algo = x509.ECDSAWithSHA256
	default:
		t.Fatalf("icaotest: signer %q", o.Signer)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serials), Subject: pkix.Name{Country: []string{"UT"}, CommonName: cn},
		NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(10, 0, 0), SignatureAlgorithm: algo}
	parent, signWith := tmpl, key
	if ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign|x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if o.CriticalExtension != nil {
			tmpl.ExtraExtensions = []pkix.Extension{{Id: o.CriticalExtension, Critical: true, Value: []byte{0x05, 0x00}}}
		}
		if parent, err = x509.ParseCertificate(issuer); err != nil {
			t.Fatal(err)
		}
		signWith = d.cscaKey.(goSigner).key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signWith)
	if err != nil {
		t.Fatal(err)
	}
	return der, goSigner{key: key, pss: o.Signer == "rsa-pss"}
}

func (d *Document) sslCertificate(cn string, o Options, issuer []byte, ca bool) ([]byte, cryptoSigner) {
	t := d.t
	name := strings.ReplaceAll(cn, " ", "_")
	key := name + ".key"
	args := []string{"ecparam", "-name", o.Signer, "-genkey", "-noout", "-out", key}
	if o.Explicit {
		args = append(args, "-param_enc", "explicit")
	}
	run(t, d.dir, "openssl", args...)
	subj := "/C=UT/CN=" + cn
	ext := filepath.Join(d.dir, name+".ext")
	if ca {
		os.WriteFile(ext, []byte("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"), 0o600)
		run(t, d.dir, "openssl", "req", "-new", "-x509", "-key", key, "-subj", subj, "-days", "3650", "-sha256", "-set_serial", fmt.Sprint(serials),
			"-extensions", "v3", "-config", writeConf(t, d.dir, name, ext), "-outform", "DER", "-out", name+".der")
	} else {
		os.WriteFile(ext, []byte("keyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"), 0o600)
		os.WriteFile(filepath.Join(d.dir, "csca.der"), issuer, 0o600)
		run(t, d.dir, "openssl", "x509", "-inform", "DER", "-in", "csca.der", "-out", "csca.pem")
		run(t, d.dir, "openssl", "req", "-new", "-key", key, "-subj", subj, "-out", name+".csr")
		run(t, d.dir, "openssl", "x509", "-req", "-in", name+".csr", "-CA", "csca.pem", "-CAkey", d.cscaKey.public(), "-set_serial", fmt.Sprint(serials),
			"-days", "3650", "-sha256", "-extfile", ext, "-outform", "DER", "-out", name+".der")
	}
	der, err := os.ReadFile(filepath.Join(d.dir, name+".der"))
	if err != nil {
		t.Fatal(err)
	}
	return der, sslSigner{dir: d.dir, key: filepath.Join(d.dir, key)}
}

func writeConf(t testing.TB, dir, name, ext string) string {
	b, err := os.ReadFile(ext)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, name+".cnf")
	os.WriteFile(conf, []byte("[req]\ndistinguished_name=dn\n[dn]\n[v3]\n"+string(b)), 0o600)
	return conf
}

// CRL is a CRL by the CSCA that revokes the document signer (Go-made
// signers only), with extra extensions if given.
func (d *Document) CRL(t testing.TB, extra ...pkix.Extension) []byte {
	csca, err := x509.ParseCertificate(d.CSCA)
	if err != nil {
		t.Fatal(err)
	}
	dsc, err := x509.ParseCertificate(d.DSC)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := d.cscaKey.(goSigner)
	if !ok {
		t.Fatal("icaotest: CRLs of Go-made CSCAs only")
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour),
		NextUpdate: time.Now().AddDate(0, 1, 0), RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: dsc.SerialNumber, RevocationTime: time.Now().Add(-time.Hour)}}, ExtraExtensions: extra},
		csca, g.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
