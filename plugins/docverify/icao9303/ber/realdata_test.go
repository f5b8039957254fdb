//go:build realdata

package ber

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The public real-world data described in the shared PROVENANCE.md; it is
// never copied into the repository. Run with
//
//	SEGL_ICAO_TESTDATA=/path/to/testdata/icao go test -tags realdata ./plugins/docverify/icao9303/...
func testdata(t *testing.T) string {
	dir := os.Getenv("SEGL_ICAO_TESTDATA")
	if dir == "" {
		t.Fatal("SEGL_ICAO_TESTDATA is not set; it names the directory of the ICAO test data")
	}
	return dir
}

func glob(t *testing.T, patterns ...string) []string {
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(filepath.Join(testdata(t), p))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no files match %v in %s", patterns, testdata(t))
	}
	return files
}

func TestRealSODs(t *testing.T) {
	files := glob(t, "real-sods/*_EF_SOD.bin", "*/EF_SOD.bin")
	if len(files) != 16 {
		t.Errorf("%d EF.SOD files, want 16", len(files))
	}
	for _, path := range files {
		name, _ := filepath.Rel(testdata(t), path)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			inner, err := UnwrapSOD(raw)
			if err != nil {
				t.Fatalf("UnwrapSOD: %v", err)
			}
			der, err := Normalize(inner)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			checkDER(t, der)
			// Only New Zealand sends BER; everyone else's DER stays as it is.
			nz := strings.Contains(name, "NZ_") || strings.HasPrefix(name, "nz-")
			if changed := !bytes.Equal(der, inner); changed != nz {
				t.Errorf("Normalize changed the SOD: %v, want %v", changed, nz)
			}
			if nz {
				if _, err := asn1.Unmarshal(inner, new(asn1.RawValue)); err == nil {
					t.Error("encoding/asn1 accepts the BER SOD")
				}
			}
			// Normalising the whole file first and unwrapping after gives
			// the same ContentInfo.
			whole, err := Normalize(raw)
			if err != nil {
				t.Fatal(err)
			}
			again, err := UnwrapSOD(whole)
			if err != nil || !bytes.Equal(again, der) {
				t.Fatalf("UnwrapSOD(Normalize(f)) != Normalize(UnwrapSOD(f)) (%v)", err)
			}
			// A flipped last byte, or a byte fewer, is refused or changes
			// the result; it never panics.
			flipped := bytes.Clone(raw)
			flipped[len(flipped)-1] ^= 0xff
			if in, err := UnwrapSOD(flipped); err == nil {
				if out, err := Normalize(in); err == nil && bytes.Equal(out, der) {
					t.Error("a flipped byte normalises to the same DER")
				}
			}
			if _, err := UnwrapSOD(raw[:len(raw)-1]); err == nil {
				t.Error("UnwrapSOD accepts a truncated EF.SOD")
			}
			t.Logf("%s: %d bytes in the wrapper, %d after Normalize, changed %v", name, len(inner), len(der), !bytes.Equal(der, inner))
		})
	}
}

// Everything else in the data set but EF.COM is DER, high-tag-number data
// groups included (DG1's 61/5F1F, DG2's 7F61/7F60/5F2E): Normalize keeps
// each byte for byte.
func TestRealDER(t *testing.T) {
	for _, path := range glob(t, "*/*.cer", "masterlists/*.ml", "*/EF_DG*.bin", "aa/*_EF_DG15.bin", "real-sods/DE_EF_CardSecurity.bin") {
		name, _ := filepath.Rel(testdata(t), path)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			der, err := Normalize(raw)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if !bytes.Equal(der, raw) {
				t.Fatal("Normalize changed a DER file")
			}
			if strings.HasSuffix(name, "CardSecurity.bin") {
				// A ContentInfo without the 0x77 wrapper.
				_, err := UnwrapSOD(raw)
				var se *SyntaxError
				if !errors.As(err, &se) || se.Offset != 0 {
					t.Fatalf("UnwrapSOD of EF.CardSecurity: %v", err)
				}
			}
		})
	}
}

// EF.COM's LDS version has the ICAO tag 5F01: tag number 1 in the
// high-tag-number form, which X.690 forbids. Normalize refuses it, at the
// offset of that tag, rather than pass it on to a DER parser.
func TestRealEFCOM(t *testing.T) {
	for _, path := range glob(t, "*/EF_COM.bin") {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Normalize(raw)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset != 2 || !strings.Contains(se.Reason, "tag number 1 in the high-tag-number form") {
			t.Errorf("%s: Normalize: %v; want the 5F01 tag at offset 2 refused", path, err)
		}
	}
}
