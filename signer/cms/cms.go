// Package cms makes detached CMS SignedData signatures (RFC 5652) with
// CAdES-BES signed attributes (ETSI EN 319 122-1) over a document known
// only by its SHA-256 digest: the document itself never reaches the
// server, and the key signs inside the HSM through a crypto.Signer.
package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidData                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA256               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSAWithSHA256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSHA256WithRSA        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
)

// SignDetached returns the DER ContentInfo of a detached SignedData over
// the document whose SHA-256 is digest. chain[0] is the signer's
// certificate and must hold key's public key; the whole chain is included.
// The signed attributes are contentType (id-data), signingTime,
// messageDigest and signingCertificateV2 (ESSCertIDv2: SHA-256 of
// chain[0] and its issuer and serial).
func SignDetached(digest []byte, key crypto.Signer, chain []*x509.Certificate, signingTime time.Time) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("cms: the digest is %d bytes; a SHA-256 is %d", len(digest), sha256.Size)
	}
	if len(chain) == 0 {
		return nil, errors.New("cms: no signer certificate")
	}
	cert := chain[0]
	if !reflect.DeepEqual(cert.PublicKey, key.Public()) {
		return nil, errors.New("cms: the signer certificate does not hold the signing key's public key")
	}
	var sigAlg asn1.ObjectIdentifier
	var sigNull bool
	switch key.Public().(type) {
	case *ecdsa.PublicKey:
		sigAlg = oidECDSAWithSHA256
	case *rsa.PublicKey:
		sigAlg, sigNull = oidSHA256WithRSA, true
	default:
		return nil, fmt.Errorf("cms: %T keys are not supported; use ECDSA or RSA", key.Public())
	}

	attrs, err := signedAttributes(digest, cert, signingTime)
	if err != nil {
		return nil, err
	}
	// The signature covers the attributes as a SET (tag 0x31); in the
	// SignerInfo the same bytes go under [0] IMPLICIT.
	var set cryptobyte.Builder
	set.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, a := range attrs {
			b.AddBytes(a)
		}
	})
	setDER, err := set.Bytes()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(setDER)
	sig, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("cms: sign: %w", err)
	}

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { algorithm(b, oidSHA256, false) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) }) // detached
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					for _, c := range chain {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						issuerAndSerial(b, cert)
						algorithm(b, oidSHA256, false)
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							for _, a := range attrs {
								b.AddBytes(a)
							}
						})
						algorithm(b, sigAlg, sigNull)
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	return b.Bytes()
}

func algorithm(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, null bool) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if null {
			b.AddASN1NULL()
		}
	})
}

func issuerAndSerial(b *cryptobyte.Builder, c *x509.Certificate) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(c.RawIssuer)
		b.AddASN1BigInt(c.SerialNumber)
	})
}

// signedAttributes returns each attribute's DER, in DER's SET OF order.
func signedAttributes(digest []byte, cert *x509.Certificate, t time.Time) ([][]byte, error) {
	attr := func(oid asn1.ObjectIdentifier, value func(*cryptobyte.Builder)) ([]byte, error) {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SET, value)
		})
		return b.Bytes()
	}
	certHash := sha256.Sum256(cert.Raw)
	t = t.UTC()
	var attrs [][]byte
	for _, a := range []struct {
		oid   asn1.ObjectIdentifier
		value func(*cryptobyte.Builder)
	}{
		{oidContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) }},
		{oidSigningTime, func(b *cryptobyte.Builder) {
			// RFC 5652 §11.3: UTCTime for 1950–2049, GeneralizedTime otherwise.
			if y := t.Year(); y >= 1950 && y < 2050 {
				b.AddASN1UTCTime(t)
			} else {
				b.AddASN1GeneralizedTime(t)
			}
		}},
		{oidMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) }},
		{oidSigningCertificateV2, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2, SHA-256 by default
						b.AddASN1OctetString(certHash[:])
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
								b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
									b.AddBytes(cert.RawIssuer) // directoryName
								})
							})
							b.AddASN1BigInt(cert.SerialNumber)
						})
					})
				})
			})
		}},
	} {
		der, err := attr(a.oid, a.value)
		if err != nil {
			return nil, fmt.Errorf("cms: attribute %v: %w", a.oid, err)
		}
		attrs = append(attrs, der)
	}
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 })
	return attrs, nil
}
