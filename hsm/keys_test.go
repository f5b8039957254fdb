package hsm_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"slices"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm/softhsmtest"
)

// Every asymmetric type: generated on the token, signed with in the HSM,
// verified by the standard library.
func TestGenerateAndSign(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	msg := []byte("Segl signs this")
	cases := []struct {
		typ  hsm.KeyType
		opts []crypto.SignerOpts
	}{
		{hsm.ECDSAP256, []crypto.SignerOpts{crypto.SHA256, crypto.SHA384}},
		{hsm.ECDSAP384, []crypto.SignerOpts{crypto.SHA384, crypto.SHA512}},
		{hsm.RSA2048, []crypto.SignerOpts{crypto.SHA256, crypto.SHA512,
			&rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash},
			&rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthAuto},
			&rsa.PSSOptions{Hash: crypto.SHA384, SaltLength: 20}}},
		{hsm.RSA3072, []crypto.SignerOpts{crypto.SHA256}},
		{hsm.RSA4096, []crypto.SignerOpts{crypto.SHA512, &rsa.PSSOptions{Hash: crypto.SHA512}}},
		{hsm.Ed25519, []crypto.SignerOpts{crypto.Hash(0)}},
	}
	for _, tc := range cases {
		t.Run(string(tc.typ), func(t *testing.T) {
			label := "key-" + string(tc.typ)
			k, err := ks.Generate(label, tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			if k.Label != label || k.Type != tc.typ || len(k.ID) != 16 {
				t.Fatalf("generated %+v", k)
			}
			s, err := ks.Signer(label)
			if err != nil {
				t.Fatal(err)
			}
			for _, opts := range tc.opts {
				signAndVerify(t, s, msg, opts)
			}
			// The public key is the one the token holds, as PEM users get it.
			pub, err := ks.PublicKey(label)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := x509.MarshalPKIXPublicKey(pub)
			b, _ := x509.MarshalPKIXPublicKey(s.Public())
			if !bytes.Equal(a, b) {
				t.Fatal("PublicKey and Signer.Public differ")
			}
		})
	}
}

// Two keys of the same type have different IDs, from the HSM's RNG, and
// different public keys.
func TestGenerateDistinct(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	a, err := ks.Generate("a", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ks.Generate("b", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.ID, b.ID) {
		t.Fatal("two keys got the same CKA_ID")
	}
	pa, _ := ks.PublicKey("a")
	pb, _ := ks.PublicKey("b")
	if pa.(interface{ Equal(crypto.PublicKey) bool }).Equal(pb) {
		t.Fatal("two keys got the same public key")
	}
}

func TestSignRefusesBadInput(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	for _, typ := range []hsm.KeyType{hsm.ECDSAP256, hsm.RSA2048, hsm.Ed25519} {
		if _, err := ks.Generate(string(typ), typ); err != nil {
			t.Fatal(err)
		}
	}
	ec, _ := ks.Signer(string(hsm.ECDSAP256))
	rsaKey, _ := ks.Signer(string(hsm.RSA2048))
	ed, _ := ks.Signer(string(hsm.Ed25519))
	d32 := make([]byte, 32)
	for name, f := range map[string]func() error{
		"ECDSA digest shorter than its hash": func() error { _, err := ec.Sign(nil, d32[:20], crypto.SHA256); return err },
		"ECDSA without a hash":               func() error { _, err := ec.Sign(nil, d32, crypto.Hash(0)); return err },
		"ECDSA with PSS":                     func() error { _, err := ec.Sign(nil, d32, &rsa.PSSOptions{Hash: crypto.SHA256}); return err },
		"RSA digest longer than its hash":    func() error { _, err := rsaKey.Sign(nil, append(d32, 0), crypto.SHA256); return err },
		"RSA with MD5":                       func() error { _, err := rsaKey.Sign(nil, d32[:16], crypto.MD5); return err },
		"RSA with nil options":               func() error { _, err := rsaKey.Sign(nil, d32, nil); return err },
		"Ed25519 with a hash (Ed25519ph)":    func() error { _, err := ed.Sign(nil, d32, crypto.SHA256); return err },
	} {
		t.Run(name, func(t *testing.T) { wantErr(t, f(), hsm.ErrBadInput) })
	}
}

// HMAC keys compute inside the HSM; a secret imported with a known value
// shows the result is HMAC itself, checked against crypto/hmac in
// wrap_test.go. Here: the token keys of each size work with their hash, and
// two keys give different MACs.
func TestHMACTokenKeys(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	for _, tc := range []struct {
		typ  hsm.KeyType
		hash crypto.Hash
	}{{hsm.HMACSHA1, crypto.SHA1}, {hsm.HMACSHA256, crypto.SHA256}, {hsm.HMACSHA512, crypto.SHA512}} {
		t.Run(string(tc.typ), func(t *testing.T) {
			var macs [][]byte
			for _, label := range []string{"one-" + string(tc.typ), "two-" + string(tc.typ)} {
				if _, err := ks.Generate(label, tc.typ); err != nil {
					t.Fatal(err)
				}
				k, err := ks.HMAC(label)
				if err != nil {
					t.Fatal(err)
				}
				m1, err := k.Sum(tc.hash, []byte("counter 1"))
				if err != nil {
					t.Fatal(err)
				}
				m2, _ := k.Sum(tc.hash, []byte("counter 1"))
				m3, _ := k.Sum(tc.hash, []byte("counter 2"))
				if len(m1) != tc.hash.Size() || !bytes.Equal(m1, m2) || bytes.Equal(m1, m3) {
					t.Fatalf("HMAC not a function of the message: %x %x %x", m1, m2, m3)
				}
				macs = append(macs, m1)
			}
			if bytes.Equal(macs[0], macs[1]) {
				t.Fatal("two keys give the same HMAC")
			}
		})
	}
	// SoftHSM refuses SHA-256 HMAC with a key shorter than 32 bytes.
	k, _ := ks.HMAC("one-" + string(hsm.HMACSHA1))
	_, err := k.Sum(crypto.SHA256, []byte("x"))
	wantErr(t, err, hsm.ErrBadInput)
	if !isCode(err, pkcs11.CKR_KEY_SIZE_RANGE) {
		t.Fatalf("error %v does not carry CKR_KEY_SIZE_RANGE", err)
	}
}

func TestWrongKeyKinds(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	ks.Generate("ec", hsm.ECDSAP256)
	ks.Generate("mac", hsm.HMACSHA256)
	_, err := ks.HMAC("ec")
	wantErr(t, err, hsm.ErrWrongKeyType)
	_, err = ks.Signer("mac")
	wantErr(t, err, hsm.ErrWrongKeyType)
	_, err = ks.PublicKey("mac")
	wantErr(t, err, hsm.ErrWrongKeyType)
	_, err = ks.Generate("kek", hsm.AES256)
	wantErr(t, err, hsm.ErrNotTrusted)
	_, err = ks.Generate("x", "dsa-1024")
	wantErr(t, err, hsm.ErrBadInput)
	for _, label := range []string{"", " lead", "trail ", "tab\there", "new\nline", string(make([]byte, 65))} {
		_, err = ks.Generate(label, hsm.ECDSAP256)
		wantErr(t, err, hsm.ErrBadInput)
	}
}

func TestLabels(t *testing.T) {
	tok, ks := softhsmtest.Open(t)
	if _, err := ks.Generate("issuer", hsm.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	// A label in use is refused, whatever the type.
	_, err := ks.Generate("issuer", hsm.HMACSHA256)
	wantErr(t, err, hsm.ErrLabelExists)
	_, err = ks.GenerateKEK("issuer", tok.SOPIN)
	wantErr(t, err, hsm.ErrLabelExists)
	// Unknown labels.
	_, err = ks.Find("nobody")
	wantErr(t, err, hsm.ErrKeyNotFound)
	_, err = ks.Signer("nobody")
	wantErr(t, err, hsm.ErrKeyNotFound)
	wantErr(t, ks.Delete("nobody"), hsm.ErrKeyNotFound)

	// Another tool makes a second key with the same label: lookups refuse
	// to guess.
	r := newRaw(t, tok)
	_, err = r.p.GenerateKey(r.s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_GENERIC_SECRET_KEY_GEN, nil)}, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "issuer"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ks.Find("issuer")
	wantErr(t, err, hsm.ErrAmbiguousKey)
	_, err = ks.Signer("issuer")
	wantErr(t, err, hsm.ErrAmbiguousKey)
	wantErr(t, ks.Delete("issuer"), hsm.ErrAmbiguousKey)
}

func TestListAndDelete(t *testing.T) {
	tok, ks := softhsmtest.Open(t)
	for label, typ := range map[string]hsm.KeyType{"b-ed": hsm.Ed25519, "a-ec": hsm.ECDSAP256, "c-mac": hsm.HMACSHA1} {
		if _, err := ks.Generate(label, typ); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ks.GenerateKEK("d-kek", tok.SOPIN); err != nil {
		t.Fatal(err)
	}
	keys, err := ks.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.Label+"="+string(k.Type))
	}
	want := []string{"a-ec=ecdsa-p256", "b-ed=ed25519", "c-mac=hmac-sha1", "d-kek=aes-256"}
	if !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}

	r := newRaw(t, tok)
	k, _ := ks.Find("a-ec")
	if n := len(r.find(t, pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID))); n != 2 {
		t.Fatalf("key pair has %d objects, want 2", n)
	}
	if err := ks.Delete("a-ec"); err != nil {
		t.Fatal(err)
	}
	if n := len(r.find(t, pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID))); n != 0 {
		t.Fatalf("after delete %d objects with the key's ID remain", n)
	}
	_, err = ks.Find("a-ec")
	wantErr(t, err, hsm.ErrKeyNotFound)
	keys, _ = ks.List()
	if len(keys) != 3 {
		t.Fatalf("after delete List has %d keys, want 3", len(keys))
	}
	// The label is free again.
	if _, err := ks.Generate("a-ec", hsm.ECDSAP384); err != nil {
		t.Fatal(err)
	}
}

// A Signer made before its key is deleted says so, rather than signing with
// something else.
func TestSignerAfterDelete(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	ks.Generate("gone", hsm.ECDSAP256)
	s, err := ks.Signer("gone")
	if err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, s, []byte("before"), crypto.SHA256)
	if err := ks.Delete("gone"); err != nil {
		t.Fatal(err)
	}
	// The cached handle is stale: the first call may fail as a lost
	// session (and reconnect); after that the key is plainly missing.
	_, err = s.Sign(nil, make([]byte, 32), crypto.SHA256)
	if err == nil {
		t.Fatal("signed with a deleted key")
	}
	_, err = s.Sign(nil, make([]byte, 32), crypto.SHA256)
	wantErr(t, err, hsm.ErrKeyNotFound)
}
