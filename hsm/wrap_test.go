package hsm_test

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm"
	"github.com/segl/segl/softhsm/softhsmtest"
)

// openWithKEK opens a keystore with the given cache size on a new token
// that has a KEK labelled "kek".
func openWithKEK(t *testing.T, cache int) (*softhsm.Token, *hsm.Keystore) {
	t.Helper()
	tok := softhsmtest.New(t)
	cfg := tok.Config()
	cfg.UnwrapCache = cache
	ks, err := hsm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		t.Fatal(err)
	}
	return tok, ks
}

// reload stores and parses a blob, as the daemon's database would.
func reload(t *testing.T, w *hsm.WrappedKey) *hsm.WrappedKey {
	t.Helper()
	b, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	w2, err := hsm.ParseWrappedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return w2
}

func TestWrappedSigners(t *testing.T) {
	_, ks := openWithKEK(t, 0)
	for _, tc := range []struct {
		typ  hsm.KeyType
		opts crypto.SignerOpts
	}{
		{hsm.ECDSAP256, crypto.SHA256},
		{hsm.ECDSAP384, crypto.SHA384},
		{hsm.RSA2048, crypto.SHA256},
		{hsm.RSA2048, &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}},
		{hsm.RSA3072, &rsa.PSSOptions{Hash: crypto.SHA384}},
	} {
		t.Run(fmt.Sprintf("%s/%v", tc.typ, tc.opts.HashFunc()), func(t *testing.T) {
			w, err := ks.GenerateWrapped("kek", tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ks.WrappedSigner(reload(t, w))
			if err != nil {
				t.Fatal(err)
			}
			signAndVerify(t, s, []byte("the user's document"), tc.opts)
			// Cached or not, the second signature is as good.
			signAndVerify(t, s, []byte("another document"), tc.opts)
		})
	}
}

// Two wrapped keys are two keys.
func TestWrappedKeysDiffer(t *testing.T) {
	_, ks := openWithKEK(t, 0)
	a, _ := ks.GenerateWrapped("kek", hsm.ECDSAP256)
	b, _ := ks.GenerateWrapped("kek", hsm.ECDSAP256)
	if bytes.Equal(a.Ciphertext, b.Ciphertext) || bytes.Equal(a.Public, b.Public) {
		t.Fatal("two wrapped keys are the same")
	}
}

// An imported secret computes the same HMAC as the standard library with
// the same key: the HSM path is HMAC and nothing else. The RFC 4226 key is
// 20 bytes, which SoftHSM 2.6 pads to 24 when it wraps; HMAC pads keys with
// zeros anyway, so the results agree.
func TestImportedSecretHMAC(t *testing.T) {
	_, ks := openWithKEK(t, 0)
	for _, tc := range []struct {
		key  string
		hash crypto.Hash
		new  func() hash.Hash
	}{
		{"12345678901234567890", crypto.SHA1, sha1.New},
		{"12345678901234567890123456789012", crypto.SHA256, sha256.New},
		{strings.Repeat("1234567890", 6) + "1234", crypto.SHA512, sha512.New},
	} {
		t.Run(tc.hash.String(), func(t *testing.T) {
			w, err := ks.ImportSecret("kek", []byte(tc.key))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(w.Ciphertext, []byte(tc.key[:10])) {
				t.Fatal("the blob holds the secret in clear")
			}
			k, err := ks.WrappedHMAC(reload(t, w))
			if err != nil {
				t.Fatal(err)
			}
			for _, msg := range []string{"\x00\x00\x00\x00\x00\x00\x00\x00", "SEGL-CODECARD-1", ""} {
				got, err := k.Sum(tc.hash, []byte(msg))
				if err != nil {
					t.Fatal(err)
				}
				m := hmac.New(tc.new, []byte(tc.key))
				m.Write([]byte(msg))
				if want := m.Sum(nil); !bytes.Equal(got, want) {
					t.Fatalf("HMAC(%q) = %x, want %x", msg, got, want)
				}
			}
		})
	}
	_, err := ks.ImportSecret("kek", []byte("short"))
	wantErr(t, err, hsm.ErrBadInput)
}

func TestGeneratedWrappedSeeds(t *testing.T) {
	_, ks := openWithKEK(t, 0)
	for _, tc := range []struct {
		typ  hsm.KeyType
		hash crypto.Hash
	}{{hsm.HMACSHA1, crypto.SHA1}, {hsm.HMACSHA256, crypto.SHA256}, {hsm.HMACSHA512, crypto.SHA512}} {
		w, err := ks.GenerateWrapped("kek", tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := ks.WrappedHMAC(reload(t, w))
		a, err := k.Sum(tc.hash, []byte("m"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := k.Sum(tc.hash, []byte("m"))
		if len(a) != tc.hash.Size() || !bytes.Equal(a, b) {
			t.Fatalf("%s: %x then %x", tc.typ, a, b)
		}
	}
}

func TestWrapRefusals(t *testing.T) {
	tok, ks := openWithKEK(t, 0)
	// SoftHSM 2.6 cannot wrap EdDSA keys: the error says so.
	_, err := ks.GenerateWrapped("kek", hsm.Ed25519)
	wantErr(t, err, hsm.ErrKeyNotWrappable)
	if !strings.Contains(err.Error(), "Ed25519") {
		t.Fatalf("error does not name Ed25519: %v", err)
	}
	_, err = ks.GenerateWrapped("kek", hsm.AES256)
	wantErr(t, err, hsm.ErrBadInput)
	_, err = ks.GenerateWrapped("no-such-kek", hsm.ECDSAP256)
	wantErr(t, err, hsm.ErrKeyNotFound)

	// Keys that are not trusted KEKs cannot wrap.
	ks.Generate("ec", hsm.ECDSAP256)
	_, err = ks.GenerateWrapped("ec", hsm.ECDSAP256)
	wantErr(t, err, hsm.ErrWrongKeyType)
	r := newRaw(t, tok)
	_, err = r.p.GenerateKey(r.s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "untrusted"),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte("untrusted")),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ks.GenerateWrapped("untrusted", hsm.ECDSAP256)
	wantErr(t, err, hsm.ErrNotTrusted)

	// Wrapped keys cannot be opened as the wrong kind.
	seed, _ := ks.GenerateWrapped("kek", hsm.HMACSHA256)
	pair, _ := ks.GenerateWrapped("kek", hsm.ECDSAP256)
	_, err = ks.WrappedSigner(seed)
	wantErr(t, err, hsm.ErrWrongKeyType)
	_, err = ks.WrappedHMAC(pair)
	wantErr(t, err, hsm.ErrWrongKeyType)
}

// A blob that was damaged, or is offered with the wrong KEK, fails to
// unwrap with a clear error and leaves nothing behind.
func TestUnwrapFailures(t *testing.T) {
	tok, ks := openWithKEK(t, hsm.NoUnwrapCache)
	other, err := ks.GenerateKEK("other-kek", tok.SOPIN)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ks.GenerateWrapped("kek", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(w *hsm.WrappedKey) error {
		s, err := ks.WrappedSigner(w)
		if err != nil {
			return err
		}
		_, err = s.Sign(nil, make([]byte, 32), crypto.SHA256)
		return err
	}
	flipped := *w
	flipped.Ciphertext = bytes.Clone(w.Ciphertext)
	flipped.Ciphertext[len(flipped.Ciphertext)/2] ^= 1
	wantErr(t, sign(&flipped), hsm.ErrUnwrapFailed)

	wrongKEK := *w
	wrongKEK.KEKID = other.ID
	wantErr(t, sign(&wrongKEK), hsm.ErrUnwrapFailed)

	unknownKEK := *w
	unknownKEK.KEKID = []byte("no such KEK")
	wantErr(t, sign(&unknownKEK), hsm.ErrKeyNotFound)

	// The good blob still works, and none of the failures left an object.
	if err := sign(w); err != nil {
		t.Fatal(err)
	}
	if n := len(newRaw(t, tok).sessionKeyHandles(t)); n != 0 {
		t.Fatalf("%d session keys left with the cache off", n)
	}
}

func TestUnwrapCache(t *testing.T) {
	tok, ks := openWithKEK(t, 2)
	r := newRaw(t, tok)
	var signers []crypto.Signer
	for range 3 {
		w, err := ks.GenerateWrapped("kek", hsm.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := ks.WrappedSigner(w)
		signers = append(signers, s)
	}
	use := func(i int) {
		t.Helper()
		signAndVerify(t, signers[i], []byte(fmt.Sprint("message ", i)), crypto.SHA256)
	}
	check := func(unwraps uint64, live int) {
		t.Helper()
		st := ks.Stats()
		if st.Unwraps != unwraps || st.CacheLive != live {
			t.Fatalf("stats %+v, want %d unwraps and %d cached", st, unwraps, live)
		}
		if n := len(r.sessionKeyHandles(t)); n != live {
			t.Fatalf("%d session keys in the HSM, want the %d cached", n, live)
		}
	}
	use(0)
	use(1)
	check(2, 2)
	use(0) // a hit
	check(2, 2)
	use(2) // evicts 1, the least recently used; its object is destroyed
	check(3, 2)
	use(0)
	check(3, 2)
	use(1) // unwrapped again
	check(4, 2)
	if st := ks.Stats(); st.CacheHits != 2 {
		t.Fatalf("%d cache hits, want 2", st.CacheHits)
	}
}

func TestNoUnwrapCache(t *testing.T) {
	tok, ks := openWithKEK(t, hsm.NoUnwrapCache)
	r := newRaw(t, tok)
	w, _ := ks.GenerateWrapped("kek", hsm.ECDSAP256)
	s, _ := ks.WrappedSigner(w)
	for i := range 3 {
		signAndVerify(t, s, []byte("m"), crypto.SHA256)
		if n := len(r.sessionKeyHandles(t)); n != 0 {
			t.Fatalf("%d session keys left after use", n)
		}
		if st := ks.Stats(); st.Unwraps != uint64(i+1) {
			t.Fatalf("%d unwraps after %d uses", st.Unwraps, i+1)
		}
	}
}

// Many goroutines over more keys than the cache holds: every signature is
// good, and the HSM holds no more unwrapped objects than the cache says.
func TestUnwrapCacheConcurrent(t *testing.T) {
	tok, ks := openWithKEK(t, 3)
	var signers []crypto.Signer
	for range 8 {
		w, err := ks.GenerateWrapped("kek", hsm.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := ks.WrappedSigner(w)
		signers = append(signers, s)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				if err := trySignAndVerify(signers[(g+i)%len(signers)], []byte("m"), crypto.SHA256); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, live := len(newRaw(t, tok).sessionKeyHandles(t)), ks.Stats().CacheLive; n != live || live > 3 {
		t.Fatalf("%d session keys in the HSM, %d in the cache (at most 3)", n, live)
	}
}

func TestParseWrappedKey(t *testing.T) {
	_, ks := openWithKEK(t, 0)
	w, _ := ks.GenerateWrapped("kek", hsm.ECDSAP256)
	good, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	rsaW, _ := ks.GenerateWrapped("kek", hsm.RSA2048)
	bad := map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-1],
		"trailing":  append(bytes.Clone(good), 0),
		"not DER":   []byte("ecdsa-p256 key"),
	}
	mutate := func(name string, f func(w *hsm.WrappedKey)) {
		c := *w
		f(&c)
		// Marshal refuses too; encode by hand through a valid key's bytes.
		if _, err := c.MarshalBinary(); !errors.Is(err, hsm.ErrBadWrappedKey) {
			t.Errorf("%s: MarshalBinary = %v, want ErrBadWrappedKey", name, err)
		}
	}
	mutate("unknown type", func(w *hsm.WrappedKey) { w.Type = "dsa-1024" })
	mutate("KEK as type", func(w *hsm.WrappedKey) { w.Type = hsm.AES256 })
	mutate("no KEK ID", func(w *hsm.WrappedKey) { w.KEKID = nil })
	mutate("unknown mechanism", func(w *hsm.WrappedKey) { w.Mechanism = pkcs11.CKM_AES_ECB })
	mutate("IV with key wrap", func(w *hsm.WrappedKey) { w.IV = make([]byte, 16) })
	mutate("short ciphertext", func(w *hsm.WrappedKey) { w.Ciphertext = w.Ciphertext[:8] })
	mutate("ragged ciphertext", func(w *hsm.WrappedKey) { w.Ciphertext = w.Ciphertext[:len(w.Ciphertext)-3] })
	mutate("public key of another type", func(w *hsm.WrappedKey) { w.Public = rsaW.Public })
	mutate("ECDSA claimed as P-384", func(w *hsm.WrappedKey) { w.Type = hsm.ECDSAP384 })
	mutate("secret with a public key", func(w *hsm.WrappedKey) { w.Type = hsm.HMACSHA256 })
	mutate("no public key", func(w *hsm.WrappedKey) { w.Public = nil })
	for name, b := range bad {
		if _, err := hsm.ParseWrappedKey(b); !errors.Is(err, hsm.ErrBadWrappedKey) {
			t.Errorf("%s: ParseWrappedKey = %v, want ErrBadWrappedKey", name, err)
		}
	}
	// A malformed blob is refused before the HSM is asked.
	c := *w
	c.Public = nil
	_, err = ks.WrappedSigner(&c)
	wantErr(t, err, hsm.ErrBadWrappedKey)
}

// On a module without CKM_AES_KEY_WRAP_PAD the Keystore falls back to
// CKM_AES_CBC_PAD, which SoftHSM 2.6 does not accept for wrapping: the
// module's refusal comes back as ErrMechanismUnsupported, provoked for real.
func TestWrapFallbackMechanism(t *testing.T) {
	_, ks := openWithKEK(t, 0)
	ks.ForceWrapMechanism(pkcs11.CKM_AES_CBC_PAD)
	_, err := ks.GenerateWrapped("kek", hsm.ECDSAP256)
	wantErr(t, err, hsm.ErrMechanismUnsupported)
	if !isCode(err, pkcs11.CKR_MECHANISM_INVALID) {
		t.Fatalf("error %v does not carry CKR_MECHANISM_INVALID", err)
	}
	ks.ForceWrapMechanism(0)
	_, err = ks.GenerateWrapped("kek", hsm.ECDSAP256)
	wantErr(t, err, hsm.ErrMechanismUnsupported)
}
