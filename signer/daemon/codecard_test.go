package daemon_test

import (
	"context"
	"sort"
	"testing"

	"github.com/segl/segl/signer/store"
)

type issuedCard struct {
	Serial  string `json:"serial"`
	Status  string `json:"status"`
	Entries []struct {
		Key  string `json:"key"`
		Code string `json:"code"`
	} `json:"entries"`
}

func (e *env) issueCard(user string) issuedCard {
	e.t.Helper()
	var card issuedCard
	if code := e.call(e.off, "POST", "/admin/v1/codecards", map[string]string{"userId": user}, &card); code != 201 {
		e.t.Fatalf("issue card: %d", code)
	}
	return card
}

func (c issuedCard) code(key string) string {
	for _, e := range c.Entries {
		if e.Key == key {
			return e.Code
		}
	}
	return ""
}

type challenge struct {
	CardSerial string `json:"cardSerial"`
	KeyNumber  string `json:"keyNumber"`
}

func (e *env) challenge(ref string) challenge {
	e.t.Helper()
	var ch challenge
	if code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": ref, "type": "codecard"}, &ch); code != 200 {
		e.t.Fatalf("challenge: %d", code)
	}
	return ch
}

// A real second factor: password and code card complete an order.
func TestCodeCardCompletesOrder(t *testing.T) {
	e := start(t)
	e.createUser("frida", "kodeord123")
	card := e.issueCard("frida")
	if len(card.Entries) != 148 || card.Status != "active" || !sort.SliceIsSorted(card.Entries, func(i, j int) bool { return card.Entries[i].Key < card.Entries[j].Key }) {
		t.Fatalf("card: %d entries, %s", len(card.Entries), card.Status)
	}

	o := e.startOrder("auth", map[string]string{"userId": "frida", "endUserIp": "192.0.2.1"})
	ch := e.challenge(o.OrderRef)
	if ch.CardSerial != card.Serial || card.code(ch.KeyNumber) == "" {
		t.Fatalf("challenge %+v is not on card %s", ch, card.Serial)
	}
	// A wrong code spends the entry and counts as a failure.
	wrong := "000000"
	if card.code(ch.KeyNumber) == wrong {
		wrong = "000001"
	}
	if r := e.factor(o.OrderRef, "codecard", wrong); r.Accepted {
		t.Fatal("a wrong code was accepted")
	}
	if r := e.factor(o.OrderRef, "codecard", card.code(ch.KeyNumber)); r.Accepted {
		t.Fatal("the right code for a spent entry was accepted")
	}
	ch = e.challenge(o.OrderRef)
	if r := e.factor(o.OrderRef, "codecard", card.code(ch.KeyNumber)); !r.Accepted || r.Status != "pending" {
		t.Fatalf("right code: %+v", r)
	}
	if r := e.factor(o.OrderRef, "password", "kodeord123"); r.Status != "complete" {
		t.Fatalf("password after code card: %+v", r)
	}
	var cards struct {
		Codecards []struct {
			Serial  string
			Unspent int
		}
	}
	e.call(e.off, "GET", "/admin/v1/codecards?userId=frida", nil, &cards)
	if len(cards.Codecards) != 1 || cards.Codecards[0].Unspent != 146 {
		t.Fatalf("cards after two answers: %+v", cards)
	}

	// A second card waits as pending; its first success revokes the first.
	next := e.issueCard("frida")
	if next.Status != "pending" {
		t.Fatalf("second card: %s", next.Status)
	}
	o2 := e.startOrder("auth", map[string]string{"userId": "frida", "endUserIp": "192.0.2.1"})
	ch = e.challenge(o2.OrderRef)
	if ch.CardSerial != card.Serial {
		t.Fatalf("the challenge came from the pending card %s", ch.CardSerial)
	}
	// Use up the first card (as 146 more logins would), and the next
	// challenge comes from the pending card.
	err := e.d.Store().Update(context.Background(), func(tx store.Tx) error {
		for i := range 148 {
			if _, err := tx.SpendCodeCardEntry(card.Serial, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ch = e.challenge(o2.OrderRef)
	if ch.CardSerial != next.Serial {
		t.Fatalf("with the first card used up the challenge is on %s", ch.CardSerial)
	}
	if r := e.factor(o2.OrderRef, "codecard", next.code(ch.KeyNumber)); !r.Accepted {
		t.Fatalf("the new card: %+v", r)
	}
	status := map[string]string{}
	var all struct {
		Codecards []struct{ Serial, Status string }
	}
	e.call(e.off, "GET", "/admin/v1/codecards?userId=frida", nil, &all)
	for _, c := range all.Codecards {
		status[c.Serial] = c.Status
	}
	if status[card.Serial] != "revoked" || status[next.Serial] != "active" {
		t.Fatalf("after the new card's first success: %v", status)
	}
	// Down to 20 entries, the next right answer issues the next card by
	// itself: pending and unprinted, for an officer to print once.
	err = e.d.Store().Update(context.Background(), func(tx store.Tx) error {
		for i := range 148 - 21 {
			tx.SpendCodeCardEntry(next.Serial, i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": o2.OrderRef}, nil)
	o3 := e.startOrder("auth", map[string]string{"userId": "frida", "endUserIp": "192.0.2.1"})
	ch = e.challenge(o3.OrderRef)
	if r := e.factor(o3.OrderRef, "codecard", next.code(ch.KeyNumber)); !r.Accepted {
		t.Fatalf("%+v", r)
	}
	var listed struct {
		Codecards []struct {
			Serial, Status string
			Printed        bool
		}
	}
	e.call(e.off, "GET", "/admin/v1/codecards?userId=frida", nil, &listed)
	var auto string
	for _, c := range listed.Codecards {
		if c.Status == "pending" && !c.Printed {
			auto = c.Serial
		}
	}
	if auto == "" {
		t.Fatalf("no unprinted pending card after the old one reached 20: %+v", listed)
	}
	var printed issuedCard
	if code := e.call(e.off, "POST", "/admin/v1/codecards/"+auto+"/print", nil, &printed); code != 200 || len(printed.Entries) != 148 {
		t.Fatalf("print: %d, %d entries", code, len(printed.Entries))
	}
	var errResp apiError
	if code := e.call(e.off, "POST", "/admin/v1/codecards/"+auto+"/print", nil, &errResp); code != 400 {
		t.Fatalf("a card printed twice: %d", code)
	}

	// An officer can revoke a card at once.
	e.call(e.off, "POST", "/admin/v1/codecards/"+next.Serial+"/revoke", nil, nil)
	e.call(e.off, "POST", "/admin/v1/codecards/"+auto+"/revoke", nil, nil)
	if code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": o3.OrderRef, "type": "codecard"}, &errResp); code != 400 {
		t.Fatalf("a challenge with every card revoked: %d", code)
	}
}
