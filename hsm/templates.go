package hsm

import "github.com/miekg/pkcs11"

// Templates say every security attribute explicitly. Module defaults differ
// (SoftHSM leaves an imported secret non-sensitive, for one), so nothing is
// left to them.

// keyLife is where a key lives and whether it may leave the HSM.
type keyLife int

const (
	// onToken: persistent and never extractable. Issuer keys, the audit
	// key, HMAC master keys.
	onToken keyLife = iota
	// toWrap: a session object that may be wrapped, and only under a
	// CKA_TRUSTED key; it is destroyed as soon as it has been wrapped.
	toWrap
	// unwrapped: a session object made by C_UnwrapKey, usable and not
	// extractable again.
	unwrapped
)

func attr(t uint, v any) *pkcs11.Attribute { return pkcs11.NewAttribute(t, v) }

// privateTemplate returns the public and private templates of a key pair.
func privateTemplate(spec keySpec, label string, id []byte, life keyLife) (pub, priv []*pkcs11.Attribute) {
	token := life == onToken
	pub = []*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		attr(pkcs11.CKA_KEY_TYPE, spec.ckk),
		attr(pkcs11.CKA_TOKEN, token),
		attr(pkcs11.CKA_PRIVATE, false),
		attr(pkcs11.CKA_VERIFY, true),
		attr(pkcs11.CKA_VERIFY_RECOVER, false),
		attr(pkcs11.CKA_ENCRYPT, false),
		attr(pkcs11.CKA_WRAP, false),
		attr(pkcs11.CKA_DERIVE, false),
		attr(pkcs11.CKA_MODIFIABLE, false),
		attr(pkcs11.CKA_LABEL, label),
		attr(pkcs11.CKA_ID, id),
	}
	switch {
	case spec.ecParams != nil:
		pub = append(pub, attr(pkcs11.CKA_EC_PARAMS, spec.ecParams))
	case spec.bits != 0:
		pub = append(pub,
			attr(pkcs11.CKA_MODULUS_BITS, spec.bits),
			attr(pkcs11.CKA_PUBLIC_EXPONENT, []byte{0x01, 0x00, 0x01}))
	}
	priv = []*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		attr(pkcs11.CKA_KEY_TYPE, spec.ckk),
		attr(pkcs11.CKA_LABEL, label),
		attr(pkcs11.CKA_ID, id),
	}
	priv = append(priv, privateUse(token, life == toWrap)...)
	return pub, priv
}

// privateUse is the security and usage part of a private key template:
// it signs and does nothing else.
func privateUse(token, extractable bool) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		attr(pkcs11.CKA_TOKEN, token),
		attr(pkcs11.CKA_PRIVATE, true),
		attr(pkcs11.CKA_SENSITIVE, true),
		attr(pkcs11.CKA_EXTRACTABLE, extractable),
		attr(pkcs11.CKA_WRAP_WITH_TRUSTED, true),
		attr(pkcs11.CKA_SIGN, true),
		attr(pkcs11.CKA_SIGN_RECOVER, false),
		attr(pkcs11.CKA_DECRYPT, false),
		attr(pkcs11.CKA_UNWRAP, false),
		attr(pkcs11.CKA_DERIVE, false),
		attr(pkcs11.CKA_MODIFIABLE, false),
	}
}

// secretTemplate is the template of an HMAC secret (a seed or a master
// key): it may compute HMACs (CKA_SIGN) and nothing else. Verification
// is done by computing and comparing, so CKA_VERIFY is off too.
func secretTemplate(spec keySpec, label string, id []byte, life keyLife) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		attr(pkcs11.CKA_KEY_TYPE, spec.ckk),
	}
	if life != unwrapped {
		// An unwrapped key takes its length from the blob; SoftHSM refuses
		// CKA_VALUE_LEN there (CKR_ATTRIBUTE_READ_ONLY).
		t = append(t, attr(pkcs11.CKA_VALUE_LEN, spec.valueLen))
	}
	if label != "" {
		t = append(t, attr(pkcs11.CKA_LABEL, label))
	}
	if id != nil {
		t = append(t, attr(pkcs11.CKA_ID, id))
	}
	return append(t, secretUse(life == onToken, life == toWrap)...)
}

func secretUse(token, extractable bool) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		attr(pkcs11.CKA_TOKEN, token),
		attr(pkcs11.CKA_PRIVATE, true),
		attr(pkcs11.CKA_SENSITIVE, true),
		attr(pkcs11.CKA_EXTRACTABLE, extractable),
		attr(pkcs11.CKA_WRAP_WITH_TRUSTED, true),
		attr(pkcs11.CKA_SIGN, true),
		attr(pkcs11.CKA_VERIFY, false),
		attr(pkcs11.CKA_ENCRYPT, false),
		attr(pkcs11.CKA_DECRYPT, false),
		attr(pkcs11.CKA_WRAP, false),
		attr(pkcs11.CKA_UNWRAP, false),
		attr(pkcs11.CKA_DERIVE, false),
		attr(pkcs11.CKA_MODIFIABLE, false),
	}
}

// decryptUse is the security and usage part of an AES key that decrypts
// and does nothing else: it cannot encrypt, so it cannot make the blocks
// it is there to check.
func decryptUse(extractable bool) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		attr(pkcs11.CKA_TOKEN, false),
		attr(pkcs11.CKA_PRIVATE, true),
		attr(pkcs11.CKA_SENSITIVE, true),
		attr(pkcs11.CKA_EXTRACTABLE, extractable),
		attr(pkcs11.CKA_WRAP_WITH_TRUSTED, true),
		attr(pkcs11.CKA_DECRYPT, true),
		attr(pkcs11.CKA_ENCRYPT, false),
		attr(pkcs11.CKA_SIGN, false),
		attr(pkcs11.CKA_VERIFY, false),
		attr(pkcs11.CKA_WRAP, false),
		attr(pkcs11.CKA_UNWRAP, false),
		attr(pkcs11.CKA_DERIVE, false),
		attr(pkcs11.CKA_MODIFIABLE, false),
	}
}

// unwrapTemplate is what C_UnwrapKey makes of a wrapped key: a session
// object that signs (or computes HMACs) and cannot be extracted again.
// CKA_EC_PARAMS and CKA_VALUE_LEN come from the blob.
func unwrapTemplate(spec keySpec) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, spec.class),
		attr(pkcs11.CKA_KEY_TYPE, spec.ckk),
	}
	switch {
	case spec.class == pkcs11.CKO_PRIVATE_KEY:
		return append(t, privateUse(false, false)...)
	case spec.decrypt:
		return append(t, decryptUse(false)...)
	}
	return append(t, secretUse(false, false)...)
}

// kekTemplate is the AES key-encryption key as the security officer
// generates it: a public session object, because the SO can make no other
// kind, and the only kind of object that may carry CKA_TRUSTED. It wraps
// and unwraps and does nothing else, so it can never decrypt a key it
// wrapped (the wrap/decrypt attack).
func kekTemplate(spec keySpec) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		attr(pkcs11.CKA_KEY_TYPE, spec.ckk),
		attr(pkcs11.CKA_VALUE_LEN, spec.valueLen),
		attr(pkcs11.CKA_TOKEN, false),
		attr(pkcs11.CKA_PRIVATE, false),
		attr(pkcs11.CKA_SENSITIVE, true),
		attr(pkcs11.CKA_EXTRACTABLE, false),
		attr(pkcs11.CKA_TRUSTED, true),
		attr(pkcs11.CKA_WRAP_WITH_TRUSTED, true),
		attr(pkcs11.CKA_WRAP, true),
		attr(pkcs11.CKA_UNWRAP, true),
		attr(pkcs11.CKA_ENCRYPT, false),
		attr(pkcs11.CKA_DECRYPT, false),
		attr(pkcs11.CKA_SIGN, false),
		attr(pkcs11.CKA_VERIFY, false),
		attr(pkcs11.CKA_DERIVE, false),
	}
}

// kekCopyTemplate turns the SO's session KEK into the user's private token
// object. CKA_MODIFIABLE=false comes last: once it is applied, SoftHSM
// refuses to change anything after it in the same template.
func kekCopyTemplate(label string, id []byte) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		attr(pkcs11.CKA_TOKEN, true),
		attr(pkcs11.CKA_PRIVATE, true),
		attr(pkcs11.CKA_LABEL, label),
		attr(pkcs11.CKA_ID, id),
		attr(pkcs11.CKA_MODIFIABLE, false),
	}
}
