package hsm

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// idLen is the length of the CKA_ID the package gives each key, drawn from
// the HSM's RNG.
const idLen = 16

// Key describes a private or secret key on the token.
type Key struct {
	Label string
	ID    []byte
	Type  KeyType
	Attrs Attributes

	class, ckk uint
}

// Attributes are a key's security and usage attributes as the HSM reports
// them.
type Attributes struct {
	Token, Private, Modifiable, Copyable bool
	Sensitive, AlwaysSensitive           bool
	Extractable, NeverExtractable        bool
	Trusted, WrapWithTrusted             bool
	Sign, Verify, Encrypt, Decrypt       bool
	Wrap, Unwrap, Derive                 bool
}

// String lists the attributes that are set, for `segl keys list`.
func (a Attributes) String() string {
	var out []string
	add := func(on bool, name string) {
		if on {
			out = append(out, name)
		}
	}
	add(a.Sensitive, "sensitive")
	add(a.AlwaysSensitive, "always-sensitive")
	add(a.Extractable, "EXTRACTABLE")
	add(a.NeverExtractable, "never-extractable")
	add(a.Private, "private")
	add(a.Trusted, "trusted")
	add(a.WrapWithTrusted, "wrap-with-trusted")
	add(a.Modifiable, "modifiable")
	add(a.Sign, "sign")
	add(a.Verify, "verify")
	add(a.Encrypt, "encrypt")
	add(a.Decrypt, "decrypt")
	add(a.Wrap, "wrap")
	add(a.Unwrap, "unwrap")
	add(a.Derive, "derive")
	return strings.Join(out, ",")
}

var keyAttrTypes = []uint{
	pkcs11.CKA_CLASS, pkcs11.CKA_KEY_TYPE, pkcs11.CKA_LABEL, pkcs11.CKA_ID,
	pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE, pkcs11.CKA_MODIFIABLE, pkcs11.CKA_COPYABLE,
	pkcs11.CKA_SENSITIVE, pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_NEVER_EXTRACTABLE,
	pkcs11.CKA_TRUSTED, pkcs11.CKA_WRAP_WITH_TRUSTED,
	pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY, pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT,
	pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP, pkcs11.CKA_DERIVE,
	pkcs11.CKA_EC_PARAMS, pkcs11.CKA_MODULUS, pkcs11.CKA_VALUE_LEN,
}

// describe reads what Segl shows of a key.
func describe(p *pkcs11.Ctx, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (*Key, error) {
	m, err := attrs(p, s, h, keyAttrTypes...)
	if err != nil {
		return nil, err
	}
	ckk, _ := ulongAttr(m, pkcs11.CKA_KEY_TYPE)
	class, _ := ulongAttr(m, pkcs11.CKA_CLASS)
	valueLen, _ := ulongAttr(m, pkcs11.CKA_VALUE_LEN)
	k := &Key{
		class: class,
		Label: string(m[pkcs11.CKA_LABEL]),
		ID:    m[pkcs11.CKA_ID],
		Type:  typeOf(ckk, m[pkcs11.CKA_EC_PARAMS], len(m[pkcs11.CKA_MODULUS])*8, int(valueLen)),
		ckk:   ckk,
		Attrs: Attributes{
			Token:            boolAttr(m, pkcs11.CKA_TOKEN),
			Private:          boolAttr(m, pkcs11.CKA_PRIVATE),
			Modifiable:       boolAttr(m, pkcs11.CKA_MODIFIABLE),
			Copyable:         boolAttr(m, pkcs11.CKA_COPYABLE),
			Sensitive:        boolAttr(m, pkcs11.CKA_SENSITIVE),
			AlwaysSensitive:  boolAttr(m, pkcs11.CKA_ALWAYS_SENSITIVE),
			Extractable:      boolAttr(m, pkcs11.CKA_EXTRACTABLE),
			NeverExtractable: boolAttr(m, pkcs11.CKA_NEVER_EXTRACTABLE),
			Trusted:          boolAttr(m, pkcs11.CKA_TRUSTED),
			WrapWithTrusted:  boolAttr(m, pkcs11.CKA_WRAP_WITH_TRUSTED),
			Sign:             boolAttr(m, pkcs11.CKA_SIGN),
			Verify:           boolAttr(m, pkcs11.CKA_VERIFY),
			Encrypt:          boolAttr(m, pkcs11.CKA_ENCRYPT),
			Decrypt:          boolAttr(m, pkcs11.CKA_DECRYPT),
			Wrap:             boolAttr(m, pkcs11.CKA_WRAP),
			Unwrap:           boolAttr(m, pkcs11.CKA_UNWRAP),
			Derive:           boolAttr(m, pkcs11.CKA_DERIVE),
		},
	}
	return k, nil
}

// checkLabel refuses labels that would be confusing in a listing or a log.
func checkLabel(label string) error {
	switch {
	case label == "":
		return fmt.Errorf("%w: a key needs a label", ErrBadInput)
	case len(label) > 64:
		return fmt.Errorf("%w: label is %d bytes, at most 64", ErrBadInput, len(label))
	case !utf8.ValidString(label):
		return fmt.Errorf("%w: label is not UTF-8", ErrBadInput)
	case strings.IndexFunc(label, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) && r != ' ' }) >= 0:
		return fmt.Errorf("%w: label %q has control characters", ErrBadInput, label)
	case strings.TrimSpace(label) != label:
		return fmt.Errorf("%w: label %q starts or ends with a space", ErrBadInput, label)
	}
	return nil
}

// Generate makes a new persistent, non-extractable key on the token. It
// refuses a label that any object on the token already has. AES256 keys are
// key-encryption keys and need the security officer: see GenerateKEK.
func (ks *Keystore) Generate(label string, t KeyType) (*Key, error) {
	op := fmt.Sprintf("generate %s key %q", t, label)
	spec, ok := specs[t]
	if !ok {
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: fmt.Errorf("unknown key type %q", t)}
	}
	if t == AES256 {
		return nil, &Error{Op: op, Kind: ErrNotTrusted, Err: errors.New("an AES key here is a key-encryption key and must be CKA_TRUSTED, which only the security officer can set: use GenerateKEK")}
	}
	if err := checkLabel(label); err != nil {
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: err}
	}
	ks.gen.Lock()
	defer ks.gen.Unlock()
	var key *Key
	err := ks.use(op, func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			if err := refuseExisting(c.p11, s, label); err != nil {
				return err
			}
			id, err := c.p11.GenerateRandom(s, idLen)
			if err != nil {
				return err
			}
			var made []pkcs11.ObjectHandle
			var h pkcs11.ObjectHandle
			if spec.class == pkcs11.CKO_PRIVATE_KEY {
				pubT, privT := privateTemplate(spec, label, id, onToken)
				pub, priv, err := c.p11.GenerateKeyPair(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(spec.gen, nil)}, pubT, privT)
				if err != nil {
					return err
				}
				made, h = []pkcs11.ObjectHandle{priv, pub}, priv
			} else {
				h, err = c.p11.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(spec.gen, nil)}, secretTemplate(spec, label, id, onToken))
				if err != nil {
					return err
				}
				made = []pkcs11.ObjectHandle{h}
			}
			if err := refuseRace(c.p11, s, label, made); err != nil {
				return err
			}
			key, err = describe(c.p11, s, h)
			return err
		})
	})
	return key, err
}

func refuseExisting(p *pkcs11.Ctx, s pkcs11.SessionHandle, label string) error {
	n, err := countLabel(p, s, label)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: %q (pick another label, or delete the old key first)", ErrLabelExists, label)
	}
	return nil
}

// refuseRace undoes a generation when another process created the same
// label between our check and our generation: the lock in this process
// cannot see other processes.
func refuseRace(p *pkcs11.Ctx, s pkcs11.SessionHandle, label string, made []pkcs11.ObjectHandle) error {
	n, err := countLabel(p, s, label)
	if err != nil || n == len(made) {
		return err
	}
	for _, h := range made {
		_ = p.DestroyObject(s, h)
	}
	return fmt.Errorf("%w: %q was created by another process at the same moment", ErrLabelExists, label)
}

// Find returns the key with the label.
func (ks *Keystore) Find(label string) (*Key, error) {
	var key *Key
	err := ks.use(fmt.Sprintf("find key %q", label), func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			h, err := findKeyByLabel(c.p11, s, label)
			if err != nil {
				return err
			}
			key, err = describe(c.p11, s, h)
			return err
		})
	})
	return key, err
}

// List returns every private and secret key on the token, sorted by label.
func (ks *Keystore) List() ([]*Key, error) {
	var keys []*Key
	err := ks.use("list keys", func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			for _, class := range []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_SECRET_KEY} {
				hs, err := findObjects(c.p11, s, []*pkcs11.Attribute{
					attr(pkcs11.CKA_CLASS, class),
					attr(pkcs11.CKA_TOKEN, true),
				}, 0)
				if err != nil {
					return err
				}
				for _, h := range hs {
					k, err := describe(c.p11, s, h)
					if err != nil {
						return err
					}
					keys = append(keys, k)
				}
			}
			return nil
		})
	})
	slices.SortFunc(keys, func(a, b *Key) int { return strings.Compare(a.Label, b.Label) })
	return keys, err
}

// Delete destroys the key with the label, and its public half.
func (ks *Keystore) Delete(label string) error {
	return ks.use(fmt.Sprintf("delete key %q", label), func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			h, err := findKeyByLabel(c.p11, s, label)
			if err != nil {
				return err
			}
			pubs, err := publicHalves(c.p11, s, h)
			if err != nil {
				return err
			}
			if err := c.p11.DestroyObject(s, h); err != nil {
				return err
			}
			for _, pub := range pubs {
				if err := c.p11.DestroyObject(s, pub); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// publicHalves finds the public-key objects of a private key: same CKA_ID
// when it has one, else same label.
func publicHalves(p *pkcs11.Ctx, s pkcs11.SessionHandle, priv pkcs11.ObjectHandle) ([]pkcs11.ObjectHandle, error) {
	m, err := attrs(p, s, priv, pkcs11.CKA_CLASS, pkcs11.CKA_ID, pkcs11.CKA_LABEL)
	if err != nil {
		return nil, err
	}
	if class, _ := ulongAttr(m, pkcs11.CKA_CLASS); class != pkcs11.CKO_PRIVATE_KEY {
		return nil, nil
	}
	tmpl := []*pkcs11.Attribute{attr(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), attr(pkcs11.CKA_TOKEN, true)}
	if id := m[pkcs11.CKA_ID]; len(id) > 0 {
		tmpl = append(tmpl, attr(pkcs11.CKA_ID, id))
	} else {
		tmpl = append(tmpl, attr(pkcs11.CKA_LABEL, m[pkcs11.CKA_LABEL]))
	}
	return findObjects(p, s, tmpl, 0)
}

// PublicKey returns the public key of the key pair with the label.
func (ks *Keystore) PublicKey(label string) (crypto.PublicKey, error) {
	var pub crypto.PublicKey
	err := ks.use(fmt.Sprintf("read public key %q", label), func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			h, err := findKeyByLabel(c.p11, s, label)
			if err != nil {
				return err
			}
			pub, _, err = tokenPublicKey(c.p11, s, h)
			return err
		})
	})
	return pub, err
}

// tokenPublicKey reads the public key that belongs to private key priv.
func tokenPublicKey(p *pkcs11.Ctx, s pkcs11.SessionHandle, priv pkcs11.ObjectHandle) (crypto.PublicKey, uint, error) {
	m, err := attrs(p, s, priv, pkcs11.CKA_CLASS, pkcs11.CKA_KEY_TYPE)
	if err != nil {
		return nil, 0, err
	}
	class, _ := ulongAttr(m, pkcs11.CKA_CLASS)
	ckk, _ := ulongAttr(m, pkcs11.CKA_KEY_TYPE)
	if class != pkcs11.CKO_PRIVATE_KEY {
		return nil, ckk, fmt.Errorf("%w: a secret key has no public key", ErrWrongKeyType)
	}
	pubs, err := publicHalves(p, s, priv)
	if err != nil {
		return nil, ckk, err
	}
	switch len(pubs) {
	case 0:
		return nil, ckk, fmt.Errorf("%w: the key pair's public-key object is missing", ErrKeyNotFound)
	case 1:
	default:
		return nil, ckk, fmt.Errorf("%w: the key pair has %d public-key objects", ErrAmbiguousKey, len(pubs))
	}
	pub, err := publicKey(p, s, pubs[0], ckk)
	return pub, ckk, err
}

// keyRef finds the object handle of a key in the current connection. It is
// what Signer and HMACKey use, whether the key is a token object or a
// wrapped blob.
type keyRef interface {
	// object returns a handle valid in c, and a function to call when the
	// caller no longer uses it; s is the caller's session.
	object(c *conn, s pkcs11.SessionHandle) (pkcs11.ObjectHandle, func(), error)
}

// tokenRef is a token key, known by its CKA_ID. Handles are looked up
// again after every reconnection: the old ones mean nothing to the new
// connection.
type tokenRef struct {
	id       []byte
	class    uint
	label    string
	resolved atomic.Pointer[resolvedKey]
}

type resolvedKey struct {
	epoch uint64
	h     pkcs11.ObjectHandle
	c11   crypto11.Signer // EC and RSA key pairs, signed through crypto11
}

func (r *tokenRef) object(c *conn, s pkcs11.SessionHandle) (pkcs11.ObjectHandle, func(), error) {
	if k := r.resolved.Load(); k != nil && k.epoch == c.epoch {
		return k.h, noop, nil
	}
	tmpl := []*pkcs11.Attribute{attr(pkcs11.CKA_CLASS, r.class), attr(pkcs11.CKA_TOKEN, true)}
	if len(r.id) > 0 {
		tmpl = append(tmpl, attr(pkcs11.CKA_ID, r.id))
	} else { // a key made by another tool without an ID
		tmpl = append(tmpl, attr(pkcs11.CKA_LABEL, r.label))
	}
	h, err := findOne(c.p11, s, tmpl, fmt.Sprintf("key %q (ID %x)", r.label, r.id))
	if err != nil {
		return 0, nil, err
	}
	k := &resolvedKey{epoch: c.epoch, h: h}
	if old := r.resolved.Load(); old != nil && old.epoch == c.epoch {
		k.c11 = old.c11
	}
	r.resolved.Store(k)
	return h, noop, nil
}

// crypto11Signer returns crypto11's signer for the key pair in c.
func (r *tokenRef) crypto11Signer(c *conn) (crypto11.Signer, error) {
	if k := r.resolved.Load(); k != nil && k.epoch == c.epoch && k.c11 != nil {
		return k.c11, nil
	}
	var label []byte
	if len(r.id) == 0 {
		label = []byte(r.label)
	}
	signers, err := c.c11.FindKeyPairs(r.id, label)
	if err != nil {
		return nil, err
	}
	switch len(signers) {
	case 0:
		return nil, fmt.Errorf("%w: key pair %q (ID %x)", ErrKeyNotFound, r.label, r.id)
	case 1:
	default:
		return nil, fmt.Errorf("%w: key pair %q (ID %x)", ErrAmbiguousKey, r.label, r.id)
	}
	k := &resolvedKey{epoch: c.epoch, c11: signers[0]}
	if old := r.resolved.Load(); old != nil && old.epoch == c.epoch {
		k.h = old.h
	}
	r.resolved.Store(k)
	return k.c11, nil
}

func noop() {}

// lookup finds a token key by label and returns what a Signer or HMACKey
// needs of it.
func (ks *Keystore) lookup(op, label string) (ref *tokenRef, t KeyType, pub crypto.PublicKey, err error) {
	err = ks.use(op, func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			h, err := findKeyByLabel(c.p11, s, label)
			if err != nil {
				return err
			}
			k, err := describe(c.p11, s, h)
			if err != nil {
				return err
			}
			if k.class == pkcs11.CKO_PRIVATE_KEY {
				if pub, _, err = tokenPublicKey(c.p11, s, h); err != nil {
					return err
				}
			}
			ref = &tokenRef{id: k.ID, class: k.class, label: label}
			ref.resolved.Store(&resolvedKey{epoch: c.epoch, h: h})
			t = k.Type
			return nil
		})
	})
	return ref, t, pub, err
}
