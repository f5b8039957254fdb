package codecard_test

import (
	"crypto"
	"strings"
	"testing"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm/softhsmtest"
	"github.com/segl/segl/tokens/codecard"
)

func masterKey(t *testing.T) *hsm.HMACKey {
	t.Helper()
	tok, ks := softhsmtest.Open(t)
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		t.Fatal(err)
	}
	w, err := ks.ImportSecret("kek", []byte(strings.Repeat("m", 32)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ks.WrappedHMAC(w)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCard(t *testing.T) {
	m := masterKey(t)
	keys, err := codecard.KeyNumbers(m, "4711000042")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, k := range keys {
		if k < 0 || k > 9999 || seen[k] {
			t.Fatalf("key number %d repeated or out of range", k)
		}
		seen[k] = true
	}
	if len(keys) != codecard.Entries {
		t.Fatalf("%d key numbers", len(keys))
	}
	other, _ := codecard.KeyNumbers(m, "4711000043")
	if other[0] == keys[0] && other[1] == keys[1] && other[2] == keys[2] {
		t.Fatal("two serials gave the same card")
	}
	code, err := codecard.Code(m, "4711000042", 17)
	if err != nil || len(code) != 6 {
		t.Fatalf("%q %v", code, err)
	}
	if ok, _ := codecard.Check(m, "4711000042", 17, code); !ok {
		t.Fatal("the right code was refused")
	}
	for _, wrong := range []string{"", code[:5], code + "0", "000000"} {
		if wrong == code {
			continue
		}
		if ok, _ := codecard.Check(m, "4711000042", 17, wrong); ok {
			t.Fatalf("%q accepted", wrong)
		}
	}
	if ok, _ := codecard.Check(m, "4711000042", 18, code); ok {
		t.Fatal("entry 17's code accepted for entry 18")
	}
	for _, bad := range []string{"123", "12345678901", "47110000a2", ""} {
		if _, err := codecard.KeyNumbers(m, bad); err == nil {
			t.Errorf("serial %q accepted", bad)
		}
	}
	if _, err := codecard.Code(m, "4711000042", 148); err == nil {
		t.Error("entry 148 accepted")
	}
}

type constant struct{}

func (constant) Sum(crypto.Hash, []byte) ([]byte, error) { return make([]byte, 32), nil }

// A broken HMAC that always answers the same must not hang issuance.
func TestConstantHMACStops(t *testing.T) {
	if _, err := codecard.KeyNumbers(constant{}, "0000000001"); err == nil {
		t.Fatal("148 distinct key numbers from a constant HMAC")
	}
}
