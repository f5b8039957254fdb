// Package pivtest is test infrastructure for YubiKey PIV: a test
// attestation PKI shaped like Yubico's, and a virtual YubiKey that pcscd
// serves through vsmartcard's vpcd driver. Nothing here is for production.
package pivtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"
)

// The extensions of a YubiKey's slot attestation
// (developers.yubico.com/PIV/Introduction/PIV_attestation.html).
var (
	OIDFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	OIDSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	OIDPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	OIDFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

// PIN and touch policies as the policy extension and the card encode them.
const (
	PINNever, PINOnce, PINAlways         = 1, 2, 3
	TouchNever, TouchAlways, TouchCached = 1, 2, 3
)

// CA is a test stand-in for Yubico's PIV root CA.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA makes a root CA named like Yubico's, valid from an hour ago for
// ten years.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(263751),
		Subject:               pkix.Name{CommonName: "Segl Test PIV Root CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return &CA{Cert: issue(t, tmpl, tmpl, &key.PublicKey, key), Key: key}
}

// Pool is a pool with the root alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// PEM is the root in PEM, as --attestation-roots takes it.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Device is one card's attestation identity: its f9 certificate and key,
// made at the "factory" by the CA.
type Device struct {
	Serial     uint32
	Firmware   [3]byte
	FormFactor byte
	F9         *x509.Certificate
	key        *ecdsa.PrivateKey
}

// Device makes a card's attestation certificate (slot f9).
func (ca *CA) Device(t testing.TB, serial uint32, firmware [3]byte, formFactor byte) *Device {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(int64(serial)),
		Subject:               pkix.Name{CommonName: "Yubico PIV Attestation"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return &Device{Serial: serial, Firmware: firmware, FormFactor: formFactor,
		F9: issue(t, tmpl, ca.Cert, &key.PublicKey, ca.Key), key: key}
}

// Slot is what an attestation says of one slot's key.
type Slot struct {
	Key        byte // 0x9a, 0x9c, …
	PIN, Touch byte
	// Extensions replaces the Yubico extensions (a test of a malformed
	// one); nil gives the card's own.
	Extensions []pkix.Extension
}

// Attest is the card's ATTEST: a certificate for pub in the slot, issued
// by the card's f9 key, DER.
func (d *Device) Attest(pub crypto.PublicKey, s Slot) ([]byte, error) {
	exts := s.Extensions
	if exts == nil {
		serial, err := asn1.Marshal(int64(d.Serial))
		if err != nil {
			return nil, err
		}
		exts = []pkix.Extension{
			{Id: OIDFirmware, Value: d.Firmware[:]},
			{Id: OIDSerial, Value: serial},
			{Id: OIDPolicy, Value: []byte{s.PIN, s.Touch}},
			{Id: OIDFormFactor, Value: []byte{d.FormFactor}},
		}
	}
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:    n,
		Subject:         pkix.Name{CommonName: fmt.Sprintf("YubiKey PIV Attestation %02x", s.Key)},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().AddDate(10, 0, 0),
		ExtraExtensions: exts,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, d.F9, pub, d.key)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
