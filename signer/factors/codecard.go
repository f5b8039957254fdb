package factors

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/errs"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/codecard"
)

// CodeCardFactor is the NemID code card (possession): the order shows a
// key number from the user's card, the user types the code beside it.
type CodeCardFactor struct {
	master codecard.HMAC
}

var _ Challenger = (*CodeCardFactor)(nil)

// NewCodeCard checks codes with the code-card master key in the HSM.
func NewCodeCard(master codecard.HMAC) *CodeCardFactor { return &CodeCardFactor{master: master} }

func (*CodeCardFactor) Type() Type         { return CodeCard }
func (*CodeCardFactor) Category() Category { return Possession }

// AMR: RFC 8176 has no code-card value; "otp" is the closest (a one-time
// code from something the user has).
func (*CodeCardFactor) AMR() string { return "otp" }

// CodeCardChallenge is what /rp/v1/challenge shows for a code card.
type CodeCardChallenge struct {
	CardSerial string `json:"cardSerial"`
	KeyNumber  string `json:"keyNumber"`
}

// usableCards are the user's cards that may answer: the active one, and a
// pending one (whose first success retires the active one).
func usableCards(tx store.Reader, user string) ([]*store.CodeCard, error) {
	cards, err := tx.CodeCards(user)
	if err != nil {
		return nil, err
	}
	var usable []*store.CodeCard
	for _, c := range cards {
		if c.Status != store.CardRevoked && c.Unspent() > 0 {
			usable = append(usable, c)
		}
	}
	return usable, nil
}

// Challenge shows the entry the card offered last if nobody has answered
// it yet, and only otherwise a new random one: asking again, in this order
// or a new one, never shows another key number, so a caller who knows a
// few codes of a card cannot fish for one of them.
func (f *CodeCardFactor) Challenge(tx store.Tx, a *Attempt) (string, any, error) {
	cards, err := usableCards(tx, a.User.ID)
	if err != nil {
		return "", nil, err
	}
	// The active card first: a pending one is still in the post.
	var card *store.CodeCard
	for _, c := range cards {
		if card == nil || (c.Status == store.CardActive && card.Status != store.CardActive) {
			card = c
		}
	}
	if card == nil {
		return "", nil, errs.Invalid("user %s has no code card with codes left: issue one with `segl codecards issue`", a.User.ID)
	}
	i := card.Offered
	if i < 0 || i >= len(card.Spent) || card.Spent[i] {
		var unspent []int
		for j, spent := range card.Spent {
			if !spent {
				unspent = append(unspent, j)
			}
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(unspent))))
		if err != nil {
			return "", nil, err
		}
		i = unspent[n.Int64()]
		if err := tx.OfferCodeCardEntry(card.Serial, i); err != nil {
			return "", nil, err
		}
	}
	return fmt.Sprintf("codecard:%s:%d", card.Serial, i), CodeCardChallenge{CardSerial: card.Serial, KeyNumber: fmt.Sprintf("%04d", card.Keys[i])}, nil
}

var cardChallengeRE = regexp.MustCompile(`^codecard:([0-9]{10}):(0|[1-9][0-9]{0,2})$`)

// parseChallenge reads "codecard:<serial>:<entry>" in its one canonical
// spelling.
func parseChallenge(s string) (serial string, idx int, ok bool) {
	m := cardChallengeRE.FindStringSubmatch(s)
	if m == nil {
		return "", 0, false
	}
	i, _ := strconv.Atoi(m[2])
	if i >= codecard.Entries {
		return "", 0, false
	}
	return m[1], i, true
}

// Verify compares the code in constant time in the HSM. Settling it spends
// the challenged entry, right or wrong, so any later answer to it, right
// or wrong, meets a spent entry and counts nothing; the first success
// with a pending card makes it the active one and revokes the old.
func (f *CodeCardFactor) Verify(_ context.Context, a *Attempt) (Verdict, error) {
	serial, idx, ok := parseChallenge(a.Order.Challenge)
	if !ok {
		return Verdict{}, errs.Invalid("order %s has no code-card challenge: ask /rp/v1/challenge first", a.Order.Ref)
	}
	right, err := codecard.Check(f.master, serial, idx, a.Value)
	if err != nil {
		return Verdict{}, fmt.Errorf("code card %s: %w", serial, err)
	}
	v := Verdict{Right: right, Reason: "wrong code"}
	v.Spend = func(tx store.Tx, _ *store.Order) (bool, error) {
		card, err := tx.CodeCard(serial)
		if err != nil {
			return false, err
		}
		if card.User != a.User.ID || card.Status == store.CardRevoked {
			return false, nil // revoked while the code was checked
		}
		spent, err := tx.SpendCodeCardEntry(serial, idx)
		if err != nil || !spent {
			return false, err
		}
		if !right {
			return true, nil
		}
		return true, f.used(tx, a.User, card, idx, a.Now)
	}
	return v, nil
}

// used is what a right answer changes besides the entry: a pending card
// becomes the active one, and a card down to its last codes gets a
// successor.
func (f *CodeCardFactor) used(tx store.Tx, u *store.User, card *store.CodeCard, idx int, now time.Time) error {
	if err := f.renew(tx, u, card, idx, now); err != nil {
		return err
	}
	if card.Status != store.CardPending {
		return nil
	}
	cards, err := tx.CodeCards(u.ID)
	if err != nil {
		return err
	}
	for _, c := range cards {
		if c.Serial != card.Serial && c.Status == store.CardActive {
			if err := tx.SetCodeCardStatus(c.Serial, store.CardRevoked); err != nil {
				return err
			}
			if _, err := tx.Audit(audit.Record{Time: now, Event: audit.CodeCardRevoked, Actor: "system", Subject: "user:" + u.ID,
				Outcome: "ok", Details: map[string]string{"serial": c.Serial, "reason": "replaced by " + card.Serial}}); err != nil {
				return err
			}
		}
	}
	return tx.SetCodeCardStatus(card.Serial, store.CardActive)
}

// renew issues the user's next card, pending and unprinted, when this one
// is down to LowWater entries and no next card exists yet.
func (f *CodeCardFactor) renew(tx store.Tx, u *store.User, card *store.CodeCard, spentNow int, now time.Time) error {
	card.Spent[spentNow] = true
	if card.Unspent() > codecard.LowWater {
		return nil
	}
	cards, err := tx.CodeCards(u.ID)
	if err != nil {
		return err
	}
	for _, c := range cards {
		if c.Status == store.CardPending {
			return nil
		}
	}
	serial, err := codecard.NewSerial()
	if err != nil {
		return err
	}
	keys, err := codecard.KeyNumbers(f.master, serial)
	if err != nil {
		return err
	}
	if err := tx.CreateCodeCard(&store.CodeCard{Serial: serial, User: u.ID, Status: store.CardPending, Keys: keys, Created: now}); err != nil {
		return err
	}
	_, err = tx.Audit(audit.Record{Time: now, Event: audit.CodeCardIssued, Actor: "system", Subject: "user:" + u.ID, Outcome: "ok",
		Details: map[string]string{"serial": serial, "reason": fmt.Sprintf("%s has %d codes left", card.Serial, card.Unspent()), "printed": "false"}})
	return err
}
