package piv

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	gopiv "github.com/go-piv/piv-go/v2/piv"
)

// Card is a YubiKey's PIV application, opened through PC/SC: what an
// officer's `segl piv` does with the card in front of them.
type Card struct {
	yk     *gopiv.YubiKey
	Reader string
	Serial uint32
}

// Open opens the card in the named reader, or, with reader "", the one
// card there is.
func Open(reader string) (*Card, error) {
	if reader == "" {
		readers, err := gopiv.Cards()
		if err != nil {
			return nil, fmt.Errorf("list the smart-card readers (is pcscd running?): %w", err)
		}
		switch len(readers) {
		case 0:
			return nil, errors.New("no smart-card reader has a card: insert the YubiKey")
		case 1:
			reader = readers[0]
		default:
			return nil, fmt.Errorf("%d readers have cards (%s): name one with --reader", len(readers), strings.Join(readers, ", "))
		}
	}
	yk, err := gopiv.Open(reader)
	if err != nil {
		return nil, fmt.Errorf("open the card in %q: %w", reader, err)
	}
	serial, err := yk.Serial()
	if err != nil {
		yk.Close()
		return nil, fmt.Errorf("read the card's serial: %w", err)
	}
	return &Card{yk: yk, Reader: reader, Serial: serial}, nil
}

// Close releases the card.
func (c *Card) Close() error { return c.yk.Close() }

// ManagementKey is the card's management key, which PUT DATA and
// GENERATE need. A card with the factory's key never keeps it: a random
// one replaces it, stored on the card under the PIN (as YubiKey Manager's
// "PIN-protected management key" does), so that only the PIN's holder
// can manage the card and no one has to keep its key. A card whose key is
// neither is refused: someone else manages it.
func (c *Card) ManagementKey(pin string) ([]byte, error) {
	m, err := c.yk.Metadata(pin)
	if err != nil {
		return nil, fmt.Errorf("read the card's PIN-protected data (is the PIN right?): %w", err)
	}
	if m.ManagementKey != nil {
		return bytes.Clone(*m.ManagementKey), nil
	}
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := c.yk.SetManagementKey(gopiv.DefaultManagementKey, key); err != nil {
		return nil, fmt.Errorf("the card's management key is neither PIN-protected nor the default, so another tool manages it: "+
			"reset its PIV application (ykman piv reset) to enrol it here (%w)", err)
	}
	if err := c.yk.SetMetadata(key, &gopiv.Metadata{ManagementKey: &key}); err != nil {
		return nil, fmt.Errorf("store the new management key under the PIN: %w", err)
	}
	return key, nil
}

// KeySpec is what Generate makes.
type KeySpec struct {
	Algorithm   string // p256 or p384
	PINPolicy   string // once or always (never only when the policy allows)
	TouchPolicy string // never, always or cached
}

// Slot parses a slot's name: 9a, 9c, 9d or 9e.
func Slot(name string) (gopiv.Slot, error) {
	switch name {
	case "9a":
		return gopiv.SlotAuthentication, nil
	case "9c":
		return gopiv.SlotSignature, nil
	case "9d":
		return gopiv.SlotKeyManagement, nil
	case "9e":
		return gopiv.SlotCardAuthentication, nil
	}
	return gopiv.Slot{}, fmt.Errorf("slot %q: want 9a, 9c, 9d or 9e", name)
}

// Generate makes a new key in the slot, replacing what was there.
func (c *Card) Generate(mgm []byte, slot string, spec KeySpec) (crypto.PublicKey, error) {
	s, err := Slot(slot)
	if err != nil {
		return nil, err
	}
	k := gopiv.Key{}
	switch spec.Algorithm {
	case "p256", "":
		k.Algorithm = gopiv.AlgorithmEC256
	case "p384":
		k.Algorithm = gopiv.AlgorithmEC384
	default:
		return nil, fmt.Errorf("algorithm %q: want p256 or p384", spec.Algorithm)
	}
	var ok bool
	if k.PINPolicy, ok = pinPolicyOf[spec.PINPolicy]; !ok {
		return nil, fmt.Errorf("PIN policy %q: want once, always or never", spec.PINPolicy)
	}
	if k.TouchPolicy, ok = touchPolicyOf[spec.TouchPolicy]; !ok {
		return nil, fmt.Errorf("touch policy %q: want never, always or cached", spec.TouchPolicy)
	}
	pub, err := c.yk.GenerateKey(mgm, s, k)
	if err != nil {
		return nil, fmt.Errorf("generate a key in slot %s: %w", slot, err)
	}
	return pub, nil
}

var pinPolicyOf = map[string]gopiv.PINPolicy{"never": gopiv.PINPolicyNever, "once": gopiv.PINPolicyOnce, "always": gopiv.PINPolicyAlways}

var touchPolicyOf = map[string]gopiv.TouchPolicy{"never": gopiv.TouchPolicyNever, "always": gopiv.TouchPolicyAlways, "cached": gopiv.TouchPolicyCached}

// Attestation reads the card's attestation certificate (f9) and has the
// card attest the key in the slot; both DER.
func (c *Card) Attestation(slot string) (f9, slotCert []byte, err error) {
	s, err := Slot(slot)
	if err != nil {
		return nil, nil, err
	}
	ca, err := c.yk.AttestationCertificate()
	if err != nil {
		return nil, nil, fmt.Errorf("read the card's attestation certificate (f9): %w", err)
	}
	sc, err := c.yk.Attest(s)
	if err != nil {
		return nil, nil, fmt.Errorf("attest the key in slot %s: %w", slot, err)
	}
	return ca.Raw, sc.Raw, nil
}

// WriteCertificate stores a certificate for the slot's key on the card.
func (c *Card) WriteCertificate(mgm []byte, slot string, der []byte) error {
	s, err := Slot(slot)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	if err := c.yk.SetCertificate(mgm, s, cert); err != nil {
		return fmt.Errorf("write the certificate to slot %s: %w", slot, err)
	}
	return nil
}

// Sign has the slot's key sign digest, with the PIN when its policy asks;
// the signature is ASN.1 DER.
func (c *Card) Sign(slot, pin string, digest []byte) ([]byte, error) {
	s, err := Slot(slot)
	if err != nil {
		return nil, err
	}
	cert, err := c.yk.Attest(s)
	if err != nil {
		return nil, fmt.Errorf("read slot %s's key: %w", slot, err)
	}
	priv, err := c.yk.PrivateKey(s, cert.PublicKey, gopiv.KeyAuth{PIN: pin})
	if err != nil {
		return nil, err
	}
	signer, ok := priv.(*gopiv.ECDSAPrivateKey)
	if !ok {
		return nil, fmt.Errorf("slot %s does not hold an ECDSA key", slot)
	}
	sig, err := signer.Sign(rand.Reader, digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("the card's signature: %w", err)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !ecdsa.VerifyASN1(pub, digest, sig) {
		return nil, errors.New("the card's signature does not verify with the key it attests")
	}
	return sig, nil
}
