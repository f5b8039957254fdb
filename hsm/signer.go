package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/miekg/pkcs11"
)

// Signer is an asymmetric key in the HSM. ECDSA signatures come out in
// ASN.1 DER, RSA signatures as PKCS #1 v1.5 or PSS (pass *rsa.PSSOptions),
// Ed25519 signatures over the whole message (opts.HashFunc() must be 0).
//
// Token EC and RSA keys sign through crypto11; Ed25519 keys and unwrapped
// keys, which crypto11 cannot reach, sign through the package's own
// sessions. The rand argument of Sign is ignored: the HSM draws its own.
type Signer struct {
	ks    *Keystore
	name  string
	pub   crypto.PublicKey
	ref   keyRef
	token *tokenRef // set for token keys
}

var _ crypto.Signer = (*Signer)(nil)

// Signer returns the key pair with the label as a crypto.Signer.
func (ks *Keystore) Signer(label string) (*Signer, error) {
	op := fmt.Sprintf("open signer %q", label)
	ref, _, pub, err := ks.lookup(op, label)
	if err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, &Error{Op: op, Kind: ErrWrongKeyType, Err: errors.New("a secret key cannot sign; use HMAC")}
	}
	return &Signer{ks: ks, name: fmt.Sprintf("key %q", label), pub: pub, ref: ref, token: ref}, nil
}

// Public returns the public key.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Sign signs digest (the message itself for Ed25519) inside the HSM.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	op := "sign with " + s.name
	if opts == nil {
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: errors.New("no signer options; pass the hash used, or crypto.Hash(0) for Ed25519")}
	}
	mech, input, err := signMechanism(s.pub, digest, opts)
	if err != nil {
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: err}
	}
	var sig []byte
	err = s.ks.use(op, func(c *conn) error {
		if s.token != nil && mech.Mechanism != ckmEdDSA {
			signer, err := s.token.crypto11Signer(c)
			if err != nil {
				return err
			}
			sig, err = signer.Sign(nil, digest, crypto11Opts(opts))
			return err
		}
		return c.withSession(func(sess pkcs11.SessionHandle) error {
			h, release, err := s.ref.object(c, sess)
			if err != nil {
				return err
			}
			defer release()
			if err := c.p11.SignInit(sess, []*pkcs11.Mechanism{mech}, h); err != nil {
				return err
			}
			if sig, err = c.p11.Sign(sess, input); err != nil {
				return err
			}
			if mech.Mechanism == pkcs11.CKM_ECDSA {
				sig, err = ecdsaDER(sig)
			}
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// crypto11Opts adapts options crypto11 rejects but that mean the same to a
// verifier: PSS with "auto" salt length signs with a salt as long as the
// hash, which every PSS verifier that auto-detects accepts.
func crypto11Opts(opts crypto.SignerOpts) crypto.SignerOpts {
	if pss, ok := opts.(*rsa.PSSOptions); ok && pss.SaltLength == rsa.PSSSaltLengthAuto {
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: pss.Hash}
	}
	return opts
}

// signMechanism checks digest and opts against the key and returns the
// PKCS#11 mechanism and the bytes it signs.
func signMechanism(pub crypto.PublicKey, digest []byte, opts crypto.SignerOpts) (*pkcs11.Mechanism, []byte, error) {
	hash := opts.HashFunc()
	pss, isPSS := opts.(*rsa.PSSOptions)
	if _, isEd := pub.(ed25519.PublicKey); !isEd {
		if hash == 0 {
			return nil, nil, errors.New("no hash given: pass the hash the digest was made with")
		}
		if _, _, ok := pssParams(hash); !ok {
			return nil, nil, fmt.Errorf("unsupported hash %v: use SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512", hash)
		}
		if len(digest) != hash.Size() {
			return nil, nil, fmt.Errorf("digest has %d bytes but %v makes %d", len(digest), hash, hash.Size())
		}
	}
	switch pub.(type) {
	case *ecdsa.PublicKey:
		if isPSS {
			return nil, nil, errors.New("PSS is an RSA padding; this is an ECDSA key")
		}
		return pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil), digest, nil
	case ed25519.PublicKey:
		if hash != 0 {
			return nil, nil, fmt.Errorf("Ed25519 signs the message itself (pure EdDSA); got hash %v", hash)
		}
		if isPSS {
			return nil, nil, errors.New("PSS is an RSA padding; this is an Ed25519 key")
		}
		return pkcs11.NewMechanism(ckmEdDSA, nil), digest, nil
	case *rsa.PublicKey:
		hashMech, mgf, _ := pssParams(hash)
		if isPSS {
			salt := pss.SaltLength
			switch salt {
			case rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthEqualsHash:
				salt = hash.Size()
			}
			if salt < 0 {
				return nil, nil, fmt.Errorf("invalid PSS salt length %d", pss.SaltLength)
			}
			return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hashMech, mgf, uint(salt))), digest, nil
		}
		prefix := digestInfoPrefix[hash]
		return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil), append(append([]byte{}, prefix...), digest...), nil
	}
	return nil, nil, fmt.Errorf("unsupported public key type %T", pub)
}

func pssParams(h crypto.Hash) (hashMech, mgf uint, ok bool) {
	switch h {
	case crypto.SHA1:
		return pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, true
	case crypto.SHA224:
		return pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224, true
	case crypto.SHA256:
		return pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, true
	case crypto.SHA384:
		return pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384, true
	case crypto.SHA512:
		return pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512, true
	}
	return 0, 0, false
}

// digestInfoPrefix is the DER of DigestInfo up to the digest, which
// CKM_RSA_PKCS expects the caller to have put in front (RFC 8017 §9.2).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// ecdsaDER turns the r‖s that PKCS#11 returns into the ASN.1 DER
// Ecdsa-Sig-Value that Go, X.509 and openssl expect.
func ecdsaDER(rs []byte) ([]byte, error) {
	if len(rs) == 0 || len(rs)%2 != 0 {
		return nil, fmt.Errorf("the HSM returned an ECDSA signature of %d bytes", len(rs))
	}
	r := new(big.Int).SetBytes(rs[:len(rs)/2])
	s := new(big.Int).SetBytes(rs[len(rs)/2:])
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.Bytes()
}

// HMACKey is a secret key in the HSM that computes HMACs.
type HMACKey struct {
	ks   *Keystore
	name string
	ref  keyRef
}

// HMAC returns the secret key with the label for computing HMACs.
func (ks *Keystore) HMAC(label string) (*HMACKey, error) {
	op := fmt.Sprintf("open HMAC key %q", label)
	ref, t, _, err := ks.lookup(op, label)
	if err != nil {
		return nil, err
	}
	if !t.HMAC() {
		return nil, &Error{Op: op, Kind: ErrWrongKeyType, Err: fmt.Errorf("%s is not an HMAC key", t)}
	}
	return &HMACKey{ks: ks, name: fmt.Sprintf("key %q", label), ref: ref}, nil
}

// Sum returns HMAC-h(key, msg), computed inside the HSM.
func (k *HMACKey) Sum(h crypto.Hash, msg []byte) ([]byte, error) {
	op := fmt.Sprintf("HMAC-%v with %s", h, k.name)
	mech, ok := hmacMechanisms[h]
	if !ok {
		return nil, &Error{Op: op, Kind: ErrBadInput, Err: fmt.Errorf("no HMAC for hash %v", h)}
	}
	var mac []byte
	err := k.ks.use(op, func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			obj, release, err := k.ref.object(c, s)
			if err != nil {
				return err
			}
			defer release()
			if err := c.p11.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, obj); err != nil {
				return err
			}
			mac, err = c.p11.Sign(s, msg)
			return err
		})
	})
	return mac, err
}

var hmacMechanisms = map[crypto.Hash]uint{
	crypto.SHA1:   pkcs11.CKM_SHA_1_HMAC,
	crypto.SHA256: pkcs11.CKM_SHA256_HMAC,
	crypto.SHA384: pkcs11.CKM_SHA384_HMAC,
	crypto.SHA512: pkcs11.CKM_SHA512_HMAC,
}
