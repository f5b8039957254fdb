// Package ca makes the issuer's certificates: CA certificates for key
// ceremonies and users' signing certificates, each signed by a key in the
// HSM. Every certificate is linted before the HSM signs it for real: the
// template is first signed by a throwaway software key and the result
// checked, so a malformed template never costs an HSM signature or leaves
// a bad certificate signed by the issuer.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Subject names a CA.
type Subject struct {
	CommonName, Organization, Country string
}

func (s Subject) name() (pkix.Name, error) {
	if strings.TrimSpace(s.CommonName) == "" {
		return pkix.Name{}, errors.New("the subject's common name is empty")
	}
	n := pkix.Name{CommonName: s.CommonName}
	if s.Organization != "" {
		n.Organization = []string{s.Organization}
	}
	if s.Country != "" {
		if len(s.Country) != 2 {
			return pkix.Name{}, fmt.Errorf("country %q: use the two-letter ISO 3166 code", s.Country)
		}
		n.Country = []string{s.Country}
	}
	return n, nil
}

func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	return n.Add(n, big.NewInt(1)), nil // positive, never zero
}

func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return errors.New("ECDSA keys must be P-256 or P-384")
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA keys must be at least 2048 bits, not %d", k.N.BitLen())
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("%T keys are not supported", pub)
	}
	return nil
}

// throwaway is a software key of pub's kind, for linting.
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
	return nil, fmt.Errorf("%T keys are not supported", pub)
}

// issue lints tmpl by signing it with a throwaway key, then signs it with
// signer and checks the signature verifies with parent's key.
func issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	if err := checkKey(signer.Public()); err != nil {
		return nil, fmt.Errorf("issuer key: %w", err)
	}
	if !tmpl.NotAfter.After(tmpl.NotBefore) {
		return nil, errors.New("not-after must be after not-before")
	}
	if parent != tmpl {
		if tmpl.NotBefore.Before(parent.NotBefore) || tmpl.NotAfter.After(parent.NotAfter) {
			return nil, fmt.Errorf("validity %s–%s is outside the issuer's %s–%s", tmpl.NotBefore.Format(time.DateOnly), tmpl.NotAfter.Format(time.DateOnly),
				parent.NotBefore.Format(time.DateOnly), parent.NotAfter.Format(time.DateOnly))
		}
	}
	lintKey, err := throwaway(signer.Public())
	if err != nil {
		return nil, err
	}
	// The throwaway key stands in for the issuer's: a copy of the parent
	// carrying its public key, since x509 checks the two match.
	lintParent := *parent
	lintParent.PublicKey = lintKey.Public()
	lintPub := pub
	if parent == tmpl {
		lintPub = lintKey.Public()
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, &lintParent, lintPub, lintKey)
	if err != nil {
		return nil, fmt.Errorf("lint: %w", err)
	}
	if _, err := x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("lint: %w", err)
	}
	if der, err = x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	issuer := parent
	if parent == tmpl {
		issuer = cert
	}
	if err := cert.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("the HSM's signature does not verify: %w", err)
	}
	return cert, nil
}

func caTemplate(subj Subject, notBefore, notAfter time.Time, maxPathLen int) (*x509.Certificate, error) {
	name, err := subj.name()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	if maxPathLen < 0 {
		return nil, errors.New("max path length must be 0 or more")
	}
	return &x509.Certificate{SerialNumber: sn, Subject: name, NotBefore: notBefore.UTC(), NotAfter: notAfter.UTC(),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: maxPathLen, MaxPathLenZero: maxPathLen == 0,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil
}

// NewRoot makes a self-signed CA certificate for key.
func NewRoot(key crypto.Signer, subj Subject, notBefore, notAfter time.Time, maxPathLen int) (*x509.Certificate, error) {
	tmpl, err := caTemplate(subj, notBefore, notAfter, maxPathLen)
	if err != nil {
		return nil, err
	}
	return issue(tmpl, tmpl, key.Public(), key)
}

// NewIntermediate makes a CA certificate for pub signed by issuerKey.
func NewIntermediate(pub crypto.PublicKey, subj Subject, notBefore, notAfter time.Time, maxPathLen int, issuer *x509.Certificate, issuerKey crypto.Signer) (*x509.Certificate, error) {
	tmpl, err := caTemplate(subj, notBefore, notAfter, maxPathLen)
	if err != nil {
		return nil, err
	}
	return issue(tmpl, issuer, pub, issuerKey)
}

// Issuer certifies users' signing keys.
type Issuer struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate // Cert, then its issuers below the root
}

// OIDs the user certificate's subject uses.
var oidSerialNumber = []int{2, 5, 4, 5}

// UserCert certifies a user's signing key: CN = name, serialNumber = the
// user ID, for signatures and non-repudiation, with no extended key usage
// (so CMS verifiers' default S/MIME purpose accepts it).
func (i *Issuer) UserCert(pub crypto.PublicKey, userID, name string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	if strings.TrimSpace(name) == "" || userID == "" {
		return nil, errors.New("a user certificate needs the user's ID and name")
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	subject := pkix.Name{CommonName: name, Organization: i.Cert.Subject.Organization, Country: i.Cert.Subject.Country,
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidSerialNumber, Value: userID}}}
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: subject, NotBefore: notBefore.UTC(), NotAfter: notAfter.UTC(),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	return issue(tmpl, i.Cert, pub, i.Key)
}
