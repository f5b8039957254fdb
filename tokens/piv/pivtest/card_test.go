package pivtest_test

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"os/exec"
	"strings"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/segl/segl/tokens/piv/pivtest"
)

// piv-go talks to the virtual card through pcscd exactly as to a card.
func TestPIVGoTalksToTheCard(t *testing.T) {
	ca := pivtest.NewCA(t)
	card := pivtest.NewCard(ca.Device(t, 12345678, [3]byte{5, 7, 1}, 3))
	r := pivtest.Start(t)
	r.Insert(t, card)

	cards, err := piv.Cards()
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) == 0 || cards[0] != r.Name {
		t.Fatalf("readers %q, want %q first", cards, r.Name)
	}
	yk, err := piv.Open(r.Name)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.Log())
	}
	defer yk.Close()
	if v := yk.Version(); v != (piv.Version{Major: 5, Minor: 7, Patch: 1}) {
		t.Fatalf("version %v", v)
	}
	if s, err := yk.Serial(); err != nil || s != 12345678 {
		t.Fatalf("serial %d %v", s, err)
	}
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication,
		piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
	if err != nil {
		t.Fatal(err)
	}
	f9, err := yk.AttestationCertificate()
	if err != nil {
		t.Fatal(err)
	}
	slot, err := yk.Attest(piv.SlotAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	a, err := (&piv.Verifier{Roots: ca.Pool()}).Verify(f9, slot)
	if err != nil || a.Serial != 12345678 || a.PINPolicy != piv.PINPolicyOnce || a.Slot != piv.SlotAuthentication {
		t.Fatalf("attestation %+v %v", a, err)
	}
	if !slot.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
		t.Fatal("the attested key is not the generated one")
	}
	info, err := yk.KeyInfo(piv.SlotAuthentication)
	if err != nil || info.PINPolicy != piv.PINPolicyOnce || !info.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
		t.Fatalf("key info %+v %v", info, err)
	}
	// A signature needs the PIN: a wrong one is counted, the right one
	// signs.
	digest := sha256.Sum256([]byte("challenge"))
	priv, err := yk.PrivateKey(piv.SlotAuthentication, pub, piv.KeyAuth{PIN: "000000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := priv.(*piv.ECDSAPrivateKey).Sign(nil, digest[:], nil); err == nil {
		t.Fatal("signed with a wrong PIN")
	}
	if n, err := yk.Retries(); err != nil || n != 2 {
		t.Fatalf("retries %d %v", n, err)
	}
	priv, _ = yk.PrivateKey(piv.SlotAuthentication, pub, piv.KeyAuth{PIN: piv.DefaultPIN})
	sig, err := priv.(*piv.ECDSAPrivateKey).Sign(nil, digest[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("the card's signature does not verify")
	}
	// A new management key, then the old one no longer works.
	newKey := make([]byte, 24)
	newKey[0] = 9
	if err := yk.SetManagementKey(piv.DefaultManagementKey, newKey); err != nil {
		t.Fatal(err)
	}
	if _, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEC256,
		PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever}); err == nil {
		t.Fatal("the old management key still works")
	}
	if string(card.ManagementKey()) != string(newKey) {
		t.Fatal("the card's key is not the new one")
	}
	if err := yk.SetPIN(piv.DefaultPIN, "24681357"); err != nil {
		t.Fatal(err)
	}
	m := newKey
	if err := yk.SetMetadata(newKey, &piv.Metadata{ManagementKey: &m}); err != nil {
		t.Fatal(err)
	}
	got, err := yk.Metadata("24681357")
	if err != nil || got.ManagementKey == nil || string(*got.ManagementKey) != string(newKey) {
		t.Fatalf("metadata %+v %v", got, err)
	}
}

// yubico-piv-tool, an independent PIV client, reads the card's status.
func TestYubicoPIVToolReadsTheCard(t *testing.T) {
	if _, err := exec.LookPath("yubico-piv-tool"); err != nil {
		t.Fatal("yubico-piv-tool is missing: make deps installs it")
	}
	ca := pivtest.NewCA(t)
	card := pivtest.NewCard(ca.Device(t, 7654321, [3]byte{5, 7, 2}, 1))
	r := pivtest.Start(t)
	r.Insert(t, card)
	out, err := exec.Command("yubico-piv-tool", "--reader", r.Name, "-a", "status").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, r.Log())
	}
	for _, want := range []string{"Version:\t5.7.2", "Serial Number:\t7654321", "PIN tries left:\t3"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
