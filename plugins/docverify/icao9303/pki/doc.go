// Package pki is the X.509 part of the ICAO 9303 verifier: certificates,
// CRLs and signature verification for the CSCA and document signer
// certificates that real passports carry, which crypto/x509 refuses.
//
// It parses certificates and CRLs itself with cryptobyte, reads EC keys
// whose curve is named by OID or given by explicit domain parameters,
// and verifies ECDSA on short-Weierstrass curves with any a, so that the
// brainpool curves (a ≠ −3) work.
//
// # DER
//
// Certificates and CRLs must be DER: definite minimal lengths, minimal
// integers, no data after the certificate or in any SEQUENCE beyond its
// fields, times in UTC with seconds (YYMMDDHHMMSSZ, YYYYMMDDHHMMSSZ), the
// signature algorithm inside the TBS equal to the one outside, no
// extension twice. Two departures, both in BOOLEANs, are accepted because
// they change nothing that is signed: a DEFAULT FALSE written out (as
// crypto/x509 accepts it), and TRUE written as a byte other than FF
// (BER; Ukraine's CSCA of 2015, in the German and Dutch master lists, has
// cA = 01, and crypto/x509 refuses it). An empty revokedCertificates list
// in a CRL is accepted too. BER (the New Zealand SODs) is the ber
// package's business, before CMS.
//
// # Curves
//
// The curves are NIST P-224, P-256, P-384, P-521 and brainpoolP224r1,
// P256r1, P320r1, P384r1 and P512r1 (RFC 5639). Explicit domain
// parameters (SEC 1 SpecifiedECDomain) are accepted only when they are
// exactly one of these curves — same p, a, b, base point, order and
// cofactor — and are then treated as that curve. Explicit parameters for
// any other curve are refused with ErrUnknownCurve, on purpose:
//
//   - every EC certificate seen in ICAO use (Austria, Germany, Finland,
//     Russia, the United Kingdom, the 999 CSCAs of the German and Dutch
//     master lists) is on one of these curves, almost always written out
//     explicitly;
//   - accepting arbitrary parameters means trusting a curve chosen by the
//     certificate: a key that equals a trusted key on a curve with another
//     generator (CVE-2020-0601, "CurveBall"), a curve with a small
//     subgroup or a singular one, and primality tests of numbers an
//     attacker picked;
//   - the arithmetic here (ModSqrt for compressed points, the cofactor
//     of 1) relies on the field being one of the known primes.
//
// Points are accepted uncompressed (04‖X‖Y) and compressed (02/03‖X);
// the point at infinity, hybrid encodings (06/07), coordinates ≥ p and
// points off the curve are refused. All the curves have cofactor 1, so a
// point on the curve is in the group of order N.
//
// # Signatures
//
// RSASSA-PSS is verified with crypto/rsa, which uses one hash for the
// message and for MGF1 and reads a salt length of 0 as "any": parameters
// with an MGF1 hash other than the message hash, or with an empty salt,
// are refused with ErrUnsupportedAlgorithm (no ICAO signer uses them).
// The parameters an id-RSASSA-PSS key may carry, which would restrict how
// it signs, are checked for form but not enforced.
//
// ECDSA verification is done here with math/big for every curve. It is
// not constant time, and need not be: it handles public keys, public
// signatures and public data. For the NIST curves VerifyECDSA delegates
// to crypto/ecdsa; the generic code is tested against crypto/ecdsa on
// those curves and against OpenSSL on the brainpool ones. It is two to
// three times slower than OpenSSL (BenchmarkVerifyECDSA). RSA uses
// crypto/rsa (PKCS #1 v1.5 and PSS).
package pki
