//go:build realdata

// Real attestations from real YubiKeys, read from where they lie
// (shared/testdata/piv, PROVENANCE.md there) and never copied into the
// repository:
//
//	SEGL_PIV_TESTDATA=/work/shared/testdata/piv go test -tags realdata ./tokens/piv/
package piv_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segl/segl/tokens/piv"
)

func realFile(t *testing.T, name string) []byte {
	t.Helper()
	dir := os.Getenv("SEGL_PIV_TESTDATA")
	if dir == "" {
		t.Fatal("SEGL_PIV_TESTDATA is not set: the directory of the real YubiKey attestations (shared/testdata/piv)")
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRealAttestations(t *testing.T) {
	for _, c := range []struct {
		card, want, policy string
	}{
		{"yk571", "serial 29173673, firmware 5.7.1, slot 9a, pin-policy never, touch-policy never, form-factor USB-C Keychain", "pin-policy never"},
		{"yk543", "serial 23852774, firmware 5.4.3, slot 9a, pin-policy never, touch-policy never, form-factor USB-C Keychain", "EUCLEAK"},
	} {
		t.Run(c.card, func(t *testing.T) {
			a, err := piv.Verifier{}.Verify(realFile(t, "f9_attestation_"+c.card+".der"), realFile(t, "slot9a_attested_"+c.card+".der"))
			if err != nil {
				t.Fatal(err)
			}
			if a.String() != c.want {
				t.Fatalf("got  %s\nwant %s", a, c.want)
			}
			// Both real keys were made with piv-go's defaults, which
			// Segl's policy refuses, each for its own reason.
			if err := piv.DefaultPolicy.Check(a); err == nil || !strings.Contains(err.Error(), c.policy) {
				t.Fatalf("policy: %v, want %q", err, c.policy)
			}
		})
	}
	// A slot certificate against another card's f9 certificate.
	_, err := piv.Verifier{}.Verify(realFile(t, "f9_attestation_yk543.der"), realFile(t, "slot9a_attested_yk571.der"))
	if err == nil || !strings.Contains(err.Error(), "not signed by this card's attestation key") {
		t.Fatalf("another card's f9: %v", err)
	}
}
