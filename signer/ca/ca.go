// Package ca makes the issuer's certificates: CA certificates for key
// ceremonies and users' signing certificates, each signed by a key in the
// HSM.
//
// Every certificate is linted before the HSM signs it for real: the
// template is first signed by a throwaway software key of the issuer key's
// type, and the result is parsed and checked against the profile (basic
// constraints, key usage, no extended key usage, validity inside the
// issuer's, subject and authority key identifiers). Only then does the HSM
// sign, and its signature is verified with the issuer's public key before
// the certificate is returned. A malformed template therefore never costs an
// HSM signature, and a certificate signed by the issuer never leaves this
// package without having passed the same checks.
package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Errors, tested with errors.Is.
var (
	// ErrInvalid: the request itself is refused (an empty name, a validity
	// that ends before it starts or outside the issuer's, an unsupported key,
	// an issuer that may not issue it). Nothing was signed.
	ErrInvalid = errors.New("certificate request refused")
	// ErrLint: the certificate signed by the throwaway key does not meet the
	// profile. The HSM signed nothing.
	ErrLint = errors.New("certificate failed lint")
	// ErrSignature: the certificate the HSM signed does not verify with the
	// issuer's public key, or is not the one that was linted. It is
	// discarded.
	ErrSignature = errors.New("the HSM-signed certificate is not valid")
)

// Key usages of the two profiles.
const (
	caKeyUsage   = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	userKeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
)

// oidSerialNumber is the X.520 serialNumber attribute, which holds the
// user ID in a user certificate's subject.
var oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}

// Subject names a CA.
type Subject struct {
	CommonName, Organization, Country string
}

func (s Subject) name() (pkix.Name, error) {
	if strings.TrimSpace(s.CommonName) == "" {
		return pkix.Name{}, fmt.Errorf("%w: the subject's common name is empty", ErrInvalid)
	}
	n := pkix.Name{CommonName: s.CommonName}
	if s.Organization != "" {
		if strings.TrimSpace(s.Organization) == "" {
			return pkix.Name{}, fmt.Errorf("%w: the subject's organization is blank", ErrInvalid)
		}
		n.Organization = []string{s.Organization}
	}
	if s.Country != "" {
		if !isCountryCode(s.Country) {
			return pkix.Name{}, fmt.Errorf("%w: country %q: use the two capital letters of ISO 3166 (DK, SE, …)", ErrInvalid, s.Country)
		}
		n.Country = []string{s.Country}
	}
	return n, nil
}

func isCountryCode(s string) bool {
	return len(s) == 2 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z'
}

// newSerial returns 16 random bytes from crypto/rand as a positive integer.
func newSerial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}

// checkKey refuses keys outside ECDSA P-256/P-384, RSA of 2048 bits or
// more, and Ed25519.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("%w: ECDSA keys must be on P-256 or P-384, not %s", ErrInvalid, k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("%w: RSA keys must have at least 2048 bits, not %d", ErrInvalid, k.N.BitLen())
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: malformed Ed25519 public key", ErrInvalid)
		}
	case nil:
		return fmt.Errorf("%w: no public key", ErrInvalid)
	default:
		return fmt.Errorf("%w: %T keys are not supported", ErrInvalid, pub)
	}
	return nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// throwaway makes a software key that signs like pub's kind: the same
// curve, RSA (every RSA key signs SHA-256 with PKCS #1 v1.5 here), or
// Ed25519.
func throwaway(pub crypto.PublicKey) (crypto.Signer, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.GenerateKey(k.Curve, rand.Reader)
	case *rsa.PublicKey:
		return rsa.GenerateKey(rand.Reader, 2048)
	case ed25519.PublicKey:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("%w: %T keys are not supported", ErrInvalid, pub)
}

// keyID is the key identifier of RFC 7093 section 2 method 1: the leftmost
// 160 bits of the SHA-256 of the subjectPublicKey BIT STRING's value.
func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	h := sha256.Sum256(spki.PublicKey.Bytes)
	return h[:20], nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// template starts a certificate: subject, random serial, validity in whole
// seconds (what the encoding keeps), and the subject key identifier.
func template(name pkix.Name, pub crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	notBefore, notAfter = notBefore.UTC().Truncate(time.Second), notAfter.UTC().Truncate(time.Second)
	if notBefore.IsZero() || notAfter.IsZero() {
		return nil, fmt.Errorf("%w: not-before and not-after are both required", ErrInvalid)
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("%w: not-after %s must be after not-before %s", ErrInvalid, stamp(notAfter), stamp(notBefore))
	}
	sn, err := newSerial()
	if err != nil {
		return nil, err
	}
	ski, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{SerialNumber: sn, Subject: name, NotBefore: notBefore, NotAfter: notAfter,
		BasicConstraintsValid: true, SubjectKeyId: ski}, nil
}

func caTemplate(pub crypto.PublicKey, subj Subject, notBefore, notAfter time.Time, maxPathLen int) (*x509.Certificate, error) {
	name, err := subj.name()
	if err != nil {
		return nil, err
	}
	if maxPathLen < 0 {
		return nil, fmt.Errorf("%w: max path length %d: must be 0 or more", ErrInvalid, maxPathLen)
	}
	tmpl, err := template(name, pub, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA, tmpl.KeyUsage = true, caKeyUsage
	tmpl.MaxPathLen, tmpl.MaxPathLenZero = maxPathLen, maxPathLen == 0
	return tmpl, nil
}

// checkIssuer refuses what parent may not issue: a validity outside its
// own, a CA below a path length that has run out, or anything at all when
// parent is not a CA.
func checkIssuer(tmpl, parent *x509.Certificate) error {
	if parent == nil {
		return fmt.Errorf("%w: no issuer certificate", ErrInvalid)
	}
	if !parent.BasicConstraintsValid || !parent.IsCA || parent.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%w: the issuer %q is not a CA certificate that may sign certificates", ErrInvalid, parent.Subject.CommonName)
	}
	if err := checkKey(parent.PublicKey); err != nil {
		return fmt.Errorf("issuer key: %w", err)
	}
	if len(parent.SubjectKeyId) == 0 {
		return fmt.Errorf("%w: the issuer %q has no subject key identifier to put in the authority key identifier", ErrInvalid, parent.Subject.CommonName)
	}
	if subject, err := asn1.Marshal(tmpl.Subject.ToRDNSequence()); err != nil || bytes.Equal(subject, rawSubject(parent)) {
		return fmt.Errorf("%w: the subject %q is the issuer's: give the new certificate a name of its own", ErrInvalid, tmpl.Subject.CommonName)
	}
	if tmpl.NotBefore.Before(parent.NotBefore) {
		return fmt.Errorf("%w: not-before %s is before the issuer's not-before %s", ErrInvalid, stamp(tmpl.NotBefore), stamp(parent.NotBefore))
	}
	if tmpl.NotAfter.After(parent.NotAfter) {
		return fmt.Errorf("%w: not-after %s is after the issuer's not-after %s", ErrInvalid, stamp(tmpl.NotAfter), stamp(parent.NotAfter))
	}
	if tmpl.IsCA {
		switch {
		case parent.MaxPathLen == 0 && parent.MaxPathLenZero:
			return fmt.Errorf("%w: the issuer %q has max path length 0: it may not certify another CA", ErrInvalid, parent.Subject.CommonName)
		case parent.MaxPathLen > 0 && (tmpl.MaxPathLen < 0 || tmpl.MaxPathLen >= parent.MaxPathLen):
			return fmt.Errorf("%w: max path length %d: must be less than the issuer's %d", ErrInvalid, tmpl.MaxPathLen, parent.MaxPathLen)
		}
	}
	return nil
}

// rawSubject is c's subject as DER, also for a certificate that was never
// parsed.
func rawSubject(c *x509.Certificate) []byte {
	if len(c.RawSubject) > 0 {
		return c.RawSubject
	}
	der, _ := asn1.Marshal(c.Subject.ToRDNSequence())
	return der
}

// check holds a parsed certificate to the template it came from. parent is
// the issuer, nil when cert signs itself.
func check(cert, tmpl, parent *x509.Certificate) error {
	issuerSKI := tmpl.SubjectKeyId
	rawIssuer := cert.RawSubject
	if parent != nil {
		issuerSKI, rawIssuer = parent.SubjectKeyId, rawSubject(parent)
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if cert.Version != 3 {
		bad("version %d, want 3", cert.Version)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.Cmp(tmpl.SerialNumber) != 0 || len(cert.SerialNumber.Bytes()) > 20 {
		bad("serial number %x is not the template's positive 16 bytes", cert.SerialNumber)
	}
	if want, err := asn1.Marshal(tmpl.Subject.ToRDNSequence()); err != nil || !bytes.Equal(cert.RawSubject, want) {
		bad("subject %q, want %q", cert.Subject, tmpl.Subject)
	}
	if !bytes.Equal(cert.RawIssuer, rawIssuer) {
		bad("issuer %q is not the issuer's subject", cert.Issuer)
	}
	if !cert.NotBefore.Equal(tmpl.NotBefore) || !cert.NotAfter.Equal(tmpl.NotAfter) {
		bad("validity %s to %s, want %s to %s", stamp(cert.NotBefore), stamp(cert.NotAfter), stamp(tmpl.NotBefore), stamp(tmpl.NotAfter))
	}
	if !cert.NotAfter.After(cert.NotBefore) {
		bad("not-after is not after not-before")
	}
	if parent != nil && (cert.NotBefore.Before(parent.NotBefore) || cert.NotAfter.After(parent.NotAfter)) {
		bad("validity outside the issuer's")
	}
	if !cert.BasicConstraintsValid {
		bad("no basic constraints")
	}
	if cert.IsCA != tmpl.IsCA {
		bad("CA %t, want %t", cert.IsCA, tmpl.IsCA)
	}
	if tmpl.IsCA {
		if cert.MaxPathLen != tmpl.MaxPathLen || cert.MaxPathLenZero != (tmpl.MaxPathLen == 0) {
			bad("max path length %d, want %d", cert.MaxPathLen, tmpl.MaxPathLen)
		}
		if cert.KeyUsage&caKeyUsage != caKeyUsage {
			bad("a CA certificate without certificate and CRL signing in its key usage")
		}
	} else if cert.KeyUsage&x509.KeyUsageCertSign != 0 {
		bad("certificate signing in a leaf certificate's key usage")
	}
	if cert.KeyUsage != tmpl.KeyUsage {
		bad("key usage %#x, want %#x", cert.KeyUsage, tmpl.KeyUsage)
	}
	if len(cert.ExtKeyUsage) > 0 || len(cert.UnknownExtKeyUsage) > 0 {
		bad("an extended key usage")
	}
	if len(cert.SubjectKeyId) == 0 || !bytes.Equal(cert.SubjectKeyId, tmpl.SubjectKeyId) {
		bad("subject key identifier %x, want %x", cert.SubjectKeyId, tmpl.SubjectKeyId)
	}
	if len(cert.AuthorityKeyId) == 0 || !bytes.Equal(cert.AuthorityKeyId, issuerSKI) {
		bad("authority key identifier %x, want the issuer's %x", cert.AuthorityKeyId, issuerSKI)
	}
	for _, e := range cert.Extensions {
		if e.Critical && !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 19}) && !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 15}) {
			bad("unexpected critical extension %s", e.Id)
		}
	}
	switch cert.SignatureAlgorithm {
	case x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA, x509.PureEd25519:
	default:
		bad("signature algorithm %s", cert.SignatureAlgorithm)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// lint signs tmpl with a throwaway key of issuerPub's type standing in for
// the issuer (parent, or the subject itself when parent is nil) and checks
// the result. It asks the HSM for nothing.
func lint(tmpl, parent *x509.Certificate, pub, issuerPub crypto.PublicKey) error {
	if err := checkKey(issuerPub); err != nil {
		return fmt.Errorf("issuer key: %w", err)
	}
	if parent != nil {
		if err := checkIssuer(tmpl, parent); err != nil {
			return err
		}
	}
	key, err := throwaway(issuerPub)
	if err != nil {
		return err
	}
	// x509 insists the signing key is the issuer's: sign as a copy of the
	// issuer that carries the throwaway key. A root is its own issuer, so
	// the throwaway key is certified too.
	stand := *tmpl
	if parent != nil {
		stand = *parent
	} else {
		pub = key.Public()
	}
	stand.PublicKey = key.Public()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, &stand, pub, key)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrLint, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrLint, err)
	}
	lintParent, verifier := &stand, &stand
	if parent == nil {
		lintParent, verifier = nil, cert
	}
	if err := check(cert, tmpl, lintParent); err != nil {
		return fmt.Errorf("%w: %v", ErrLint, err)
	}
	if err := cert.CheckSignatureFrom(verifier); err != nil {
		return fmt.Errorf("%w: %v", ErrLint, err)
	}
	return nil
}

// issue lints tmpl, has signer (the HSM key of parent, or of the subject
// when parent is nil) sign it, and checks the result again, its signature
// included.
func issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	if signer == nil {
		return nil, fmt.Errorf("%w: no issuer key", ErrInvalid)
	}
	issuerPub := signer.Public()
	if parent != nil && !samePublicKey(issuerPub, parent.PublicKey) {
		return nil, fmt.Errorf("%w: the issuer key is not the key of the issuer certificate %q", ErrInvalid, parent.Subject.CommonName)
	}
	if parent == nil && !samePublicKey(issuerPub, pub) {
		return nil, fmt.Errorf("%w: a root certifies its own key", ErrInvalid)
	}
	if err := lint(tmpl, parent, pub, issuerPub); err != nil {
		return nil, err
	}
	signingParent := parent
	if parent == nil {
		signingParent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signingParent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sign with the issuer key: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	verifier := parent
	if parent == nil {
		verifier = cert
	}
	if err := cert.CheckSignatureFrom(verifier); err != nil {
		return nil, fmt.Errorf("%w: the signature does not verify with the issuer's public key: %v", ErrSignature, err)
	}
	if !samePublicKey(pub, cert.PublicKey) {
		return nil, fmt.Errorf("%w: it certifies another key", ErrSignature)
	}
	if err := check(cert, tmpl, parent); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return cert, nil
}

// NewRoot makes a self-signed CA certificate for key, which signs it:
// basic constraints CA:TRUE with maxPathLen (0 or more), key usage
// certificate and CRL signing, a random 16-byte serial, and subject and
// authority key identifiers (both the key's, RFC 7093 method 1).
func NewRoot(key crypto.Signer, subj Subject, notBefore, notAfter time.Time, maxPathLen int) (*x509.Certificate, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: no key", ErrInvalid)
	}
	tmpl, err := caTemplate(key.Public(), subj, notBefore, notAfter, maxPathLen)
	if err != nil {
		return nil, err
	}
	tmpl.AuthorityKeyId = tmpl.SubjectKeyId
	return issue(tmpl, nil, key.Public(), key)
}

// NewIntermediate makes a CA certificate for key, signed by issuerKey, the
// key of issuer. Its validity must lie inside the issuer's, and its
// maxPathLen below the issuer's when the issuer has one.
func NewIntermediate(key crypto.PublicKey, subj Subject, notBefore, notAfter time.Time, maxPathLen int, issuer *x509.Certificate, issuerKey crypto.Signer) (*x509.Certificate, error) {
	if issuer == nil {
		return nil, fmt.Errorf("%w: no issuer certificate", ErrInvalid)
	}
	tmpl, err := caTemplate(key, subj, notBefore, notAfter, maxPathLen)
	if err != nil {
		return nil, err
	}
	tmpl.AuthorityKeyId = issuer.SubjectKeyId
	return issue(tmpl, issuer, key, issuerKey)
}

// LintRoot runs every check NewRoot runs before the HSM signs, with
// throwaway software keys only. pub stands for the key to be certified:
// any key of the same type will do, so a ceremony can rehearse before it
// generates anything.
func LintRoot(pub crypto.PublicKey, subj Subject, notBefore, notAfter time.Time, maxPathLen int) error {
	tmpl, err := caTemplate(pub, subj, notBefore, notAfter, maxPathLen)
	if err != nil {
		return err
	}
	tmpl.AuthorityKeyId = tmpl.SubjectKeyId
	return lint(tmpl, nil, pub, pub)
}

// LintIntermediate runs every check NewIntermediate runs before the HSM
// signs, except that the issuer's key matches issuer (it is not given),
// with throwaway software keys only. pub stands for the key to be
// certified, as in LintRoot.
func LintIntermediate(pub crypto.PublicKey, subj Subject, notBefore, notAfter time.Time, maxPathLen int, issuer *x509.Certificate) error {
	if issuer == nil {
		return fmt.Errorf("%w: no issuer certificate", ErrInvalid)
	}
	tmpl, err := caTemplate(pub, subj, notBefore, notAfter, maxPathLen)
	if err != nil {
		return err
	}
	tmpl.AuthorityKeyId = issuer.SubjectKeyId
	return lint(tmpl, issuer, pub, issuer.PublicKey)
}

// Issuer certifies users' signing keys.
type Issuer struct {
	// Cert is the issuing CA's certificate, and Key its key in the HSM.
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is Cert, then its issuers up to but not including the root:
	// what goes with a signature.
	Chain []*x509.Certificate
}

// UserCert certifies a user's signing key. The subject is CN = name,
// serialNumber (2.5.4.5) = userID, and O and C from the issuer; the key
// usage is digital signature and non-repudiation (content commitment),
// with no extended key usage, so that `openssl cms -verify` with its
// default S/MIME signing purpose accepts it. The validity must lie inside
// the issuer's.
func (i *Issuer) UserCert(pub crypto.PublicKey, userID, name string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	tmpl, err := i.userTemplate(pub, userID, name, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = userKeyUsage
	return issue(tmpl, i.Cert, pub, i.Key)
}

// CardCert certifies the key of a user's smart card (a YubiKey's PIV
// slot), which authenticates: the subject is the user's, as UserCert
// makes it, the key usage digital signature alone, and the serial number
// is the card's serial followed by 64 random bits, so that the card can
// be read off the certificate and a card enrolled again gets a new
// serial.
func (i *Issuer) CardCert(pub crypto.PublicKey, userID, name string, cardSerial uint32, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	tmpl, err := i.userTemplate(pub, userID, name, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	r := make([]byte, 8)
	if _, err := rand.Read(r); err != nil {
		return nil, err
	}
	tmpl.SerialNumber = new(big.Int).SetBytes(append(binary.BigEndian.AppendUint32(nil, cardSerial), r...))
	if tmpl.SerialNumber.Sign() == 0 {
		return nil, fmt.Errorf("%w: card serial 0", ErrInvalid)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	return issue(tmpl, i.Cert, pub, i.Key)
}

// CardSerial is the card serial a CardCert carries in its serial number.
func CardSerial(c *x509.Certificate) uint32 {
	return uint32(new(big.Int).Rsh(c.SerialNumber, 64).Uint64())
}

func (i *Issuer) userTemplate(pub crypto.PublicKey, userID, name string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	switch {
	case i == nil || i.Cert == nil:
		return nil, fmt.Errorf("%w: the issuer has no certificate", ErrInvalid)
	case len(i.Chain) > 0 && !i.Chain[0].Equal(i.Cert):
		return nil, fmt.Errorf("%w: the issuer's chain does not start with its certificate", ErrInvalid)
	case strings.TrimSpace(userID) == "":
		return nil, fmt.Errorf("%w: a user certificate needs the user's ID", ErrInvalid)
	case strings.TrimSpace(name) == "":
		return nil, fmt.Errorf("%w: a user certificate needs the user's name", ErrInvalid)
	}
	subject := pkix.Name{CommonName: name, Organization: i.Cert.Subject.Organization, Country: i.Cert.Subject.Country,
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidSerialNumber, Value: userID}}}
	tmpl, err := template(subject, pub, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	tmpl.AuthorityKeyId = i.Cert.SubjectKeyId
	return tmpl, nil
}
