package icao9303

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/segl/segl/plugins/docverify"
)

// Adapter is the icao9303 verifier as a docverify plugin.
type Adapter struct {
	trust *Trust
}

var _ docverify.Verifier = (*Adapter)(nil)

// Settings are the adapter's settings (plugins[].config), each described
// for its error.
var Settings = map[string]string{
	"csca":        "CSCA certificates: files or directories of .der, .cer, .crt or .pem, separated by commas",
	"masterlists": "CSCA master lists, each FILE=ANCHOR (the CSCA that signed its signer), separated by commas",
	"crls":        "the CSCAs' CRLs, files separated by commas",
}

func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Configure loads the trust store; a store with no CSCA is refused.
func (a *Adapter) Configure(_ context.Context, s map[string]string) (string, error) {
	var problems []string
	for k := range s {
		if _, ok := Settings[k]; !ok {
			problems = append(problems, fmt.Sprintf("unknown setting %q", k))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return "", fmt.Errorf("icao9303: %s", strings.Join(problems, "; "))
	}
	t := &Trust{}
	for _, p := range list(s["csca"]) {
		if err := t.AddCSCAPath(p); err != nil {
			return "", fmt.Errorf("icao9303: csca: %w", err)
		}
	}
	for _, pair := range list(s["masterlists"]) {
		file, anchor, ok := strings.Cut(pair, "=")
		if !ok {
			return "", fmt.Errorf("icao9303: masterlists: %q is not FILE=ANCHOR", pair)
		}
		ml, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("icao9303: masterlists: %w", err)
		}
		an, err := os.ReadFile(anchor)
		if err != nil {
			return "", fmt.Errorf("icao9303: masterlists: %w", err)
		}
		if _, err := t.AddMasterList(ml, an, time.Now()); err != nil {
			return "", fmt.Errorf("icao9303: master list %s: %w", file, err)
		}
	}
	for _, f := range list(s["crls"]) {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("icao9303: crls: %w", err)
		}
		if err := t.AddCRL(b); err != nil {
			return "", fmt.Errorf("icao9303: crl %s: %w", f, err)
		}
	}
	if len(t.CSCAs) == 0 {
		return "", errors.New("icao9303: no CSCA: set csca or masterlists (every document would be rejected)")
	}
	a.trust = t
	return fmt.Sprintf("icao9303, %d CSCAs from %d countries, %d CRLs", len(t.CSCAs), len(t.Countries), len(t.CRLs)), nil
}

// Verify checks one document.
func (a *Adapter) Verify(_ context.Context, d docverify.Document) (*docverify.Verdict, error) {
	if a.trust == nil {
		return nil, errors.New("icao9303: not configured")
	}
	return Verify(a.trust, d), nil
}
