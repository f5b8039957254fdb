// Package piv enrols YubiKey PIV cards: it proves with the card's
// attestation that a key was made on a genuine card, with the policies
// the attestation names, and it checks that key against Segl's policy.
//
// A YubiKey attests a key it generated with two certificates: the card's
// own attestation certificate (slot f9), which Yubico's PIV root CA
// issued at the factory, and a certificate for the slot's key, which the
// f9 key issues when asked (ATTEST). The slot certificate's extensions
// carry the card's serial, firmware, form factor and the slot's PIN and
// touch policy. piv-go checks the chain and reads the extensions; this
// package adds what it leaves to its caller: that the attested key is the
// key being enrolled, that the slot is the one asked for, and the policy.
package piv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	gopiv "github.com/go-piv/piv-go/v2/piv"
)

// Attestation is what a card's attestation proves about one of its keys.
type Attestation struct {
	Serial      uint32
	Firmware    Version
	Slot        string // "9a", "9c", …
	PINPolicy   string // never, once, always, match-once, match-always
	TouchPolicy string // never, always, cached
	FormFactor  string // "USB-C Keychain", …, or "unknown(0x..)"
	PublicKey   crypto.PublicKey
	// Chain is the slot's attestation certificate then the card's (f9),
	// DER, as the card gave them: the enrolment keeps it as its evidence.
	Chain [][]byte
}

// String is the one-line summary `segl piv verify-attestation` prints.
func (a *Attestation) String() string {
	return fmt.Sprintf("serial %d, firmware %s, slot %s, pin-policy %s, touch-policy %s, form-factor %s",
		a.Serial, a.Firmware, a.Slot, a.PINPolicy, a.TouchPolicy, a.FormFactor)
}

// Version is a card's firmware version.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// Verifier checks attestations against Yubico's PIV attestation roots,
// which piv-go carries, and any Extra roots (a test PKI, or a vendor's
// roots an issuer adds): an attestation is valid if it chains to either.
type Verifier struct {
	Extra *x509.CertPool
}

// Verify checks the card's attestation certificate (f9) and the slot's
// attestation certificate, both DER, and reads what they attest.
func (v Verifier) Verify(f9DER, slotDER []byte) (*Attestation, error) {
	f9, err := x509.ParseCertificate(f9DER)
	if err != nil {
		return nil, fmt.Errorf("the card's attestation certificate (f9) is not a certificate: %v", err)
	}
	slot, err := x509.ParseCertificate(slotDER)
	if err != nil {
		return nil, fmt.Errorf("the slot's attestation certificate is not a certificate: %v", err)
	}
	// piv-go checks the chain, not that its first link is this card:
	// the slot's certificate must be the f9 key's.
	if err := slot.CheckSignatureFrom(f9); err != nil {
		return nil, fmt.Errorf("the slot's certificate is not signed by this card's attestation key (f9): %v", err)
	}
	got, err := gopiv.Verify(f9, slot)
	if err != nil && v.Extra != nil {
		// piv-go's Verifier takes its roots instead of Yubico's, so the
		// extra roots are a second try, with a fresh parse: Verify marks
		// an f9 certificate without basic constraints as a CA in place.
		f9, _ := x509.ParseCertificate(f9DER)
		var err2 error
		if got, err2 = (&gopiv.Verifier{Roots: v.Extra}).Verify(f9, slot); err2 == nil || !chainError(err2) {
			err = err2
		}
	}
	if err != nil && chainError(err) {
		return nil, fmt.Errorf("the card's attestation certificate does not chain to a trusted root: %v", unwrapped(err))
	}
	if err != nil {
		return nil, fmt.Errorf("the attestation's extensions: %v", err)
	}
	a := &Attestation{
		Serial:      got.Serial,
		Firmware:    Version{got.Version.Major, got.Version.Minor, got.Version.Patch},
		Slot:        slotName(got.Slot),
		PINPolicy:   pinPolicies[got.PINPolicy],
		TouchPolicy: touchPolicies[got.TouchPolicy],
		FormFactor:  got.Formfactor.String(),
		PublicKey:   slot.PublicKey,
		Chain:       [][]byte{slotDER, f9DER},
	}
	switch {
	case a.Slot == "":
		return nil, fmt.Errorf("the slot's certificate names no slot (its subject is %q, want \"YubiKey PIV Attestation 9a\" or another slot)", slot.Subject.CommonName)
	case got.Serial == 0:
		return nil, errors.New("the attestation carries no serial number (extension 1.3.6.1.4.1.41482.3.7)")
	case got.Version == (gopiv.Version{}):
		return nil, errors.New("the attestation carries no firmware version (extension 1.3.6.1.4.1.41482.3.3)")
	case a.PINPolicy == "" || a.TouchPolicy == "":
		return nil, errors.New("the attestation carries no PIN and touch policy (extension 1.3.6.1.4.1.41482.3.8)")
	}
	return a, nil
}

// piv-go's errors are strings: a chain's failure has this prefix, and an
// extension's does not.
const chainPrefix = "error verifying attestation certificate: "

func chainError(err error) bool { return strings.HasPrefix(err.Error(), chainPrefix) }

// unwrapped is piv-go's error without its own prefix, which repeats ours.
func unwrapped(err error) string { return strings.TrimPrefix(err.Error(), chainPrefix) }

func slotName(s gopiv.Slot) string {
	if s.Key == 0 {
		return ""
	}
	return fmt.Sprintf("%02x", s.Key)
}

var pinPolicies = map[gopiv.PINPolicy]string{
	gopiv.PINPolicyNever: "never", gopiv.PINPolicyOnce: "once", gopiv.PINPolicyAlways: "always",
	gopiv.PINPolicyMatchOnce: "match-once", gopiv.PINPolicyMatchAlways: "match-always",
}

var touchPolicies = map[gopiv.TouchPolicy]string{
	gopiv.TouchPolicyNever: "never", gopiv.TouchPolicyAlways: "always", gopiv.TouchPolicyCached: "cached",
}

// Policy is what Segl asks of an enrolled card's key beyond a valid
// attestation.
type Policy struct {
	// MinECDSAFirmware: older firmware is refused for ECDSA keys. YubiKey
	// firmware before 5.7.0 has the EUCLEAK side channel in its ECDSA
	// (YSA-2024-03): with the card in hand for minutes an attacker
	// recovers the key.
	MinECDSAFirmware Version
	// AllowPINPolicyNever lets a card whose key signs without its PIN be
	// enrolled; such a card is possession only.
	AllowPINPolicyNever bool
}

// DefaultPolicy is the policy of segl piv enrol without flags.
var DefaultPolicy = Policy{MinECDSAFirmware: Version{5, 7, 0}}

// Check says why a is not acceptable under p, or nil.
func (p Policy) Check(a *Attestation) error {
	if _, ok := a.PublicKey.(*ecdsa.PublicKey); ok && a.Firmware.Less(p.MinECDSAFirmware) {
		return fmt.Errorf("card %d has firmware %s, older than %s, whose ECDSA keys are exposed to the EUCLEAK side channel (YSA-2024-03): use a card with firmware %s or later",
			a.Serial, a.Firmware, p.MinECDSAFirmware, p.MinECDSAFirmware)
	}
	if a.PINPolicy == "never" && !p.AllowPINPolicyNever {
		return fmt.Errorf("the key in slot %s of card %d signs without its PIN (pin-policy never): generate it with --pin-policy once or always", a.Slot, a.Serial)
	}
	return nil
}

// Binds checks that the attested key is pub, the key the card answered a
// GENERATE with: without it, a valid attestation of another key on the
// same card would enrol a key the attestation says nothing about.
func (a *Attestation) Binds(pub crypto.PublicKey) error {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	k, ok := a.PublicKey.(equaler)
	if !ok || !k.Equal(pub) {
		return fmt.Errorf("the attested key in slot %s of card %d is not the key the card generated", a.Slot, a.Serial)
	}
	return nil
}

// ChallengeDigest is what a card signs to answer a piv challenge: the
// SHA-256 of a label that says what it is, then the challenge's bytes, so
// that a signature made for anything else is never taken for an answer.
func ChallengeDigest(challenge []byte) []byte {
	h := sha256.Sum256(append([]byte("Segl PIV challenge v1\x00"), challenge...))
	return h[:]
}
