package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Certificate is an X.509 certificate (RFC 5280) as far as an ICAO
// verifier needs it. Every byte slice is a copy the caller may keep.
type Certificate struct {
	Raw               []byte // the whole certificate
	RawTBSCertificate []byte // what the signature covers
	// Version is 1, 2 or 3.
	Version      int
	SerialNumber *big.Int
	// SignatureAlgorithm is the certificate's signatureAlgorithm, which
	// the TBS's signature field equals.
	SignatureAlgorithm AlgorithmIdentifier
	Signature          []byte

	RawIssuer, RawSubject []byte // the DER of the Names
	Issuer, Subject       Name
	NotBefore, NotAfter   time.Time

	RawSubjectPublicKeyInfo []byte
	PublicKeyAlgorithm      AlgorithmIdentifier
	// PublicKey is *rsa.PublicKey or *ECPublicKey.
	PublicKey PublicKey

	SubjectKeyID   []byte
	AuthorityKeyID []byte // the authorityKeyIdentifier's keyIdentifier
	// KeyUsage is 0 when the certificate has no keyUsage extension.
	KeyUsage x509.KeyUsage
	// BasicConstraintsValid is set when the certificate has a
	// basicConstraints extension; IsCA and MaxPathLen (−1: no limit)
	// are its values.
	BasicConstraintsValid bool
	IsCA                  bool
	MaxPathLen            int
	// ExtKeyUsage is the extKeyUsage extension's purposes, nil when the
	// certificate has none (a master list signer's has ICAO's
	// 2.23.136.1.1.3).
	ExtKeyUsage []asn1.ObjectIdentifier

	// Extensions are all the extensions, in order.
	Extensions []Extension
	// UnhandledCriticalExtensions are the critical extensions other than
	// the five this package reads (subjectKeyIdentifier,
	// authorityKeyIdentifier, keyUsage, basicConstraints, extKeyUsage).
	// The caller decides what to do with a certificate that has any.
	UnhandledCriticalExtensions []asn1.ObjectIdentifier
}

// Extension is a certificate, CRL or CRL entry extension.
type Extension struct {
	ID       asn1.ObjectIdentifier
	Critical bool
	Value    []byte // the contents of the extnValue OCTET STRING
}

var (
	oidExtSubjectKeyID   = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidExtKeyUsage       = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtBasicConstr    = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidExtCRLNumber      = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidExtReasonCode     = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidExtAuthorityKeyID = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidExtExtKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// ParseCertificate parses one DER certificate, with nothing after it.
// Errors wrap ErrMalformed for bad encodings, and ErrUnsupportedAlgorithm,
// ErrUnknownCurve or ErrInvalidPoint for subject keys this package cannot
// use.
func ParseCertificate(der []byte) (*Certificate, error) {
	c, err := parseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return c, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// signed is the envelope certificates and CRLs share (RFC 5280 4.1 and
// 5.1): SEQUENCE { tbs, signatureAlgorithm, signatureValue }.
type signed struct {
	raw, rawTBS []byte
	tbs         cryptobyte.String // the TBS's contents
	alg         AlgorithmIdentifier
	sig         []byte
}

// readSigned parses the envelope of a certificate or CRL (what) from
// der, with nothing after it; tbsName names its TBS part in errors.
func readSigned(der []byte, what, tbsName string) (*signed, error) {
	input := cryptobyte.String(bytes.Clone(der))
	var outer, tbs cryptobyte.String
	if !input.ReadASN1Element(&outer, cbasn1.SEQUENCE) {
		return nil, malformed("not a DER SEQUENCE")
	}
	if !input.Empty() {
		return nil, malformed("%d bytes after the %s", len(input), what)
	}
	env := &signed{raw: outer}
	if !outer.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1Element(&tbs, cbasn1.SEQUENCE) {
		return nil, malformed("%s", tbsName)
	}
	env.rawTBS = tbs
	var ok bool
	if env.alg, ok = readAlgorithmIdentifier(&outer); !ok {
		return nil, malformed("signatureAlgorithm")
	}
	var err error
	if env.sig, err = readSignatureBits(&outer); err != nil {
		return nil, err
	}
	if !outer.Empty() {
		return nil, malformed("data after signatureValue")
	}
	if !tbs.ReadASN1(&env.tbs, cbasn1.SEQUENCE) {
		return nil, malformed("%s", tbsName)
	}
	return env, nil
}

// readInnerAlgorithm reads the TBS's signature field, which must equal
// the signatureAlgorithm outside it.
func (env *signed) readInnerAlgorithm(tbs *cryptobyte.String) error {
	inner, ok := readAlgorithmIdentifier(tbs)
	if !ok {
		return malformed("signature")
	}
	if !inner.Equal(env.alg) {
		return malformed("signature algorithm %s in the TBS, %s outside", inner, env.alg)
	}
	return nil
}

func parseCertificate(der []byte) (*Certificate, error) {
	env, err := readSigned(der, "certificate", "tbsCertificate")
	if err != nil {
		return nil, err
	}
	c := &Certificate{Raw: env.raw, RawTBSCertificate: env.rawTBS, SignatureAlgorithm: env.alg, Signature: env.sig, MaxPathLen: -1}
	tbs := env.tbs
	var version int64
	if !tbs.ReadOptionalASN1Integer(&version, cbasn1.Tag(0).Constructed().ContextSpecific(), int64(0)) || version < 0 || version > 2 {
		return nil, malformed("version")
	}
	c.Version = int(version) + 1
	c.SerialNumber = new(big.Int)
	if !tbs.ReadASN1Integer(c.SerialNumber) {
		return nil, malformed("serialNumber")
	}
	if err := env.readInnerAlgorithm(&tbs); err != nil {
		return nil, err
	}
	if c.RawIssuer, c.Issuer, err = readRawName(&tbs, "issuer"); err != nil {
		return nil, err
	}
	var validity cryptobyte.String
	if !tbs.ReadASN1(&validity, cbasn1.SEQUENCE) {
		return nil, malformed("validity")
	}
	if c.NotBefore, err = readTime(&validity, "notBefore"); err != nil {
		return nil, err
	}
	if c.NotAfter, err = readTime(&validity, "notAfter"); err != nil {
		return nil, err
	}
	if !validity.Empty() {
		return nil, malformed("validity")
	}
	if c.RawSubject, c.Subject, err = readRawName(&tbs, "subject"); err != nil {
		return nil, err
	}
	var spki cryptobyte.String
	if !tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, malformed("subjectPublicKeyInfo")
	}
	c.RawSubjectPublicKeyInfo = spki
	if c.PublicKeyAlgorithm, c.PublicKey, err = readSubjectPublicKeyInfo(&spki); err != nil {
		return nil, fmt.Errorf("subject public key: %w", err)
	}
	// issuerUniqueID [1] and subjectUniqueID [2]: v2 and v3 only; not kept.
	for _, tag := range []cbasn1.Tag{cbasn1.Tag(1).ContextSpecific(), cbasn1.Tag(2).ContextSpecific()} {
		if tbs.PeekASN1Tag(tag) {
			if c.Version < 2 || !tbs.SkipASN1(tag) {
				return nil, malformed("unique identifier")
			}
		}
	}
	if c.Extensions, err = readTBSExtensions(&tbs, 3, c.Version == 3, "a v3 certificate"); err != nil {
		return nil, err
	}
	for _, e := range c.Extensions {
		if err := c.applyExtension(e); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// readTBSExtensions reads the extensions at the end of a TBS, explicitly
// tagged [tag] (3 in a certificate, 0 in a CRL), which only a version
// allowed to have them (what, in errors) may hold, and checks that
// nothing follows them.
func readTBSExtensions(tbs *cryptobyte.String, tag uint8, allowed bool, what string) ([]Extension, error) {
	var exts []Extension
	t := cbasn1.Tag(tag).Constructed().ContextSpecific()
	if tbs.PeekASN1Tag(t) {
		var in cryptobyte.String
		if !allowed || !tbs.ReadASN1(&in, t) {
			return nil, malformed("extensions outside %s", what)
		}
		var err error
		if exts, err = readExtensions(&in); err != nil {
			return nil, err
		}
		if !in.Empty() {
			return nil, malformed("data after the extensions")
		}
	}
	if !tbs.Empty() {
		return nil, malformed("unknown data at the end of the TBS")
	}
	return exts, nil
}

func readSignatureBits(s *cryptobyte.String) ([]byte, error) {
	var bits asn1.BitString
	if !s.ReadASN1BitString(&bits) || bits.BitLength%8 != 0 {
		return nil, malformed("signatureValue")
	}
	return bits.Bytes, nil
}

func readRawName(s *cryptobyte.String, what string) ([]byte, Name, error) {
	var raw cryptobyte.String
	if !s.ReadASN1Element(&raw, cbasn1.SEQUENCE) {
		return nil, nil, malformed("%s", what)
	}
	n, err := ParseName(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return raw, n, nil
}

// readTime reads a Time (UTCTime or GeneralizedTime), in UTC ("Z") as
// RFC 5280 requires.
func readTime(s *cryptobyte.String, what string) (time.Time, error) {
	var t time.Time
	var raw cryptobyte.String
	peek := *s
	ok, wantLen := false, 0
	switch {
	case s.PeekASN1Tag(cbasn1.UTCTime):
		ok, wantLen = peek.ReadASN1(&raw, cbasn1.UTCTime) && s.ReadASN1UTCTime(&t), len("YYMMDDHHMMSSZ")
	case s.PeekASN1Tag(cbasn1.GeneralizedTime):
		ok, wantLen = peek.ReadASN1(&raw, cbasn1.GeneralizedTime) && s.ReadASN1GeneralizedTime(&t), len("YYYYMMDDHHMMSSZ")
	}
	// RFC 5280, 4.1.2.5: in UTC, with seconds, without fractions.
	if !ok || len(raw) != wantLen || raw[wantLen-1] != 'Z' {
		return time.Time{}, malformed("%s", what)
	}
	return t, nil
}

func readExtensions(s *cryptobyte.String) ([]Extension, error) {
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || seq.Empty() {
		return nil, malformed("extensions")
	}
	var exts []Extension
	seen := map[string]bool{}
	for !seq.Empty() {
		var ext cryptobyte.String
		var e Extension
		if !seq.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&e.ID) ||
			!readOptionalBoolean(&ext, &e.Critical) ||
			!ext.ReadASN1Bytes(&e.Value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return nil, malformed("extension")
		}
		if seen[e.ID.String()] {
			return nil, malformed("extension %v twice", e.ID)
		}
		seen[e.ID.String()] = true
		exts = append(exts, e)
	}
	return exts, nil
}

// readOptionalBoolean reads a BOOLEAN DEFAULT FALSE, with two
// departures from DER that change nothing signed: an explicit FALSE
// (DER leaves the default out), and TRUE written as a byte other than
// FF (BER; Ukraine's CSCA of 2015 has cA = 01).
func readOptionalBoolean(s *cryptobyte.String, out *bool) bool {
	*out = false
	if !s.PeekASN1Tag(cbasn1.BOOLEAN) {
		return true
	}
	var v cryptobyte.String
	if !s.ReadASN1(&v, cbasn1.BOOLEAN) || len(v) != 1 {
		return false
	}
	*out = v[0] != 0
	return true
}

func (c *Certificate) applyExtension(e Extension) error {
	v := cryptobyte.String(e.Value)
	switch {
	case e.ID.Equal(oidExtSubjectKeyID):
		if !v.ReadASN1Bytes(&c.SubjectKeyID, cbasn1.OCTET_STRING) || !v.Empty() {
			return malformed("subjectKeyIdentifier")
		}
	case e.ID.Equal(oidExtAuthorityKeyID):
		id, err := parseAuthorityKeyID(v)
		if err != nil {
			return err
		}
		c.AuthorityKeyID = id
	case e.ID.Equal(oidExtKeyUsage):
		var bits asn1.BitString
		if !v.ReadASN1BitString(&bits) || !v.Empty() {
			return malformed("keyUsage")
		}
		for i := range 9 {
			if bits.At(i) == 1 {
				c.KeyUsage |= 1 << i
			}
		}
	case e.ID.Equal(oidExtBasicConstr):
		var seq cryptobyte.String
		if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() ||
			!readOptionalBoolean(&seq, &c.IsCA) {
			return malformed("basicConstraints")
		}
		if seq.PeekASN1Tag(cbasn1.INTEGER) {
			var pathLen int64
			if !seq.ReadASN1Integer(&pathLen) || pathLen < 0 || pathLen > 1<<20 {
				return malformed("basicConstraints pathLenConstraint")
			}
			c.MaxPathLen = int(pathLen)
		}
		if !seq.Empty() {
			return malformed("basicConstraints")
		}
		c.BasicConstraintsValid = true
	case e.ID.Equal(oidExtExtKeyUsage):
		var seq cryptobyte.String
		if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() || seq.Empty() {
			return malformed("extKeyUsage")
		}
		c.ExtKeyUsage = []asn1.ObjectIdentifier{}
		for !seq.Empty() {
			var oid asn1.ObjectIdentifier
			if !seq.ReadASN1ObjectIdentifier(&oid) {
				return malformed("extKeyUsage purpose")
			}
			c.ExtKeyUsage = append(c.ExtKeyUsage, oid)
		}
	default:
		if e.Critical {
			c.UnhandledCriticalExtensions = append(c.UnhandledCriticalExtensions, e.ID)
		}
	}
	return nil
}

// parseAuthorityKeyID returns the keyIdentifier of
//
//	AuthorityKeyIdentifier ::= SEQUENCE {
//	    keyIdentifier             [0] KeyIdentifier OPTIONAL,
//	    authorityCertIssuer       [1] GeneralNames OPTIONAL,
//	    authorityCertSerialNumber [2] CertificateSerialNumber OPTIONAL }
func parseAuthorityKeyID(v cryptobyte.String) ([]byte, error) {
	var seq, id cryptobyte.String
	var present bool
	if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() ||
		!seq.ReadOptionalASN1(&id, &present, cbasn1.Tag(0).ContextSpecific()) ||
		!seq.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) ||
		!seq.SkipOptionalASN1(cbasn1.Tag(2).ContextSpecific()) || !seq.Empty() {
		return nil, malformed("authorityKeyIdentifier")
	}
	return id, nil
}

// ValidAt reports whether t is within the certificate's validity,
// NotBefore and NotAfter included.
func (c *Certificate) ValidAt(t time.Time) bool {
	return !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}

// CheckSignatureFrom checks that issuer issued c: c names issuer's
// subject as its issuer (Name.Equal), issuer may sign certificates (a v3
// issuer needs basicConstraints cA; a keyUsage without keyCertSign
// refuses), and c's signature verifies with issuer's key. It does not
// look at validity periods, key identifiers or critical extensions.
func (c *Certificate) CheckSignatureFrom(issuer *Certificate) error {
	if !c.Issuer.Equal(issuer.Subject) {
		return fmt.Errorf("%w: %q is issued by %q, not %q", ErrIssuerMismatch, c.Subject, c.Issuer, issuer.Subject)
	}
	if err := issuer.mayIssue(x509.KeyUsageCertSign, "keyCertSign"); err != nil {
		return err
	}
	return VerifySignature(issuer.PublicKey, c.SignatureAlgorithm, 0, c.RawTBSCertificate, c.Signature)
}

func (c *Certificate) mayIssue(usage x509.KeyUsage, usageName string) error {
	if c.Version == 3 && !c.BasicConstraintsValid || c.BasicConstraintsValid && !c.IsCA {
		return fmt.Errorf("%w: %q is not a CA (basicConstraints)", ErrNotAuthorized, c.Subject)
	}
	if c.KeyUsage != 0 && c.KeyUsage&usage == 0 {
		return fmt.Errorf("%w: %q's keyUsage lacks %s", ErrNotAuthorized, c.Subject, usageName)
	}
	return nil
}
