//go:build realdata

package aa

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The public test data in SEGL_ICAO_TESTDATA (never copied into the
// repository; shared/testdata/icao, PROVENANCE.md section 6).
func testdata(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SEGL_ICAO_TESTDATA")
	if dir == "" {
		t.Fatal("SEGL_ICAO_TESTDATA is not set: the directory of the ICAO test data (shared/testdata/icao)")
	}
	return dir
}

func readFile(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{testdata(t)}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type vectors map[string]struct {
	DG15    string `json:"dg15_file"`
	Vectors []struct {
		Challenge     string `json:"challenge_hex"`
		Signature     string `json:"signature_hex"`
		SignatureFile string `json:"signature_file"`
		Expect        string `json:"expect"`
	} `json:"vectors"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRealAAVectors(t *testing.T) {
	var vs vectors
	if err := json.Unmarshal(readFile(t, "aa", "aa_vectors.json"), &vs); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ valid, invalid int }{"rsa1024_sha1": {4, 1}, "rsa1792_sha256": {1, 1}}
	for name, set := range vs {
		t.Run(name, func(t *testing.T) {
			key, err := ParseDG15(readFile(t, "aa", set.DG15))
			if err != nil {
				t.Fatal(err)
			}
			if key.RSA == nil {
				t.Fatal("not an RSA key")
			}
			var valid, invalid int
			for i, v := range set.Vectors {
				var sig []byte
				if v.SignatureFile != "" {
					sig = readFile(t, "aa", v.SignatureFile)
					if v.Signature != "" && hex.EncodeToString(sig) != v.Signature {
						t.Fatalf("vector %d: %s differs from signature_hex", i, v.SignatureFile)
					}
				} else {
					sig = unhex(t, v.Signature)
				}
				err := VerifyRSA(key.RSA, unhex(t, v.Challenge), sig)
				switch {
				case v.Expect == "valid" && err == nil:
					valid++
				case v.Expect != "valid" && errors.Is(err, ErrInvalidSignature):
					invalid++
					t.Logf("vector %d (%s): %v", i, v.Expect, err)
				default:
					t.Errorf("vector %d, expected %s: %v", i, v.Expect, err)
				}
			}
			if w := want[name]; valid != w.valid || invalid != w.invalid {
				t.Errorf("%d valid and %d invalid, want %d and %d", valid, invalid, w.valid, w.invalid)
			}
			t.Logf("RSA-%d: %d verify, %d refused", key.RSA.N.BitLen(), valid, invalid)
		})
	}
	if len(vs) != len(want) {
		t.Errorf("%d vector sets, want %d", len(vs), len(want))
	}
}

func TestRealDG15(t *testing.T) {
	for _, p := range []string{"bsi2008-mustermann/EF_DG15.bin", "nl-sdu-loes2006/EF_DG15.bin"} {
		k, err := ParseDG15(readFile(t, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if k.RSA == nil {
			t.Errorf("%s: not RSA (%v)", p, k.Algorithm)
			continue
		}
		t.Logf("%s: RSA-%d, e = %d", p, k.RSA.N.BitLen(), k.RSA.E)
	}
}

func TestRealDG14(t *testing.T) {
	info, err := ParseDG14AAInfo(readFile(t, "bsi2008-mustermann", "EF_DG14.bin"))
	switch {
	case errors.Is(err, ErrNoAAInfo):
		// The BSI 2008 passport has chip authentication, and an RSA
		// AA key (whose trailer names the hash): no AA info.
		t.Logf("parses; no ActiveAuthenticationInfo: %v", err)
	case err != nil:
		t.Fatal(err)
	default:
		t.Logf("ActiveAuthenticationInfo: %v, %v", info.SignatureAlgorithm, info.Hash)
	}
}
