package pskc_test

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm/softhsmtest"
	"github.com/segl/segl/tokens/pskc"
)

func keystore(t *testing.T) *hsm.Keystore {
	t.Helper()
	tok, ks := softhsmtest.Open(t)
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		t.Fatal(err)
	}
	return ks
}

// sameSeed says whether the blob holds the seed, by comparing HMACs made
// inside the HSM: the imported seed can never be read back.
func sameSeed(t *testing.T, ks *hsm.Keystore, w *hsm.WrappedKey, seedHex string) bool {
	t.Helper()
	seed, err := hex.DecodeString(seedHex)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ks.ImportSecret("kek", seed)
	if err != nil {
		t.Fatal(err)
	}
	sum := func(w *hsm.WrappedKey) []byte {
		k, err := ks.WrappedHMAC(w)
		if err != nil {
			t.Fatal(err)
		}
		s, err := k.Sum(crypto.SHA1, []byte("segl pskc test"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return bytes.Equal(sum(w), sum(ref))
}

const rfcSeed = "3132333435363738393031323334353637383930" // "12345678901234567890"

// The seeds of testvectors/pskc/make-sealed.py's batch.
var batchSeeds = []string{
	rfcSeed,
	"3132333435363738393031323334353637383930313233343536373839303132",
	"31323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132333435363738393031323334",
}

func TestSealedImport(t *testing.T) {
	ks := keystore(t)
	for _, tc := range []struct {
		file          string
		psk, password string
		seeds         []string
	}{
		// RFC 6030 §6.1: the pre-shared key is 0x12345678901234567890123456789012.
		{"rfc6030-figure6.pskc", "12345678901234567890123456789012", "", []string{rfcSeed}},
		// §6.2: the password is "qwerty".
		{"rfc6030-figure7.pskc", "", "qwerty", []string{rfcSeed}},
		// Made by python-pskc (Debian's pskc-utils): AES-256-CBC, HMAC-SHA256.
		{"pskc-utils-psk-aes256.pskc", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "", batchSeeds},
		{"pskc-utils-pbkdf2.pskc", "", "correct horse battery staple", batchSeeds},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := pskc.Parse(bytes.NewReader(load(t, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if b.Protection == nil || b.Protection.Password != (tc.password != "") {
				t.Fatalf("protection %+v", b.Protection)
			}
			ws, err := b.Import(ks, "kek", []byte(tc.psk), []byte(tc.password))
			if err != nil {
				t.Fatal(err)
			}
			if len(ws) != len(tc.seeds) {
				t.Fatalf("%d blobs, want %d", len(ws), len(tc.seeds))
			}
			for i, w := range ws {
				if !sameSeed(t, ks, w, tc.seeds[i]) {
					t.Errorf("KeyPackage %d: the imported seed is not %s", i+1, tc.seeds[i])
				}
			}
		})
	}
}

func TestSealedImportRefusals(t *testing.T) {
	ks := keystore(t)
	fig6 := string(load(t, "rfc6030-figure6.pskc"))
	batch := string(load(t, "pskc-utils-psk-aes256.pskc"))
	const psk6 = "12345678901234567890123456789012"
	const psk256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	// The third package's ValueMAC with one character changed.
	i := strings.LastIndex(batch, "<pskc:ValueMAC>") + len("<pskc:ValueMAC>")
	badMAC := batch[:i] + string(batch[i]^1) + batch[i+1:]
	// The second package's ciphertext with one character changed.
	j := strings.Index(batch, "SEGL-PSKC-0002")
	j += strings.Index(batch[j:], "<xenc:CipherValue>") + len("<xenc:CipherValue>") + 30
	badValue := batch[:j] + string(batch[j]^1) + batch[j+1:]
	for _, tc := range []struct {
		name, doc, psk, password string
		want                     []string
		is                       error
	}{
		{"no key", fig6, "", "", []string{"pre-shared key (\"Pre-shared-key\")", "--psk-file"}, pskc.ErrNeedKey},
		{"password for a key", fig6, "", "qwerty", []string{"not a password"}, pskc.ErrRefused},
		{"short key", fig6, "1234", "", []string{"has 2 bytes", "AES-128"}, pskc.ErrRefused},
		{"wrong key", fig6, "12345678901234567890123456789013", "", []string{"nothing from this file was imported"}, pskc.ErrRefused},
		{"altered MAC", badMAC, psk256, "", []string{"KeyPackage 3 (serial SEGL-PSKC-0003)", "MAC does not match"}, hsm.ErrBadMAC},
		{"altered ciphertext", badValue, psk256, "", []string{"KeyPackage 2 (serial SEGL-PSKC-0002)", "MAC does not match"}, hsm.ErrBadMAC},
		{"no password", string(load(t, "rfc6030-figure7.pskc")), "", "", []string{"password (PBKDF2)", "--password-file"}, pskc.ErrNeedKey},
		{"wrong password", string(load(t, "rfc6030-figure7.pskc")), "", "qwertz", []string{"nothing from this file"}, pskc.ErrRefused},
		{"key for a plaintext file", string(load(t, "rfc6030-figure2.pskc")), psk6, "", []string{"not encrypted"}, pskc.ErrRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := pskc.Parse(strings.NewReader(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			ws, err := b.Import(ks, "kek", []byte(tc.psk), []byte(tc.password))
			if err == nil || ws != nil {
				t.Fatalf("imported %d seeds", len(ws))
			}
			if !errors.Is(err, tc.is) || !errors.Is(err, pskc.ErrRefused) {
				t.Errorf("%v: not %v and ErrRefused", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: does not say %q", err, w)
				}
			}
		})
	}
}

func TestSealedParseRefusals(t *testing.T) {
	fig6 := string(load(t, "rfc6030-figure6.pskc"))
	for name, tc := range map[string]struct{ doc, want string }{
		"no MACMethod":   {cut(fig6, "<MACMethod", "</MACMethod>"), "no MACMethod"},
		"no ValueMAC":    {cut(fig6, "<ValueMAC>", "</ValueMAC>"), "KeyPackage 1 (serial 987654321): Data/Secret has no ValueMAC"},
		"triple DES":     {strings.Replace(fig6, "aes128-cbc\"/>\n                        <xenc:CipherData>", "tripledes-cbc\"/>\n                        <xenc:CipherData>", 1), "tripledes-cbc"},
		"mixed AES":      {strings.Replace(fig6, "xmlenc#aes128-cbc", "xmlenc#aes256-cbc", 1), "AES-128, but the batch's transport key is AES-256"},
		"MD5 MAC":        {strings.Replace(fig6, "xmldsig#hmac-sha1", "xmldsig-more#hmac-md5", 1), "MACMethod Algorithm"},
		"short cipher":   {strings.Replace(fig6, "AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGv", "AAECAwQFBgcICQoLDA0ODw==", 1), "not base64 of an IV and whole AES blocks"},
		"public-key":     {strings.Replace(fig6, "<ds:KeyName>Pre-shared-key</ds:KeyName>", "<ds:X509Data/>", 1), "public key"},
		"few iterations": {strings.Replace(string(load(t, "rfc6030-figure7.pskc")), "<IterationCount>1000<", "<IterationCount>999<", 1), "IterationCount \"999\""},
	} {
		_, err := pskc.Parse(strings.NewReader(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}

// cut removes the first element from start to end, inclusive.
func cut(doc, start, end string) string {
	i := strings.Index(doc, start)
	j := strings.Index(doc[i:], end) + i + len(end)
	return doc[:i] + doc[j:]
}
