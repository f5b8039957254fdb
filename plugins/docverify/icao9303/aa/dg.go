package aa

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

var (
	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECPublicKey   = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	// id-icao-mrtd-security-aaProtocolObject.
	oidAAProtocol = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 5}
	// BSI TR-03111 ecdsa-plain-signatures.
	oidECDSAPlain = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1}
)

// ecdsaPlainHashes maps the last arc of ecdsa-plain-SHA* to its hash.
var ecdsaPlainHashes = map[int]crypto.Hash{
	1: crypto.SHA1, 2: crypto.SHA224, 3: crypto.SHA256, 4: crypto.SHA384, 5: crypto.SHA512,
}

// PublicKey is an active authentication key from DG15.
type PublicKey struct {
	// Algorithm is rsaEncryption or id-ecPublicKey.
	Algorithm asn1.ObjectIdentifier
	// RSA is the key when it is an RSA key; nil for an EC key.
	RSA *rsa.PublicKey
	// SPKI is the DER SubjectPublicKeyInfo as DG15 holds it: for an EC
	// key, what an ECKeyParser reads.
	SPKI []byte
}

// ParseDG15 reads EF.DG15: tag 0x6F wrapping a SubjectPublicKeyInfo, with
// nothing after it. RSA keys are parsed with crypto/x509, and where it
// refuses them, leniently for two quirks of real chips: the NULL
// parameters left out, and a modulus whose INTEGER lacks the leading zero
// byte that its top bit needs (so that DER reads it as negative; the BSI
// 2008 reference passport's DG15 is so). A modulus cannot be negative, so
// its bytes are read as the unsigned number they were meant to be. EC keys
// are checked for their shape only and returned as their SPKI, for an
// ECKeyParser. Other algorithms are ErrUnsupported.
func ParseDG15(b []byte) (*PublicKey, error) {
	spki, rest, err := readTLV(b, 0x6F)
	if err != nil {
		return nil, malformed("DG15: %v", err)
	}
	if len(rest) != 0 {
		return nil, malformed("DG15: %d bytes after the 0x6F element", len(rest))
	}
	s := cryptobyte.String(spki)
	var seq, algID, bits cryptobyte.String
	var alg asn1.ObjectIdentifier
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() ||
		!seq.ReadASN1(&algID, cbasn1.SEQUENCE) || !algID.ReadASN1ObjectIdentifier(&alg) ||
		!seq.ReadASN1(&bits, cbasn1.BIT_STRING) || !seq.Empty() {
		return nil, malformed("DG15: not a DER SubjectPublicKeyInfo")
	}
	var unused uint8
	if !bits.ReadUint8(&unused) || unused != 0 || bits.Empty() {
		return nil, malformed("DG15: the public key is not a whole number of bytes")
	}
	k := &PublicKey{Algorithm: alg, SPKI: append([]byte(nil), spki...)}
	switch {
	case alg.Equal(oidRSAEncryption):
		pub, err := x509.ParsePKIXPublicKey(spki)
		if err == nil {
			r, ok := pub.(*rsa.PublicKey)
			if !ok {
				return nil, malformed("DG15: rsaEncryption, but not an RSA key")
			}
			k.RSA = r
			break
		}
		params := []byte(algID)
		if len(params) != 0 && !bytes.Equal(params, []byte{0x05, 0x00}) {
			return nil, malformed("DG15: the RSA key: %v", err)
		}
		if k.RSA, err = lenientRSAPublicKey(bits); err != nil {
			return nil, malformed("DG15: the RSA key: %v", err)
		}
	case alg.Equal(oidECPublicKey):
		if algID.Empty() {
			return nil, malformed("DG15: an EC key without domain parameters")
		}
	default:
		return nil, unsupported("DG15: a key of algorithm %v (neither RSA nor EC)", alg)
	}
	return k, nil
}

// lenientRSAPublicKey reads RSAPublicKey ::= SEQUENCE { modulus, publicExponent }
// with the modulus's bytes as an unsigned number.
func lenientRSAPublicKey(der []byte) (*rsa.PublicKey, error) {
	s := cryptobyte.String(der)
	var seq, n cryptobyte.String
	var e int64
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() || !seq.ReadASN1(&n, cbasn1.INTEGER) ||
		!seq.ReadASN1Integer(&e) || !seq.Empty() {
		return nil, errors.New("not a DER RSAPublicKey")
	}
	switch {
	case len(n) == 0:
		return nil, errors.New("an empty modulus")
	case n[0] == 0 && (len(n) == 1 || n[1]&0x80 == 0):
		return nil, errors.New("the modulus is zero or not minimally encoded")
	}
	if e < 3 || e > 1<<31-1 {
		return nil, fmt.Errorf("public exponent %d", e)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(e)}, nil
}

// AAInfo is DG14's ActiveAuthenticationInfo: the signature algorithm of
// an ECDSA active authentication.
type AAInfo struct {
	Version            int
	SignatureAlgorithm asn1.ObjectIdentifier
	// Hash is the algorithm's hash, for VerifyECDSAPlain.
	Hash crypto.Hash
}

// ParseDG14AAInfo reads EF.DG14 (tag 0x6E, a DER SET OF SecurityInfo) and
// returns its ActiveAuthenticationInfo (OID 2.23.136.1.1.5, version 1,
// signatureAlgorithm one of TR-03111's ecdsa-plain-SHA*). The other
// SecurityInfos (PACE, chip and terminal authentication, …) are skipped;
// when none is for active authentication the error wraps ErrNoAAInfo and
// lists the protocols that are there. Two of them are ErrMalformed.
func ParseDG14AAInfo(b []byte) (*AAInfo, error) {
	content, rest, err := readTLV(b, 0x6E)
	if err != nil {
		return nil, malformed("DG14: %v", err)
	}
	if len(rest) != 0 {
		return nil, malformed("DG14: %d bytes after the 0x6E element", len(rest))
	}
	s := cryptobyte.String(content)
	var set cryptobyte.String
	if !s.ReadASN1(&set, cbasn1.SET) || !s.Empty() {
		return nil, malformed("DG14: not a DER SET OF SecurityInfo")
	}
	var found *AAInfo
	var others []string
	for !set.Empty() {
		var si cryptobyte.String
		var proto asn1.ObjectIdentifier
		if !set.ReadASN1(&si, cbasn1.SEQUENCE) || !si.ReadASN1ObjectIdentifier(&proto) || si.Empty() {
			return nil, malformed("DG14: a SecurityInfo that is not a SEQUENCE of a protocol OID and its data")
		}
		if !proto.Equal(oidAAProtocol) {
			others = append(others, proto.String())
			continue
		}
		if found != nil {
			return nil, malformed("DG14: two ActiveAuthenticationInfos")
		}
		var version int64
		var alg asn1.ObjectIdentifier
		if !si.ReadASN1Integer(&version) || !si.ReadASN1ObjectIdentifier(&alg) || !si.Empty() {
			return nil, malformed("DG14: an ActiveAuthenticationInfo that is not version INTEGER, signatureAlgorithm OID")
		}
		if version != 1 {
			return nil, unsupported("DG14: ActiveAuthenticationInfo version %d (1 is defined)", version)
		}
		var h crypto.Hash
		if len(alg) == len(oidECDSAPlain)+1 && alg[:len(oidECDSAPlain)].Equal(oidECDSAPlain) {
			h = ecdsaPlainHashes[alg[len(alg)-1]]
		}
		if h == 0 {
			return nil, unsupported("DG14: active authentication signature algorithm %v (not ecdsa-plain-SHA1 to SHA512)", alg)
		}
		found = &AAInfo{Version: int(version), SignatureAlgorithm: alg, Hash: h}
	}
	if found == nil {
		if len(others) == 0 {
			return nil, fmt.Errorf("%w (DG14 has no SecurityInfo at all)", ErrNoAAInfo)
		}
		return nil, fmt.Errorf("%w (DG14 has %d other SecurityInfos: %s)", ErrNoAAInfo, len(others), strings.Join(others, ", "))
	}
	return found, nil
}

// readTLV reads one element with a one-byte tag and a BER length in one
// to three bytes: its value and what follows.
func readTLV(b []byte, tag byte) (value, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("%d bytes", len(b))
	}
	if b[0] != tag {
		return nil, nil, fmt.Errorf("tag 0x%02X, not 0x%02X", b[0], tag)
	}
	var n, hdr int
	switch l := b[1]; {
	case l < 0x80:
		n, hdr = int(l), 2
	case l == 0x81 && len(b) >= 3:
		n, hdr = int(b[2]), 3
	case l == 0x82 && len(b) >= 4:
		n, hdr = int(b[2])<<8|int(b[3]), 4
	case l == 0x80:
		return nil, nil, fmt.Errorf("an indefinite length")
	case l == 0x81 || l == 0x82:
		return nil, nil, fmt.Errorf("a truncated length")
	default:
		return nil, nil, fmt.Errorf("a length of more than three bytes")
	}
	if len(b)-hdr < n {
		return nil, nil, fmt.Errorf("the value is shorter than its length")
	}
	return b[hdr : hdr+n], b[hdr+n:], nil
}
