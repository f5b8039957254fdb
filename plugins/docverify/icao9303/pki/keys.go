package pki

import (
	"crypto"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// PublicKey is a certificate's subject public key: *rsa.PublicKey or
// *ECPublicKey.
type PublicKey = crypto.PublicKey

// ParseSubjectPublicKeyInfo parses the DER of a SubjectPublicKeyInfo
// (as certificates and DG15 carry it) and returns its algorithm and key:
//
//   - rsaEncryption, or id-RSASSA-PSS (whose parameters, a restriction
//     on how the key signs, are not enforced), as *rsa.PublicKey;
//   - id-ecPublicKey with a namedCurve OID or explicit ECParameters of a
//     named curve, as *ECPublicKey.
//
// Other algorithms are ErrUnsupportedAlgorithm, other curves
// ErrUnknownCurve, and points that are not on the curve ErrInvalidPoint.
func ParseSubjectPublicKeyInfo(der []byte) (AlgorithmIdentifier, PublicKey, error) {
	s := cryptobyte.String(der)
	alg, key, err := readSubjectPublicKeyInfo(&s)
	if err == nil && !s.Empty() {
		err = fmt.Errorf("%w: data after SubjectPublicKeyInfo", ErrMalformed)
	}
	if err != nil {
		return AlgorithmIdentifier{}, nil, err
	}
	return alg, key, nil
}

func readSubjectPublicKeyInfo(s *cryptobyte.String) (AlgorithmIdentifier, PublicKey, error) {
	var spki cryptobyte.String
	var bits asn1.BitString
	if !s.ReadASN1(&spki, cbasn1.SEQUENCE) {
		return AlgorithmIdentifier{}, nil, fmt.Errorf("%w: SubjectPublicKeyInfo", ErrMalformed)
	}
	alg, ok := readAlgorithmIdentifier(&spki)
	if !ok {
		return alg, nil, fmt.Errorf("%w: SubjectPublicKeyInfo algorithm", ErrMalformed)
	}
	if !spki.ReadASN1BitString(&bits) || !spki.Empty() {
		return alg, nil, fmt.Errorf("%w: SubjectPublicKeyInfo subjectPublicKey", ErrMalformed)
	}
	if bits.BitLength%8 != 0 {
		return alg, nil, fmt.Errorf("%w: subjectPublicKey is not whole bytes", ErrMalformed)
	}
	key, err := parsePublicKey(alg, bits.Bytes)
	return alg, key, err
}

func parsePublicKey(alg AlgorithmIdentifier, keyBytes []byte) (PublicKey, error) {
	switch {
	case alg.Algorithm.Equal(oidRSAEncryption):
		if !alg.absentOrNull() {
			return nil, fmt.Errorf("%w: rsaEncryption key with parameters", ErrMalformed)
		}
		return parseRSAPublicKey(keyBytes)
	case alg.Algorithm.Equal(oidRSASSAPSS):
		if alg.Parameters != nil {
			if _, err := parsePSSParameters(alg.Parameters); err != nil {
				return nil, err
			}
		}
		return parseRSAPublicKey(keyBytes)
	case alg.Algorithm.Equal(oidECPublicKey):
		if alg.Parameters == nil {
			return nil, fmt.Errorf("%w: EC key without curve parameters", ErrMalformed)
		}
		curve, explicit, err := ParseECParameters(alg.Parameters)
		if err != nil {
			return nil, err
		}
		x, y, err := curve.DecodePoint(keyBytes)
		if err != nil {
			return nil, err
		}
		return &ECPublicKey{Curve: curve, X: x, Y: y, Explicit: explicit}, nil
	default:
		return nil, fmt.Errorf("%w: public key algorithm %s", ErrUnsupportedAlgorithm, alg)
	}
}

func parseRSAPublicKey(der []byte) (*rsa.PublicKey, error) {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	n, e := new(big.Int), new(big.Int)
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() ||
		!seq.ReadASN1Integer(n) || !seq.ReadASN1Integer(e) || !seq.Empty() {
		return nil, fmt.Errorf("%w: RSAPublicKey", ErrMalformed)
	}
	if n.Sign() <= 0 {
		return nil, fmt.Errorf("%w: RSA modulus not positive", ErrMalformed)
	}
	if e.Cmp(big.NewInt(3)) < 0 || e.BitLen() > 31 {
		return nil, fmt.Errorf("%w: RSA public exponent %v", ErrUnsupportedAlgorithm, e)
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// ParseECParameters parses EcpkParameters (RFC 3279, SEC 1 C.2), the
// parameters of an id-ecPublicKey AlgorithmIdentifier: a namedCurve OID
// or explicit SpecifiedECDomain parameters over a prime field, which must
// be one of the named curves (explicit reports which form it was).
// implicitlyCA is refused.
func ParseECParameters(der []byte) (c *Curve, explicit bool, err error) {
	s := cryptobyte.String(der)
	switch {
	case s.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER):
		var oid asn1.ObjectIdentifier
		if !s.ReadASN1ObjectIdentifier(&oid) || !s.Empty() {
			return nil, false, fmt.Errorf("%w: namedCurve", ErrMalformed)
		}
		c, ok := CurveByOID(oid)
		if !ok {
			return nil, false, fmt.Errorf("%w: namedCurve %v", ErrUnknownCurve, oid)
		}
		return c, false, nil
	case s.PeekASN1Tag(cbasn1.SEQUENCE):
		c, err := parseSpecifiedECDomain(s)
		return c, true, err
	case s.PeekASN1Tag(cbasn1.NULL):
		return nil, false, fmt.Errorf("%w: implicitlyCA curve parameters", ErrUnknownCurve)
	default:
		return nil, false, fmt.Errorf("%w: EC parameters", ErrMalformed)
	}
}

// parseSpecifiedECDomain parses
//
//	SpecifiedECDomain ::= SEQUENCE {
//	    version   INTEGER { ecdpVer1(1), ecdpVer2(2), ecdpVer3(3) },
//	    fieldID   FieldID {{FieldTypes}},
//	    curve     Curve,
//	    base      ECPoint,
//	    order     INTEGER,
//	    cofactor  INTEGER OPTIONAL,
//	    hash      HashAlgorithm OPTIONAL,
//	    ... }
//	FieldID ::= SEQUENCE { fieldType OID, parameters ANY }  -- prime-field: INTEGER p
//	Curve ::= SEQUENCE { a FieldElement, b FieldElement, seed BIT STRING OPTIONAL }
func parseSpecifiedECDomain(s cryptobyte.String) (*Curve, error) {
	malformed := func(what string) error {
		return fmt.Errorf("%w: explicit EC parameters: %s", ErrMalformed, what)
	}
	var seq, field, curve cryptobyte.String
	var version int64
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, malformed("SEQUENCE")
	}
	if !seq.ReadASN1Integer(&version) || version < 1 || version > 3 {
		return nil, malformed("version")
	}
	var fieldType asn1.ObjectIdentifier
	if !seq.ReadASN1(&field, cbasn1.SEQUENCE) || !field.ReadASN1ObjectIdentifier(&fieldType) {
		return nil, malformed("fieldID")
	}
	if !fieldType.Equal(oidPrimeField) {
		return nil, fmt.Errorf("%w: EC field type %v (only prime fields)", ErrUnknownCurve, fieldType)
	}
	p := new(big.Int)
	if !field.ReadASN1Integer(p) || !field.Empty() || p.Sign() <= 0 {
		return nil, malformed("prime p")
	}
	var aBytes, bBytes, base []byte
	if !seq.ReadASN1(&curve, cbasn1.SEQUENCE) ||
		!curve.ReadASN1Bytes(&aBytes, cbasn1.OCTET_STRING) ||
		!curve.ReadASN1Bytes(&bBytes, cbasn1.OCTET_STRING) {
		return nil, malformed("curve")
	}
	if !curve.Empty() {
		var seed asn1.BitString
		if !curve.ReadASN1BitString(&seed) || !curve.Empty() {
			return nil, malformed("curve seed")
		}
	}
	if !seq.ReadASN1Bytes(&base, cbasn1.OCTET_STRING) {
		return nil, malformed("base")
	}
	n := new(big.Int)
	if !seq.ReadASN1Integer(n) || n.Sign() <= 0 {
		return nil, malformed("order")
	}
	var cofactor *big.Int
	if seq.PeekASN1Tag(cbasn1.INTEGER) {
		cofactor = new(big.Int)
		if !seq.ReadASN1Integer(cofactor) {
			return nil, malformed("cofactor")
		}
	}
	if !seq.Empty() {
		// SEC 1 v2's optional hash, then an extension marker.
		var hash cryptobyte.String
		if !seq.ReadASN1(&hash, cbasn1.SEQUENCE) || !seq.Empty() {
			return nil, malformed("data after the cofactor")
		}
	}
	a, b := new(big.Int).SetBytes(aBytes), new(big.Int).SetBytes(bBytes)
	if a.Cmp(p) >= 0 || b.Cmp(p) >= 0 {
		return nil, malformed("coefficient not below p")
	}
	return CurveFromParameters(p, a, b, base, n, cofactor)
}
