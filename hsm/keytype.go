package hsm

import (
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/pkcs11"
)

// PKCS#11 v3.0 values that miekg/pkcs11 v1.1.2 lacks; SoftHSM 2.6 has them.
const (
	ckkECEdwards           = 0x40
	ckmECEdwardsKeyPairGen = 0x1055
	ckmEdDSA               = 0x1057
)

// KeyType names a kind of key as the CLI and the store spell it.
type KeyType string

// The key types Segl makes.
const (
	ECDSAP256  KeyType = "ecdsa-p256"
	ECDSAP384  KeyType = "ecdsa-p384"
	RSA2048    KeyType = "rsa-2048"
	RSA3072    KeyType = "rsa-3072"
	RSA4096    KeyType = "rsa-4096"
	Ed25519    KeyType = "ed25519"
	AES256     KeyType = "aes-256" // key-encryption key, see GenerateKEK
	HMACSHA1   KeyType = "hmac-sha1"
	HMACSHA256 KeyType = "hmac-sha256"
	HMACSHA512 KeyType = "hmac-sha512"
)

// keySpec is everything the package needs to know to make and use one kind
// of key.
type keySpec struct {
	class    uint   // CKO_PRIVATE_KEY or CKO_SECRET_KEY
	ckk      uint   // CKA_KEY_TYPE
	gen      uint   // key (pair) generation mechanism
	ecParams []byte // CKA_EC_PARAMS, DER OID of the curve
	bits     int    // RSA modulus size
	valueLen int    // secret key length in bytes
	decrypt  bool   // a secret key that decrypts rather than computes HMACs
}

var (
	oidP256    = mustOID(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	oidP384    = mustOID(asn1.ObjectIdentifier{1, 3, 132, 0, 34})
	oidP521    = mustOID(asn1.ObjectIdentifier{1, 3, 132, 0, 35})
	oidEd25519 = mustOID(asn1.ObjectIdentifier{1, 3, 101, 112})
)

func mustOID(oid asn1.ObjectIdentifier) []byte {
	b, err := asn1.Marshal(oid)
	if err != nil {
		panic(err)
	}
	return b
}

var specs = map[KeyType]keySpec{
	ECDSAP256:  {class: pkcs11.CKO_PRIVATE_KEY, ckk: pkcs11.CKK_EC, gen: pkcs11.CKM_EC_KEY_PAIR_GEN, ecParams: oidP256},
	ECDSAP384:  {class: pkcs11.CKO_PRIVATE_KEY, ckk: pkcs11.CKK_EC, gen: pkcs11.CKM_EC_KEY_PAIR_GEN, ecParams: oidP384},
	RSA2048:    {class: pkcs11.CKO_PRIVATE_KEY, ckk: pkcs11.CKK_RSA, gen: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, bits: 2048},
	RSA3072:    {class: pkcs11.CKO_PRIVATE_KEY, ckk: pkcs11.CKK_RSA, gen: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, bits: 3072},
	RSA4096:    {class: pkcs11.CKO_PRIVATE_KEY, ckk: pkcs11.CKK_RSA, gen: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, bits: 4096},
	Ed25519:    {class: pkcs11.CKO_PRIVATE_KEY, ckk: ckkECEdwards, gen: ckmECEdwardsKeyPairGen, ecParams: oidEd25519},
	AES256:     {class: pkcs11.CKO_SECRET_KEY, ckk: pkcs11.CKK_AES, gen: pkcs11.CKM_AES_KEY_GEN, valueLen: 32},
	HMACSHA1:   {class: pkcs11.CKO_SECRET_KEY, ckk: pkcs11.CKK_GENERIC_SECRET, gen: pkcs11.CKM_GENERIC_SECRET_KEY_GEN, valueLen: 20},
	HMACSHA256: {class: pkcs11.CKO_SECRET_KEY, ckk: pkcs11.CKK_GENERIC_SECRET, gen: pkcs11.CKM_GENERIC_SECRET_KEY_GEN, valueLen: 32},
	HMACSHA512: {class: pkcs11.CKO_SECRET_KEY, ckk: pkcs11.CKK_GENERIC_SECRET, gen: pkcs11.CKM_GENERIC_SECRET_KEY_GEN, valueLen: 64},
}

// KeyTypes lists every type the package can generate, in a stable order.
func KeyTypes() []KeyType {
	ts := make([]KeyType, 0, len(specs))
	for t := range specs {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// ParseKeyType accepts the spellings of KeyType.
func ParseKeyType(s string) (KeyType, error) {
	t := KeyType(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := specs[t]; ok {
		return t, nil
	}
	names := make([]string, 0, len(specs))
	for _, k := range KeyTypes() {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("unknown key type %q: want one of %s", s, strings.Join(names, ", "))
}

// Asymmetric reports whether keys of this type sign through crypto.Signer.
func (t KeyType) Asymmetric() bool { return specs[t].class == pkcs11.CKO_PRIVATE_KEY }

// HMAC reports whether keys of this type are HMAC secrets.
func (t KeyType) HMAC() bool { return t == HMACSecret || specs[t].ckk == pkcs11.CKK_GENERIC_SECRET }

// typeOf names a key found on the token from its attributes, including
// keys Segl did not make.
func typeOf(ckk uint, ecParams []byte, bits, valueLen int) KeyType {
	switch ckk {
	case pkcs11.CKK_EC:
		switch {
		case slices.Equal(ecParams, oidP256):
			return ECDSAP256
		case slices.Equal(ecParams, oidP384):
			return ECDSAP384
		case slices.Equal(ecParams, oidP521):
			return "ecdsa-p521"
		}
		return "ec-other"
	case pkcs11.CKK_RSA:
		return KeyType(fmt.Sprintf("rsa-%d", bits))
	case ckkECEdwards:
		if slices.Equal(ecParams, oidEd25519) || string(ecParams) == "\x13\x0cedwards25519" {
			return Ed25519
		}
		return "eddsa-other"
	case pkcs11.CKK_AES:
		return KeyType(fmt.Sprintf("aes-%d", valueLen*8))
	case pkcs11.CKK_GENERIC_SECRET:
		switch valueLen {
		case 20:
			return HMACSHA1
		case 32:
			return HMACSHA256
		case 64:
			return HMACSHA512
		}
		return KeyType(fmt.Sprintf("generic-secret-%d", valueLen*8))
	}
	return KeyType(fmt.Sprintf("ckk-0x%x", ckk))
}
