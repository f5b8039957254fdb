//go:build realdata

package mrz

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRealDG1 reads the public specimen chips' DG1 from the directory in
// SEGL_ICAO_TESTDATA (never copied into the repository): each parses with
// every check digit right. The holders are fictitious; still, nothing of
// the MRZ is printed beyond its format, code and issuing state.
func TestRealDG1(t *testing.T) {
	dir := os.Getenv("SEGL_ICAO_TESTDATA")
	if dir == "" {
		t.Fatal("SEGL_ICAO_TESTDATA is not set: the directory of the ICAO test data (shared/testdata/icao)")
	}
	for _, c := range []struct {
		path            string
		format          Format
		code, state     string
		surname, givens string // the specimen holder, as PROVENANCE.md names them
	}{
		{"bsi2008-mustermann/EF_DG1.bin", TD3, "P", "D<<", "Mustermann", "Erika"},
		{"nl-sdu-loes2006/EF_DG1.bin", TD3, "P", "NLD", "Meulendijk", "Loes Albertine"},
	} {
		t.Run(c.path, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, c.path))
			if err != nil {
				t.Fatal(err)
			}
			m, err := ParseDG1(b)
			if err != nil {
				t.Fatal(err)
			}
			if m.Format != c.format || m.DocumentCode != c.code || m.IssuingState != c.state {
				t.Errorf("got %v, want %s %s %s", m, c.format, c.code, c.state)
			}
			if m.Surname == "" || m.DocumentNumber == "" || m.DateOfBirth.IsZero() || m.DateOfExpiry.IsZero() {
				t.Error("a name, the document number or a date is missing")
			}
			// The holder matches the MRZ's own names, and not others.
			if err := MatchHolder(m, m.Surname, m.GivenNames, m.DateOfBirth, m.Nationality); err != nil {
				t.Errorf("the MRZ's own holder: %v", err)
			}
			if err := MatchHolder(m, c.surname, c.givens, m.DateOfBirth, ""); err != nil {
				t.Errorf("the specimen holder: %v", err)
			}
			if err := MatchHolder(m, "Ørsted", "Karen", m.DateOfBirth, ""); err == nil {
				t.Error("another holder matched")
			}
			t.Logf("%v: parsed, every check digit right; expiry %s", m, m.DateOfExpiry.Format("2006-01-02"))
		})
	}
}
