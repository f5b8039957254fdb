package aa

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	_ "crypto/sha1" // the hashes that active authentication uses
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"math/big"
)

var (
	// ErrMalformed: DG14 or DG15 is not encoded as ICAO 9303 says.
	ErrMalformed = errors.New("aa: malformed")
	// ErrUnsupported: a key, an exponent, a hash or an algorithm that
	// this package does not verify.
	ErrUnsupported = errors.New("aa: unsupported")
	// ErrInvalidSignature: the signature is not the chip's over this
	// challenge. The error says what was wrong with it.
	ErrInvalidSignature = errors.New("aa: invalid signature")
	// ErrNoAAInfo: DG14 has no ActiveAuthenticationInfo (so the hash of
	// an ECDSA signature is not given; RSA does not need it).
	ErrNoAAInfo = errors.New("aa: DG14 has no ActiveAuthenticationInfo")
	// ErrNoECKeyParser: the DG15 key is an EC key, and no ECKeyParser was
	// given to make an ECVerifier of it.
	ErrNoECKeyParser = errors.New("aa: the DG15 key is an EC key, which needs an ECKeyParser")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSignature}, args...)...)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

// Bounds of an RSA active authentication key.
const (
	MinRSABits = 1024
	MaxRSABits = 8192
)

// ISO/IEC 10118-3 hash identifiers in a two-byte trailer (id ‖ 0xCC).
var trailerHashes = map[byte]crypto.Hash{
	0x33: crypto.SHA1,
	0x38: crypto.SHA224,
	0x34: crypto.SHA256,
	0x36: crypto.SHA384,
	0x35: crypto.SHA512,
}

var unsupportedTrailerHashes = map[byte]string{
	0x31: "RIPEMD-160",
	0x32: "RIPEMD-128",
	0x37: "Whirlpool",
}

// VerifyRSA checks an RSA active authentication signature over
// challenge: ISO/IEC 9796-2 digital signature scheme 1 with partial
// message recovery, as ICAO 9303 part 11 6.1 uses it (see the package
// documentation). It returns nil, an error wrapping ErrInvalidSignature
// that says what is wrong, or one wrapping ErrUnsupported for the key.
func VerifyRSA(pub *rsa.PublicKey, challenge, signature []byte) error {
	if pub == nil || pub.N == nil || pub.N.Sign() <= 0 {
		return unsupported("no RSA key")
	}
	bits := pub.N.BitLen()
	switch {
	case bits < MinRSABits:
		return unsupported("a modulus of %d bits; active authentication needs at least %d", bits, MinRSABits)
	case bits > MaxRSABits:
		return unsupported("a modulus of %d bits; at most %d are verified", bits, MaxRSABits)
	case bits%8 != 0:
		return unsupported("a modulus of %d bits, not a whole number of bytes", bits)
	case pub.E < 3 || pub.E%2 == 0:
		return unsupported("public exponent %d: ISO/IEC 9796-2 with RSA needs an odd exponent of 3 or more", pub.E)
	}
	if len(challenge) == 0 {
		return errors.New("aa: no challenge")
	}
	k := bits / 8
	if len(signature) != k {
		return invalid("%d bytes, but the modulus is %d", len(signature), k)
	}
	s := new(big.Int).SetBytes(signature)
	if s.Sign() == 0 || s.Cmp(pub.N) >= 0 {
		return invalid("the signature is not between 0 and the modulus")
	}
	// J = s^e mod n; for min(s, n − s) signatures the representative is
	// n − J. Either way it ends in the nibble 0xC.
	j := new(big.Int).Exp(s, big.NewInt(int64(pub.E)), pub.N)
	if j.Bits() == nil || j.Bits()[0]&0xF != 0xC {
		j.Sub(pub.N, j)
		if j.Bits() == nil || j.Bits()[0]&0xF != 0xC {
			return invalid("the recovered representative does not end in the nibble 0xC: the signature is not one of this key (damaged, or made with another key)")
		}
	}
	f := j.FillBytes(make([]byte, k))

	switch {
	case f[0] == 0x6A:
	case f[0] == 0x00:
		return invalid("the recovered representative is shorter than the modulus (header 0x00)")
	case f[0]>>6 != 0b01:
		return invalid("header 0x%02X: the first two bits are not 01", f[0])
	case f[0]&0x20 == 0:
		return invalid("header 0x%02X: ISO/IEC 9796-2 total message recovery; ICAO 9303 active authentication uses partial recovery (0x6A), with the challenge as the part not recovered", f[0])
	default:
		return invalid("header 0x%02X, not 0x6A (partial recovery without padding)", f[0])
	}

	var h crypto.Hash
	var t int
	switch last := f[k-1]; last {
	case 0xBC:
		h, t = crypto.SHA1, 1
	case 0xCC:
		id := f[k-2]
		if name, ok := unsupportedTrailerHashes[id]; ok {
			return unsupported("trailer 0x%02XCC: %s", id, name)
		}
		var ok bool
		if h, ok = trailerHashes[id]; !ok {
			return invalid("trailer 0x%02XCC: an unknown hash identifier", id)
		}
		t = 2
	default:
		return invalid("trailer 0x%02X: neither 0xBC nor a hash identifier and 0xCC", last)
	}
	m1End := k - t - h.Size()
	if m1End <= 1 {
		return unsupported("a %d-bit key leaves no room for M1 with %v", bits, h)
	}
	m1, signed := f[1:m1End], f[m1End:k-t]

	d := h.New()
	d.Write(m1)
	d.Write(challenge)
	if !hmac.Equal(d.Sum(nil), signed) {
		return invalid("the signed %v hash is not hash(M1 ‖ challenge): the signature is of another challenge, or not the chip's", h)
	}
	return nil
}

// ECVerifier verifies a plain r ‖ s ECDSA signature (BSI TR-03111) of a
// digest with a chip's EC key. The pki package's EC keys are to be
// adapted to it; a test one is in this package's tests.
type ECVerifier interface {
	VerifyPlain(digest, rs []byte) error
}

// ECKeyParser makes an ECVerifier of a DER SubjectPublicKeyInfo that holds
// an EC key (named or explicit domain parameters).
type ECKeyParser func(spki []byte) (ECVerifier, error)

// ecdsaHashes are those of TR-03111's ecdsa-plain signatures that this
// package computes.
var ecdsaHashes = map[crypto.Hash]bool{
	crypto.SHA1: true, crypto.SHA224: true, crypto.SHA256: true, crypto.SHA384: true, crypto.SHA512: true,
}

// VerifyECDSAPlain checks an ECDSA active authentication signature: plain
// r ‖ s over hash(challenge), hash being the one DG14's
// ActiveAuthenticationInfo names.
func VerifyECDSAPlain(v ECVerifier, hash crypto.Hash, challenge, signature []byte) error {
	if v == nil {
		return unsupported("no EC key")
	}
	if hash == 0 {
		return unsupported("no hash: ECDSA active authentication takes it from DG14's ActiveAuthenticationInfo")
	}
	if !ecdsaHashes[hash] {
		return unsupported("hash %v", hash)
	}
	if len(challenge) == 0 {
		return errors.New("aa: no challenge")
	}
	if len(signature) == 0 || len(signature)%2 != 0 {
		return invalid("a plain r ‖ s signature of %d bytes (not an even number)", len(signature))
	}
	d := hash.New()
	d.Write(challenge)
	if err := v.VerifyPlain(d.Sum(nil), signature); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	return nil
}

// Verify checks an active authentication signature with a DG15 key: an
// RSA key by VerifyRSA; an EC key by parseEC and VerifyECDSAPlain with
// hash (from ParseDG14AAInfo). parseEC may be nil for RSA keys; for an EC
// key it is then ErrNoECKeyParser.
func (k *PublicKey) Verify(parseEC ECKeyParser, hash crypto.Hash, challenge, signature []byte) error {
	switch {
	case k == nil:
		return unsupported("no DG15 key")
	case k.RSA != nil:
		return VerifyRSA(k.RSA, challenge, signature)
	case parseEC == nil:
		return ErrNoECKeyParser
	}
	v, err := parseEC(k.SPKI)
	if err != nil {
		return fmt.Errorf("aa: the DG15 EC key: %w", err)
	}
	return VerifyECDSAPlain(v, hash, challenge, signature)
}
