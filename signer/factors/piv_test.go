package factors

import (
	"slices"
	"testing"

	"github.com/segl/segl/signer/store"
)

// What a card proves follows its PIN policy, as its attestation gave it.
func TestPIVElements(t *testing.T) {
	f := &PIVFactor{}
	for _, c := range []struct {
		policy     string
		categories []Category
		amr        []string
	}{
		{"never", []Category{Possession}, []string{"sc"}},
		{"once", []Category{Possession, Knowledge}, []string{"sc", "pin"}},
		{"always", []Category{Possession, Knowledge}, []string{"sc", "pin"}},
		{"match-once", []Category{Possession, Inherence}, []string{"sc", "fpt"}},
		{"match-always", []Category{Possession, Inherence}, []string{"sc", "fpt"}},
	} {
		o := &store.Order{PIVCard: "12345" + unlocked(c.policy)}
		amr, err := f.AMRs(nil, o)
		if err != nil || !slices.Equal(amr, c.amr) || !slices.Equal(f.Categories(o), c.categories) {
			t.Errorf("%s: %v %v %v", c.policy, f.Categories(o), amr, err)
		}
	}
}
