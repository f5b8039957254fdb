package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/miekg/pkcs11"
)

// Low-level object helpers on a raw session. They take the session and do
// not touch the Keystore's lock.

// findObjects returns up to max objects matching tmpl (max <= 0: all).
func findObjects(p *pkcs11.Ctx, s pkcs11.SessionHandle, tmpl []*pkcs11.Attribute, max int) ([]pkcs11.ObjectHandle, error) {
	if err := p.FindObjectsInit(s, tmpl); err != nil {
		return nil, err
	}
	var all []pkcs11.ObjectHandle
	var err error
	for {
		batch := 64
		if max > 0 && max-len(all) < batch {
			batch = max - len(all)
		}
		var hs []pkcs11.ObjectHandle
		hs, _, err = p.FindObjects(s, batch)
		if err != nil {
			break
		}
		all = append(all, hs...)
		if len(hs) < batch || (max > 0 && len(all) >= max) {
			break
		}
	}
	// Always end the search: a session left mid-search refuses every
	// other operation with CKR_OPERATION_ACTIVE.
	if ferr := p.FindObjectsFinal(s); err == nil {
		err = ferr
	}
	return all, err
}

// findOne returns the single object matching tmpl: none is ErrKeyNotFound,
// two or more is ErrAmbiguousKey. It asks for two so it never scans more.
func findOne(p *pkcs11.Ctx, s pkcs11.SessionHandle, tmpl []*pkcs11.Attribute, what string) (pkcs11.ObjectHandle, error) {
	hs, err := findObjects(p, s, tmpl, 2)
	if err != nil {
		return 0, err
	}
	switch len(hs) {
	case 0:
		return 0, fmt.Errorf("%w: %s", ErrKeyNotFound, what)
	case 1:
		return hs[0], nil
	}
	return 0, fmt.Errorf("%w: %s matches more than one object; the HSM holds duplicates that an officer must resolve", ErrAmbiguousKey, what)
}

// findKeyByLabel finds the one token private or secret key with label.
func findKeyByLabel(p *pkcs11.Ctx, s pkcs11.SessionHandle, label string) (pkcs11.ObjectHandle, error) {
	var found []pkcs11.ObjectHandle
	for _, class := range []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_SECRET_KEY} {
		hs, err := findObjects(p, s, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		}, 2)
		if err != nil {
			return 0, err
		}
		found = append(found, hs...)
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("%w: no key is labelled %q", ErrKeyNotFound, label)
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("%w: more than one key is labelled %q; delete or relabel the extra one with pkcs11-tool", ErrAmbiguousKey, label)
}

// countLabel counts the token objects of any class with label.
func countLabel(p *pkcs11.Ctx, s pkcs11.SessionHandle, label string) (int, error) {
	hs, err := findObjects(p, s, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}, 0)
	return len(hs), err
}

// attrs reads the attributes types of object h. An attribute the object
// does not have (CKR_ATTRIBUTE_TYPE_INVALID) is absent from the map rather
// than failing the whole read, since which attributes exist varies by class
// and by module.
func attrs(p *pkcs11.Ctx, s pkcs11.SessionHandle, h pkcs11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	tmpl := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = pkcs11.NewAttribute(t, nil)
	}
	got, err := p.GetAttributeValue(s, h, tmpl)
	if err == nil {
		m := make(map[uint][]byte, len(got))
		for _, a := range got {
			m[a.Type] = a.Value
		}
		return m, nil
	}
	if !isCode(err, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID) && !isCode(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
		return nil, err
	}
	m := make(map[uint][]byte, len(types))
	for _, t := range types {
		got, err := p.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(t, nil)})
		switch {
		case err == nil:
			m[t] = got[0].Value
		case isCode(err, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID), isCode(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE):
		default:
			return nil, err
		}
	}
	return m, nil
}

func boolAttr(m map[uint][]byte, t uint) bool {
	v, ok := m[t]
	return ok && len(v) == 1 && v[0] != 0
}

// ulongAttr decodes a CK_ULONG attribute, which the module writes in the
// host's byte order and width.
func ulongAttr(m map[uint][]byte, t uint) (uint, bool) {
	switch v := m[t]; len(v) {
	case 8:
		return uint(binary.NativeEndian.Uint64(v)), true
	case 4:
		return uint(binary.NativeEndian.Uint32(v)), true
	}
	return 0, false
}

// publicKey reads the public key of a key pair from its public-key object.
func publicKey(p *pkcs11.Ctx, s pkcs11.SessionHandle, pub pkcs11.ObjectHandle, ckk uint) (crypto.PublicKey, error) {
	switch ckk {
	case pkcs11.CKK_EC, ckkECEdwards:
		m, err := attrs(p, s, pub, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT)
		if err != nil {
			return nil, err
		}
		return ecPublicKey(ckk, m[pkcs11.CKA_EC_PARAMS], m[pkcs11.CKA_EC_POINT])
	case pkcs11.CKK_RSA:
		m, err := attrs(p, s, pub, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT)
		if err != nil {
			return nil, err
		}
		n := new(big.Int).SetBytes(m[pkcs11.CKA_MODULUS])
		e := new(big.Int).SetBytes(m[pkcs11.CKA_PUBLIC_EXPONENT])
		if n.Sign() == 0 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, errors.New("the HSM returned an unusable RSA public key")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	}
	return nil, fmt.Errorf("%w: key type 0x%x has no public key Segl can read", ErrWrongKeyType, ckk)
}

// ecPublicKey decodes CKA_EC_POINT, which PKCS#11 says is a DER OCTET
// STRING around the point; some modules return the bare point, so both are
// accepted.
func ecPublicKey(ckk uint, params, point []byte) (crypto.PublicKey, error) {
	var inner []byte
	if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
		point = inner
	}
	if ckk == ckkECEdwards {
		if !slices.Equal(params, oidEd25519) && string(params) != "\x13\x0cedwards25519" {
			return nil, errors.New("unsupported Edwards curve")
		}
		if len(point) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 public key has %d bytes, want %d", len(point), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(slices.Clone(point)), nil
	}
	var curve elliptic.Curve
	switch {
	case slices.Equal(params, oidP256):
		curve = elliptic.P256()
	case slices.Equal(params, oidP384):
		curve = elliptic.P384()
	case slices.Equal(params, oidP521):
		curve = elliptic.P521()
	default:
		return nil, errors.New("unsupported EC curve")
	}
	return ecdsa.ParseUncompressedPublicKey(curve, point)
}
