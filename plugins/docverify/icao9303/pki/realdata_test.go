//go:build realdata

package pki

// Checks against the public real-world ICAO data that
// /work/shared/testdata/icao/PROVENANCE.md describes. The data is never
// copied into the repository: this file reads it from the directory in
// SEGL_ICAO_TESTDATA and runs only under the realdata build tag:
//
//	SEGL_ICAO_TESTDATA=/work/shared/testdata/icao go test -tags realdata ./plugins/docverify/icao9303/pki/
//
// The document signer certificates are taken out of the SODs with
// OpenSSL (openssl cms -cmsout -print_certs), not with this module's CMS
// parser, so that this package's tests depend on nothing but itself.

import (
	"bytes"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func must(s string, _ bool) string { return s }

func realDataDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SEGL_ICAO_TESTDATA")
	if dir == "" {
		t.Fatal("SEGL_ICAO_TESTDATA is not set: point it at the ICAO test data directory (see PROVENANCE.md there)")
	}
	return dir
}

func readReal(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(realDataDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyKind is "RSA" or the curve's name.
func keyKind(k PublicKey) (string, bool) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return "RSA", false
	case *ECPublicKey:
		return k.Curve.Name, k.Explicit
	}
	return "?", false
}

func checkKey(t *testing.T, what string, c *Certificate, wantKind string, wantExplicit bool) {
	t.Helper()
	kind, explicit := keyKind(c.PublicKey)
	if kind != wantKind || explicit != wantExplicit {
		t.Errorf("%s: key %s (explicit %v), want %s (explicit %v)", what, kind, explicit, wantKind, wantExplicit)
	}
}

// The CSCAs and their keys, from PROVENANCE.md's table.
var realCSCAs = []struct {
	file     string
	key      string
	explicit bool
}{
	{"real-sods/AT_CSCA.cer", "brainpoolP384r1", true},
	{"real-sods/DE_CSCA.cer", "brainpoolP512r1", true},
	{"real-sods/FI_CSCA.cer", "brainpoolP512r1", true},
	{"real-sods/FR_CSCA.cer", "RSA", false},
	{"real-sods/ID_CSCA.cer", "RSA", false},
	{"real-sods/MY_CSCA.cer", "RSA", false},
	{"real-sods/NZ_CSCA.cer", "RSA", false},
	{"real-sods/PH_CSCA.cer", "RSA", false},
	{"real-sods/RU_CSCA.cer", "P-256", true},
	{"real-sods/SG_CSCA.cer", "RSA", false},
	{"real-sods/UK_CSCA.cer", "P-384", true},
	{"real-sods/US_CSCA.cer", "RSA", false},
	{"nz-2013/CSCA_NZ_2008.cer", "RSA", false},
	{"uk-2012-expired/CSCA_GB.cer", "RSA", false},
	{"masterlists/DE_CSCA_07.cer", "brainpoolP512r1", true},
	{"masterlists/NL_CSCA_serial7.cer", "RSA", false},
}

func TestRealCSCAs(t *testing.T) {
	for _, tc := range realCSCAs {
		c, err := ParseCertificate(readReal(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		checkKey(t, tc.file, c, tc.key, tc.explicit)
		if !c.IsCA || c.KeyUsage&(1<<5) == 0 {
			t.Errorf("%s: not a CA: cA %v, keyUsage %b", tc.file, c.IsCA, c.KeyUsage)
		}
		err = c.CheckSignatureFrom(c)
		t.Logf("%-32s %-16s %s, signed %s, self-signature: %v", tc.file, tc.key, c.Subject, c.SignatureAlgorithm, err)
		if selfIssued(c) && err != nil {
			t.Errorf("%s: self-signed but %v", tc.file, err)
		}
	}
}

// selfIssued: the certificate names itself and its key as its issuer's
// (a link certificate has the same name but another key).
func selfIssued(c *Certificate) bool {
	return c.Issuer.Equal(c.Subject) && (c.AuthorityKeyID == nil || bytes.Equal(c.AuthorityKeyID, c.SubjectKeyID))
}

// stripSODTag removes EF.SOD's 0x77 application tag, definite or
// indefinite length.
func stripSODTag(t *testing.T, sod []byte) []byte {
	t.Helper()
	if len(sod) < 2 || sod[0] != 0x77 {
		t.Fatalf("EF.SOD does not start with 0x77")
	}
	l, rest := int(sod[1]), sod[2:]
	switch {
	case l == 0x80:
		if !bytes.HasSuffix(rest, []byte{0, 0}) {
			t.Fatal("indefinite 0x77 without end-of-contents")
		}
		return rest[:len(rest)-2]
	case l > 0x80:
		n := l & 0x7f
		l = 0
		for _, b := range rest[:n] {
			l = l<<8 | int(b)
		}
		rest = rest[n:]
	}
	if l != len(rest) {
		t.Fatalf("0x77 length %d, %d bytes follow", l, len(rest))
	}
	return rest
}

// embeddedCerts returns the certificates of a CMS SignedData, through
// OpenSSL: "openssl pkcs7 -print_certs" (OpenSSL 3.0's cms command has
// no -print_certs), which also reads the BER of the New Zealand SODs.
func embeddedCerts(t *testing.T, cms []byte) [][]byte {
	t.Helper()
	in := filepath.Join(t.TempDir(), "cms.der")
	if err := os.WriteFile(in, cms, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := openssl(t, "pkcs7", "-print_certs", "-inform", "DER", "-in", in)
	if err != nil {
		t.Fatalf("openssl pkcs7 -print_certs: %v", err)
	}
	return pemCerts(out)
}

func pemCerts(data []byte) [][]byte {
	var certs [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return certs
		}
		certs = append(certs, b.Bytes)
	}
}

func TestRealDSCs(t *testing.T) {
	cases := []struct {
		name, sod, csca string
		key             string
		explicit        bool
	}{
		{"AT", "real-sods/AT_EF_SOD.bin", "real-sods/AT_CSCA.cer", "brainpoolP256r1", true},
		{"DE", "real-sods/DE_EF_SOD.bin", "real-sods/DE_CSCA.cer", "brainpoolP384r1", true},
		{"DE CardSecurity", "real-sods/DE_EF_CardSecurity.bin", "real-sods/DE_CSCA.cer", "brainpoolP384r1", true},
		{"FI", "real-sods/FI_EF_SOD.bin", "real-sods/FI_CSCA.cer", "brainpoolP512r1", true},
		{"FR", "real-sods/FR_EF_SOD.bin", "real-sods/FR_CSCA.cer", "RSA", false},
		{"ID", "real-sods/ID_EF_SOD.bin", "real-sods/ID_CSCA.cer", "RSA", false},
		{"MY", "real-sods/MY_EF_SOD.bin", "real-sods/MY_CSCA.cer", "RSA", false},
		{"NZ", "real-sods/NZ_EF_SOD.bin", "real-sods/NZ_CSCA.cer", "RSA", false},
		{"PH", "real-sods/PH_EF_SOD.bin", "real-sods/PH_CSCA.cer", "RSA", false},
		{"RU", "real-sods/RU_EF_SOD.bin", "real-sods/RU_CSCA.cer", "P-256", true},
		{"SG", "real-sods/SG_EF_SOD.bin", "real-sods/SG_CSCA.cer", "RSA", false},
		{"UK", "real-sods/UK_EF_SOD.bin", "real-sods/UK_CSCA.cer", "P-256", true},
		{"US", "real-sods/US_EF_SOD.bin", "real-sods/US_CSCA.cer", "RSA", false},
		{"NZ 2013", "nz-2013/EF_SOD.bin", "nz-2013/CSCA_NZ_2008.cer", "RSA", false},
		{"UK 2012", "uk-2012-expired/EF_SOD.bin", "uk-2012-expired/CSCA_GB.cer", "RSA", false},
		// Test documents whose CSCAs are not public: the DSC parses.
		{"BSI 2008", "bsi2008-mustermann/EF_SOD.bin", "", "brainpoolP224r1", true},
		{"NL Sdu 2006", "nl-sdu-loes2006/EF_SOD.bin", "", "RSA", false},
	}
	wrong, err := ParseCertificate(readReal(t, "real-sods/FR_CSCA.cer"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := readReal(t, tc.sod)
			if raw[0] == 0x77 {
				raw = stripSODTag(t, raw)
			}
			certs := embeddedCerts(t, raw)
			if len(certs) != 1 {
				t.Fatalf("%d embedded certificates, want 1", len(certs))
			}
			dsc, err := ParseCertificate(certs[0])
			if err != nil {
				t.Fatal(err)
			}
			checkKey(t, "DSC", dsc, tc.key, tc.explicit)
			if tc.csca == "" {
				t.Logf("DSC %s, issued by %s (CSCA not public)", dsc.Subject, dsc.Issuer)
				return
			}
			csca, err := ParseCertificate(readReal(t, tc.csca))
			if err != nil {
				t.Fatal(err)
			}
			if err := dsc.CheckSignatureFrom(csca); err != nil {
				t.Errorf("DSC %s from CSCA %s: %v", dsc.Subject, csca.Subject, err)
			} else {
				t.Logf("DSC %s (%s), signed %s by %s: ok", dsc.Subject, tc.key, dsc.SignatureAlgorithm, csca.Subject)
			}
			// A changed TBS, a changed signature, the wrong CSCA.
			tbs := bytes.Clone(dsc.RawTBSCertificate)
			tbs[len(tbs)/2] ^= 1
			if err := VerifySignature(csca.PublicKey, dsc.SignatureAlgorithm, 0, tbs, dsc.Signature); !errors.Is(err, ErrBadSignature) {
				t.Errorf("flipped TBS byte: %v, want ErrBadSignature", err)
			}
			sig := bytes.Clone(dsc.Signature)
			sig[len(sig)-1] ^= 1
			if err := VerifySignature(csca.PublicKey, dsc.SignatureAlgorithm, 0, dsc.RawTBSCertificate, sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("flipped signature byte: %v, want ErrBadSignature", err)
			}
			if tc.csca != "real-sods/FR_CSCA.cer" {
				if err := dsc.CheckSignatureFrom(wrong); !errors.Is(err, ErrIssuerMismatch) {
					t.Errorf("from the French CSCA: %v, want ErrIssuerMismatch", err)
				}
				if err := VerifySignature(wrong.PublicKey, dsc.SignatureAlgorithm, 0, dsc.RawTBSCertificate, dsc.Signature); err == nil {
					t.Errorf("verifies with the French CSCA's key")
				}
			}
		})
	}
}

// masterListCerts returns the certificates of a CSCA master list's
// CscaMasterList ::= SEQUENCE { version INTEGER, certList SET OF
// Certificate }, and the certificates of its SignedData (the signer's,
// perhaps its CSCA's), taking both out with OpenSSL's cms command (the
// German list names its signer by subjectKeyIdentifier, which the pkcs7
// command cannot read).
func masterListCerts(t *testing.T, rel string) (csca, embedded [][]byte) {
	t.Helper()
	dir := t.TempDir()
	in, out, certs := filepath.Join(dir, "ml.der"), filepath.Join(dir, "content.der"), filepath.Join(dir, "certs.pem")
	if err := os.WriteFile(in, readReal(t, rel), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openssl(t, "cms", "-verify", "-noverify", "-nosigs", "-inform", "DER", "-in", in, "-binary", "-out", out, "-certsout", certs); err != nil {
		t.Fatalf("openssl cms -verify -nosigs: %v", err)
	}
	content, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := cryptobyte.String(content)
	var ml, set cryptobyte.String
	var version int64
	if !s.ReadASN1(&ml, cbasn1.SEQUENCE) || !ml.ReadASN1Integer(&version) || !ml.ReadASN1(&set, cbasn1.SET) {
		t.Fatal("not a CscaMasterList")
	}
	for !set.Empty() {
		var cert cryptobyte.String
		if !set.ReadASN1Element(&cert, cbasn1.SEQUENCE) {
			t.Fatal("certList")
		}
		csca = append(csca, cert)
	}
	pemData, err := os.ReadFile(certs)
	if err != nil {
		t.Fatal(err)
	}
	return csca, pemCerts(pemData)
}

func TestRealMasterLists(t *testing.T) {
	for _, tc := range []struct{ ml, anchor string }{
		{"masterlists/DE_ML_2026-05-28-08-28-45.ml", "masterlists/DE_CSCA_07.cer"},
		{"masterlists/NL_ML_2026-07-22.ml", "masterlists/NL_CSCA_serial7.cer"},
	} {
		t.Run(filepath.Base(tc.ml), func(t *testing.T) {
			raws, embedded := masterListCerts(t, tc.ml)
			anchor, err := ParseCertificate(readReal(t, tc.anchor))
			if err != nil {
				t.Fatal(err)
			}
			signers := 0
			for _, raw := range embedded {
				if bytes.Equal(raw, anchor.Raw) {
					continue
				}
				signer, err := ParseCertificate(raw)
				if err != nil {
					t.Fatal(err)
				}
				if err := signer.CheckSignatureFrom(anchor); err != nil {
					t.Errorf("master list signer %s from %s: %v", signer.Subject, anchor.Subject, err)
				}
				t.Logf("master list signer %s (%s), signed %s by %s: ok", signer.Subject, must(keyKind(signer.PublicKey)), signer.SignatureAlgorithm, anchor.Subject)
				signers++
			}
			if signers != 1 {
				t.Errorf("%d master list signers, want 1", signers)
			}
			kinds := map[string]int{}
			failures := map[string]int{}
			critical := map[string]int{}
			var certs []*Certificate
			for _, raw := range raws {
				c, err := ParseCertificate(raw)
				if err != nil {
					failures[err.Error()]++
					continue
				}
				certs = append(certs, c)
				for _, oid := range c.UnhandledCriticalExtensions {
					critical[oid.String()]++
				}
				kind, explicit := keyKind(c.PublicKey)
				if explicit {
					kind += " explicit"
				}
				kinds[kind]++
			}
			// Every self-signed certificate verifies; every other one
			// (a link certificate, signed by the country's previous key)
			// whose issuer is in the list, by name and by key
			// identifier, verifies from it.
			selfOK, linkOK, noIssuer := 0, 0, 0
			for _, c := range certs {
				if selfIssued(c) {
					if err := c.CheckSignatureFrom(c); err != nil {
						t.Errorf("self-signed %s: %v", c.Subject, err)
					} else {
						selfOK++
					}
					continue
				}
				candidates, verified := 0, false
				var lastErr error
				for _, issuer := range certs {
					if issuer == c || !c.Issuer.Equal(issuer.Subject) || !bytes.Equal(c.AuthorityKeyID, issuer.SubjectKeyID) {
						continue
					}
					candidates++
					if lastErr = c.CheckSignatureFrom(issuer); lastErr == nil {
						verified = true
						break
					}
				}
				switch {
				case verified:
					linkOK++
				case candidates == 0:
					noIssuer++
				default:
					t.Errorf("%s (AKI %x): none of the %d certificates named %s with that SKI verifies it: %v", c.Subject, c.AuthorityKeyID, candidates, c.Issuer, lastErr)
				}
			}
			t.Logf("self-signed: %d verify; others: %d verify from a certificate of the list, %d have no issuer in it", selfOK, linkOK, noIssuer)
			t.Logf("%d certificates: %d parse, keys %v, critical extensions left to the caller %v", len(raws), len(certs), kinds, critical)
			for msg, n := range failures {
				t.Errorf("%d× %s", n, msg)
			}
		})
	}
}
