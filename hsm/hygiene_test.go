package hsm_test

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"errors"
	"slices"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm/softhsmtest"
)

// Key hygiene, checked through a second PKCS#11 handle rather than through
// the package's own view, for every kind of object the package makes.

// secretPart is the attribute that holds a key's secret.
func secretPart(class, ckk uint) uint {
	if class == pkcs11.CKO_PRIVATE_KEY && ckk == pkcs11.CKK_RSA {
		return pkcs11.CKA_PRIVATE_EXPONENT
	}
	return pkcs11.CKA_VALUE
}

type hygiene struct {
	r   *raw
	kek pkcs11.ObjectHandle
}

func (h hygiene) ulong(t *testing.T, obj pkcs11.ObjectHandle, a uint) uint {
	t.Helper()
	got, err := h.r.p.GetAttributeValue(h.r.s, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(a, nil)})
	if err != nil {
		t.Fatal(err)
	}
	var n uint
	for i := len(got[0].Value) - 1; i >= 0; i-- {
		n = n<<8 | uint(got[0].Value[i])
	}
	return n
}

// sealed checks what holds for every secret the package makes, wherever it
// lives: its value cannot be read, it cannot both wrap and decrypt, it
// cannot be changed, and it is private. mayDecrypt is for the one key
// made to decrypt (a Yubico OTP key): it may not encrypt instead.
func (h hygiene) sealed(t *testing.T, obj pkcs11.ObjectHandle, mayDecrypt bool) {
	t.Helper()
	r := h.r
	class, ckk := h.ulong(t, obj, pkcs11.CKA_CLASS), h.ulong(t, obj, pkcs11.CKA_KEY_TYPE)
	_, err := r.p.GetAttributeValue(r.s, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(secretPart(class, ckk), nil)})
	if !isCode(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
		t.Errorf("reading the secret value: %v, want CKR_ATTRIBUTE_SENSITIVE", err)
	}
	if !r.boolAttr(t, obj, pkcs11.CKA_SENSITIVE) || !r.boolAttr(t, obj, pkcs11.CKA_PRIVATE) {
		t.Error("not sensitive and private")
	}
	switch {
	case mayDecrypt:
		// A Yubico OTP key is there to decrypt; it must not encrypt,
		// or it could mint the OTPs it checks.
		if r.boolAttr(t, obj, pkcs11.CKA_ENCRYPT) || r.boolAttr(t, obj, pkcs11.CKA_SIGN) {
			t.Error("a decrypting key that may encrypt or sign")
		}
	case r.boolAttr(t, obj, pkcs11.CKA_DECRYPT):
		t.Error("may decrypt")
	}
	if r.boolAttr(t, obj, pkcs11.CKA_DERIVE) {
		t.Error("may derive")
	}
	if r.boolAttr(t, obj, pkcs11.CKA_MODIFIABLE) {
		t.Error("modifiable")
	}
	err = r.p.SetAttributeValue(r.s, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, "renamed")})
	if err == nil {
		t.Error("relabelled a key that should not be modifiable")
	}
}

// neverLeaves checks a key that must never leave the HSM in any form.
func (h hygiene) neverLeaves(t *testing.T, obj pkcs11.ObjectHandle, wantAlways bool) {
	t.Helper()
	r := h.r
	h.sealed(t, obj, false)
	if r.boolAttr(t, obj, pkcs11.CKA_EXTRACTABLE) {
		t.Error("extractable")
	}
	if got := r.boolAttr(t, obj, pkcs11.CKA_ALWAYS_SENSITIVE); got != wantAlways {
		t.Errorf("CKA_ALWAYS_SENSITIVE = %v, want %v", got, wantAlways)
	}
	if got := r.boolAttr(t, obj, pkcs11.CKA_NEVER_EXTRACTABLE); got != wantAlways {
		t.Errorf("CKA_NEVER_EXTRACTABLE = %v, want %v", got, wantAlways)
	}
	_, err := r.p.WrapKey(r.s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}, h.kek, obj)
	if !isCode(err, pkcs11.CKR_KEY_UNEXTRACTABLE) {
		t.Errorf("wrapping it under the trusted KEK: %v, want CKR_KEY_UNEXTRACTABLE", err)
	}
}

func TestHygieneTokenKeys(t *testing.T) {
	tok, ks := softhsmtest.Open(t)
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		t.Fatal(err)
	}
	r := newRaw(t, tok)
	h := hygiene{r: r, kek: r.key(t, pkcs11.CKO_SECRET_KEY, "kek")}
	for _, typ := range []hsm.KeyType{hsm.ECDSAP256, hsm.ECDSAP384, hsm.RSA2048, hsm.Ed25519, hsm.HMACSHA1, hsm.HMACSHA256, hsm.HMACSHA512} {
		t.Run(string(typ), func(t *testing.T) {
			if _, err := ks.Generate(string(typ), typ); err != nil {
				t.Fatal(err)
			}
			class := uint(pkcs11.CKO_PRIVATE_KEY)
			if typ.HMAC() {
				class = pkcs11.CKO_SECRET_KEY
			}
			obj := r.key(t, class, string(typ))
			h.neverLeaves(t, obj, true)
			if !r.boolAttr(t, obj, pkcs11.CKA_TOKEN) || !r.boolAttr(t, obj, pkcs11.CKA_SIGN) {
				t.Error("not a signing token key")
			}
			if len(r.find(t, pkcs11.NewAttribute(pkcs11.CKA_ID, mustID(t, r, obj)))) != map[bool]int{true: 1, false: 2}[typ.HMAC()] {
				t.Error("CKA_ID is not unique to the key")
			}
			if typ.HMAC() {
				// Seeds only compute HMACs: no verify, no encryption, no wrapping.
				if r.boolAttr(t, obj, pkcs11.CKA_VERIFY) || r.boolAttr(t, obj, pkcs11.CKA_ENCRYPT) || r.boolAttr(t, obj, pkcs11.CKA_WRAP) || r.boolAttr(t, obj, pkcs11.CKA_UNWRAP) {
					t.Error("an HMAC secret may do more than sign")
				}
				err := r.p.VerifyInit(r.s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA_1_HMAC, nil)}, obj)
				if !isCode(err, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED) {
					t.Errorf("HMAC verify with a seed: %v, want CKR_KEY_FUNCTION_NOT_PERMITTED", err)
				}
			}
		})
	}
	t.Run("kek", func(t *testing.T) {
		h.neverLeaves(t, h.kek, true)
		if !r.boolAttr(t, h.kek, pkcs11.CKA_TRUSTED) || !r.boolAttr(t, h.kek, pkcs11.CKA_WRAP) || !r.boolAttr(t, h.kek, pkcs11.CKA_UNWRAP) || !r.boolAttr(t, h.kek, pkcs11.CKA_TOKEN) {
			t.Error("the KEK is not a trusted wrapping token key")
		}
		// The wrap/decrypt attack: a KEK that could decrypt would reveal
		// every key it wrapped.
		for _, mech := range []uint{pkcs11.CKM_AES_CBC_PAD, pkcs11.CKM_AES_ECB} {
			iv := make([]byte, 16)
			if mech == pkcs11.CKM_AES_ECB {
				iv = nil
			}
			if err := r.p.DecryptInit(r.s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, iv)}, h.kek); !isCode(err, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED) {
				t.Errorf("decrypt with the KEK: %v, want CKR_KEY_FUNCTION_NOT_PERMITTED", err)
			}
			if err := r.p.EncryptInit(r.s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, iv)}, h.kek); !isCode(err, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED) {
				t.Errorf("encrypt with the KEK: %v, want CKR_KEY_FUNCTION_NOT_PERMITTED", err)
			}
		}
		// The SO's public original is gone: one object has the KEK's value,
		// and no public AES key is left behind.
		if n := len(r.find(t, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY), pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false))); n != 0 {
			t.Errorf("%d public secret keys are left on the token", n)
		}
	})
}

func mustID(t *testing.T, r *raw, obj pkcs11.ObjectHandle) []byte {
	t.Helper()
	got, err := r.p.GetAttributeValue(r.s, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
	if err != nil || len(got[0].Value) == 0 {
		t.Fatalf("no CKA_ID: %v", err)
	}
	return got[0].Value
}

// The keys made only to be wrapped may leave the HSM, but only under the
// trusted KEK, and only as session objects; the keys unwrapped from their
// blobs may not leave again.
func TestHygieneWrappedKeys(t *testing.T) {
	tok, ks := softhsmtest.Open(t)
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		t.Fatal(err)
	}
	r := newRaw(t, tok)
	h := hygiene{r: r, kek: r.key(t, pkcs11.CKO_SECRET_KEY, "kek")}
	// An AES key that may wrap but is not CKA_TRUSTED, as an attacker with
	// the user PIN could make.
	untrusted, err := r.p.GenerateKey(r.s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
	})
	if err != nil {
		t.Fatal(err)
	}
	var checked int
	hsm.SetMadeToWrap(t, func(p *pkcs11.Ctx, s pkcs11.SessionHandle, obj pkcs11.ObjectHandle) {
		checked++
		// Of the keys made to be wrapped, only the Yubico OTP key is AES.
		h.sealed(t, obj, h.ulong(t, obj, pkcs11.CKA_KEY_TYPE) == pkcs11.CKK_AES)
		if r.boolAttr(t, obj, pkcs11.CKA_TOKEN) {
			t.Error("a key made for wrapping is a token object")
		}
		if !r.boolAttr(t, obj, pkcs11.CKA_EXTRACTABLE) || !r.boolAttr(t, obj, pkcs11.CKA_WRAP_WITH_TRUSTED) {
			t.Error("a key made for wrapping is not extractable under a trusted key only")
		}
		_, err := r.p.WrapKey(r.s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}, untrusted, obj)
		if !isCode(err, pkcs11.CKR_KEY_NOT_WRAPPABLE) {
			t.Errorf("wrapping under an untrusted key: %v, want CKR_KEY_NOT_WRAPPABLE", err)
		}
	})
	for _, typ := range []hsm.KeyType{hsm.ECDSAP256, hsm.RSA2048, hsm.HMACSHA256} {
		t.Run(string(typ), func(t *testing.T) {
			before := r.sessionKeyHandles(t)
			w, err := ks.GenerateWrapped("kek", typ)
			if err != nil {
				t.Fatal(err)
			}
			// Nothing of the generation is left in the HSM.
			if n := len(r.sessionKeyHandles(t)); n != len(before) {
				t.Fatalf("%d session keys after wrapping, want %d", n, len(before))
			}
			// Unwrapped for use, the key is a sealed session object.
			if typ.HMAC() {
				k, _ := ks.WrappedHMAC(w)
				if _, err := k.Sum(crypto.SHA256, []byte("x")); err != nil {
					t.Fatal(err)
				}
			} else {
				s, _ := ks.WrappedSigner(w)
				signAndVerify(t, s, []byte("x"), crypto.SHA256)
			}
			var fresh []pkcs11.ObjectHandle
			for _, obj := range r.sessionKeyHandles(t) {
				if !slices.Contains(before, obj) {
					fresh = append(fresh, obj)
				}
			}
			if len(fresh) != 1 {
				t.Fatalf("%d new session keys after use, want 1 (the cached one)", len(fresh))
			}
			// It was extractable once, so PKCS#11 says it is neither
			// always sensitive nor never extractable; it is sensitive
			// and not extractable now.
			h.neverLeaves(t, fresh[0], false)
		})
	}
	if checked != 3 {
		t.Fatalf("saw %d keys made for wrapping, want 3", checked)
	}
	t.Run("import", func(t *testing.T) {
		seed := []byte("12345678901234567890")
		before := len(r.sessionKeyHandles(t))
		if _, err := ks.ImportSecret("kek", seed); err != nil {
			t.Fatal(err)
		}
		if checked != 4 {
			t.Fatal("the imported secret was not seen before wrapping")
		}
		if n := len(r.sessionKeyHandles(t)); n != before {
			t.Fatalf("%d session keys after importing, want %d as before", n, before)
		}
	})
	t.Run("AES import", func(t *testing.T) {
		key := []byte("0123456789abcdef")
		handles := r.sessionKeyHandles(t)
		before := len(handles)
		seen := checked
		w, err := ks.ImportAESKey("kek", key)
		if err != nil {
			t.Fatal(err)
		}
		if checked != seen+1 {
			t.Fatal("the imported AES key was not seen before wrapping")
		}
		if n := len(r.sessionKeyHandles(t)); n != before {
			t.Fatalf("%d session keys after importing, want %d as before", n, before)
		}
		k, err := ks.WrappedAES(w)
		if err != nil {
			t.Fatal(err)
		}
		block := []byte("sixteen bytes!!!")
		got, err := k.DecryptBlock(block)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := aes.NewCipher(key)
		want := make([]byte, 16)
		blk.Decrypt(want, block)
		if !bytes.Equal(got, want) {
			t.Fatal("the HSM decrypted with another key")
		}
		// Unwrapped for use, it decrypts and does nothing else: it
		// cannot make the blocks it checks.
		var fresh []pkcs11.ObjectHandle
		for _, obj := range r.sessionKeyHandles(t) {
			if !slices.Contains(handles, obj) {
				fresh = append(fresh, obj)
			}
		}
		if len(fresh) != 1 || !r.boolAttr(t, fresh[0], pkcs11.CKA_DECRYPT) {
			t.Fatalf("%d new session keys after use, want 1 that decrypts (the cached AES key)", len(fresh))
		}
		if !r.boolAttr(t, fresh[0], pkcs11.CKA_SENSITIVE) {
			t.Error("the unwrapped AES key is not sensitive")
		}
		for _, a := range []uint{pkcs11.CKA_ENCRYPT, pkcs11.CKA_SIGN, pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP, pkcs11.CKA_EXTRACTABLE} {
			if r.boolAttr(t, fresh[0], a) {
				t.Errorf("the unwrapped AES key has attribute %#x set", a)
			}
		}
		if _, err := k.DecryptBlock(block[:15]); !errors.Is(err, hsm.ErrBadInput) {
			t.Fatalf("15 bytes: %v", err)
		}
	})
	t.Run("sealed import", func(t *testing.T) {
		transport := []byte("0123456789abcdef")
		macKey := []byte("a MAC key, 20 bytes.")
		seeds := [][]byte{[]byte("12345678901234567890"), []byte("another seed, thirty-two bytes!!")}
		sealedMAC := sealCBC(t, transport, macKey)
		var values []hsm.Sealed
		for _, sd := range seeds {
			v := sealCBC(t, transport, sd)
			values = append(values, hsm.Sealed{Value: v, MAC: hmacSHA1(macKey, v)})
		}
		tr := hsm.Transport{Key: transport, MACKey: sealedMAC, MACHash: crypto.SHA1}
		before := len(r.sessionKeyHandles(t))
		seen := checked
		ws, err := ks.ImportSealed("kek", tr, values)
		if err != nil {
			t.Fatal(err)
		}
		if checked != seen+len(seeds) {
			t.Fatalf("%d sealed seeds seen before wrapping, want %d", checked-seen, len(seeds))
		}
		// Neither the transport key nor the MAC key nor a seed is left.
		if n := len(r.sessionKeyHandles(t)); n != before {
			t.Fatalf("%d session keys after the import, want %d as before", n, before)
		}
		// Each blob holds its seed: its HMAC equals the plaintext seed's.
		for i, w := range ws {
			plain, err := ks.ImportSecret("kek", seeds[i])
			if err != nil {
				t.Fatal(err)
			}
			if a, b := hmacIn(t, ks, w), hmacIn(t, ks, plain); a != b {
				t.Fatalf("seed %d came out of the HSM as another key", i)
			}
		}
		// One altered byte of the second value: refused, named, nothing
		// returned and nothing left in the HSM.
		values[1].Value[20] ^= 1
		before = len(r.sessionKeyHandles(t))
		ws, err = ks.ImportSealed("kek", tr, values)
		var ve *hsm.ValueError
		if !errors.Is(err, hsm.ErrBadMAC) || !errors.As(err, &ve) || ve.Index != 1 || ws != nil {
			t.Fatalf("an altered value: %v (%v), want ErrBadMAC for value 1", err, ws)
		}
		if n := len(r.sessionKeyHandles(t)); n != before {
			t.Fatalf("%d session keys after a refused import, want %d", n, before)
		}
		// A wrong transport key never yields a seed.
		values[1].Value[20] ^= 1
		tr.Key = []byte("fedcba9876543210")
		if _, err := ks.ImportSealed("kek", tr, values); err == nil {
			t.Fatal("a wrong transport key was accepted")
		}
	})
}

// sealCBC seals v as PSKC does: a random IV, then AES-CBC with PKCS #7
// padding, in software, independent of the package.
func sealCBC(t *testing.T, key, v []byte) []byte {
	t.Helper()
	blk, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	n := 16 - len(v)%16
	pt := append(bytes.Clone(v), bytes.Repeat([]byte{byte(n)}, n)...)
	out := make([]byte, 16+len(pt))
	if _, err := rand.Read(out[:16]); err != nil {
		t.Fatal(err)
	}
	cipher.NewCBCEncrypter(blk, out[:16]).CryptBlocks(out[16:], pt)
	return out
}

func hmacSHA1(key, msg []byte) []byte {
	m := hmac.New(sha1.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

func hmacIn(t *testing.T, ks *hsm.Keystore, w *hsm.WrappedKey) string {
	t.Helper()
	k, err := ks.WrappedHMAC(w)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := k.Sum(crypto.SHA1, []byte("which key is this?"))
	if err != nil {
		t.Fatal(err)
	}
	return string(sum)
}
