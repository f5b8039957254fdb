package password_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm/softhsmtest"
	"github.com/segl/segl/tokens/password"
)

var cheap = password.MinParams

func TestWithHSMPepper(t *testing.T) {
	_, ks := softhsmtest.Open(t)
	for _, l := range []string{"pepper", "other"} {
		if _, err := ks.Generate(l, hsm.HMACSHA256); err != nil {
			t.Fatal(err)
		}
	}
	pepper, _ := ks.HMAC("pepper")
	other, _ := ks.HMAC("other")
	v, err := password.Hash(pepper, "p1", "alice", []byte("correct horse"), cheap)
	if err != nil {
		t.Fatal(err)
	}
	if err := password.Verify(pepper, "p1", "alice", []byte("correct horse"), v); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for name, err := range map[string]error{
		"wrong password": password.Verify(pepper, "p1", "alice", []byte("correct horsE"), v),
		"another user":   password.Verify(pepper, "p1", "bob", []byte("correct horse"), v),
		"another pepper": password.Verify(other, "p1", "alice", []byte("correct horse"), v),
	} {
		if !errors.Is(err, password.ErrMismatch) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := password.Verify(pepper, "p2", "alice", []byte("correct horse"), v); !errors.Is(err, password.ErrPepperID) {
		t.Errorf("another pepper id: %v", err)
	}
}

// softPepper is HMAC-SHA256 in software over a known key, so the test can
// recompute the documented construction independently.
type softPepper []byte

func (k softPepper) Sum(h crypto.Hash, msg []byte) ([]byte, error) {
	m := hmac.New(sha256.New, k)
	m.Write(msg)
	return m.Sum(nil), nil
}

func TestConstruction(t *testing.T) {
	key := softPepper("pepper key for the test")
	v, err := password.Hash(key, "p", "alice", []byte("s3cret!"), cheap)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(v, "$")
	// "", "segl-argon2id", "v=1", "pepper=p", "m=…", salt, hash
	if len(parts) != 7 || parts[1] != "segl-argon2id" || parts[3] != "pepper=p" || parts[4] != "m=8192,t=1,p=1" {
		t.Fatalf("verifier %q", v)
	}
	salt, _ := base64.RawStdEncoding.DecodeString(parts[5])
	m := hmac.New(sha256.New, key)
	m.Write([]byte("SEGL-PASSWORD-1\x00alice\x00s3cret!"))
	want := argon2.IDKey(m.Sum(nil), salt, 1, 8192, 1, 32)
	if got := parts[6]; got != base64.RawStdEncoding.EncodeToString(want) {
		t.Fatalf("hash %s, want %s", got, base64.RawStdEncoding.EncodeToString(want))
	}
}

func TestMalformedVerifiers(t *testing.T) {
	key := softPepper("k")
	good, _ := password.Hash(key, "p", "u", []byte("s3cret!"), cheap)
	for name, bad := range map[string]string{
		"empty":       "",
		"other kind":  strings.Replace(good, "segl-argon2id", "argon2id", 1),
		"huge memory": strings.Replace(good, "m=8192", "m=9999999999", 1),
		"short hash":  good[:len(good)-2],
		"bad base64":  good[:len(good)-1] + "!",
		"zero time":   strings.Replace(good, "t=1", "t=0", 1),
	} {
		if err := password.Verify(key, "p", "u", []byte("s3cret!"), bad); !errors.Is(err, password.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := password.Hash(key, "p", "u", []byte("s3cret!"), password.Params{Memory: 1024, Time: 1, Threads: 1}); err == nil {
		t.Error("parameters below the minimum were accepted")
	}
	for _, pw := range []string{"short", strings.Repeat("x", 129), "tab\there", "\xff\xfe\xfd\xfc\xfb\xfa"} {
		if err := password.Check([]byte(pw)); err == nil {
			t.Errorf("policy accepted %q", pw)
		} else if strings.Contains(err.Error(), pw) {
			t.Errorf("the error quotes the password: %v", err)
		}
	}
}

func FuzzVerifier(f *testing.F) {
	key := softPepper("k")
	good, _ := password.Hash(key, "p", "u", []byte("s3cret!"), cheap)
	f.Add(good)
	f.Add("$segl-argon2id$v=1$pepper=p$m=1,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		// NeedsRehash parses without running argon2id.
		_, _ = password.NeedsRehash(s, password.DefaultParams)
	})
}
