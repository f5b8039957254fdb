// Package app is the wire format of the app API (/app/v1): the requests
// and answers, the three byte strings a device signs, and their checks.
// Segld and the reference client (signer/app/client) both use it, so the
// rules a bank's iOS and Android teams follow (docs/app.md) are written
// down once, here.
//
// A device holds one P-256 key. It signs, ECDSA with SHA-256, DER:
//
//   - at activation, a proof of possession over the activation id
//     (ActivationProof);
//   - every later request, bound to its method, path and query, body,
//     time and a single-use nonce (RequestInput);
//   - every approval or rejection of an order (ApprovalMessage, DESIGN's
//     "App approval v1").
package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed request.
const (
	HeaderDevice    = "Segl-Device"
	HeaderTime      = "Segl-Time"
	HeaderNonce     = "Segl-Nonce"
	HeaderSignature = "Segl-Signature"
)

// MaxSkew is how far a signed request's time may be from the server's.
const MaxSkew = 60 * time.Second

// MaxWait bounds the long poll of /app/v1/pending.
const MaxWait = 25 * time.Second

// ActivationLifetime is how long an activation may be completed.
const ActivationLifetime = 5 * time.Minute

// ActivationProof is what a new device key signs to show it holds the
// private key: "SEGL-ACTIVATION-1" 0x00 activationId.
func ActivationProof(activationID string) []byte {
	return join("SEGL-ACTIVATION-1", activationID)
}

// RequestInput is what a device signs for one request:
//
//	"SEGL-APP-REQUEST-1" 0x00 method 0x00 target 0x00 hex(SHA-256(body)) 0x00
//	time 0x00 nonce 0x00 deviceId
//
// target is the request's path and query as sent ("/app/v1/pending?wait=25"),
// time decimal Unix seconds, the hex lowercase; an empty body hashes the
// empty string.
func RequestInput(method, target string, body []byte, unix int64, nonce, deviceID string) []byte {
	sum := sha256.Sum256(body)
	return join("SEGL-APP-REQUEST-1", method, target, hex.EncodeToString(sum[:]), strconv.FormatInt(unix, 10), nonce, deviceID)
}

// Approval is what the user was shown and decided, as DESIGN's "App
// approval v1" binds it.
type Approval struct {
	OrderRef         string
	Challenge        string
	UserVisibleData  []byte // the decoded bytes shown, nil when none
	AmountMinor      string // the payment's, each empty when the order has none
	Currency         string
	Payee            string
	Decision         string // DecisionApprove or DecisionReject
	UserVerification string // VerifyPIN or VerifyBiometric
}

// Decisions and user verifications.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
	VerifyPIN       = "pin"
	VerifyBiometric = "biometric"
)

// ApprovalMessage is App approval v1:
//
//	"SEGL-APPROVAL-1" 0x00 orderRef 0x00 challenge 0x00 hex(SHA-256(userVisibleData)) 0x00
//	amountMinor 0x00 currency 0x00 payee 0x00 decision 0x00 userVerification
func ApprovalMessage(a Approval) []byte {
	sum := sha256.Sum256(a.UserVisibleData)
	return join("SEGL-APPROVAL-1", a.OrderRef, a.Challenge, hex.EncodeToString(sum[:]), a.AmountMinor, a.Currency, a.Payee,
		a.Decision, a.UserVerification)
}

func join(parts ...string) []byte {
	var b []byte
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

// ErrBadSignature is a signature that does not verify.
var ErrBadSignature = errors.New("the signature does not verify with the device's key")

// ParsePublicKey reads a device key: a DER SubjectPublicKeyInfo of a
// P-256 key, base64 (standard, padded).
func ParsePublicKey(b64 string) (*ecdsa.PublicKey, []byte, error) {
	der, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, nil, fmt.Errorf("publicKey is not base64: %v", err)
	}
	if len(der) > 200 {
		return nil, nil, fmt.Errorf("publicKey is %d bytes; a P-256 SubjectPublicKeyInfo is 91", len(der))
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("publicKey is not a DER SubjectPublicKeyInfo: %v", err)
	}
	ec, ok := k.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, nil, fmt.Errorf("publicKey is a %T; the app's key is ECDSA P-256", k)
	}
	// The one canonical encoding, so that one key is one device.
	canonical, err := x509.MarshalPKIXPublicKey(ec)
	if err != nil || string(canonical) != string(der) {
		return nil, nil, errors.New("publicKey is not in its canonical DER form (uncompressed point)")
	}
	return ec, der, nil
}

// Verify checks an ECDSA P-256 SHA-256 signature, DER and base64, over msg.
func Verify(pub *ecdsa.PublicKey, msg []byte, sigB64 string) error {
	sig, err := base64.StdEncoding.Strict().DecodeString(sigB64)
	if err != nil || len(sig) > 80 {
		return fmt.Errorf("%w: it is not base64 DER of at most 80 bytes", ErrBadSignature)
	}
	sum := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub, sum[:], sig) {
		return ErrBadSignature
	}
	return nil
}

var noncePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22,64}$`)

// CheckNonce refuses a nonce that is not 22 to 64 characters of
// base64url (at least 128 random bits).
func CheckNonce(n string) error {
	if !noncePattern.MatchString(n) {
		return fmt.Errorf("%s must be 22 to 64 characters of A-Z a-z 0-9 _ - (base64url of 16 or more random bytes)", HeaderNonce)
	}
	return nil
}

// ParseTime reads Segl-Time: decimal Unix seconds, no sign, no leading zero.
func ParseTime(s string) (int64, error) {
	if s == "" || len(s) > 12 || (len(s) > 1 && s[0] == '0') || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%s must be the Unix time in seconds", HeaderTime)
	}
	t, err := strconv.ParseInt(s, 10, 64)
	if err != nil || t < 0 {
		return 0, fmt.Errorf("%s must be the Unix time in seconds", HeaderTime)
	}
	return t, nil
}
