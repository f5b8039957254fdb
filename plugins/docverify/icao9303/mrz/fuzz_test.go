package mrz

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		td3Line1 + td3Line2, td1Line1 + td1Line2 + td1Line3, td2Line1 + td2Line2,
		td1LongLine1 + td1LongLine2 + td1Line3, td2Line1 + td2LongLine2, td3Line1 + "\n" + td3Line2,
		mrzTD3(td3Line1, "L898902C3", "UTO", "7408<<", "F", "300415", ""), "", "\n", "\n\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseAt(s, now)
		if err != nil {
			if m != nil {
				t.Fatal("an MRZ and an error")
			}
			return
		}
		_ = m.String()
		// An MRZ's own names and birth match it, unless its secondary
		// identifier has fillers that a stored name cannot have.
		_, secondary, _ := strings.Cut(m.nameField, "<<")
		if m.Surname != "" && !m.DateOfBirth.IsZero() && !strings.Contains(strings.TrimLeft(secondary, "<"), "<<") {
			if err := MatchHolder(m, m.Surname, m.GivenNames, m.DateOfBirth, m.Nationality); err != nil {
				t.Fatalf("%s does not match itself: %v", m.nameField, err)
			}
		}
	})
}

func FuzzParseDG1(f *testing.F) {
	f.Add(dg1([]byte(td3Line1 + td3Line2)))
	f.Add(dg1([]byte(td1Line1 + td1Line2 + td1Line3)))
	f.Add(append([]byte{0x61, 0x82, 0x00, 0x5C, 0x5F, 0x1F, 0x81, 0x58}, td3Line1+td3Line2...))
	f.Add([]byte{0x61, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseDG1At(b, now)
		if (m == nil) == (err == nil) {
			t.Fatalf("%v, %v", m, err)
		}
	})
}
