package hsm

import (
	"crypto"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// ErrBadMAC: a value sealed for transport does not match its MAC: the
// transport key is wrong, or the file was altered on the way.
var ErrBadMAC = errors.New("the value's MAC does not match (wrong transport key, or the file was altered)")

// Transport describes how a vendor sealed a batch of secrets, as PSKC does
// with a pre-shared key (RFC 6030 §6.1): each value is AES-CBC under the
// transport key, carried as IV || ciphertext with XML Encryption's padding,
// and authenticated by an HMAC over IV || ciphertext under a MAC key that
// is itself sealed under the transport key.
type Transport struct {
	// Key is the AES transport key, 16, 24 or 32 bytes. The caller holds
	// it already (the officer's key file, or PBKDF2 of a password) and
	// should zero it after the call; inside the HSM it is a session object
	// that is destroyed before the call returns.
	Key []byte
	// MACKey is the MAC key sealed under Key: IV || ciphertext.
	MACKey []byte
	// MACHash is the HMAC's hash: crypto.SHA1 (PSKC's default) or SHA256.
	MACHash crypto.Hash
}

// Sealed is one value sealed for transport.
type Sealed struct {
	Value []byte // IV || AES-CBC ciphertext
	MAC   []byte // HMAC over Value under the Transport's MAC key
}

// ValueError says which of the values passed to ImportSealed failed.
type ValueError struct {
	Index int // 0-based
	Err   error
}

func (e *ValueError) Error() string { return fmt.Sprintf("value %d: %v", e.Index+1, e.Err) }
func (e *ValueError) Unwrap() error { return e.Err }

// transportRoute says how this module can turn a sealed value into a key
// object.
func transportRoute(cbcUnwrap bool) string {
	if cbcUnwrap {
		return "unwrapped straight into the HSM (CKM_AES_CBC_PAD)"
	}
	return "decrypted inside the HSM (CKM_AES_CBC) and created with C_CreateObject; each seed crosses the importing process's memory briefly and is zeroed"
}

// ImportSealed checks every value's MAC inside the HSM, then brings each
// value into the HSM as a secret and wraps it under the KEK with the
// label: the same blobs ImportSecret makes. It is all or nothing: the first
// value that fails stops the call with a *ValueError, and no blob is
// returned.
//
// Where the module can unwrap with CKM_AES_CBC_PAD (most network HSMs),
// values go straight into the HSM. SoftHSM cannot (see the notes), so there
// the value is decrypted by the HSM with CKM_AES_CBC, its padding checked
// here, and the plaintext created as an object and zeroed; `segl hsm info`
// says which route a module takes.
func (ks *Keystore) ImportSealed(kekLabel string, t Transport, values []Sealed) ([]*WrappedKey, error) {
	op := fmt.Sprintf("import sealed secrets under %q", kekLabel)
	switch {
	case len(t.Key) != 16 && len(t.Key) != 24 && len(t.Key) != 32:
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: fmt.Errorf("the transport key has %d bytes; AES takes 16, 24 or 32", len(t.Key))}
	case t.MACHash != crypto.SHA1 && t.MACHash != crypto.SHA256:
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: fmt.Errorf("MAC hash %v; HMAC-SHA1 or HMAC-SHA256 only", t.MACHash)}
	}
	if err := checkSealed(t.MACKey); err != nil {
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: fmt.Errorf("the MAC key: %w", err)}
	}
	for i, v := range values {
		if err := checkSealed(v.Value); err != nil {
			return nil, &Error{Op: op, Kind: ErrBadInput, Err: &ValueError{i, err}}
		}
	}
	var out []*WrappedKey
	err := ks.use(op, func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			kek, kekID, err := findKEK(c, s, kekLabel)
			if err != nil {
				return err
			}
			tk, err := c.p11.CreateObject(s, transportTemplate(t.Key))
			if err != nil {
				return err
			}
			defer c.p11.DestroyObject(s, tk)
			// SoftHSM refuses HMAC keys shorter than the hash
			// (CKR_KEY_SIZE_RANGE), and vendors' MAC keys are often
			// 20 bytes whatever the hash. HMAC zero-pads any key up to
			// its block size, so padding to the hash's size computes
			// the same MAC.
			mk, err := openSealed(c, s, tk, t.MACKey, macKeyTemplate(), t.MACHash.Size())
			if err != nil {
				return fmt.Errorf("the MAC key: %w", err)
			}
			defer c.p11.DestroyObject(s, mk)
			mech := pkcs11.CKM_SHA_1_HMAC
			if t.MACHash == crypto.SHA256 {
				mech = pkcs11.CKM_SHA256_HMAC
			}
			// Every MAC first: nothing is decrypted from a file that
			// has been tampered with anywhere.
			for i, v := range values {
				if err := c.p11.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(uint(mech), nil)}, mk); err != nil {
					return err
				}
				sum, err := c.p11.Sign(s, v.Value)
				if err != nil {
					return err
				}
				if len(v.MAC) == 0 || subtle.ConstantTimeCompare(sum, v.MAC) != 1 {
					return &Error{Op: op, Kind: ErrBadMAC, Err: &ValueError{i, ErrBadMAC}}
				}
			}
			for i, v := range values {
				h, err := openSealed(c, s, tk, v.Value, append([]*pkcs11.Attribute{
					attr(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
					attr(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
				}, secretUse(false, true)...), 0)
				if err != nil {
					return &ValueError{i, err}
				}
				if madeToWrap != nil {
					madeToWrap(c.p11, s, h)
				}
				w := &WrappedKey{Type: HMACSecret, KEKID: kekID}
				err = wrapInto(c, s, kek, h, w)
				c.p11.DestroyObject(s, h)
				if err != nil {
					return &ValueError{i, err}
				}
				out = append(out, w)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkSealed checks the shape of IV || ciphertext before the HSM sees it.
func checkSealed(v []byte) error {
	if len(v) < 32 || len(v)%16 != 0 {
		return fmt.Errorf("%d bytes is not an IV and whole AES blocks", len(v))
	}
	if len(v)-16 > maxSecret+16 {
		return fmt.Errorf("%d bytes of ciphertext; secrets are at most %d bytes", len(v)-16, maxSecret)
	}
	return nil
}

// openSealed makes a session key object with the template from IV ||
// ciphertext sealed under the transport key tk. On the decrypt route a
// value shorter than zeroPadTo is padded with zeros to that length.
func openSealed(c *conn, s pkcs11.SessionHandle, tk pkcs11.ObjectHandle, v []byte, tmpl []*pkcs11.Attribute, zeroPadTo int) (pkcs11.ObjectHandle, error) {
	iv, ct := v[:16], v[16:]
	if c.cbcUnwrap {
		return c.p11.UnwrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_CBC_PAD, iv)}, tk, ct, tmpl)
	}
	if err := c.p11.DecryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_CBC, iv)}, tk); err != nil {
		return 0, err
	}
	pt, err := c.p11.Decrypt(s, ct)
	defer clear(pt)
	if err != nil {
		return 0, err
	}
	// XML Encryption's padding (§5.2): the last byte says how many bytes
	// of padding there are, 1 to 16; the others may be anything.
	n := int(pt[len(pt)-1])
	if n < 1 || n > 16 || n > len(pt) || len(pt)-n < minSecret {
		return 0, &Error{Op: "open sealed value", Kind: ErrBadInput, Err: errors.New("the decrypted value is not padded as XML Encryption pads; is the transport key right?")}
	}
	value := pt[:len(pt)-n]
	if len(value) < zeroPadTo {
		// append reuses pt's padding bytes or allocates: either way
		// the buffer is cleared.
		value = append(value, make([]byte, zeroPadTo-len(value))...)
		defer clear(value)
	}
	return c.p11.CreateObject(s, append(tmpl, attr(pkcs11.CKA_VALUE, value)))
}

// transportTemplate is the transport key as a session object: it decrypts
// or unwraps what the vendor sealed, and can do nothing else.
func transportTemplate(key []byte) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		attr(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		attr(pkcs11.CKA_VALUE, key),
		attr(pkcs11.CKA_TOKEN, false),
		attr(pkcs11.CKA_PRIVATE, true),
		attr(pkcs11.CKA_SENSITIVE, true),
		attr(pkcs11.CKA_EXTRACTABLE, false),
		attr(pkcs11.CKA_DECRYPT, true),
		attr(pkcs11.CKA_UNWRAP, true),
		attr(pkcs11.CKA_ENCRYPT, false),
		attr(pkcs11.CKA_WRAP, false),
		attr(pkcs11.CKA_SIGN, false),
		attr(pkcs11.CKA_VERIFY, false),
		attr(pkcs11.CKA_DERIVE, false),
	}
}

// macKeyTemplate is the batch's MAC key: it computes HMACs and nothing
// else, and never leaves the HSM.
func macKeyTemplate() []*pkcs11.Attribute {
	return append([]*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		attr(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
	}, secretUse(false, false)...)
}
