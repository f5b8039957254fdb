package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segl/segl/tokens/piv/pivtest"
)

func TestPIVVerifyAttestation(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := pivtest.NewCA(t)
	dev := ca.Device(t, 4242, [3]byte{5, 7, 4}, 1)
	other := ca.Device(t, 4243, [3]byte{5, 7, 4}, 1)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	slotDER, err := dev.Attest(&k.PublicKey, pivtest.Slot{Key: 0x9c, PIN: pivtest.PINAlways, Touch: pivtest.TouchAlways})
	if err != nil {
		t.Fatal(err)
	}
	f9 := write("f9.der", dev.F9.Raw)
	slot := write("slot.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: slotDER}))
	roots := write("roots.pem", ca.PEM())

	out, errOut, code := segl(t, "piv", "verify-attestation", "--attestation", f9, "--slot", slot, "--roots", roots)
	if want := "valid: serial 4242, firmware 5.7.4, slot 9c, pin-policy always, touch-policy always, form-factor USB-A Keychain\n"; code != 0 || out != want {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// Yubico's roots alone do not know the test root.
	out, _, code = segl(t, "piv", "verify-attestation", "--attestation", f9, "--slot", slot)
	if code != 1 || !strings.HasPrefix(out, "invalid: ") || !strings.Contains(out, "does not chain to a trusted root") {
		t.Fatalf("without --roots: exit %d %s", code, out)
	}
	// The slot's certificate against another card's.
	out, _, code = segl(t, "piv", "verify-attestation", "--attestation", write("other.der", other.F9.Raw), "--slot", slot, "--roots", roots)
	if code != 1 || !strings.Contains(out, "invalid: the slot's certificate is not signed by this card's attestation key") {
		t.Fatalf("another card: exit %d %s", code, out)
	}
	// Bad input is an error, not a verdict.
	_, errOut, code = segl(t, "piv", "verify-attestation", "--attestation", f9, "--slot", slot, "--roots", f9)
	if code != 1 || !strings.Contains(errOut, "--roots:") || !strings.Contains(errOut, "holds no PEM certificate") {
		t.Fatalf("DER --roots: exit %d %s", code, errOut)
	}
	_, errOut, code = segl(t, "piv", "verify-attestation", "--attestation", filepath.Join(dir, "missing"), "--slot", slot)
	if code != 1 || !strings.Contains(errOut, "--attestation:") {
		t.Fatalf("a missing file: exit %d %s", code, errOut)
	}
}
