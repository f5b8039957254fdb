//go:build realdata

package icao9303

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/plugins/docverify"
)

// Real documents (../shared/testdata/icao, never copied here), with the
// verdicts PROVENANCE.md says a correct verifier gives. Run with
// SEGL_ICAO_TESTDATA=DIR go test -tags realdata.
func dataDir(t *testing.T) string {
	dir := os.Getenv("SEGL_ICAO_TESTDATA")
	if dir == "" {
		t.Fatal("SEGL_ICAO_TESTDATA names the directory of the real ICAO data")
	}
	return dir
}

func read(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func summary(v *docverify.Verdict) string {
	var b strings.Builder
	for _, c := range v.Checks {
		b.WriteString(c.Name + "=" + c.Result.String())
		if c.Detail != "" {
			b.WriteString(" (" + c.Detail + ")")
		}
		b.WriteString("; ")
	}
	return b.String()
}

func TestRealSODsAreGenuine(t *testing.T) {
	dir := filepath.Join(dataDir(t), "real-sods")
	for _, cc := range []string{"AT", "DE", "FI", "FR", "ID", "MY", "NZ", "PH", "RU", "SG", "UK", "US"} {
		t.Run(cc, func(t *testing.T) {
			var tr Trust
			if err := tr.AddCSCA(read(t, filepath.Join(dir, cc+"_CSCA.cer")), cc); err != nil {
				t.Fatal(err)
			}
			sod := read(t, filepath.Join(dir, cc+"_EF_SOD.bin"))
			// At a time the signer was valid: the DSC's own notBefore plus a day.
			v := Verify(&tr, docverify.Document{SOD: sod, At: signerTime(t, sod)})
			if !v.Genuine {
				t.Fatalf("%s: %s; %s", cc, v.Reason, summary(v))
			}
			sod[len(sod)-1] ^= 1
			if v := Verify(&tr, docverify.Document{SOD: sod, At: signerTime(t, sod)}); v.Genuine {
				t.Fatalf("%s with its last byte flipped is genuine", cc)
			}
		})
	}
}

func signerTime(t *testing.T, sod []byte) time.Time {
	r := &report{}
	_, _, dsc := r.passive(docverify.Document{SOD: sod})
	if dsc == nil {
		return time.Now()
	}
	return dsc.NotBefore.Add(24 * time.Hour)
}

func TestRealDocuments(t *testing.T) {
	dir := dataDir(t)
	dgs := func(sub string, ns ...int) map[int][]byte {
		m := map[int][]byte{}
		for _, n := range ns {
			m[n] = read(t, filepath.Join(dir, sub, "EF_DG"+itoa(n)+".bin"))
		}
		return m
	}
	// BSI 2008: signature and hashes fine, the CSCA unknown; DG4 and DG15
	// are not in the SOD.
	v := Verify(&Trust{}, docverify.Document{SOD: read(t, filepath.Join(dir, "bsi2008-mustermann/EF_SOD.bin")),
		DataGroups: dgs("bsi2008-mustermann", 1, 2, 3, 14), At: time.Date(2008, 6, 1, 0, 0, 0, 0, time.UTC)})
	if res, _ := resultOf(v.Checks, CheckSODSignature); res != docverify.OK || v.Genuine {
		t.Fatalf("bsi2008: %s", summary(v))
	}
	for _, n := range []int{1, 2, 3, 14} {
		if res, _ := resultOf(v.Checks, CheckDG(n)); res != docverify.OK {
			t.Errorf("bsi2008 DG%d: %s", n, summary(v))
		}
	}
	if res, _ := resultOf(v.Checks, CheckChain); res != docverify.Failed {
		t.Errorf("bsi2008 chain: %s", summary(v))
	}
	v = Verify(&Trust{}, docverify.Document{SOD: read(t, filepath.Join(dir, "bsi2008-mustermann/EF_SOD.bin")),
		DataGroups: dgs("bsi2008-mustermann", 15), At: time.Date(2008, 6, 1, 0, 0, 0, 0, time.UTC)})
	if res, _ := resultOf(v.Checks, CheckDG(15)); res != docverify.Failed {
		t.Errorf("bsi2008 DG15, not in the SOD: %s", summary(v))
	}
	// UK 2012: genuine when signed, expired now.
	var uk Trust
	if err := uk.AddCSCA(read(t, filepath.Join(dir, "uk-2012-expired/CSCA_GB.cer")), "GB"); err != nil {
		t.Fatal(err)
	}
	sod := read(t, filepath.Join(dir, "uk-2012-expired/EF_SOD.bin"))
	if v := Verify(&uk, docverify.Document{SOD: sod, At: time.Date(2012, 6, 1, 0, 0, 0, 0, time.UTC)}); !v.Genuine {
		t.Errorf("uk 2012, in 2012: %s", summary(v))
	}
	if v := Verify(&uk, docverify.Document{SOD: sod, At: time.Now()}); v.Genuine || !strings.Contains(v.Reason, "chain") {
		t.Errorf("uk 2012, now: %s", summary(v))
	}
	// NZ 2013: BER, chain valid when signed.
	var nz Trust
	nz.AddCSCA(read(t, filepath.Join(dir, "nz-2013/CSCA_NZ_2008.cer")), "NZ")
	if v := Verify(&nz, docverify.Document{SOD: read(t, filepath.Join(dir, "nz-2013/EF_SOD.bin")), At: time.Date(2013, 6, 1, 0, 0, 0, 0, time.UTC)}); !v.Genuine {
		t.Errorf("nz 2013: %s", summary(v))
	}
	// The master lists verify against their anchors.
	for _, ml := range []struct{ file, anchor string }{{"NL_ML_2026-07-22.ml", "NL_CSCA_serial7.cer"}, {"DE_ML_2026-05-28-08-28-45.ml", "DE_CSCA_07.cer"}} {
		var tr Trust
		n, err := tr.AddMasterList(read(t, filepath.Join(dir, "masterlists", ml.file)), read(t, filepath.Join(dir, "masterlists", ml.anchor)),
			time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC))
		if err != nil || n < 400 {
			t.Errorf("%s: %d CSCAs, %v (skipped %v)", ml.file, n, err, tr.Skipped)
		}
		t.Logf("%s: %d CSCAs from %d countries, %d skipped", ml.file, n, len(tr.Countries), len(tr.Skipped))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
