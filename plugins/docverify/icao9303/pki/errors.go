package pki

import "errors"

// The errors this package returns wrap one of these, with the detail of
// what failed; test for them with errors.Is.
var (
	// ErrMalformed: the input is not the DER encoding of what was
	// expected (including BER, trailing data and out-of-range values).
	ErrMalformed = errors.New("pki: malformed")
	// ErrUnsupportedAlgorithm: a signature, key, hash or field type this
	// package does not implement, or parameters it does not accept.
	ErrUnsupportedAlgorithm = errors.New("pki: unsupported algorithm")
	// ErrUnknownCurve: an EC key's curve is neither a named curve this
	// package knows nor explicit parameters equal to one.
	ErrUnknownCurve = errors.New("pki: unknown elliptic curve")
	// ErrInvalidPoint: an encoded EC point is not a point of the curve
	// other than the point at infinity.
	ErrInvalidPoint = errors.New("pki: invalid curve point")
	// ErrKeyMismatch: the key's type does not fit the signature algorithm.
	ErrKeyMismatch = errors.New("pki: key does not fit the signature algorithm")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("pki: signature verification failed")
	// ErrIssuerMismatch: the certificate or CRL names another issuer
	// than the certificate given as its issuer.
	ErrIssuerMismatch = errors.New("pki: issuer name does not match")
	// ErrNotAuthorized: the issuer's basic constraints or key usage do not
	// allow it to sign certificates (or CRLs).
	ErrNotAuthorized = errors.New("pki: issuer may not sign this")
)
