package piv_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"strings"
	"testing"

	"github.com/segl/segl/tokens/piv"
	"github.com/segl/segl/tokens/piv/pivtest"
)

func key(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func attest(t *testing.T, d *pivtest.Device, k *ecdsa.PrivateKey, s pivtest.Slot) []byte {
	t.Helper()
	der, err := d.Attest(&k.PublicKey, s)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestVerifyAttestation(t *testing.T) {
	ca := pivtest.NewCA(t)
	dev := ca.Device(t, 31337, [3]byte{5, 7, 1}, 3)
	k := key(t)
	slot := attest(t, dev, k, pivtest.Slot{Key: 0x9a, PIN: pivtest.PINOnce, Touch: pivtest.TouchCached})
	v := piv.Verifier{Extra: ca.Pool()}

	a, err := v.Verify(dev.F9.Raw, slot)
	if err != nil {
		t.Fatal(err)
	}
	want := "serial 31337, firmware 5.7.1, slot 9a, pin-policy once, touch-policy cached, form-factor USB-C Keychain"
	if a.String() != want {
		t.Fatalf("got  %s\nwant %s", a, want)
	}
	if err := a.Binds(&k.PublicKey); err != nil {
		t.Fatal(err)
	}
	if err := piv.DefaultPolicy.Check(a); err != nil {
		t.Fatal(err)
	}
	if len(a.Chain) != 2 || string(a.Chain[0]) != string(slot) || string(a.Chain[1]) != string(dev.F9.Raw) {
		t.Fatal("the chain is not the slot's certificate then the card's")
	}
	if err := a.Binds(&key(t).PublicKey); err == nil || !strings.Contains(err.Error(), "not the key the card generated") {
		t.Fatalf("another key bound: %v", err)
	}
}

func TestAttestationRefusals(t *testing.T) {
	ca := pivtest.NewCA(t)
	dev := ca.Device(t, 1001, [3]byte{5, 7, 2}, 1)
	other := ca.Device(t, 1002, [3]byte{5, 7, 2}, 1)
	k := key(t)
	good := pivtest.Slot{Key: 0x9a, PIN: pivtest.PINAlways, Touch: pivtest.TouchNever}
	slot := attest(t, dev, k, good)
	v := piv.Verifier{Extra: ca.Pool()}
	flipped := append([]byte(nil), slot...)
	flipped[len(flipped)-5] ^= 1

	for _, c := range []struct {
		name     string
		v        piv.Verifier
		f9, slot []byte
		want     string
	}{
		{"another card's f9", v, other.F9.Raw, slot, "not signed by this card's attestation key"},
		{"Yubico's roots alone", piv.Verifier{}, dev.F9.Raw, slot, "does not chain"},
		{"another root", piv.Verifier{Extra: pivtest.NewCA(t).Pool()}, dev.F9.Raw, slot, "does not chain"},
		{"a flipped signature byte", v, dev.F9.Raw, flipped, "not signed by this card's attestation key"},
		{"f9 and slot swapped", v, slot, dev.F9.Raw, "not signed by this card's attestation key"},
		{"the f9 certificate as its own slot", v, dev.F9.Raw, dev.F9.Raw, "not signed by this card's attestation key"},
		{"not a certificate", v, []byte("junk"), slot, "(f9) is not a certificate"},
		{"an empty slot certificate", v, dev.F9.Raw, nil, "slot's attestation certificate is not a certificate"},
		{"no slot in the subject", v, dev.F9.Raw, attest(t, dev, k, pivtest.Slot{Key: 0, PIN: 2, Touch: 1}), "names no slot"},
		{"no extensions", v, dev.F9.Raw, attest(t, dev, k, pivtest.Slot{Key: 0x9a, Extensions: []pkix.Extension{}}), "no serial number"},
		{"an unknown PIN policy", v, dev.F9.Raw, attest(t, dev, k, pivtest.Slot{Key: 0x9a, Extensions: []pkix.Extension{
			{Id: pivtest.OIDPolicy, Value: []byte{9, 1}}}}), "pin policy"},
		{"a short firmware", v, dev.F9.Raw, attest(t, dev, k, pivtest.Slot{Key: 0x9a, Extensions: []pkix.Extension{
			{Id: pivtest.OIDFirmware, Value: []byte{5, 7}}}}), "firmware"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := c.v.Verify(c.f9, c.slot)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, %v; want an error with %q", a, err, c.want)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	ca := pivtest.NewCA(t)
	v := piv.Verifier{Extra: ca.Pool()}
	k := key(t)
	check := func(fw [3]byte, pin byte, p piv.Policy) error {
		d := ca.Device(t, 7, fw, 3)
		a, err := v.Verify(d.F9.Raw, attest(t, d, k, pivtest.Slot{Key: 0x9c, PIN: pin, Touch: pivtest.TouchAlways}))
		if err != nil {
			t.Fatal(err)
		}
		return p.Check(a)
	}
	if err := check([3]byte{5, 6, 9}, pivtest.PINOnce, piv.DefaultPolicy); err == nil || !strings.Contains(err.Error(), "EUCLEAK") {
		t.Fatalf("firmware 5.6.9: %v", err)
	}
	if err := check([3]byte{4, 3, 5}, pivtest.PINOnce, piv.DefaultPolicy); err == nil {
		t.Fatal("firmware 4.3.5 passed")
	}
	if err := check([3]byte{5, 7, 0}, pivtest.PINOnce, piv.DefaultPolicy); err != nil {
		t.Fatalf("firmware 5.7.0: %v", err)
	}
	if err := check([3]byte{5, 7, 0}, pivtest.PINNever, piv.DefaultPolicy); err == nil || !strings.Contains(err.Error(), "pin-policy never") {
		t.Fatalf("PIN policy never: %v", err)
	}
	if err := check([3]byte{5, 7, 0}, pivtest.PINNever, piv.Policy{MinECDSAFirmware: piv.Version{5, 7, 0}, AllowPINPolicyNever: true}); err != nil {
		t.Fatalf("PIN policy never, allowed: %v", err)
	}
	for _, c := range []struct {
		v, w piv.Version
		less bool
	}{{piv.Version{5, 6, 9}, piv.Version{5, 7, 0}, true}, {piv.Version{5, 7, 0}, piv.Version{5, 7, 0}, false},
		{piv.Version{6, 0, 0}, piv.Version{5, 7, 0}, false}, {piv.Version{4, 9, 9}, piv.Version{5, 0, 0}, true}} {
		if c.v.Less(c.w) != c.less {
			t.Errorf("%s < %s: %v", c.v, c.w, !c.less)
		}
	}
}

func FuzzVerify(f *testing.F) {
	ca := pivtest.NewCA(f)
	dev := ca.Device(f, 1, [3]byte{5, 7, 1}, 3)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	slot, err := dev.Attest(&k.PublicKey, pivtest.Slot{Key: 0x9a, PIN: 2, Touch: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(dev.F9.Raw, slot)
	v := piv.Verifier{Extra: ca.Pool()}
	f.Fuzz(func(t *testing.T, f9, s []byte) {
		a, err := v.Verify(f9, s)
		if err != nil {
			return
		}
		// Whatever verifies names a slot, a serial and policies, and
		// is the chain it was given.
		if a.Slot == "" || a.Serial == 0 || a.PINPolicy == "" || string(a.Chain[0]) != string(s) {
			t.Fatalf("verified %+v", a)
		}
	})
}
