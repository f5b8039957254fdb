package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
)

func TestParsePublicKey(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if _, got, err := ParsePublicKey(base64.StdEncoding.EncodeToString(der)); err != nil || string(got) != string(der) {
		t.Fatalf("a P-256 key: %v", err)
	}
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKIXPublicKey(&k384.PublicKey)
	for name, in := range map[string]string{
		"P-384":        base64.StdEncoding.EncodeToString(der384),
		"not base64":   "%%%",
		"unpadded":     strings.TrimRight(base64.StdEncoding.EncodeToString(der), "="),
		"trailing":     base64.StdEncoding.EncodeToString(append(der, 0)),
		"oversized":    base64.StdEncoding.EncodeToString(make([]byte, 300)),
		"empty":        "",
		"not SPKI DER": base64.StdEncoding.EncodeToString([]byte("hello")),
	} {
		if _, _, err := ParsePublicKey(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestVerifyBindsEveryField(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a := Approval{OrderRef: "o", Challenge: "c", UserVisibleData: []byte("Pay"), AmountMinor: "12995", Currency: "DKK", Payee: "Café",
		Decision: DecisionApprove, UserVerification: VerifyPIN}
	sum := sha256.Sum256(ApprovalMessage(a))
	raw, _ := ecdsa.SignASN1(rand.Reader, k, sum[:])
	sig := base64.StdEncoding.EncodeToString(raw)
	if err := Verify(&k.PublicKey, ApprovalMessage(a), sig); err != nil {
		t.Fatal(err)
	}
	for _, change := range []func(*Approval){
		func(a *Approval) { a.OrderRef = "p" }, func(a *Approval) { a.Challenge = "d" }, func(a *Approval) { a.UserVisibleData = []byte("Pay!") },
		func(a *Approval) { a.AmountMinor = "12996" }, func(a *Approval) { a.Currency = "EUR" }, func(a *Approval) { a.Payee = "Cafe" },
		func(a *Approval) { a.Decision = DecisionReject }, func(a *Approval) { a.UserVerification = VerifyBiometric },
		func(a *Approval) { a.AmountMinor, a.Currency = "12995D", "KK" }, // a shifted boundary
	} {
		b := a
		change(&b)
		if Verify(&k.PublicKey, ApprovalMessage(b), sig) == nil {
			t.Errorf("a signature over %+v verifies over %+v", a, b)
		}
	}
}

// FuzzParse: the parsers of what a phone sends never panic, and what they
// accept is in its one canonical form.
func FuzzParse(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	f.Add(base64.StdEncoding.EncodeToString(der), "1764676800", "AAAAAAAAAAAAAAAAAAAAAA", "MEUCIQ==")
	f.Add("", "-1", "\u202e", "")
	f.Fuzz(func(t *testing.T, key, ts, nonce, sig string) {
		if _, got, err := ParsePublicKey(key); err == nil && base64.StdEncoding.EncodeToString(got) != key {
			t.Fatalf("ParsePublicKey(%q) accepted a non-canonical form", key)
		}
		if v, err := ParseTime(ts); err == nil && (v < 0 || strings.TrimLeft(ts, "0123456789") != "") {
			t.Fatalf("ParseTime(%q) = %d", ts, v)
		}
		if CheckNonce(nonce) == nil && (len(nonce) < 22 || len(nonce) > 64 || strings.ContainsFunc(nonce, func(r rune) bool {
			return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		})) {
			t.Fatalf("CheckNonce(%q) accepted it", nonce)
		}
		if Verify(&k.PublicKey, []byte(nonce), sig) == nil {
			t.Fatalf("a fuzzed signature %q verified", sig)
		}
	})
}
