package icao9303_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segl/segl/plugins/docverify/icao9303"
	"github.com/segl/segl/plugins/docverify/icao9303/icaotest"
)

// The adapter's trust store from its settings, and its refusals.
func TestAdapterConfigure(t *testing.T) {
	d := icaotest.New(t, icaotest.Options{Signer: "p256"})
	dir := t.TempDir()
	d.WriteDump(dir)
	crl := filepath.Join(dir, "crl.der")
	writeFile(t, crl, d.CRL(t))
	for name, c := range map[string]struct {
		settings map[string]string
		want     string
	}{
		"unknown setting":   {map[string]string{"csca": dir, "password": "x"}, `unknown setting "password"`},
		"no CSCA":           {map[string]string{}, "no CSCA"},
		"a missing file":    {map[string]string{"csca": dir + "/nope.der"}, "no such file"},
		"a bad pair":        {map[string]string{"csca": filepath.Join(dir, "csca.der"), "masterlists": "ml.der"}, "FILE=ANCHOR"},
		"a key, not a CSCA": {map[string]string{"csca": dir}, "no CERTIFICATE block"},
	} {
		if _, err := (&icao9303.Adapter{}).Configure(context.Background(), c.settings); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", name, err, c.want)
		}
	}
	a := &icao9303.Adapter{}
	desc, err := a.Configure(context.Background(), map[string]string{"csca": filepath.Join(dir, "csca.der"), "crls": crl})
	if err != nil || !strings.Contains(desc, "1 CSCAs from 1 countries, 1 CRLs") {
		t.Fatalf("configure: %q %v", desc, err)
	}
	v, err := a.Verify(context.Background(), doc(d))
	if err != nil || v.Genuine || !strings.HasPrefix(v.Reason, icao9303.CheckCRL) {
		t.Fatalf("a signer its CRL revokes: %+v %v", v, err)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
