package hsm_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm/softhsmtest"
)

func TestDataObjects(t *testing.T) {
	tok, ks := softhsmtest.Open(t)
	if _, err := ks.Data("anchor"); !errors.Is(err, hsm.ErrDataNotFound) {
		t.Fatalf("a missing data object: %v", err)
	}
	if err := ks.SetData("anchor", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := ks.SetData("anchor", []byte("two, longer than the first")); err != nil {
		t.Fatal(err)
	}
	if got, err := ks.Data("anchor"); err != nil || string(got) != "two, longer than the first" {
		t.Fatalf("read back %q %v", got, err)
	}
	// Private and modifiable, on the token, marked as Segl's; found by an
	// independent PKCS#11 client only after login.
	r := newRaw(t, tok)
	hs := r.find(t, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA), pkcs11.NewAttribute(pkcs11.CKA_LABEL, "anchor"))
	if len(hs) != 1 {
		t.Fatalf("%d data objects labelled anchor", len(hs))
	}
	got, err := r.p.GetAttributeValue(r.s, hs[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, nil), pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[0].Value, []byte{1}) || !bytes.Equal(got[1].Value, []byte{1}) || string(got[2].Value) != hsm.DataApplication {
		t.Fatalf("attributes token=%v private=%v application=%q", got[0].Value, got[1].Value, got[2].Value)
	}
	// A write that crashed part-way, as another client leaves it: a
	// pending object beside the value is ignored (and cleared by the next
	// write); a pending object alone is the value.
	pending := func(v string) pkcs11.ObjectHandle {
		h, err := r.p.CreateObject(r.s, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA), pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true), pkcs11.NewAttribute(pkcs11.CKA_LABEL, "anchor.pending"),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, []byte(v))})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	pending("half-written")
	if got, err := ks.Data("anchor"); err != nil || string(got) != "two, longer than the first" {
		t.Fatalf("with a stale pending object: %q %v", got, err)
	}
	if err := ks.SetData("anchor", []byte("three")); err != nil {
		t.Fatal(err)
	}
	if n := len(r.find(t, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA))); n != 1 {
		t.Fatalf("%d data objects after a write, want 1", n)
	}
	if err := r.p.DestroyObject(r.s, r.find(t, pkcs11.NewAttribute(pkcs11.CKA_LABEL, "anchor"))[0]); err != nil {
		t.Fatal(err)
	}
	pending("two, longer than the first")
	if got, err := ks.Data("anchor"); err != nil || string(got) != "two, longer than the first" {
		t.Fatalf("with only the pending object: %q %v", got, err)
	}
	if err := ks.SetData("anchor", []byte("two, longer than the first")); err != nil {
		t.Fatal(err)
	}
	if n := len(r.find(t, pkcs11.NewAttribute(pkcs11.CKA_LABEL, "anchor"))); n != 1 {
		t.Fatalf("%d objects labelled anchor after mending", n)
	}
	// It survives the keystore: a new process would read it back.
	ks.Close()
	ks2, err := hsm.Open(tok.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer ks2.Close()
	if got, err := ks2.Data("anchor"); err != nil || string(got) != "two, longer than the first" {
		t.Fatalf("after reopening: %q %v", got, err)
	}
	// A key's label is not a data object's, and the reverse.
	if _, err := ks2.Generate("audit", hsm.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	if err := ks2.SetData("audit", []byte("x")); !errors.Is(err, hsm.ErrLabelExists) {
		t.Fatalf("a data object over a key's label: %v", err)
	}
	if _, err := ks2.Generate("anchor", hsm.ECDSAP256); !errors.Is(err, hsm.ErrLabelExists) {
		t.Fatalf("a key over a data object's label: %v", err)
	}
	if err := ks2.SetData("big", make([]byte, hsm.MaxData+1)); !errors.Is(err, hsm.ErrBadInput) {
		t.Fatalf("an oversized value: %v", err)
	}
	if err := ks2.DeleteData("anchor"); err != nil {
		t.Fatal(err)
	}
	if _, err := ks2.Data("anchor"); !errors.Is(err, hsm.ErrDataNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// A panic inside an operation must not leave the keystore locked: Close
// (which takes the lock exclusively) would hang for ever.
func TestPanicReleasesKeystore(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	hsm.SetInUse(t, func() { panic("injected") })
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the injected panic did not happen")
			}
		}()
		ks.List()
	}()
	hsm.SetInUse(t, nil)
	done := make(chan struct{})
	go func() {
		ks.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung: the panic left the keystore read-locked")
	}
}
