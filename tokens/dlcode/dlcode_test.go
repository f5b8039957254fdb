package dlcode_test

import (
	"strings"
	"testing"

	"github.com/segl/segl/softhsm/softhsmtest"
	"github.com/segl/segl/tokens/dlcode"
)

func TestLinkedToEveryField(t *testing.T) {
	tok, ks := softhsmtest.Open(t)
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		t.Fatal(err)
	}
	w, err := ks.ImportSecret("kek", []byte(strings.Repeat("d", 32)))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := ks.WrappedHMAC(w)
	p := dlcode.Payment{OrderRef: "67df3917-fa0d-44e5-b327-edcc928297f8", AmountMinor: "12995", Currency: "DKK", Payee: "Netto"}
	code, err := dlcode.Code(d, p, 1795000000, 6)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := dlcode.Verify(d, p, 1795000000, 6, code); !ok {
		t.Fatal("the right code was refused")
	}
	for name, q := range map[string]dlcode.Payment{
		"amount":   {p.OrderRef, "12996", p.Currency, p.Payee},
		"currency": {p.OrderRef, p.AmountMinor, "SEK", p.Payee},
		"payee":    {p.OrderRef, p.AmountMinor, p.Currency, "Netto "},
		"order":    {"other", p.AmountMinor, p.Currency, p.Payee},
	} {
		if ok, _ := dlcode.Verify(d, q, 1795000000, 6, code); ok {
			t.Errorf("a changed %s still verifies", name)
		}
	}
	if ok, _ := dlcode.Verify(d, p, 1795000001, 6, code); ok {
		t.Error("another issue time still verifies")
	}
	for name, q := range map[string]dlcode.Payment{
		"leading zero":   {p.OrderRef, "012995", p.Currency, p.Payee},
		"decimal point":  {p.OrderRef, "129.95", p.Currency, p.Payee},
		"lower currency": {p.OrderRef, p.AmountMinor, "dkk", p.Payee},
		"empty payee":    {p.OrderRef, p.AmountMinor, p.Currency, ""},
		"NUL in payee":   {p.OrderRef, p.AmountMinor, p.Currency, "a\x00b"},
	} {
		if _, err := dlcode.Code(d, q, 0, 6); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
