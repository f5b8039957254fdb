package icao9303

import (
	"bytes"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/segl/segl/plugins/docverify/icao9303/cms"
	"github.com/segl/segl/plugins/docverify/icao9303/pki"
)

// Trust is what documents are checked against: the CSCAs (from files and
// from master lists verified against their anchors) and the CSCAs' CRLs.
type Trust struct {
	CSCAs []*pki.Certificate
	CRLs  []*pki.CRL
	// Countries counts the CSCAs by their subject's country, for the
	// plugin's description and segl documents masterlist.
	Countries map[string]int
	// Skipped says which certificates of master lists could not be read
	// and were left out.
	Skipped []string
}

// AddCSCA adds a CSCA certificate (DER or PEM; a PEM file may hold several).
func (t *Trust) AddCSCA(data []byte, from string) error {
	ders, err := certificates(data)
	if err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	for i, der := range ders {
		c, err := pki.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%s: certificate %d: %w", from, i+1, err)
		}
		t.add(c)
	}
	return nil
}

func (t *Trust) add(c *pki.Certificate) {
	if slices.ContainsFunc(t.CSCAs, func(o *pki.Certificate) bool { return bytes.Equal(o.Raw, c.Raw) }) {
		return
	}
	t.CSCAs = append(t.CSCAs, c)
	if t.Countries == nil {
		t.Countries = map[string]int{}
	}
	t.Countries[country(c.Subject)]++
}

var oidCountry = asn1.ObjectIdentifier{2, 5, 4, 6}

// oidMasterListSigner is id-icao-cscaMasterListSigningKey.
var oidMasterListSigner = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 3}

// country is a Name's countryName, upper case, or "?".
func country(n pki.Name) string {
	for _, rdn := range n {
		for _, a := range rdn {
			if a.Type.Equal(oidCountry) && len(a.Value) > 0 && len(a.Value) <= 3 {
				return strings.ToUpper(string(a.Value))
			}
		}
	}
	return "?"
}

// AddCSCAPath adds a CSCA file, or every *.der, *.cer, *.crt and *.pem
// file of a directory.
func (t *Trust) AddCSCAPath(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	files := []string{path}
	if fi.IsDir() {
		files = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".der", ".cer", ".crt", ".pem":
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		if len(files) == 0 {
			return fmt.Errorf("%s holds no .der, .cer, .crt or .pem file", path)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := t.AddCSCA(b, f); err != nil {
			return err
		}
	}
	return nil
}

// AddMasterList verifies a CSCA master list against its anchor (a CSCA the
// operator trusts, which signed the master list signer's certificate) at
// time at, and adds its CSCAs. It returns how many it held.
func (t *Trust) AddMasterList(ml, anchor []byte, at time.Time) (int, error) {
	anchors, err := certificates(anchor)
	if err != nil || len(anchors) != 1 {
		return 0, fmt.Errorf("the anchor must be one certificate (DER or PEM): %v", err)
	}
	a, err := pki.ParseCertificate(anchors[0])
	if err != nil {
		return 0, fmt.Errorf("the anchor: %w", err)
	}
	sd, list, err := cms.ParseSignedMasterList(ml)
	if err != nil {
		return 0, err
	}
	signer, err := verifySignedData(sd, nil)
	if err != nil {
		return 0, fmt.Errorf("the master list's signature: %w", err)
	}
	if err := signer.CheckSignatureFrom(a); err != nil {
		return 0, fmt.Errorf("the master list signer %s is not signed by the anchor %s: %w", signer.Subject, a.Subject, err)
	}
	// ICAO 9303 part 12 gives a master list signer's certificate this
	// extended key usage; without it, the key may be a document
	// signer's, or another of the anchor's keys, that never vouched for
	// a list.
	if !slices.ContainsFunc(signer.ExtKeyUsage, oidMasterListSigner.Equal) {
		return 0, fmt.Errorf("the master list signer %s lacks the master list signing key usage (%v) in its certificate", signer.Subject, oidMasterListSigner)
	}
	for _, c := range []*pki.Certificate{signer, a} {
		if !c.ValidAt(at) {
			return 0, fmt.Errorf("%s is not valid at %s (%s to %s)", c.Subject, at.Format(time.RFC3339), c.NotBefore.Format(time.DateOnly), c.NotAfter.Format(time.DateOnly))
		}
		if err := unhandledCritical(c.Subject.String(), c.UnhandledCriticalExtensions); err != nil {
			return 0, fmt.Errorf("the master list: %w", err)
		}
	}
	n := 0
	for i, der := range list.Certificates {
		c, err := pki.ParseCertificate(der)
		if err != nil {
			// One CSCA of hundreds that this parser cannot read is not a
			// reason to trust none: it is left out, and said.
			t.Skipped = append(t.Skipped, fmt.Sprintf("master list certificate %d: %v", i+1, err))
			continue
		}
		t.add(c)
		n++
	}
	return n, nil
}

// AddCRL adds a CRL; its signature is checked against its CSCA when a
// document's chain uses it.
func (t *Trust) AddCRL(der []byte) error {
	if block, _ := pem.Decode(der); block != nil {
		der = block.Bytes
	}
	c, err := pki.ParseCRL(der)
	if err != nil {
		return err
	}
	t.CRLs = append(t.CRLs, c)
	return nil
}

// issuerOf finds the CSCA that signed c: the one whose subject key
// identifier is c's authority key identifier, else those whose subject is
// c's issuer; among several, the one whose signature verifies.
func (t *Trust) issuerOf(c *pki.Certificate) (*pki.Certificate, error) {
	var candidates []*pki.Certificate
	for _, ca := range t.CSCAs {
		if len(c.AuthorityKeyID) > 0 && len(ca.SubjectKeyID) > 0 {
			if bytes.Equal(c.AuthorityKeyID, ca.SubjectKeyID) {
				candidates = append(candidates, ca)
			}
			continue
		}
		if ca.Subject.Equal(c.Issuer) {
			candidates = append(candidates, ca)
		}
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("no trusted CSCA is the document signer's issuer %s", c.Issuer)
	}
	var last error
	for _, ca := range candidates {
		if last = c.CheckSignatureFrom(ca); last == nil {
			return ca, nil
		}
	}
	return nil, fmt.Errorf("the document signer's signature does not verify with its CSCA %s: %w", candidates[0].Subject, last)
}

// crlOf is the newest CRL its CSCA signed, or nil.
func (t *Trust) crlOf(csca *pki.Certificate) (*pki.CRL, error) {
	var best *pki.CRL
	var bad error
	for _, crl := range t.CRLs {
		if !crl.Issuer.Equal(csca.Subject) {
			continue
		}
		if err := crl.CheckSignatureFrom(csca); err != nil {
			bad = err
			continue
		}
		if best == nil || crl.ThisUpdate.After(best.ThisUpdate) {
			best = crl
		}
	}
	if best == nil && bad != nil {
		return nil, fmt.Errorf("the CSCA's CRL does not verify: %w", bad)
	}
	return best, nil
}

// certificates splits DER or PEM data into DER certificates.
func certificates(data []byte) ([][]byte, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		return [][]byte{data}, nil
	}
	var out [][]byte
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			out = append(out, block.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE block in the PEM")
	}
	return out, nil
}
