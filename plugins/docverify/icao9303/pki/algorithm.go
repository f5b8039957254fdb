package pki

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // the hashes VerifySignature can use
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// AlgorithmIdentifier is an X.509 AlgorithmIdentifier: the algorithm's
// OID and the DER of its parameters (the whole element, tag included;
// nil when absent).
type AlgorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters []byte
}

func (a AlgorithmIdentifier) String() string {
	if name, ok := algorithmNames[a.Algorithm.String()]; ok {
		return name
	}
	return a.Algorithm.String()
}

// Equal reports whether a and b are the same OID with the same
// parameters, absent parameters counting as NULL.
func (a AlgorithmIdentifier) Equal(b AlgorithmIdentifier) bool {
	return a.Algorithm.Equal(b.Algorithm) && bytes.Equal(a.params(), b.params())
}

var derNull = []byte{0x05, 0x00}

func (a AlgorithmIdentifier) params() []byte {
	if a.Parameters == nil {
		return derNull
	}
	return a.Parameters
}

// absentOrNull reports whether the parameters are absent or NULL.
func (a AlgorithmIdentifier) absentOrNull() bool {
	return a.Parameters == nil || bytes.Equal(a.Parameters, derNull)
}

// ParseAlgorithmIdentifier parses the DER of one AlgorithmIdentifier.
func ParseAlgorithmIdentifier(der []byte) (AlgorithmIdentifier, error) {
	s := cryptobyte.String(der)
	alg, err := ReadAlgorithmIdentifier(&s)
	if err != nil {
		return alg, err
	}
	if !s.Empty() {
		return AlgorithmIdentifier{}, fmt.Errorf("%w: AlgorithmIdentifier: %d bytes of trailing data", ErrMalformed, len(s))
	}
	return alg, nil
}

// ReadAlgorithmIdentifier reads one AlgorithmIdentifier from s, for
// parsers of structures that hold one. The error, wrapping ErrMalformed,
// says what part of it is wrong.
func ReadAlgorithmIdentifier(s *cryptobyte.String) (AlgorithmIdentifier, error) {
	bad := func(reason string) error { return fmt.Errorf("%w: AlgorithmIdentifier: %s", ErrMalformed, reason) }
	var seq cryptobyte.String
	var alg AlgorithmIdentifier
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return alg, bad("not a DER SEQUENCE")
	}
	if !seq.ReadASN1ObjectIdentifier(&alg.Algorithm) {
		return alg, bad("the algorithm is not an OBJECT IDENTIFIER")
	}
	if seq.Empty() {
		return alg, nil
	}
	var params cryptobyte.String
	if !seq.ReadAnyASN1Element(&params, nil) {
		return alg, bad("the parameters are not a DER element")
	}
	if !seq.Empty() {
		return alg, bad("data after the parameters")
	}
	alg.Parameters = bytes.Clone(params)
	return alg, nil
}

// readAlgorithmIdentifier is ReadAlgorithmIdentifier for the parsers
// here, which say themselves which field was wrong.
func readAlgorithmIdentifier(s *cryptobyte.String) (AlgorithmIdentifier, bool) {
	alg, err := ReadAlgorithmIdentifier(s)
	return alg, err == nil
}

// Object identifiers of the algorithms.
var (
	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSASSAPSS       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidSHA1WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA224WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 14}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSAWithSHA224 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidPrimeField      = asn1.ObjectIdentifier{1, 2, 840, 10045, 1, 1}
	oidSHA1            = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// The exported OIDs, for callers that build or compare identifiers.
var (
	OIDRSAEncryption   = oidRSAEncryption
	OIDRSASSAPSS       = oidRSASSAPSS
	OIDSHA1WithRSA     = oidSHA1WithRSA
	OIDSHA224WithRSA   = oidSHA224WithRSA
	OIDSHA256WithRSA   = oidSHA256WithRSA
	OIDSHA384WithRSA   = oidSHA384WithRSA
	OIDSHA512WithRSA   = oidSHA512WithRSA
	OIDECPublicKey     = oidECPublicKey
	OIDECDSAWithSHA1   = oidECDSAWithSHA1
	OIDECDSAWithSHA224 = oidECDSAWithSHA224
	OIDECDSAWithSHA256 = oidECDSAWithSHA256
	OIDECDSAWithSHA384 = oidECDSAWithSHA384
	OIDECDSAWithSHA512 = oidECDSAWithSHA512
)

var algorithmNames = map[string]string{
	oidRSAEncryption.String():   "rsaEncryption",
	oidRSASSAPSS.String():       "RSASSA-PSS",
	oidSHA1WithRSA.String():     "sha1WithRSAEncryption",
	oidSHA224WithRSA.String():   "sha224WithRSAEncryption",
	oidSHA256WithRSA.String():   "sha256WithRSAEncryption",
	oidSHA384WithRSA.String():   "sha384WithRSAEncryption",
	oidSHA512WithRSA.String():   "sha512WithRSAEncryption",
	oidECPublicKey.String():     "id-ecPublicKey",
	oidECDSAWithSHA1.String():   "ecdsa-with-SHA1",
	oidECDSAWithSHA224.String(): "ecdsa-with-SHA224",
	oidECDSAWithSHA256.String(): "ecdsa-with-SHA256",
	oidECDSAWithSHA384.String(): "ecdsa-with-SHA384",
	oidECDSAWithSHA512.String(): "ecdsa-with-SHA512",
	oidSHA1.String():            "SHA-1",
	oidSHA224.String():          "SHA-224",
	oidSHA256.String():          "SHA-256",
	oidSHA384.String():          "SHA-384",
	oidSHA512.String():          "SHA-512",
}

var digestOIDs = []struct {
	oid  asn1.ObjectIdentifier
	hash crypto.Hash
}{
	{oidSHA1, crypto.SHA1},
	{oidSHA224, crypto.SHA224},
	{oidSHA256, crypto.SHA256},
	{oidSHA384, crypto.SHA384},
	{oidSHA512, crypto.SHA512},
}

// DigestAlgorithm returns the hash a digest AlgorithmIdentifier names
// (SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512; parameters absent or
// NULL), as CMS and the LDS security object use them.
func DigestAlgorithm(alg AlgorithmIdentifier) (crypto.Hash, error) {
	h, ok := HashForOID(alg.Algorithm)
	if !ok {
		return 0, fmt.Errorf("%w: digest %s", ErrUnsupportedAlgorithm, alg)
	}
	if !alg.absentOrNull() {
		return 0, fmt.Errorf("%w: %s with parameters", ErrUnsupportedAlgorithm, alg)
	}
	return h, nil
}

// HashForOID returns the hash function of a digest algorithm OID:
// SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512; false for any other.
func HashForOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	for _, d := range digestOIDs {
		if d.oid.Equal(oid) {
			return d.hash, true
		}
	}
	return 0, false
}

// OIDForHash is the inverse of HashForOID; nil for another hash.
func OIDForHash(h crypto.Hash) asn1.ObjectIdentifier {
	for _, d := range digestOIDs {
		if d.hash == h {
			return d.oid
		}
	}
	return nil
}

func supportedDigest(h crypto.Hash) bool { return OIDForHash(h) != nil }
