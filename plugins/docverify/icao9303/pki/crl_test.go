package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"path/filepath"
	"testing"
	"time"
)

// TestGoMadeCRLs: CRLs crypto/x509 makes (v2, with cRLNumber,
// authorityKeyIdentifier and reason codes), RSA and ECDSA.
func TestGoMadeCRLs(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  string
		alg  x509.SignatureAlgorithm
	}{
		{"RSA", "rsa2048", x509.SHA256WithRSA},
		{"RSA-PSS", "rsa2048", x509.SHA384WithRSAPSS},
		{"P-384", "P-384", x509.ECDSAWithSHA384},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := goKey(t, tc.key)
			tmpl := cscaTemplate("CSCA CRL "+tc.name, 1)
			tmpl.SignatureAlgorithm = tc.alg
			cscaDER, cscaX := goCert(t, tmpl, key, nil, nil)
			csca := mustParse(t, cscaDER)
			rl := &x509.RevocationList{
				SignatureAlgorithm: tc.alg,
				Number:             big.NewInt(42),
				ThisUpdate:         testNow,
				NextUpdate:         testNow.Add(30 * 24 * time.Hour),
				RevokedCertificateEntries: []x509.RevocationListEntry{
					{SerialNumber: big.NewInt(1001), RevocationTime: testNow.Add(-time.Hour), ReasonCode: 1},
					{SerialNumber: new(big.Int).Lsh(big.NewInt(1), 150), RevocationTime: testNow.Add(-2 * time.Hour)},
				},
			}
			der, err := x509.CreateRevocationList(rand.Reader, rl, cscaX, key)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			crl, err := ParseCRL(der)
			if err != nil {
				t.Fatal(err)
			}
			if crl.Version != 2 || crl.Number.Int64() != 42 || !crl.ThisUpdate.Equal(theirs.ThisUpdate) ||
				!crl.NextUpdate.Equal(theirs.NextUpdate) || !bytes.Equal(crl.RawTBSCertList, theirs.RawTBSRevocationList) ||
				!bytes.Equal(crl.RawIssuer, theirs.RawIssuer) || !bytes.Equal(crl.AuthorityKeyID, csca.SubjectKeyID) ||
				!bytes.Equal(crl.Signature, theirs.Signature) || len(crl.UnhandledCriticalExtensions) != 0 {
				t.Errorf("CRL differs from crypto/x509's: %+v", crl)
			}
			if len(crl.Revoked) != 2 || crl.Revoked[0].ReasonCode != 1 || crl.Revoked[1].ReasonCode != -1 ||
				!crl.Revoked[0].RevocationTime.Equal(theirs.RevokedCertificateEntries[0].RevocationTime) {
				t.Errorf("entries %+v", crl.Revoked)
			}
			for _, e := range rl.RevokedCertificateEntries {
				if !crl.IsRevoked(e.SerialNumber) {
					t.Errorf("%v is not revoked", e.SerialNumber)
				}
			}
			if crl.IsRevoked(big.NewInt(1002)) || crl.IsRevoked(big.NewInt(-1001)) || crl.IsRevoked(nil) {
				t.Error("a serial not listed is revoked")
			}
			if err := crl.CheckSignatureFrom(csca); err != nil {
				t.Errorf("CheckSignatureFrom: %v", err)
			}
			// A flipped byte in the TBS, another CSCA, a CSCA that may not
			// sign CRLs.
			tampered, err := ParseCRL(flipIn(t, der, "CSCA CRL "+tc.name))
			if err != nil {
				t.Fatal(err)
			}
			tampered.Issuer = crl.Issuer
			if err := tampered.CheckSignatureFrom(csca); !errors.Is(err, ErrBadSignature) {
				t.Errorf("flipped TBS byte: %v, want ErrBadSignature", err)
			}
			otherDER, _ := goCert(t, cscaTemplate("Another CSCA", 2), key, nil, nil)
			if err := crl.CheckSignatureFrom(mustParse(t, otherDER)); !errors.Is(err, ErrIssuerMismatch) {
				t.Errorf("another CSCA: %v, want ErrIssuerMismatch", err)
			}
			noCRLSign := cscaTemplate("CSCA CRL "+tc.name, 3)
			noCRLSign.KeyUsage = x509.KeyUsageCertSign
			ncDER, _ := goCert(t, noCRLSign, key, nil, nil)
			if err := crl.CheckSignatureFrom(mustParse(t, ncDER)); !errors.Is(err, ErrNotAuthorized) {
				t.Errorf("without cRLSign: %v, want ErrNotAuthorized", err)
			}
			for name, in := range map[string][]byte{
				"trailing byte": append(bytes.Clone(der), 0),
				"truncated":     der[:len(der)-1],
				"certificate":   cscaDER,
			} {
				if _, err := ParseCRL(in); !errors.Is(err, ErrMalformed) {
					t.Errorf("%s: %v, want ErrMalformed", name, err)
				}
			}
		})
	}
}

// TestOpenSSLMadeCRLs: CRLs openssl ca -gencrl makes with brainpool and
// explicit-parameter CSCAs: v1 without extensions, v2 with a reason, and
// v2 with a critical issuingDistributionPoint this package leaves to the
// caller.
func TestOpenSSLMadeCRLs(t *testing.T) {
	for _, tc := range []struct {
		name, key, md string
		crlexts       string
		reason        string
		wantVersion   int
		wantCritical  bool
	}{
		{"brainpoolP384r1 explicit, v1", "ec:brainpoolP384r1:explicit", "sha384", "", "", 1, false},
		{"brainpoolP512r1, v2", "ec:brainpoolP512r1", "sha512", "crlext", "keyCompromise", 2, false},
		{"P-256 explicit, critical IDP", "ec:prime256v1:explicit", "sha256", "crlext_critical", "superseded", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := opensslDir(t)
			ca := opensslCSCA(t, dir, "csca", tc.key, "/C=XX/O=Segl Test/CN=CSCA XX", tc.md)
			revoked := ca.issue(t, "dsc1", tc.key, "/C=XX/O=Segl Test/CN=DSC 1", tc.md, "dsc", 1001)
			ca.issue(t, "dsc2", tc.key, "/C=XX/O=Segl Test/CN=DSC 2", tc.md, "dsc", 1002)
			cnf := filepath.Join(dir, "openssl.cnf")
			if tc.wantVersion == 1 { // without a crlnumber, openssl ca makes a v1 CRL
				text := readFile(t, cnf)
				writeFile(t, cnf, bytes.Replace(text, []byte("crlnumber = "), []byte("# crlnumber = "), 1))
			}
			args := []string{"ca", "-config", cnf, "-keyfile", ca.key, "-cert", ca.pem, "-md", tc.md, "-revoke", revoked.pem}
			if tc.reason != "" {
				args = append(args, "-crl_reason", tc.reason)
			}
			mustOpenSSL(t, args...)
			out := filepath.Join(dir, "crl.pem")
			args = []string{"ca", "-config", cnf, "-keyfile", ca.key, "-cert", ca.pem, "-md", tc.md, "-gencrl", "-out", out}
			if tc.crlexts != "" {
				args = append(args, "-crlexts", tc.crlexts)
			}
			mustOpenSSL(t, args...)
			crl, err := ParseCRL(pemDER(t, out))
			if err != nil {
				t.Fatal(err)
			}
			csca := mustParse(t, ca.der)
			if err := crl.CheckSignatureFrom(csca); err != nil {
				t.Fatalf("CheckSignatureFrom: %v", err)
			}
			if crl.Version != tc.wantVersion || len(crl.Revoked) != 1 || crl.NextUpdate.IsZero() || (crl.Number != nil) != (tc.wantVersion == 2) {
				t.Errorf("version %d, %d entries, next update %v, number %v", crl.Version, len(crl.Revoked), crl.NextUpdate, crl.Number)
			}
			if want := map[string]int{"": -1, "keyCompromise": 1, "superseded": 4}[tc.reason]; crl.Revoked[0].ReasonCode != want {
				t.Errorf("reason %d, want %d", crl.Revoked[0].ReasonCode, want)
			}
			if !crl.IsRevoked(big.NewInt(1001)) || crl.IsRevoked(big.NewInt(1002)) {
				t.Error("IsRevoked")
			}
			if tc.crlexts != "" && !bytes.Equal(crl.AuthorityKeyID, csca.SubjectKeyID) {
				t.Errorf("AKI %x", crl.AuthorityKeyID)
			}
			idp := asn1.ObjectIdentifier{2, 5, 29, 28}
			if got := len(crl.UnhandledCriticalExtensions) == 1 && crl.UnhandledCriticalExtensions[0].Equal(idp); got != tc.wantCritical {
				t.Errorf("unhandled critical extensions %v", crl.UnhandledCriticalExtensions)
			}
			sig := bytes.Clone(crl.Signature)
			crl.Signature = flipLast(sig)
			if err := crl.CheckSignatureFrom(csca); !errors.Is(err, ErrBadSignature) {
				t.Errorf("flipped signature: %v, want ErrBadSignature", err)
			}
		})
	}
}
