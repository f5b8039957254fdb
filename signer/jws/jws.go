// Package jws makes compact JWS (RFC 7515) assertions signed ES256 by a
// key that stays in the HSM, reached as a crypto.Signer.
package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

var b64 = base64.RawURLEncoding

func p256(pub crypto.PublicKey) (*ecdsa.PublicKey, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("ES256 needs an ECDSA P-256 key")
	}
	return k, nil
}

// Sign returns header.payload.signature for the JSON of claims, with the
// header {"alg":"ES256","kid":kid,"typ":"JWT"}.
func Sign(key crypto.Signer, kid string, claims any) (string, error) {
	if _, err := p256(key.Public()); err != nil {
		return "", err
	}
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid,omitempty"`
		Typ string `json:"typ"`
	}{"ES256", kid, "JWT"})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	der, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("ES256: %w", err)
	}
	// RFC 7518 §3.4: the signature is r and s, 32 bytes each, not DER.
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		return "", errors.New("ES256: the signer returned no ASN.1 ECDSA signature")
	}
	sig := make([]byte, 64)
	rs.R.FillBytes(sig[:32])
	rs.S.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig), nil
}

// KeyID is the RFC 7638 thumbprint of a P-256 public key, base64url.
func KeyID(pub crypto.PublicKey) (string, error) {
	k, err := p256(pub)
	if err != nil {
		return "", err
	}
	raw, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		return "", err
	}
	// Members in lexicographic order, no whitespace (RFC 7638 §3.2).
	j := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:]))
	sum := sha256.Sum256([]byte(j))
	return b64.EncodeToString(sum[:]), nil
}

// JWK is a P-256 public key as RFC 7517 writes it, for a JWK Set.
type JWK struct {
	Kty string   `json:"kty"`
	Crv string   `json:"crv"`
	X   string   `json:"x"`
	Y   string   `json:"y"`
	Kid string   `json:"kid"`
	Use string   `json:"use"`
	Alg string   `json:"alg"`
	X5c []string `json:"x5c,omitempty"` // standard base64 DER, the key's certificate first
}

// PublicJWK is pub as the key that verifies ES256 assertions, with its
// RFC 7638 thumbprint as kid and the certificate chain (DER, the key's own
// first) as x5c.
func PublicJWK(pub crypto.PublicKey, chain [][]byte) (JWK, error) {
	k, err := p256(pub)
	if err != nil {
		return JWK{}, err
	}
	raw, err := k.Bytes()
	if err != nil {
		return JWK{}, err
	}
	kid, err := KeyID(pub)
	if err != nil {
		return JWK{}, err
	}
	j := JWK{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(raw[1:33]), Y: b64.EncodeToString(raw[33:]), Kid: kid, Use: "sig", Alg: "ES256"}
	for _, der := range chain {
		j.X5c = append(j.X5c, base64.StdEncoding.EncodeToString(der))
	}
	return j, nil
}
