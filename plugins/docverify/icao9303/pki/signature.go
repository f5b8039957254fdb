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

// VerifySignature checks that sig is pub's signature of signed under
// alg. It knows:
//
//   - sha1/224/256/384/512WithRSAEncryption: PKCS #1 v1.5;
//   - rsaEncryption (1.2.840.113549.1.1.1) as a signature algorithm, as
//     US and New Zealand SODs name it: PKCS #1 v1.5 with digestHash, the
//     hash of the CMS digestAlgorithm;
//   - RSASSA-PSS with its parameters (RFC 4055: hash, MGF1 with the same
//     hash, salt length, trailer field 1; SHA-1 and 20 when absent);
//   - ecdsa-with-SHA1/224/256/384/512, the signature a DER
//     ECDSA-Sig-Value; id-ecPublicKey as a signature algorithm: ECDSA
//     with digestHash;
//   - BSI TR-03111 ecdsa-plain-SHA1/224/256/384/512: the signature r‖s.
//
// digestHash is used only for the bare rsaEncryption and id-ecPublicKey
// identifiers; pass 0 where there is none (certificates, CRLs). The
// error wraps ErrBadSignature when the signature does not verify,
// ErrKeyMismatch when the key does not fit the algorithm, and
// ErrUnsupportedAlgorithm or ErrMalformed when the algorithm is unknown
// or badly encoded.
func VerifySignature(pub PublicKey, alg AlgorithmIdentifier, digestHash crypto.Hash, signed, sig []byte) error {
	scheme, err := signatureScheme(alg, digestHash)
	if err != nil {
		return err
	}
	h := scheme.hash.New()
	h.Write(signed)
	digest := h.Sum(nil)
	switch scheme.kind {
	case schemePKCS1, schemePSS:
		key, ok := pub.(*rsa.PublicKey)
		if !ok || key == nil {
			return fmt.Errorf("%w: %s needs an RSA key, not %T", ErrKeyMismatch, alg, pub)
		}
		if scheme.kind == schemePKCS1 {
			err = rsa.VerifyPKCS1v15(key, scheme.hash, digest, sig)
		} else {
			err = rsa.VerifyPSS(key, scheme.hash, digest, sig, &rsa.PSSOptions{SaltLength: scheme.saltLength})
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadSignature, alg, err)
		}
		return nil
	default:
		key, ok := pub.(*ECPublicKey)
		if !ok || key == nil || key.Curve == nil {
			return fmt.Errorf("%w: %s needs an EC key, not %T", ErrKeyMismatch, alg, pub)
		}
		var r, s *big.Int
		if scheme.kind == schemeECDSAPlain {
			r, s, err = splitPlainECDSA(sig, key.Curve)
		} else {
			r, s, err = ParseECDSASignature(sig)
		}
		if err != nil {
			return err
		}
		if !VerifyECDSA(key, digest, r, s) {
			return fmt.Errorf("%w: %s on %s", ErrBadSignature, alg, key.Curve.Name)
		}
		return nil
	}
}

type schemeKind int

const (
	schemePKCS1 schemeKind = iota
	schemePSS
	schemeECDSA
	schemeECDSAPlain
)

type scheme struct {
	kind       schemeKind
	hash       crypto.Hash
	saltLength int // PSS
}

var fixedSchemes = []struct {
	oid  asn1.ObjectIdentifier
	kind schemeKind
	hash crypto.Hash
}{
	{oidSHA1WithRSA, schemePKCS1, crypto.SHA1},
	{oidSHA224WithRSA, schemePKCS1, crypto.SHA224},
	{oidSHA256WithRSA, schemePKCS1, crypto.SHA256},
	{oidSHA384WithRSA, schemePKCS1, crypto.SHA384},
	{oidSHA512WithRSA, schemePKCS1, crypto.SHA512},
	{oidECDSAWithSHA1, schemeECDSA, crypto.SHA1},
	{oidECDSAWithSHA224, schemeECDSA, crypto.SHA224},
	{oidECDSAWithSHA256, schemeECDSA, crypto.SHA256},
	{oidECDSAWithSHA384, schemeECDSA, crypto.SHA384},
	{oidECDSAWithSHA512, schemeECDSA, crypto.SHA512},
	{asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1, 1}, schemeECDSAPlain, crypto.SHA1},
	{asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1, 2}, schemeECDSAPlain, crypto.SHA224},
	{asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1, 3}, schemeECDSAPlain, crypto.SHA256},
	{asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1, 4}, schemeECDSAPlain, crypto.SHA384},
	{asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1, 5}, schemeECDSAPlain, crypto.SHA512},
}

func signatureScheme(alg AlgorithmIdentifier, digestHash crypto.Hash) (scheme, error) {
	for _, f := range fixedSchemes {
		if !f.oid.Equal(alg.Algorithm) {
			continue
		}
		// RFC 4055 and RFC 5758: NULL for RSA, absent for ECDSA; both
		// are seen for both.
		if !alg.absentOrNull() {
			return scheme{}, fmt.Errorf("%w: %s with parameters", ErrMalformed, alg)
		}
		return scheme{kind: f.kind, hash: f.hash}, nil
	}
	switch {
	case alg.Algorithm.Equal(oidRSAEncryption), alg.Algorithm.Equal(oidECPublicKey):
		if !alg.absentOrNull() {
			return scheme{}, fmt.Errorf("%w: %s with parameters", ErrMalformed, alg)
		}
		if !supportedDigest(digestHash) {
			return scheme{}, fmt.Errorf("%w: %s as a signature algorithm needs the digest algorithm's hash (got %v)", ErrUnsupportedAlgorithm, alg, digestHash)
		}
		if alg.Algorithm.Equal(oidECPublicKey) {
			return scheme{kind: schemeECDSA, hash: digestHash}, nil
		}
		return scheme{kind: schemePKCS1, hash: digestHash}, nil
	case alg.Algorithm.Equal(oidRSASSAPSS):
		if alg.Parameters == nil {
			return scheme{}, fmt.Errorf("%w: RSASSA-PSS without parameters", ErrMalformed)
		}
		p, err := parsePSSParameters(alg.Parameters)
		if err != nil {
			return scheme{}, err
		}
		if p.MGF1Hash != p.Hash {
			return scheme{}, fmt.Errorf("%w: RSASSA-PSS with MGF1 over %v and the message hash %v", ErrUnsupportedAlgorithm, p.MGF1Hash, p.Hash)
		}
		if p.SaltLength == 0 {
			// crypto/rsa reads a salt length of 0 as "any length".
			return scheme{}, fmt.Errorf("%w: RSASSA-PSS with an empty salt", ErrUnsupportedAlgorithm)
		}
		return scheme{kind: schemePSS, hash: p.Hash, saltLength: p.SaltLength}, nil
	}
	return scheme{}, fmt.Errorf("%w: signature algorithm %s", ErrUnsupportedAlgorithm, alg)
}

// PSSParameters are RSASSA-PSS-params (RFC 4055, 3.1).
type PSSParameters struct {
	Hash       crypto.Hash
	MGF1Hash   crypto.Hash
	SaltLength int
}

// ParsePSSParameters parses the DER of RSASSA-PSS-params, giving the
// defaults (SHA-1, MGF1 with SHA-1, 20) to the fields it leaves out; a
// trailer field other than 1 is refused.
//
//	RSASSA-PSS-params ::= SEQUENCE {
//	    hashAlgorithm      [0] HashAlgorithm DEFAULT sha1Identifier,
//	    maskGenAlgorithm   [1] MaskGenAlgorithm DEFAULT mgf1SHA1Identifier,
//	    saltLength         [2] INTEGER DEFAULT 20,
//	    trailerField       [3] INTEGER DEFAULT 1 }
func ParsePSSParameters(der []byte) (PSSParameters, error) { return parsePSSParameters(der) }

func parsePSSParameters(der []byte) (PSSParameters, error) {
	p := PSSParameters{Hash: crypto.SHA1, MGF1Hash: crypto.SHA1, SaltLength: 20}
	malformed := func(what string) (PSSParameters, error) {
		return PSSParameters{}, fmt.Errorf("%w: RSASSA-PSS parameters: %s", ErrMalformed, what)
	}
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return malformed("SEQUENCE")
	}
	var field cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return malformed("hashAlgorithm")
	}
	if present {
		alg, ok := readAlgorithmIdentifier(&field)
		if !ok || !field.Empty() {
			return malformed("hashAlgorithm")
		}
		h, err := DigestAlgorithm(alg)
		if err != nil {
			return PSSParameters{}, err
		}
		p.Hash = h
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return malformed("maskGenAlgorithm")
	}
	if present {
		mgf, ok := readAlgorithmIdentifier(&field)
		if !ok || !field.Empty() {
			return malformed("maskGenAlgorithm")
		}
		if !mgf.Algorithm.Equal(oidMGF1) {
			return PSSParameters{}, fmt.Errorf("%w: RSASSA-PSS mask generation %s", ErrUnsupportedAlgorithm, mgf)
		}
		if mgf.Parameters == nil {
			return malformed("MGF1 without its hash")
		}
		hashAlg, err := ParseAlgorithmIdentifier(mgf.Parameters)
		if err != nil {
			return malformed("MGF1 hash")
		}
		h, err := DigestAlgorithm(hashAlg)
		if err != nil {
			return PSSParameters{}, err
		}
		p.MGF1Hash = h
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(2).Constructed().ContextSpecific()) {
		return malformed("saltLength")
	}
	if present {
		var salt int64
		if !field.ReadASN1Integer(&salt) || !field.Empty() || salt < 0 || salt > 1<<16 {
			return malformed("saltLength")
		}
		p.SaltLength = int(salt)
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(3).Constructed().ContextSpecific()) {
		return malformed("trailerField")
	}
	if present {
		var trailer int64
		if !field.ReadASN1Integer(&trailer) || !field.Empty() {
			return malformed("trailerField")
		}
		if trailer != 1 {
			return PSSParameters{}, fmt.Errorf("%w: RSASSA-PSS trailer field %d", ErrUnsupportedAlgorithm, trailer)
		}
	}
	if !seq.Empty() {
		return malformed("unknown fields")
	}
	return p, nil
}

// ParseECDSASignature parses a DER ECDSA-Sig-Value ::= SEQUENCE { r
// INTEGER, s INTEGER }, both positive.
func ParseECDSASignature(der []byte) (r, s *big.Int, err error) {
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	r, s = new(big.Int), new(big.Int)
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(r) || !seq.ReadASN1Integer(s) || !seq.Empty() {
		return nil, nil, fmt.Errorf("%w: ECDSA-Sig-Value", ErrMalformed)
	}
	if r.Sign() <= 0 || s.Sign() <= 0 {
		return nil, nil, fmt.Errorf("%w: ECDSA signature with r or s not positive", ErrBadSignature)
	}
	return r, s, nil
}

func splitPlainECDSA(sig []byte, c *Curve) (r, s *big.Int, err error) {
	l := (c.N.BitLen() + 7) / 8
	if len(sig) != 2*l {
		return nil, nil, fmt.Errorf("%w: plain ECDSA signature of %d bytes on %s (want %d)", ErrMalformed, len(sig), c.Name, 2*l)
	}
	return new(big.Int).SetBytes(sig[:l]), new(big.Int).SetBytes(sig[l:]), nil
}
