package hsm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// HMACSecret is the type of a secret imported with ImportSecret: any
// length, used for HMAC only.
const HMACSecret KeyType = "hmac"

// AESDecryptKey is the type of an AES key imported with ImportAESKey: it
// decrypts single blocks (a Yubico OTP) and does nothing else.
const AESDecryptKey KeyType = "aes-decrypt"

// Bounds on an imported secret. RFC 4226 asks for at least 128 bits; the
// floor here only stops obvious mistakes such as an empty value.
const (
	minSecret = 10
	maxSecret = 256
)

// WrappedKey is a key that lives outside the HSM only as ciphertext under
// a key-encryption key inside it. Store it with MarshalBinary; the blob is
// safe to keep in a database, and useless without the HSM.
type WrappedKey struct {
	Type       KeyType
	KEKID      []byte // CKA_ID of the key-encryption key
	Mechanism  uint   // CKM_AES_KEY_WRAP_PAD, or CKM_AES_CBC_PAD
	IV         []byte // CKM_AES_CBC_PAD only
	Public     []byte // DER SubjectPublicKeyInfo, for key pairs
	Ciphertext []byte
}

// wrappedKeyV1 is the DER layout of a WrappedKey:
//
//	WrappedKey ::= SEQUENCE {
//	    version    INTEGER (1),
//	    type       UTF8String,    -- "ecdsa-p256", "hmac", …
//	    kekID      OCTET STRING,
//	    mechanism  INTEGER,       -- PKCS#11 CKM_ value
//	    iv         OCTET STRING,  -- empty unless CBC
//	    public     OCTET STRING,  -- SubjectPublicKeyInfo, empty for secrets
//	    ciphertext OCTET STRING }
type wrappedKeyV1 struct {
	Version    int
	Type       string `asn1:"utf8"`
	KEKID      []byte
	Mechanism  int64
	IV         []byte
	Public     []byte
	Ciphertext []byte
}

const maxCiphertext = 8192 // an RSA-4096 PKCS#8 key wraps to about 2.4 KB

// MarshalBinary encodes w for storage.
func (w *WrappedKey) MarshalBinary() ([]byte, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	return asn1.Marshal(wrappedKeyV1{
		Version: 1, Type: string(w.Type), KEKID: w.KEKID, Mechanism: int64(w.Mechanism),
		IV: nonNil(w.IV), Public: nonNil(w.Public), Ciphertext: w.Ciphertext,
	})
}

// nonNil makes encoding/asn1 write an empty OCTET STRING for nil.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ParseWrappedKey decodes and checks a blob made by MarshalBinary. It
// touches no HSM: a blob that fails here was damaged in storage.
func ParseWrappedKey(b []byte) (*WrappedKey, error) {
	var v wrappedKeyV1
	rest, err := asn1.Unmarshal(b, &v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadWrappedKey, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the end", ErrBadWrappedKey, len(rest))
	}
	if v.Version != 1 {
		return nil, fmt.Errorf("%w: version %d, this Segl reads version 1", ErrBadWrappedKey, v.Version)
	}
	if v.Mechanism < 0 {
		return nil, fmt.Errorf("%w: negative mechanism", ErrBadWrappedKey)
	}
	w := &WrappedKey{
		Type: KeyType(v.Type), KEKID: v.KEKID, Mechanism: uint(v.Mechanism),
		IV: emptyNil(v.IV), Public: emptyNil(v.Public), Ciphertext: v.Ciphertext,
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	// encoding/asn1 accepts more than one encoding of some fields (any
	// string type where UTF8String is meant): insist on the one we write,
	// so a blob has exactly one form.
	if canon, err := w.MarshalBinary(); err != nil || !bytes.Equal(canon, b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrBadWrappedKey)
	}
	return w, nil
}

func emptyNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// UnmarshalBinary is ParseWrappedKey for encoding.BinaryUnmarshaler.
func (w *WrappedKey) UnmarshalBinary(b []byte) error {
	p, err := ParseWrappedKey(b)
	if err != nil {
		return err
	}
	*w = *p
	return nil
}

// spec returns how to unwrap w.
func (w *WrappedKey) spec() keySpec {
	switch w.Type {
	case HMACSecret:
		return keySpec{class: pkcs11.CKO_SECRET_KEY, ckk: pkcs11.CKK_GENERIC_SECRET}
	case AESDecryptKey:
		return keySpec{class: pkcs11.CKO_SECRET_KEY, ckk: pkcs11.CKK_AES, decrypt: true}
	}
	return specs[w.Type]
}

// check validates every field, so that nothing malformed reaches the HSM.
func (w *WrappedKey) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadWrappedKey, fmt.Sprintf(format, args...))
	}
	if _, ok := specs[w.Type]; (!ok && w.Type != HMACSecret && w.Type != AESDecryptKey) || w.Type == AES256 {
		return bad("unknown key type %q", w.Type)
	}
	if len(w.KEKID) == 0 || len(w.KEKID) > 64 {
		return bad("KEK ID has %d bytes, want 1 to 64", len(w.KEKID))
	}
	n := len(w.Ciphertext)
	switch w.Mechanism {
	case pkcs11.CKM_AES_KEY_WRAP_PAD:
		if len(w.IV) != 0 {
			return bad("AES key wrap takes no IV")
		}
		if n < 16 || n%8 != 0 || n > maxCiphertext {
			return bad("AES key-wrap ciphertext of %d bytes (want a multiple of 8, 16 to %d)", n, maxCiphertext)
		}
	case pkcs11.CKM_AES_CBC_PAD:
		if len(w.IV) != 16 {
			return bad("AES-CBC IV has %d bytes, want 16", len(w.IV))
		}
		if n < 16 || n%16 != 0 || n > maxCiphertext {
			return bad("AES-CBC ciphertext of %d bytes (want a multiple of 16, 16 to %d)", n, maxCiphertext)
		}
	default:
		return bad("unsupported wrapping mechanism 0x%x", w.Mechanism)
	}
	if w.Type.Asymmetric() {
		if _, err := parsePublic(w.Type, w.Public); err != nil {
			return bad("%v", err)
		}
	} else if len(w.Public) != 0 {
		return bad("a secret carries no public key")
	}
	return nil
}

// marshalPublic encodes a public key as SubjectPublicKeyInfo.
func marshalPublic(pub crypto.PublicKey) ([]byte, error) {
	return x509.MarshalPKIXPublicKey(pub)
}

// parsePublic decodes a SubjectPublicKeyInfo and checks that it is a key of
// type t.
func parsePublic(t KeyType, der []byte) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key: %v", err)
	}
	spec := specs[t]
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = spec.ckk == pkcs11.CKK_EC && curveOID(k.Curve) == string(spec.ecParams)
	case *rsa.PublicKey:
		ok = spec.ckk == pkcs11.CKK_RSA && k.N.BitLen() == spec.bits
	case ed25519.PublicKey:
		ok = spec.ckk == ckkECEdwards
	}
	if !ok {
		return nil, fmt.Errorf("public key is %s, not %s", describePublic(pub), t)
	}
	return pub, nil
}

func curveOID(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return string(oidP256)
	case elliptic.P384():
		return string(oidP384)
	case elliptic.P521():
		return string(oidP521)
	}
	return ""
}

func describePublic(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", pub), "*")
}
