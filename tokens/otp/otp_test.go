package otp_test

import (
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm/softhsmtest"
	"github.com/segl/segl/tokens/otp"
)

// seed imports key as a wrapped seed and returns its HSM HMAC, the path
// production uses.
func seed(t *testing.T, ks *hsm.Keystore, key []byte) *hsm.HMACKey {
	t.Helper()
	w, err := ks.ImportSecret("kek", key)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ks.WrappedHMAC(w)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func keystore(t *testing.T) *hsm.Keystore {
	t.Helper()
	tok, ks := softhsmtest.Open(t)
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		t.Fatal(err)
	}
	return ks
}

// oathtool is Debian oath-toolkit's implementation: an independent peer.
func oathtool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("oathtool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("oathtool %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestAgainstOathtool(t *testing.T) {
	ks := keystore(t)
	for _, tc := range []struct {
		hash otp.Hash
		key  string
	}{
		{otp.SHA1, "3132333435363738393031323334353637383930"},
		{otp.SHA256, "3132333435363738393031323334353637383930313233343536373839303132"},
		{otp.SHA512, strings.Repeat("ab", 64)},
	} {
		k, _ := hex.DecodeString(tc.key)
		h := seed(t, ks, k)
		for _, digits := range []int{6, 8} {
			for _, counter := range []uint64{0, 1, 99, 1 << 33} {
				got, err := otp.HOTP(h, tc.hash, counter, digits)
				if err != nil {
					t.Fatal(err)
				}
				// oathtool's HOTP is SHA-1 only; TOTP with a 1-second step at
				// time c is HOTP of counter c with any hash.
				want := oathtool(t, "--totp="+strings.ToUpper(string(tc.hash)), "--time-step-size=1s", fmt.Sprintf("--now=@%d", counter),
					fmt.Sprintf("--digits=%d", digits), tc.key)
				if tc.hash == otp.SHA1 {
					if hotp := oathtool(t, "--hotp", fmt.Sprintf("--digits=%d", digits), fmt.Sprintf("--counter=%d", counter), tc.key); hotp != want {
						t.Fatalf("oathtool disagrees with itself: HOTP %s, TOTP %s", hotp, want)
					}
				}
				if got != want {
					t.Errorf("HOTP %s/%d counter %d: %s, oathtool %s", tc.hash, digits, counter, got, want)
				}
			}
			for _, step := range []int64{30, 60} {
				now := int64(1_795_000_000)
				got, err := otp.TOTP(h, tc.hash, now, step, digits)
				if err != nil {
					t.Fatal(err)
				}
				want := oathtool(t, "--totp="+strings.ToUpper(string(tc.hash)), fmt.Sprintf("--digits=%d", digits), fmt.Sprintf("--time-step-size=%ds", step),
					"--now=@"+fmt.Sprint(now), tc.key)
				if got != want {
					t.Errorf("TOTP %s/%d step %d: %s, oathtool %s", tc.hash, digits, step, got, want)
				}
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	ks := keystore(t)
	h := seed(t, ks, []byte("12345678901234567890"))
	if _, err := otp.HOTP(h, otp.SHA1, 0, 7); err == nil {
		t.Error("7 digits accepted")
	}
	if _, err := otp.HOTP(h, "md5", 0, 6); err == nil {
		t.Error("md5 accepted")
	}
	if _, err := otp.TOTP(h, otp.SHA1, 100, 0, 6); err == nil {
		t.Error("a zero time step accepted")
	}
}
