// Package aa verifies ICAO 9303 Active Authentication (part 11, 6.1): the
// chip signs a challenge the server chose (RND.IFD, 8 random bytes) with
// the private key whose public half is in EF.DG15.
//
// # RSA: ISO/IEC 9796-2 digital signature scheme 1
//
// VerifyRSA applies the public key and reads the message representative
// F = 0x6A ‖ M1 ‖ H ‖ trailer, where M1 is the chip's nonce (partial
// message recovery), the challenge is the non-recoverable part M2, and
// H = hash(M1 ‖ challenge) is compared in constant time. The trailer names
// the hash: 0xBC is SHA-1 (implicit), two-byte trailers are an ISO/IEC
// 10118-3 identifier and 0xCC: 0x33CC SHA-1, 0x38CC SHA-224, 0x34CC
// SHA-256, 0x36CC SHA-384, 0x35CC SHA-512.
//
// ISO/IEC 9796-2 with RSA and an odd exponent lets the signer return
// min(s, n − s). The verifier then gets J = s^e mod n or n − J; the one
// that ends in the nibble 0xC (as both trailers do) is the representative,
// and when neither does the signature is refused.
//
// Refused, each with an error saying so: a representative whose header is
// not 0x6A, including 0x4A and 0x4B…0xBA (total message recovery: the
// whole message is in F, so the challenge is not the non-recoverable part
// that 9303 defines; the first two bits 01, then the more-data bit 0) and
// 0x6B…0xBA (padding with partial recovery, which 9796-2 does not
// produce, since M1 fills the capacity); a signature whose length is not
// the modulus's or whose value is not below it; a representative shorter
// than the modulus (F must start at the first byte: a short one is what an
// e = 3 cube-root forgery yields); moduli under 1024 or over 8192 bits, or
// not a whole number of bytes; even exponents (Rabin-Williams); RIPEMD and
// Whirlpool identifiers.
//
// # ECDSA
//
// VerifyECDSAPlain checks a plain r ‖ s signature (BSI TR-03111) over
// hash(challenge), with the hash that DG14's ActiveAuthenticationInfo
// names (ParseDG14AAInfo). 9303 says chips shall not use SHA-1 here;
// it is still accepted, since with a server-chosen challenge a collision
// attack gains nothing.
//
// # The EC seam
//
// DG15 EC keys carry explicit domain parameters and brainpool curves,
// which crypto/x509 refuses; the package that parses them (icao9303/pki)
// is not imported here. ParseDG15 returns an EC key as its DER
// SubjectPublicKeyInfo (PublicKey.SPKI, RSA nil), and the caller supplies
// an ECKeyParser, which turns that SPKI into an ECVerifier:
//
//	type ECVerifier interface{ VerifyPlain(digest, rs []byte) error }
//	type ECKeyParser func(spki []byte) (ECVerifier, error)
//
// PublicKey.Verify dispatches: RSA keys to VerifyRSA, EC keys through the
// parser to VerifyECDSAPlain, and an EC key without a parser to
// ErrNoECKeyParser.
//
// Active Authentication proves a chip only when DG15 itself passed passive
// authentication; that check is the caller's.
package aa
