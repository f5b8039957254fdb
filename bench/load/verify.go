package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The checks of what a completed order returns, made by the harness for
// every order, independently of segld's code: an auth order's assertion
// is verified against the issuer's certificate, a sign order's CMS
// against the document's digest and the user's certificate, which must
// chain to the issuer. A daemon that answered "complete" with a wrong
// result fails the order.

// verifier holds what the checks trust: the issuer CA.
type verifier struct {
	issuer *x509.Certificate
	roots  *x509.CertPool
	// chains caches user certificates already verified against roots.
	chains sync.Map // string(DER) → *x509.Certificate
}

func newVerifier(issuerPEM string) (*verifier, error) {
	pool, err := tlsPool(issuerPEM)
	if err != nil {
		return nil, fmt.Errorf("the issuer CA: %w", err)
	}
	certs, err := readCerts(issuerPEM)
	if err != nil {
		return nil, err
	}
	return &verifier{issuer: certs[0], roots: pool}, nil
}

// completion is collect's completionData.
type completion struct {
	User struct {
		UserID string `json:"userId"`
		Name   string `json:"name"`
	} `json:"user"`
	Assertion        string   `json:"assertion"`
	Signature        string   `json:"signature"`
	CertificateChain []string `json:"certificateChain"`
}

type claims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience string   `json:"aud"`
	IssuedAt int64    `json:"iat"`
	Expires  int64    `json:"exp"`
	OrderRef string   `json:"order_ref"`
	AMR      []string `json:"amr"`
}

// assertion checks an auth order's compact JWS: ES256 by the issuer's
// key, for this user and order, not expired, with two methods at least.
func (v *verifier) assertion(tok, user, ref string, now time.Time) error {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return errors.New("the assertion is not a compact JWS")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(h, &hdr) != nil || hdr.Alg != "ES256" {
		return fmt.Errorf("the assertion's header %q is not an ES256 JWS header", h)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return errors.New("the assertion's signature is not 64 bytes of r‖s")
	}
	pub, ok := v.issuer.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("the issuer key is %T, not ECDSA", v.issuer.PublicKey)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return errors.New("the assertion's signature does not verify with the issuer's key")
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return errors.New("the assertion's payload is not base64url")
	}
	var c claims
	if err := json.Unmarshal(p, &c); err != nil {
		return fmt.Errorf("the assertion's claims: %w", err)
	}
	switch {
	case c.Subject != user:
		return fmt.Errorf("the assertion is for %q, not %q", c.Subject, user)
	case c.OrderRef != ref:
		return fmt.Errorf("the assertion is of order %q, not %q", c.OrderRef, ref)
	case c.Expires <= now.Unix()-5:
		return fmt.Errorf("the assertion expired at %d", c.Expires)
	case len(c.AMR) < 2:
		return fmt.Errorf("the assertion names %d methods (amr %v), not two", len(c.AMR), c.AMR)
	}
	return nil
}

var (
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
)

// signature checks a sign order's result: the user's certificate chains
// to the issuer, and the detached CMS SignedData's signed attributes hold
// the document's digest and are signed by that certificate's key.
func (v *verifier) signature(c *completion, digest []byte) error {
	if len(c.CertificateChain) == 0 {
		return errors.New("no certificateChain")
	}
	der, err := base64.StdEncoding.DecodeString(c.CertificateChain[0])
	if err != nil {
		return errors.New("certificateChain[0] is not base64")
	}
	cert, err := v.userCert(der)
	if err != nil {
		return err
	}
	cms, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil {
		return errors.New("the signature is not base64")
	}
	attrs, sig, err := signerInfo(cms)
	if err != nil {
		return fmt.Errorf("the CMS: %w", err)
	}
	md, err := messageDigest(attrs)
	if err != nil {
		return fmt.Errorf("the CMS: %w", err)
	}
	if !bytes.Equal(md, digest) {
		return errors.New("the CMS signs another document's digest")
	}
	// The signature covers the attributes as a SET.
	var set cryptobyte.Builder
	set.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
	setDER, err := set.Bytes()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(setDER)
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, sum[:], sig) {
			return errors.New("the CMS signature does not verify with the user's certificate")
		}
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
			return errors.New("the CMS signature does not verify with the user's certificate")
		}
	default:
		return fmt.Errorf("the user's key is %T", cert.PublicKey)
	}
	return nil
}

func (v *verifier) userCert(der []byte) (*x509.Certificate, error) {
	if c, ok := v.chains.Load(string(der)); ok {
		return c.(*x509.Certificate), nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("the user's certificate: %w", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: v.roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("the user's certificate does not chain to the issuer CA: %w", err)
	}
	v.chains.Store(string(der), cert)
	return cert, nil
}

// signerInfo returns the contents of the one SignerInfo's signed
// attributes ([0] IMPLICIT, without its tag) and its signature.
func signerInfo(der []byte) (attrs, sig []byte, err error) {
	in := cryptobyte.String(der)
	var ci, content, sd, signerInfos, si cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidSignedData) ||
		!ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) || !content.ReadASN1(&sd, cbasn1.SEQUENCE) {
		return nil, nil, errors.New("not a ContentInfo of SignedData")
	}
	var version int64
	if !sd.ReadASN1Integer(&version) || !sd.SkipASN1(cbasn1.SET) || !sd.SkipASN1(cbasn1.SEQUENCE) ||
		!sd.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!sd.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) ||
		!sd.ReadASN1(&signerInfos, cbasn1.SET) || !signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) || !signerInfos.Empty() {
		return nil, nil, errors.New("SignedData without exactly one SignerInfo")
	}
	var a, s cryptobyte.String
	if !si.ReadASN1Integer(&version) || !si.SkipASN1(cbasn1.SEQUENCE) || !si.SkipASN1(cbasn1.SEQUENCE) ||
		!si.ReadASN1(&a, cbasn1.Tag(0).Constructed().ContextSpecific()) || !si.SkipASN1(cbasn1.SEQUENCE) ||
		!si.ReadASN1(&s, cbasn1.OCTET_STRING) {
		return nil, nil, errors.New("a SignerInfo without signed attributes")
	}
	return a, s, nil
}

// messageDigest finds the messageDigest attribute's value.
func messageDigest(attrs []byte) ([]byte, error) {
	in := cryptobyte.String(attrs)
	for !in.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !in.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) || !attr.ReadASN1(&values, cbasn1.SET) {
			return nil, errors.New("malformed signed attributes")
		}
		if !oid.Equal(oidMessageDigest) {
			continue
		}
		var md cryptobyte.String
		if !values.ReadASN1(&md, cbasn1.OCTET_STRING) || !values.Empty() {
			return nil, errors.New("malformed messageDigest")
		}
		return slices.Clone([]byte(md)), nil
	}
	return nil, errors.New("no messageDigest attribute")
}
