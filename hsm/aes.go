package hsm

import (
	"fmt"

	"github.com/miekg/pkcs11"
)

// ImportAESKey wraps an AES-128 key the caller holds (a Yubico OTP key
// from the vendor's CSV) under the KEK with the label. As with
// ImportSecret, the key is in the caller's memory already and should be
// zeroed afterwards. The blob unwraps to a key that decrypts single blocks
// and can do nothing else.
func (ks *Keystore) ImportAESKey(kekLabel string, key []byte) (*WrappedKey, error) {
	op := fmt.Sprintf("import AES key under %q", kekLabel)
	if len(key) != 16 {
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: fmt.Errorf("an AES-128 key has 16 bytes, not %d", len(key))}
	}
	return ks.importWrapped(op, kekLabel, AESDecryptKey, append([]*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		attr(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		attr(pkcs11.CKA_VALUE, key),
	}, decryptUse(true)...))
}

// AESKey is a wrapped AES key that decrypts inside the HSM.
type AESKey struct {
	ks  *Keystore
	ref keyRef
}

// WrappedAES returns an AESKey for a blob made by ImportAESKey. Nothing is
// unwrapped until the first DecryptBlock.
func (ks *Keystore) WrappedAES(w *WrappedKey) (*AESKey, error) {
	if err := w.check(); err != nil {
		return nil, &Error{Op: "open wrapped AES key", Kind: ErrBadWrappedKey, Err: err}
	}
	if w.Type != AESDecryptKey {
		return nil, &Error{Op: "open wrapped AES key", Kind: ErrWrongKeyType, Err: fmt.Errorf("a wrapped %s key does not decrypt", w.Type)}
	}
	return &AESKey{ks: ks, ref: ks.newWrappedRef(w)}, nil
}

// DecryptBlock decrypts one 16-byte block with AES-ECB inside the HSM.
// ECB is right for exactly one block and for nothing else, which is why
// this takes one block only.
func (k *AESKey) DecryptBlock(block []byte) ([]byte, error) {
	const op = "AES-decrypt one block with a wrapped key"
	if len(block) != 16 {
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: fmt.Errorf("a block has 16 bytes, not %d", len(block))}
	}
	var out []byte
	err := k.ks.use(op, func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			obj, release, err := k.ref.object(c, s)
			if err != nil {
				return err
			}
			defer release()
			if err := c.p11.DecryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_ECB, nil)}, obj); err != nil {
				return err
			}
			out, err = c.p11.Decrypt(s, block)
			return err
		})
	})
	return out, err
}
