package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// CRL is an X.509 CertificateList (RFC 5280, 5), version 1 or 2.
type CRL struct {
	Raw            []byte
	RawTBSCertList []byte // what the signature covers
	// Version is 1 or 2.
	Version            int
	SignatureAlgorithm AlgorithmIdentifier
	Signature          []byte
	RawIssuer          []byte
	Issuer             Name
	ThisUpdate         time.Time
	// NextUpdate is the zero time when the CRL has none.
	NextUpdate time.Time
	Revoked    []RevokedCertificate
	// Number is the cRLNumber extension, nil when absent.
	Number         *big.Int
	AuthorityKeyID []byte
	Extensions     []Extension
	// UnhandledCriticalExtensions are the critical CRL extensions other
	// than authorityKeyIdentifier and cRLNumber, and the critical entry
	// extensions other than reasonCode (such as certificateIssuer, which
	// makes the CRL indirect). The caller decides; a verifier that
	// does not understand them should not rely on the CRL.
	UnhandledCriticalExtensions []asn1.ObjectIdentifier

	revoked map[string]bool
}

// RevokedCertificate is an entry of a CRL.
type RevokedCertificate struct {
	SerialNumber   *big.Int
	RevocationTime time.Time
	// ReasonCode is the CRLReason, −1 when the entry has none.
	ReasonCode int
	Extensions []Extension
}

// ParseCRL parses one DER CertificateList, with nothing after it.
func ParseCRL(der []byte) (*CRL, error) {
	crl, err := parseCRL(der)
	if err != nil {
		return nil, fmt.Errorf("CRL: %w", err)
	}
	return crl, nil
}

func parseCRL(der []byte) (*CRL, error) {
	env, err := readSigned(der, "CRL", "tbsCertList")
	if err != nil {
		return nil, err
	}
	crl := &CRL{Raw: env.raw, RawTBSCertList: env.rawTBS, SignatureAlgorithm: env.alg, Signature: env.sig, revoked: map[string]bool{}}
	tbs := env.tbs
	crl.Version = 1
	if tbs.PeekASN1Tag(cbasn1.INTEGER) {
		var v int64
		if !tbs.ReadASN1Integer(&v) || v != 1 {
			return nil, malformed("version")
		}
		crl.Version = 2
	}
	if err := env.readInnerAlgorithm(&tbs); err != nil {
		return nil, err
	}
	if crl.RawIssuer, crl.Issuer, err = readRawName(&tbs, "issuer"); err != nil {
		return nil, err
	}
	if crl.ThisUpdate, err = readTime(&tbs, "thisUpdate"); err != nil {
		return nil, err
	}
	if tbs.PeekASN1Tag(cbasn1.UTCTime) || tbs.PeekASN1Tag(cbasn1.GeneralizedTime) {
		if crl.NextUpdate, err = readTime(&tbs, "nextUpdate"); err != nil {
			return nil, err
		}
	}
	if tbs.PeekASN1Tag(cbasn1.SEQUENCE) {
		// RFC 5280 leaves an empty list out; an empty SEQUENCE is
		// accepted, as crypto/x509 does.
		var entries cryptobyte.String
		if !tbs.ReadASN1(&entries, cbasn1.SEQUENCE) {
			return nil, malformed("revokedCertificates")
		}
		for !entries.Empty() {
			e, err := crl.readEntry(&entries)
			if err != nil {
				return nil, err
			}
			crl.Revoked = append(crl.Revoked, e)
			crl.revoked[e.SerialNumber.String()] = true
		}
	}
	if crl.Extensions, err = readTBSExtensions(&tbs, 0, crl.Version == 2, "a v2 CRL"); err != nil {
		return nil, err
	}
	for _, e := range crl.Extensions {
		v := cryptobyte.String(e.Value)
		switch {
		case e.ID.Equal(oidExtAuthorityKeyID):
			if crl.AuthorityKeyID, err = parseAuthorityKeyID(v); err != nil {
				return nil, err
			}
		case e.ID.Equal(oidExtCRLNumber):
			crl.Number = new(big.Int)
			if !v.ReadASN1Integer(crl.Number) || !v.Empty() || crl.Number.Sign() < 0 {
				return nil, malformed("cRLNumber")
			}
		default:
			if e.Critical {
				crl.UnhandledCriticalExtensions = append(crl.UnhandledCriticalExtensions, e.ID)
			}
		}
	}
	return crl, nil
}

func (crl *CRL) readEntry(entries *cryptobyte.String) (RevokedCertificate, error) {
	e := RevokedCertificate{SerialNumber: new(big.Int), ReasonCode: -1}
	var entry cryptobyte.String
	if !entries.ReadASN1(&entry, cbasn1.SEQUENCE) || !entry.ReadASN1Integer(e.SerialNumber) {
		return e, malformed("revoked certificate")
	}
	var err error
	if e.RevocationTime, err = readTime(&entry, "revocationDate"); err != nil {
		return e, err
	}
	if !entry.Empty() {
		if crl.Version != 2 {
			return e, malformed("entry extensions in a v1 CRL")
		}
		if e.Extensions, err = readExtensions(&entry); err != nil {
			return e, err
		}
		if !entry.Empty() {
			return e, malformed("revoked certificate")
		}
	}
	for _, ext := range e.Extensions {
		switch {
		case ext.ID.Equal(oidExtReasonCode):
			v := cryptobyte.String(ext.Value)
			if !v.ReadASN1Enum(&e.ReasonCode) || !v.Empty() || e.ReasonCode < 0 {
				return e, malformed("reasonCode")
			}
		case ext.Critical:
			crl.UnhandledCriticalExtensions = append(crl.UnhandledCriticalExtensions, ext.ID)
		}
	}
	return e, nil
}

// IsRevoked reports whether the CRL lists serial.
func (crl *CRL) IsRevoked(serial *big.Int) bool {
	return serial != nil && crl.revoked[serial.String()]
}

// CheckSignatureFrom checks that issuer issued the CRL: the CRL names
// issuer's subject (Name.Equal), issuer may sign CRLs (a v3 issuer needs
// basicConstraints cA; a keyUsage without cRLSign refuses), and the
// signature verifies with issuer's key. It does not look at the update
// times.
func (crl *CRL) CheckSignatureFrom(issuer *Certificate) error {
	if !crl.Issuer.Equal(issuer.Subject) {
		return fmt.Errorf("%w: the CRL is issued by %q, not %q", ErrIssuerMismatch, crl.Issuer, issuer.Subject)
	}
	if err := issuer.mayIssue(x509.KeyUsageCRLSign, "cRLSign"); err != nil {
		return err
	}
	return VerifySignature(issuer.PublicKey, crl.SignatureAlgorithm, 0, crl.RawTBSCertList, crl.Signature)
}
