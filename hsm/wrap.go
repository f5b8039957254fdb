package hsm

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// GenerateKEK makes the AES-256 key-encryption key under which per-user
// keys and seeds are wrapped. Only a CKA_TRUSTED key may wrap keys marked
// CKA_WRAP_WITH_TRUSTED, and only the security officer can set CKA_TRUSTED,
// but the SO can only make public objects. So, as measured on SoftHSM 2.6:
// the user logs out, the SO logs in and generates the KEK as a public
// session object, logs out; the user logs in again and copies it to a
// private token object; the public original is destroyed. The KEK can wrap
// and unwrap and nothing else, and never leaves the HSM.
//
// Every other call waits while this runs, and the Keystore reconnects
// afterwards because the application's login changed under it.
func (ks *Keystore) GenerateKEK(label string, soPIN PIN) (*Key, error) {
	op := fmt.Sprintf("generate key-encryption key %q", label)
	if err := checkLabel(label); err != nil {
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: err}
	}
	if soPIN == "" {
		return nil, &Error{Op: op, Kind: ErrPINEmpty, Err: fmt.Errorf("the security officer's PIN is needed: set %s to a file that holds it", EnvSOPINFile)}
	}
	ks.gen.Lock()
	defer ks.gen.Unlock()
	var key *Key
	err := ks.exclusive(op, func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			if err := refuseExisting(c.p11, s, label); err != nil {
				return err
			}
			id, err := c.p11.GenerateRandom(s, idLen)
			if err != nil {
				return err
			}
			if err := c.p11.Logout(s); err != nil && !isCode(err, pkcs11.CKR_USER_NOT_LOGGED_IN) {
				return err
			}
			if err := c.p11.Login(s, pkcs11.CKU_SO, string(soPIN)); err != nil {
				return &Error{Op: "security officer login", Kind: kindOf(codeOr(err)), Err: err}
			}
			kek, genErr := c.p11.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, kekTemplate(specs[AES256]))
			if err := c.p11.Logout(s); err != nil && genErr == nil {
				genErr = err
			}
			if genErr != nil {
				return genErr
			}
			// The public original must not outlive this call, whatever
			// happens below: anyone in this process could use it
			// without logging in.
			defer c.p11.DestroyObject(s, kek)
			if err := loginUser(c.p11, s, string(ks.cfg.PIN)); err != nil {
				return &Error{Op: "login", Kind: kindOf(codeOr(err)), Err: err}
			}
			h, err := c.p11.CopyObject(s, kek, kekCopyTemplate(label, id))
			if err != nil {
				return err
			}
			if err := refuseRace(c.p11, s, label, []pkcs11.ObjectHandle{h}); err != nil {
				return err
			}
			key, err = describe(c.p11, s, h)
			return err
		})
	})
	return key, err
}

func codeOr(err error) uint {
	c, _ := Code(err)
	return c
}

// findKEK finds a key-encryption key by label and checks it may wrap.
func findKEK(c *conn, s pkcs11.SessionHandle, label string) (pkcs11.ObjectHandle, []byte, error) {
	h, err := findKeyByLabel(c.p11, s, label)
	if err != nil {
		return 0, nil, err
	}
	k, err := describe(c.p11, s, h)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case k.ckk != pkcs11.CKK_AES:
		return 0, nil, fmt.Errorf("%w: %q is %s, not an AES key-encryption key", ErrWrongKeyType, label, k.Type)
	case !k.Attrs.Trusted:
		return 0, nil, fmt.Errorf("%w: %q lacks CKA_TRUSTED; make KEKs with `segl keys generate --type aes-256`", ErrNotTrusted, label)
	case !k.Attrs.Wrap || !k.Attrs.Unwrap || k.Attrs.Decrypt || k.Attrs.Encrypt || k.Attrs.Extractable:
		return 0, nil, fmt.Errorf("%w: %q must wrap and unwrap only and never leave the HSM (has %s)", ErrWrongKeyType, label, k.Attrs)
	}
	return h, k.ID, nil
}

// kekByID finds the KEK a blob names, caching the handle for the life of
// the connection.
func (c *conn) kekByID(s pkcs11.SessionHandle, id []byte) (pkcs11.ObjectHandle, error) {
	c.mu.Lock()
	h, ok := c.keks[string(id)]
	c.mu.Unlock()
	if ok {
		return h, nil
	}
	h, err := findOne(c.p11, s, []*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		attr(pkcs11.CKA_TOKEN, true),
		attr(pkcs11.CKA_ID, id),
	}, fmt.Sprintf("the key-encryption key with ID %x", id))
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.keks[string(id)] = h
	c.mu.Unlock()
	return h, nil
}

// wrapMechanism returns the mechanism to wrap with, and its IV if any.
func wrapMechanism(c *conn, s pkcs11.SessionHandle) (*pkcs11.Mechanism, []byte, error) {
	switch c.wrap {
	case pkcs11.CKM_AES_KEY_WRAP_PAD:
		return pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil), nil, nil
	case pkcs11.CKM_AES_CBC_PAD:
		iv, err := c.p11.GenerateRandom(s, 16)
		if err != nil {
			return nil, nil, err
		}
		return pkcs11.NewMechanism(pkcs11.CKM_AES_CBC_PAD, iv), iv, nil
	}
	return nil, nil, fmt.Errorf("%w: the module has neither CKM_AES_KEY_WRAP_PAD nor CKM_AES_CBC_PAD to wrap keys with", ErrMechanismUnsupported)
}

// GenerateWrapped generates a key inside the HSM as a session object,
// wraps it under the KEK with the label, destroys it and returns the blob.
// The key's plaintext never leaves the HSM.
func (ks *Keystore) GenerateWrapped(kekLabel string, t KeyType) (*WrappedKey, error) {
	op := fmt.Sprintf("generate wrapped %s key under %q", t, kekLabel)
	spec, ok := specs[t]
	if !ok || t == AES256 {
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: fmt.Errorf("cannot make a wrapped key of type %q", t)}
	}
	var w *WrappedKey
	err := ks.use(op, func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			kek, kekID, err := findKEK(c, s, kekLabel)
			if err != nil {
				return err
			}
			mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(spec.gen, nil)}
			w = &WrappedKey{Type: t, KEKID: kekID}
			var h pkcs11.ObjectHandle
			if spec.class == pkcs11.CKO_PRIVATE_KEY {
				pubT, privT := privateTemplate(spec, "", nil, toWrap)
				pub, priv, err := c.p11.GenerateKeyPair(s, mech, pubT, privT)
				if err != nil {
					return err
				}
				defer c.p11.DestroyObject(s, pub)
				defer c.p11.DestroyObject(s, priv)
				pk, err := publicKey(c.p11, s, pub, spec.ckk)
				if err != nil {
					return err
				}
				if w.Public, err = marshalPublic(pk); err != nil {
					return err
				}
				h = priv
			} else {
				h, err = c.p11.GenerateKey(s, mech, secretTemplate(spec, "", nil, toWrap))
				if err != nil {
					return err
				}
				defer c.p11.DestroyObject(s, h)
			}
			if madeToWrap != nil {
				madeToWrap(c.p11, s, h)
			}
			return wrapInto(c, s, kek, h, w)
		})
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// ImportSecret wraps a secret the caller holds (an OTP seed from a
// plaintext PSKC file, say) under the KEK with the label. The secret is in
// the caller's memory already; the HSM holds it only as long as it takes to
// wrap it, and the caller should zero its copy afterwards. Secrets that
// arrive encrypted should be unwrapped straight into the HSM instead.
func (ks *Keystore) ImportSecret(kekLabel string, secret []byte) (*WrappedKey, error) {
	op := fmt.Sprintf("import secret under %q", kekLabel)
	if len(secret) < minSecret || len(secret) > maxSecret {
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: fmt.Errorf("secret has %d bytes, want %d to %d", len(secret), minSecret, maxSecret)}
	}
	return ks.importWrapped(op, kekLabel, HMACSecret, append([]*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		attr(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		attr(pkcs11.CKA_VALUE, secret),
	}, secretUse(false, true)...))
}

// importWrapped creates a session object from a template that holds the
// key's value, wraps it under the KEK with the label as a blob of type t,
// and destroys it.
func (ks *Keystore) importWrapped(op, kekLabel string, t KeyType, tmpl []*pkcs11.Attribute) (*WrappedKey, error) {
	var w *WrappedKey
	err := ks.use(op, func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			kek, kekID, err := findKEK(c, s, kekLabel)
			if err != nil {
				return err
			}
			h, err := c.p11.CreateObject(s, tmpl)
			if err != nil {
				return err
			}
			defer c.p11.DestroyObject(s, h)
			if madeToWrap != nil {
				madeToWrap(c.p11, s, h)
			}
			w = &WrappedKey{Type: t, KEKID: kekID}
			return wrapInto(c, s, kek, h, w)
		})
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func wrapInto(c *conn, s pkcs11.SessionHandle, kek, h pkcs11.ObjectHandle, w *WrappedKey) error {
	mech, iv, err := wrapMechanism(c, s)
	if err != nil {
		return err
	}
	ct, err := c.p11.WrapKey(s, []*pkcs11.Mechanism{mech}, kek, h)
	if isCode(err, pkcs11.CKR_KEY_NOT_WRAPPABLE) && w.Type == Ed25519 {
		return fmt.Errorf("%w: this HSM cannot wrap Ed25519 keys (SoftHSM 2.6 wraps RSA, EC and secret keys only); keep Ed25519 keys on the token: %w", ErrKeyNotWrappable, err)
	}
	if err != nil {
		return err
	}
	w.Mechanism, w.IV, w.Ciphertext = mech.Mechanism, iv, ct
	return nil
}

// unwrap makes a session object of w inside the HSM.
func unwrap(c *conn, s pkcs11.SessionHandle, w *WrappedKey) (pkcs11.ObjectHandle, error) {
	kek, err := c.kekByID(s, w.KEKID)
	if err != nil {
		return 0, err
	}
	h, err := c.p11.UnwrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(w.Mechanism, w.IV)}, kek, w.Ciphertext, unwrapTemplate(w.spec()))
	if err != nil {
		if isCode(err, pkcs11.CKR_GENERAL_ERROR) {
			// SoftHSM's only answer to a wrong KEK or a damaged blob.
			return 0, &Error{Op: "unwrap", Kind: ErrUnwrapFailed, Err: err}
		}
		return 0, err
	}
	c.unwraps.Add(1)
	return h, nil
}

// wrappedRef is a key held as a blob; object unwraps it, or finds it in the
// cache of unwrapped session objects.
type wrappedRef struct {
	ks  *Keystore
	w   *WrappedKey
	key [32]byte
}

func (ks *Keystore) newWrappedRef(w *WrappedKey) *wrappedRef {
	h := sha256.New()
	h.Write(w.KEKID)
	h.Write([]byte{0})
	h.Write(w.Ciphertext)
	r := &wrappedRef{ks: ks, w: w}
	h.Sum(r.key[:0])
	return r
}

func (r *wrappedRef) object(c *conn, s pkcs11.SessionHandle) (pkcs11.ObjectHandle, func(), error) {
	return r.ks.cache.get(c, s, r.key, func() (pkcs11.ObjectHandle, error) { return unwrap(c, s, r.w) })
}

// WrappedSigner returns a crypto.Signer for a wrapped key pair. Nothing is
// unwrapped until the first Sign.
func (ks *Keystore) WrappedSigner(w *WrappedKey) (*Signer, error) {
	if err := w.check(); err != nil {
		return nil, &Error{Op: "open wrapped signer", Kind: ErrBadWrappedKey, Err: err}
	}
	if !w.Type.Asymmetric() {
		return nil, &Error{Op: "open wrapped signer", Kind: ErrWrongKeyType, Err: fmt.Errorf("a wrapped %s cannot sign; use WrappedHMAC", w.Type)}
	}
	pub, err := w.PublicKey()
	if err != nil {
		return nil, &Error{Op: "open wrapped signer", Kind: ErrBadWrappedKey, Err: err}
	}
	return &Signer{ks: ks, name: fmt.Sprintf("wrapped %s key", w.Type), pub: pub, ref: ks.newWrappedRef(w)}, nil
}

// WrappedHMAC returns an HMACKey for a wrapped secret.
func (ks *Keystore) WrappedHMAC(w *WrappedKey) (*HMACKey, error) {
	if err := w.check(); err != nil {
		return nil, &Error{Op: "open wrapped HMAC key", Kind: ErrBadWrappedKey, Err: err}
	}
	if !w.Type.HMAC() {
		return nil, &Error{Op: "open wrapped HMAC key", Kind: ErrWrongKeyType, Err: fmt.Errorf("a wrapped %s key is not an HMAC secret", w.Type)}
	}
	return &HMACKey{ks: ks, name: "wrapped HMAC secret", ref: ks.newWrappedRef(w)}, nil
}

// PublicKey returns the public key recorded in a wrapped key pair.
func (w *WrappedKey) PublicKey() (crypto.PublicKey, error) {
	if len(w.Public) == 0 {
		return nil, errors.New("a wrapped secret has no public key")
	}
	return parsePublic(w.Type, w.Public)
}

// Stats counts what the Keystore has done, for benchmarks and metrics.
type Stats struct {
	Unwraps    uint64 // C_UnwrapKey calls that succeeded, this connection
	CacheHits  uint64 // uses of a wrapped key served from the cache
	CacheLive  int    // unwrapped session objects held by the cache
	Reconnects uint64 // connections made after the first
}

// Stats returns the Keystore's counters.
func (ks *Keystore) Stats() Stats {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	st := ks.cache.stats()
	if ks.cur != nil {
		st.Unwraps = ks.cur.unwraps.Load()
	}
	if ks.epoch > 0 {
		st.Reconnects = ks.epoch - 1
	}
	return st
}
