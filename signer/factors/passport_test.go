package factors

import (
	"testing"
	"time"

	"github.com/segl/segl/plugins/docverify/icao9303/icaotest"
	"github.com/segl/segl/signer/store"
)

// The holder match on DG1: transliteration of the stored name, the date
// of birth, the nationality; a mismatch names the attribute only.
func TestMatchDG1(t *testing.T) {
	dg1 := icaotest.DG1(icaotest.TD3(icaotest.Options{Surname: "OERSTED", GivenNames: "KAREN MARIE", DocumentNumber: "AB1234567",
		Nationality: "DNK", Sex: "F", Birth: time.Date(1985, 4, 17, 0, 0, 0, 0, time.UTC), Expiry: time.Now().AddDate(3, 0, 0)}))
	karen := store.Identity{Surname: "Ørsted", GivenNames: "Karen Marie", DateOfBirth: "1985-04-17", Nationality: "DNK"}
	if err := MatchDG1(dg1, karen, time.Now()); err != nil {
		t.Fatalf("Ørsted against OERSTED: %v", err)
	}
	for name, id := range map[string]store.Identity{
		"another surname":     {Surname: "Olsen", GivenNames: "Karen Marie", DateOfBirth: "1985-04-17", Nationality: "DNK"},
		"another birth":       {Surname: "Ørsted", GivenNames: "Karen Marie", DateOfBirth: "1985-04-18", Nationality: "DNK"},
		"another nationality": {Surname: "Ørsted", GivenNames: "Karen Marie", DateOfBirth: "1985-04-17", Nationality: "SWE"},
	} {
		err := MatchDG1(dg1, id, time.Now())
		if err == nil {
			t.Errorf("%s: matched", name)
			continue
		}
		for _, v := range []string{"Olsen", "OLSEN", "ORSTED", "1985", "SWE", "AB1234567"} {
			if contains(err.Error(), v) {
				t.Errorf("%s: the error shows %q: %v", name, v, err)
			}
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
