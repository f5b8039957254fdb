package daemon_test

import (
	"context"
	"testing"

	"github.com/segl/segl/signer/store"
)

// A payment completes only with the code linked to its amount and payee.
func TestPaymentNeedsDynamicLinking(t *testing.T) {
	e := start(t)
	e.createUser("hanne", "betaling1")
	card := e.issueCard("hanne")
	pay := map[string]any{"userId": "hanne", "endUserIp": "192.0.2.1",
		"payment": map[string]string{"amountMinor": "12995", "currency": "DKK", "payee": "Netto Nørrebro"}}
	var o struct{ OrderRef string }
	if code := e.call(e.rp, "POST", "/rp/v1/auth", pay, &o); code != 200 {
		t.Fatalf("start: %d", code)
	}
	// Password and code card are two factors, but neither depends on the
	// amount and payee: the payment stays pending.
	e.factor(o.OrderRef, "password", "betaling1")
	ch := e.challenge(o.OrderRef)
	if r := e.factor(o.OrderRef, "codecard", card.code(ch.KeyNumber)); !r.Accepted || r.Status != "pending" {
		t.Fatalf("password and code card on a payment: %+v", r)
	}
	var dl struct{ ExpiresIn int }
	if code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": o.OrderRef, "type": "dlcode"}, &dl); code != 200 || dl.ExpiresIn != 300 {
		t.Fatalf("dlcode challenge: %d %+v", code, dl)
	}
	order := func() *store.Order {
		var ord *store.Order
		e.d.Store().View(context.Background(), func(r store.Reader) (err error) { ord, err = r.Order(o.OrderRef); return err })
		return ord
	}
	right, err := e.d.DLCodes.Code(order())
	if err != nil {
		t.Fatal(err)
	}
	// The code for another amount (as a changed order would give) fails.
	changed := order()
	changed.Payment = `{"amountMinor":"12996","currency":"DKK","payee":"Netto Nørrebro"}`
	other, _ := e.d.DLCodes.Code(changed)
	if other == right {
		t.Fatal("the code does not depend on the amount")
	}
	if r := e.factor(o.OrderRef, "dlcode", other); r.Accepted {
		t.Fatal("a code for another amount was accepted")
	}
	if r := e.factor(o.OrderRef, "dlcode", right); !r.Accepted || r.Status != "complete" {
		t.Fatalf("the right code: %+v", r)
	}

	// Without a payment there is no code to ask for.
	o2 := e.startOrder("auth", map[string]string{"userId": "hanne", "endUserIp": "192.0.2.1"})
	var errResp apiError
	if code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": o2.OrderRef, "type": "dlcode"}, &errResp); code != 400 {
		t.Fatalf("a dlcode challenge without payment: %d", code)
	}
	// A malformed payment is refused at the start.
	bad := map[string]any{"userId": "x", "endUserIp": "192.0.2.1", "payment": map[string]string{"amountMinor": "129.95", "currency": "DKK", "payee": "N"}}
	if code := e.call(e.rp, "POST", "/rp/v1/auth", bad, &errResp); code != 400 {
		t.Fatalf("amount 129.95: %d", code)
	}
}
