package jws_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/jws"
	"github.com/segl/segl/softhsm/softhsmtest"
)

func TestHSMSignedJWSVerifiesWithGoJose(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	if _, err := ks.Generate("issuer", hsm.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	key, err := ks.Signer("issuer")
	if err != nil {
		t.Fatal(err)
	}
	kid, err := jws.KeyID(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	want, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if kid != base64.RawURLEncoding.EncodeToString(want) {
		t.Fatalf("kid %s, go-jose's thumbprint %s", kid, base64.RawURLEncoding.EncodeToString(want))
	}
	for range 20 { // r and s of every length, so the padding to 32 bytes is exercised
		tok, err := jws.Sign(key, kid, map[string]any{"sub": "alice", "n": 1})
		if err != nil {
			t.Fatal(err)
		}
		sig, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		payload, err := sig.Verify(key.Public().(*ecdsa.PublicKey))
		if err != nil {
			t.Fatalf("go-jose refused %s: %v", tok, err)
		}
		var claims map[string]any
		json.Unmarshal(payload, &claims)
		if claims["sub"] != "alice" || sig.Signatures[0].Header.KeyID != kid {
			t.Fatalf("%v %v", claims, sig.Signatures[0].Header)
		}
		parts := strings.Split(tok, ".")
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory","n":1}`)) + "." + parts[2]
		if s, err := jose.ParseSigned(forged, []jose.SignatureAlgorithm{jose.ES256}); err == nil {
			if _, err := s.Verify(key.Public()); err == nil {
				t.Fatal("a changed payload verified")
			}
		}
	}
}

func TestRefusesOtherCurves(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := jws.Sign(k, "", map[string]string{}); err == nil {
		t.Fatal("a P-384 key signed ES256")
	}
	if _, err := jws.KeyID(&k.PublicKey); err == nil {
		t.Fatal("a P-384 key got an ES256 key ID")
	}
}
