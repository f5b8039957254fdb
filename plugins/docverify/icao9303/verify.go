// Package icao9303 verifies passports and ID cards as ICAO Doc 9303 part 11
// says: passive authentication (the SOD's signature by the document
// signer, every data group's hash, the signer's chain to a trusted CSCA
// and its CRL), active authentication over a challenge the server chose,
// and DG1's MRZ. Its parts are written for what real documents send
// (ber, cms, pki, aa, mrz; see each package), because Go's crypto/x509
// refuses the explicit curve parameters and brainpool curves that many
// countries use.
package icao9303

import (
	"bytes"
	"crypto/hmac"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segl/segl/plugins/docverify"
	"github.com/segl/segl/plugins/docverify/icao9303/cms"
	"github.com/segl/segl/plugins/docverify/icao9303/mrz"
	"github.com/segl/segl/plugins/docverify/icao9303/pki"
)

// Check names, in the order Verify reports them.
const (
	CheckSODSignature = "sod-signature"
	CheckChain        = "chain"
	CheckCRL          = "crl"
	CheckAA           = "active-authentication"
	CheckMRZ          = "mrz"
	CheckExpiry       = "expiry"
)

// CheckDG is the name of data group n's hash check.
func CheckDG(n int) string { return "dg" + strconv.Itoa(n) + "-hash" }

// report collects the checks of one document.
type report struct{ v docverify.Verdict }

func (r *report) add(name string, res docverify.Result, format string, args ...any) {
	r.v.Checks = append(r.v.Checks, docverify.Check{Name: name, Result: res, Detail: fmt.Sprintf(format, args...)})
}
func (r *report) ok(name string) { r.add(name, docverify.OK, "") }
func (r *report) failed(name, format string, args ...any) {
	r.add(name, docverify.Failed, format, args...)
}
func (r *report) skipped(name, format string, args ...any) {
	r.add(name, docverify.Skipped, format, args...)
}
func (r *report) result(name string) (docverify.Result, bool) { return resultOf(r.v.Checks, name) }

func resultOf(cs []docverify.Check, name string) (docverify.Result, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c.Result, true
		}
	}
	return 0, false
}

// Verify checks a document against t at d.At. It always answers a
// verdict: genuine only when the SOD's signature, every supplied data
// group, the chain and (when asked) active authentication pass, and the
// document has not expired; a check that cannot be made is skipped and
// says why.
func Verify(t *Trust, d docverify.Document) *docverify.Verdict {
	r := &report{}
	at := d.At
	if at.IsZero() {
		at = time.Now()
	}
	sd, lds, dsc := r.passive(d)
	if dsc != nil {
		r.chain(t, dsc, at)
	} else {
		r.skipped(CheckChain, "no verified document signer")
		r.skipped(CheckCRL, "no verified document signer")
	}
	_ = sd
	r.active(d, lds)
	r.mrz(d, at)
	for _, c := range r.v.Checks {
		if c.Result == docverify.Failed {
			r.v.Reason = c.Name + ": " + c.Detail
			break
		}
	}
	must := func(name string) bool { res, ok := r.result(name); return ok && res == docverify.OK }
	r.v.Genuine = r.v.Reason == "" && must(CheckSODSignature) && must(CheckChain)
	if !r.v.Genuine && r.v.Reason == "" {
		for _, name := range []string{CheckSODSignature, CheckChain} {
			if !must(name) {
				res, _ := r.result(name)
				r.v.Reason = name + ": " + res.String()
				for _, c := range r.v.Checks {
					if c.Name == name && c.Detail != "" {
						r.v.Reason += " (" + c.Detail + ")"
					}
				}
				break
			}
		}
	}
	return &r.v
}

// passive checks the SOD's signature and the data groups' hashes, and
// returns the verified document signer.
func (r *report) passive(d docverify.Document) (*cms.SignedData, *cms.LDSSecurityObject, *pki.Certificate) {
	sd, lds, err := cms.ParseSOD(d.SOD)
	if err != nil {
		r.failed(CheckSODSignature, "%v", err)
		for _, n := range sortedDGs(d) {
			r.skipped(CheckDG(n), "the SOD does not parse")
		}
		return nil, nil, nil
	}
	dsc, err := verifySignedData(sd, nil)
	if err != nil {
		r.failed(CheckSODSignature, "%v", err)
	} else {
		r.ok(CheckSODSignature)
	}
	for _, n := range sortedDGs(d) {
		want, listed := lds.DataGroupHash(n)
		if !listed {
			r.failed(CheckDG(n), "the SOD does not list data group %d: its content is not authenticated", n)
			continue
		}
		h := lds.Hash.New()
		h.Write(d.DataGroups[n])
		if !hmac.Equal(h.Sum(nil), want) {
			r.failed(CheckDG(n), "its %s differs from the SOD's", lds.Hash)
			continue
		}
		if err != nil {
			r.skipped(CheckDG(n), "the hash matches, but the SOD's signature does not verify")
			continue
		}
		r.ok(CheckDG(n))
	}
	for _, h := range lds.DataGroupHashes {
		if _, given := d.DataGroups[h.DataGroup]; !given {
			r.skipped(CheckDG(h.DataGroup), "listed in the SOD, not supplied")
		}
	}
	if err != nil {
		return sd, lds, nil
	}
	return sd, lds, dsc
}

func sortedDGs(d docverify.Document) []int {
	var ns []int
	for n := range d.DataGroups {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// verifySignedData checks the one SignerInfo of sd with the certificate
// it names among sd's (or with signer when given): the content type and
// message digest attributes, and the signature over the signed
// attributes. It returns the signer's certificate.
func verifySignedData(sd *cms.SignedData, signer *pki.Certificate) (*pki.Certificate, error) {
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("%d SignerInfos; one is expected", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	if signer == nil {
		var err error
		if signer, err = signerCertificate(sd, si); err != nil {
			return nil, err
		}
	}
	if si.RawSignedAttrs == nil {
		return nil, errors.New("the SignerInfo has no signed attributes")
	}
	if !si.ContentType.Equal(sd.EContentType) {
		return nil, fmt.Errorf("the signed contentType %v is not the content's %v", si.ContentType, sd.EContentType)
	}
	hash, err := pki.DigestAlgorithm(si.DigestAlgorithm)
	if err != nil {
		return nil, fmt.Errorf("the SignerInfo's digestAlgorithm: %w", err)
	}
	h := hash.New()
	h.Write(sd.EContent)
	if !hmac.Equal(h.Sum(nil), si.MessageDigest) {
		return nil, errors.New("the signed messageDigest is not the content's digest")
	}
	if err := pki.VerifySignature(signer.PublicKey, si.SignatureAlgorithm, hash, si.SignedAttrsToVerify(), si.Signature); err != nil {
		return nil, fmt.Errorf("the signature by %s: %w", signer.Subject, err)
	}
	return signer, nil
}

// signerCertificate finds the certificate a SignerInfo names among the
// SignedData's: by subject key identifier, or by issuer and serial with
// the issuer compared as a set of attributes (Malaysia's SignerInfo lists
// the RDNs in another order than the certificate).
func signerCertificate(sd *cms.SignedData, si cms.SignerInfo) (*pki.Certificate, error) {
	var match []*pki.Certificate
	for i, der := range sd.Certificates {
		c, err := pki.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("the SOD's certificate %d: %w", i+1, err)
		}
		switch {
		case len(si.SubjectKeyIdentifier) > 0:
			if bytes.Equal(si.SubjectKeyIdentifier, c.SubjectKeyID) {
				match = append(match, c)
			}
		case si.SerialNumber != nil && si.SerialNumber.Cmp(c.SerialNumber) == 0:
			issuer, err := pki.ParseName(si.Issuer)
			if err == nil && issuer.Equal(c.Issuer) {
				match = append(match, c)
			}
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, fmt.Errorf("none of the %d certificates is the signer the SignerInfo names", len(sd.Certificates))
	}
	return nil, fmt.Errorf("%d certificates match the SignerInfo's signer", len(match))
}

// chain checks the document signer against the trust store at at.
func (r *report) chain(t *Trust, dsc *pki.Certificate, at time.Time) {
	csca, err := t.issuerOf(dsc)
	if err != nil {
		r.failed(CheckChain, "%v", err)
		r.skipped(CheckCRL, "no CSCA")
		return
	}
	for _, c := range []struct {
		what string
		c    *pki.Certificate
	}{{"the document signer", dsc}, {"the CSCA", csca}} {
		if !c.c.ValidAt(at) {
			r.failed(CheckChain, "%s %s is valid from %s to %s, not at %s", c.what, c.c.Subject, c.c.NotBefore.Format(time.DateOnly),
				c.c.NotAfter.Format(time.DateOnly), at.Format(time.DateOnly))
			r.skipped(CheckCRL, "the chain failed")
			return
		}
		if err := unhandledCritical(c.what+" "+c.c.Subject.String(), c.c.UnhandledCriticalExtensions); err != nil {
			r.failed(CheckChain, "%v", err)
			r.skipped(CheckCRL, "the chain failed")
			return
		}
	}
	r.ok(CheckChain)
	crl, err := t.crlOf(csca)
	switch {
	case err != nil:
		r.failed(CheckCRL, "%v", err)
	case crl == nil:
		r.skipped(CheckCRL, "no CRL of %s", country(csca.Subject))
	case len(crl.UnhandledCriticalExtensions) > 0:
		r.failed(CheckCRL, "%v", unhandledCritical("the newest CRL of "+country(csca.Subject), crl.UnhandledCriticalExtensions))
	case crl.IsRevoked(dsc.SerialNumber):
		r.failed(CheckCRL, "the document signer (serial %s) is revoked", dsc.SerialNumber)
	case !crl.NextUpdate.IsZero() && at.After(crl.NextUpdate):
		r.failed(CheckCRL, "the newest CRL of %s expired on %s", country(csca.Subject), crl.NextUpdate.Format(time.DateOnly))
	default:
		r.ok(CheckCRL)
	}
}

// unhandledCritical is the one rule for critical extensions: a
// certificate or CRL with a critical extension this verifier does not
// read cannot be relied on (RFC 5280 4.2 and 5.2), so what has one fails
// the check that uses it, naming the extensions.
func unhandledCritical(what string, oids []asn1.ObjectIdentifier) error {
	if len(oids) == 0 {
		return nil
	}
	names := make([]string, len(oids))
	for i, o := range oids {
		names[i] = o.String()
	}
	return fmt.Errorf("%s has a critical extension this verifier does not handle (%s), so it cannot be relied on", what, strings.Join(names, ", "))
}

// mrz parses DG1, whose hash the SOD must have vouched for, and checks
// the document's expiry.
func (r *report) mrz(d docverify.Document, at time.Time) {
	dg1, ok := d.DataGroups[1]
	if !ok {
		r.skipped(CheckMRZ, "DG1 not supplied")
		r.skipped(CheckExpiry, "DG1 not supplied")
		return
	}
	if res, _ := r.result(CheckDG(1)); res != docverify.OK {
		r.skipped(CheckMRZ, "DG1 is not authenticated")
		r.skipped(CheckExpiry, "DG1 is not authenticated")
		return
	}
	m, err := mrz.ParseDG1At(dg1, at)
	if err != nil {
		r.failed(CheckMRZ, "%v", err)
		r.skipped(CheckExpiry, "the MRZ does not parse")
		return
	}
	r.ok(CheckMRZ)
	r.v.Holder = &docverify.Holder{DocumentCode: m.DocumentCode, IssuingState: m.IssuingState, DocumentNumber: m.DocumentNumber,
		Surname: m.Surname, GivenNames: m.GivenNames, Nationality: m.Nationality, Sex: m.Sex, DateOfExpiry: m.DateOfExpiry.Format(time.DateOnly)}
	if !m.DateOfBirth.IsZero() {
		r.v.Holder.DateOfBirth = m.DateOfBirth.Format(time.DateOnly)
	}
	// A document is valid through its day of expiry.
	if at.After(m.DateOfExpiry.AddDate(0, 0, 1)) {
		r.failed(CheckExpiry, "the document expired on %s", m.DateOfExpiry.Format(time.DateOnly))
		return
	}
	r.ok(CheckExpiry)
}
