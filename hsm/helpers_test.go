package hsm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha256" // the hashes the tests name
	_ "crypto/sha512"
	"errors"
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm"
)

// raw is a second PKCS#11 handle on the module a Keystore uses, as another
// library in the same process would have one. Login state belongs to the
// process, so it sees the Keystore's private objects.
type raw struct {
	p    *pkcs11.Ctx
	slot uint
	s    pkcs11.SessionHandle
}

func newRaw(t *testing.T, tok *softhsm.Token) *raw {
	t.Helper()
	p := pkcs11.New(tok.Module)
	if p == nil {
		t.Fatalf("load %s", tok.Module)
	}
	if err := p.Initialize(); err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		t.Fatal(err)
	}
	r := &raw{p: p, slot: slotOf(t, p, tok.Label)}
	s, err := p.OpenSession(r.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	r.s = s
	t.Cleanup(func() {
		_ = p.CloseSession(s)
		p.Destroy()
	})
	return r
}

func slotOf(t *testing.T, p *pkcs11.Ctx, label string) uint {
	t.Helper()
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && ti.Label == label {
			return s
		}
	}
	t.Fatalf("no token %q", label)
	return 0
}

func (r *raw) find(t *testing.T, tmpl ...*pkcs11.Attribute) []pkcs11.ObjectHandle {
	t.Helper()
	if err := r.p.FindObjectsInit(r.s, tmpl); err != nil {
		t.Fatal(err)
	}
	hs, _, err := r.p.FindObjects(r.s, 1000)
	if ferr := r.p.FindObjectsFinal(r.s); err == nil {
		err = ferr
	}
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// key returns the one token object of the class with the label.
func (r *raw) key(t *testing.T, class uint, label string) pkcs11.ObjectHandle {
	t.Helper()
	hs := r.find(t, pkcs11.NewAttribute(pkcs11.CKA_CLASS, class), pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
	if len(hs) != 1 {
		t.Fatalf("%d objects of class %d labelled %q, want 1", len(hs), class, label)
	}
	return hs[0]
}

// sessionKeyHandles returns the private and secret session objects:
// unwrapped keys, and anything else the package might leave behind.
func (r *raw) sessionKeyHandles(t *testing.T) []pkcs11.ObjectHandle {
	t.Helper()
	var hs []pkcs11.ObjectHandle
	for _, class := range []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_SECRET_KEY} {
		hs = append(hs, r.find(t, pkcs11.NewAttribute(pkcs11.CKA_CLASS, class), pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false))...)
	}
	return hs
}

func (r *raw) boolAttr(t *testing.T, h pkcs11.ObjectHandle, a uint) bool {
	t.Helper()
	got, err := r.p.GetAttributeValue(r.s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(a, nil)})
	if err != nil {
		t.Fatalf("read attribute 0x%x: %v", a, err)
	}
	return len(got[0].Value) == 1 && got[0].Value[0] == 1
}

func isCode(err error, code uint) bool {
	c, ok := hsm.Code(err)
	return ok && c == code
}

// wantErr fails unless err is target, and the message names it.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

// signAndVerify signs a message with s the way the key type expects and
// checks the signature with the standard library.
func signAndVerify(t *testing.T, s crypto.Signer, msg []byte, opts crypto.SignerOpts) {
	t.Helper()
	if err := trySignAndVerify(s, msg, opts); err != nil {
		t.Fatal(err)
	}
}

func trySignAndVerify(s crypto.Signer, msg []byte, opts crypto.SignerOpts) error {
	digest := msg
	if h := opts.HashFunc(); h != 0 {
		hh := h.New()
		hh.Write(msg)
		digest = hh.Sum(nil)
	}
	sig, err := s.Sign(nil, digest, opts)
	if err != nil {
		return err
	}
	if !verify(s.Public(), msg, digest, sig, opts) {
		return fmt.Errorf("the standard library rejects the HSM's %T signature", s.Public())
	}
	// The same signature must not verify another message.
	other := append([]byte("not "), msg...)
	if opts.HashFunc() != 0 {
		hh := opts.HashFunc().New()
		hh.Write(other)
		if verify(s.Public(), other, hh.Sum(nil), sig, opts) {
			return errors.New("signature verifies a different message")
		}
	} else if verify(s.Public(), other, other, sig, opts) {
		return errors.New("signature verifies a different message")
	}
	return nil
}

func verify(pub crypto.PublicKey, msg, digest, sig []byte, opts crypto.SignerOpts) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(k, opts.HashFunc(), digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: pss.Hash}) == nil
		}
		return rsa.VerifyPKCS1v15(k, opts.HashFunc(), digest, sig) == nil
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	}
	return false
}
