package testvectors_test

// This file is the independent implementation of DESIGN "App approval v1"
// that makes app-approval.json: the message is built here byte by byte,
// not with signer/app; the SubjectPublicKeyInfo and every DER signature
// are encoded here by hand; the signing is crypto/ecdsa's deterministic
// RFC 6979 (a nil random source), under the two P-256 test scalars below,
// so the file is the same on every run. TestGeneratedFiles writes the file
// under -update and otherwise checks it still says what this computes;
// TestAppApprovalAgreesWithOpenSSL has the openssl CLI, a third party,
// verify every case, valid or not, and agree with its expected. The
// production path (signer/app) is checked against the file by
// TestAppApprovalFileAgreesWithProduction, and by `segl vectors verify`.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// P-256 test scalars: the device keys of the cases. Test keys only.
const (
	appTestKeyA = "5e6c2d4b9a8f7e1d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0918273645"
	appTestKeyB = "2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe"
)

// p256N is the order of P-256's base point (SEC 2, FIPS 186-4 D.1.2.3).
var p256N, _ = new(big.Int).SetString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)

// refApproval is what a device signs for one decision.
type refApproval struct {
	orderRef, challenge string
	shown               []byte // userVisibleData, decoded
	amountMinor         string
	currency, payee     string
	decision, uv        string
}

// refApprovalMessage is App approval v1, the fields joined by one zero
// byte each; with separators false, the same fields run together, the
// message a careless implementation would sign.
func refApprovalMessage(a refApproval, separators bool) []byte {
	sum := sha256.Sum256(a.shown)
	var b bytes.Buffer
	b.WriteString("SEGL-APPROVAL-1")
	for _, f := range []string{a.orderRef, a.challenge, fmt.Sprintf("%x", sum), a.amountMinor, a.currency, a.payee, a.decision, a.uv} {
		if separators {
			b.WriteByte(0)
		}
		b.WriteString(f)
	}
	return b.Bytes()
}

// refSPKI is the DER SubjectPublicKeyInfo of a P-256 key (RFC 5480):
// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING 04||X||Y }.
func refSPKI(k *ecdsa.PrivateKey) []byte {
	prefix, _ := hex.DecodeString("3059301306072a8648ce3d020106082a8648ce3d030107034200")
	point, err := k.PublicKey.Bytes()
	if err != nil || len(point) != 65 || point[0] != 4 {
		panic(fmt.Sprintf("public point: %x %v", point, err))
	}
	return append(prefix, point...)
}

func refKey(scalarHex string) *ecdsa.PrivateKey {
	d, err := hex.DecodeString(scalarHex)
	if err != nil {
		panic(err)
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		panic(err)
	}
	return k
}

// refSign signs deterministically and returns r and s.
func refSign(k *ecdsa.PrivateKey, msg []byte) (r, s *big.Int) {
	sum := sha256.Sum256(msg)
	der, err := k.Sign(nil, sum[:], crypto.SHA256)
	if err != nil {
		panic(err)
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		panic(fmt.Sprintf("crypto/ecdsa's signature: %v", err))
	}
	if !bytes.Equal(refDERSignature(sig.R, sig.S), der) {
		panic("the hand DER encoding differs from crypto/ecdsa's")
	}
	return sig.R, sig.S
}

// refDERInteger is a DER INTEGER of a non-negative n: minimal, with a zero
// byte first when the top bit is set.
func refDERInteger(n *big.Int) []byte {
	v := n.Bytes()
	if len(v) == 0 || v[0]&0x80 != 0 {
		v = append([]byte{0}, v...)
	}
	return append([]byte{0x02, byte(len(v))}, v...)
}

func refDERSequence(content []byte) []byte {
	if len(content) > 127 {
		panic("long signature")
	}
	return append([]byte{0x30, byte(len(content))}, content...)
}

// refDERSignature is ECDSA-Sig-Value: SEQUENCE { r INTEGER, s INTEGER }.
func refDERSignature(r, s *big.Int) []byte {
	return refDERSequence(append(refDERInteger(r), refDERInteger(s)...))
}

// appVector is one case as made, for the file and for openssl.
type appVector struct {
	name   string
	spki   []byte
	input  refApproval // what the case says was shown and decided
	sig    []byte
	valid  bool
	reason string // why, for a failing cross-check
}

type appInput struct {
	PublicKey        string `json:"publicKey"`
	OrderRef         string `json:"orderRef"`
	Challenge        string `json:"challenge"`
	UserVisibleData  string `json:"userVisibleData"`
	AmountMinor      string `json:"amountMinor"`
	Currency         string `json:"currency"`
	Payee            string `json:"payee"`
	Decision         string `json:"decision"`
	UserVerification string `json:"userVerification"`
	Signature        string `json:"signature"`
}

func appVectors() []appVector {
	a, b := refKey(appTestKeyA), refKey(appTestKeyB)
	spkiA, spkiB := refSPKI(a), refSPKI(b)
	var out []appVector
	add := func(name string, spki []byte, in refApproval, sig []byte, valid bool, reason string) {
		out = append(out, appVector{name, spki, in, sig, valid, reason})
	}
	sign := func(k *ecdsa.PrivateKey, ap refApproval) []byte {
		return refDERSignature(refSign(k, refApprovalMessage(ap, true)))
	}

	auth := refApproval{orderRef: "131daac9-16c6-4618-beb0-365768f37288", challenge: "q3L0m1Zl8n4m3w0hGd3dXg",
		shown: []byte("Log in to Segl Bank\nfrom Firefox on Linux"), decision: "approve", uv: "pin"}
	pay := refApproval{orderRef: "67df3917-fa0d-44e5-b327-edcc928297f8", challenge: "Vx8sKq0bYcN2fP7tLm4aRw",
		shown: []byte("Pay 129,95 kr. to Café Ørsted\nfrom account 1234-567890"), amountMinor: "12995", currency: "DKK",
		payee: "Café Ørsted", decision: "approve", uv: "pin"}
	with := func(ap refApproval, change func(*refApproval)) refApproval {
		ap.shown = bytes.Clone(ap.shown)
		change(&ap)
		return ap
	}

	// Approvals that verify.
	add("auth-text-approve-pin", spkiA, auth, sign(a, auth), true, "")
	add("payment-approve-pin", spkiA, pay, sign(a, pay), true, "")
	rejected := with(pay, func(ap *refApproval) { ap.decision = "reject" })
	add("payment-reject-pin", spkiA, rejected, sign(a, rejected), true, "")
	bio := with(pay, func(ap *refApproval) { ap.uv = "biometric" })
	add("payment-approve-biometric", spkiA, bio, sign(a, bio), true, "")
	authReject := with(auth, func(ap *refApproval) { ap.decision = "reject"; ap.uv = "biometric" })
	add("auth-text-reject-biometric", spkiA, authReject, sign(a, authReject), true, "")
	empty := with(auth, func(ap *refApproval) {
		ap.orderRef, ap.challenge, ap.shown = "f2c1e0d9-8b7a-4c6d-9e5f-4a3b2c1d0e9f", "Zk9pQ2xWbXNGc2J6YkRmcQ", nil
	})
	add("auth-no-text", spkiA, empty, sign(a, empty), true, "the hash of the empty string stands for no text")
	add("payment-approve-pin-other-device", spkiB, pay, sign(b, pay), true, "")

	// Each signed field changed after signing: the payment's signature
	// presented with one field other than it signed.
	good := sign(a, pay)
	for _, c := range []struct {
		name   string
		change func(*refApproval)
	}{
		{"orderRef-changed", func(ap *refApproval) { ap.orderRef = "67df3917-fa0d-44e5-b327-edcc928297f9" }},
		{"challenge-changed", func(ap *refApproval) { ap.challenge = "Vx8sKq0bYcN2fP7tLm4aRx" }},
		{"userVisibleData-one-byte-changed", func(ap *refApproval) { ap.shown[4] ^= 0x01 }}, // "129" → "029"
		{"userVisibleData-missing", func(ap *refApproval) { ap.shown = nil }},
		{"amountMinor-changed", func(ap *refApproval) { ap.amountMinor = "12996" }},
		{"currency-changed", func(ap *refApproval) { ap.currency = "SEK" }},
		{"payee-changed", func(ap *refApproval) { ap.payee = "Cafe Ørsted" }},
		// The same text to the eye, decomposed (NFD): the bytes signed are
		// the bytes shown, with no normalisation.
		{"payee-decomposed", func(ap *refApproval) { ap.payee = "Cafe\u0301 Ørsted" }},
		{"payment-missing", func(ap *refApproval) { ap.amountMinor, ap.currency, ap.payee = "", "", "" }},
		{"decision-changed", func(ap *refApproval) { ap.decision = "reject" }},
		{"userVerification-changed", func(ap *refApproval) { ap.uv = "biometric" }},
	} {
		add(c.name, spkiA, with(pay, c.change), good, false, "a signed field differs")
	}
	add("reject-presented-as-approve", spkiA, pay, sign(a, rejected), false, "a rejection is not an approval")

	// The separators matter.
	add("no-separators", spkiA, pay, refDERSignature(refSign(a, refApprovalMessage(pay, false))), false,
		"signed without the zero bytes between the fields")
	shifted := with(pay, func(ap *refApproval) { ap.currency, ap.payee = "DKKC", "afé Ørsted" })
	if !bytes.Equal(refApprovalMessage(pay, false), refApprovalMessage(shifted, false)) {
		panic("the shifted fields do not run together to the same bytes")
	}
	add("boundary-shift-currency-payee", spkiA, shifted, good, false,
		"currency DKKC and payee afé Ørsted run together as DKK and Café Ørsted do, but the zero byte moved")
	shifted = with(pay, func(ap *refApproval) { ap.amountMinor, ap.currency = "1299", "5DKK" })
	add("boundary-shift-amount-currency", spkiA, shifted, good, false, "the zero byte between amount and currency moved")

	// Keys and signature encodings.
	add("other-key", spkiA, pay, sign(b, pay), false, "signed by key B, presented with key A")
	r, s := refSign(a, refApprovalMessage(pay, true))
	der := refDERSignature(r, s)
	half := new(big.Int).Rsh(p256N, 1)
	high, low := new(big.Int).Sub(p256N, s), s
	if s.Cmp(half) > 0 {
		high, low = s, high
	}
	// ECDSA as FIPS 186 and SEC 1 define it takes s and n − s alike; the
	// design asks for no low-s rule, and a challenge is single use, so
	// the second form of a signature gains nothing.
	add("high-s", spkiA, pay, refDERSignature(r, high), true, "s > n/2, valid ECDSA")
	add("low-s", spkiA, pay, refDERSignature(r, low), true, "s ≤ n/2")
	add("signature-truncated", spkiA, pay, der[:len(der)-1], false, "one byte short")
	add("signature-trailing-byte", spkiA, pay, append(bytes.Clone(der), 0), false, "data after the DER")
	add("signature-ber-long-length", spkiA, pay, append([]byte{0x30, 0x81, der[1]}, der[2:]...), false, "a length in long form: BER, not DER")
	rInt := refDERInteger(r)
	padded := append([]byte{0x02, rInt[1] + 1, 0}, rInt[2:]...)
	add("signature-r-not-minimal", spkiA, pay, refDERSequence(append(padded, refDERInteger(s)...)), false, "r with a needless zero byte: BER, not DER")
	add("signature-s-plus-n", spkiA, pay, refDERSignature(r, new(big.Int).Add(s, p256N)), false, "s + n is s modulo n, but out of range")
	add("signature-r-zero", spkiA, pay, refDERSignature(new(big.Int), s), false, "r = 0")
	add("signature-s-zero", spkiA, pay, refDERSignature(r, new(big.Int)), false, "s = 0")
	raw := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	add("signature-raw-r-s", spkiA, pay, raw, false, "r || s, 64 bytes, not DER (CryptoKit's rawRepresentation)")
	add("signature-empty", spkiA, pay, nil, false, "no signature")
	return out
}

func appApprovalFile() any {
	var cases []vcase
	for _, v := range appVectors() {
		in := v.input
		cases = append(cases, vcase{Name: v.name,
			Input: appInput{PublicKey: base64.StdEncoding.EncodeToString(v.spki), OrderRef: in.orderRef, Challenge: in.challenge,
				UserVisibleData: base64.StdEncoding.EncodeToString(in.shown), AmountMinor: in.amountMinor, Currency: in.currency,
				Payee: in.payee, Decision: in.decision, UserVerification: in.uv, Signature: base64.StdEncoding.EncodeToString(v.sig)},
			Expected: map[string]any{"valid": v.valid}})
	}
	return map[string]any{"algorithm": "app-approval", "version": 1,
		"source": "generated by the independent implementation in testvectors/appapproval_gen_test.go (the DESIGN \"App approval v1\" message built by hand, " +
			"SubjectPublicKeyInfo and DER by hand, signed by Go's crypto/ecdsa with RFC 6979 under two P-256 test scalars), not by signer/app; " +
			"every case cross-checked with openssl dgst -sha256 -verify",
		"cases": cases}
}

// openssl verifies each case as a device's signature over the message the
// case's fields make, and must agree with its expected: the expected are
// not only what this file's author meant.
func TestAppApprovalAgreesWithOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl (make deps installs it): %v", err)
	}
	dir := t.TempDir()
	vectors := appVectors()
	if len(vectors) < 30 {
		t.Fatalf("%d cases", len(vectors))
	}
	for _, v := range vectors {
		key := filepath.Join(dir, v.name+".pem")
		msg := filepath.Join(dir, v.name+".msg")
		sig := filepath.Join(dir, v.name+".sig")
		for name, b := range map[string][]byte{
			key: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: v.spki}),
			msg: refApprovalMessage(v.input, true),
			sig: v.sig,
		} {
			if err := os.WriteFile(name, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", key, "-signature", sig, msg).CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err != nil && !errors.As(err, &exit):
			t.Fatalf("%s: openssl: %v", v.name, err)
		case err == nil && !bytes.Contains(out, []byte("Verified OK")):
			t.Fatalf("%s: openssl exited 0 with %q", v.name, out)
		case (err == nil) != v.valid:
			t.Errorf("%s: openssl says verified %t (%s), the file says valid %t (%s)", v.name, err == nil, bytes.TrimSpace(out), v.valid, v.reason)
		}
	}
}
