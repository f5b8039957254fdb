package orders

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/codecard"
)

// Challenger is a factor that asks something before it can be answered
// (/rp/v1/challenge).
type Challenger interface {
	Factor
	// Challenge picks what the user must answer for order o, returning
	// what the order stores and what the relying party shows. It runs in
	// the order's transaction.
	Challenge(tx store.Tx, u *store.User, o *store.Order) (stored string, shown any, err error)
}

// CodeCardFactor is the NemID code card (possession): the order shows a
// key number from the user's card, the user types the code beside it.
type CodeCardFactor struct {
	Store  store.Store
	Master codecard.HMAC
}

var _ Challenger = (*CodeCardFactor)(nil)

func (*CodeCardFactor) Type() string       { return "codecard" }
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

func (f *CodeCardFactor) Challenge(tx store.Tx, u *store.User, o *store.Order) (string, any, error) {
	cards, err := usableCards(tx, u.ID)
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
		return "", nil, invalid("user %s has no code card with codes left: issue one with `segl codecards issue`", u.ID)
	}
	var unspent []int
	for i, spent := range card.Spent {
		if !spent {
			unspent = append(unspent, i)
		}
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(unspent))))
	if err != nil {
		return "", nil, err
	}
	i := unspent[n.Int64()]
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

// Check spends the challenged entry, right or wrong, and compares the code
// in constant time in the HSM. The first success with a pending card makes
// it the active one and revokes the old.
func (f *CodeCardFactor) Check(ctx context.Context, u *store.User, o *store.Order, value string) error {
	serial, idx, ok := parseChallenge(o.Challenge)
	if !ok {
		return invalid("order %s has no code-card challenge: ask /rp/v1/challenge first", o.Ref)
	}
	right, err := codecard.Check(f.Master, serial, idx, value)
	if err != nil {
		return err
	}
	now := time.Now()
	err = f.Store.Update(ctx, func(tx store.Tx) error {
		card, err := tx.CodeCard(serial)
		if err != nil {
			return err
		}
		if card.User != u.ID || card.Status == store.CardRevoked {
			return fmt.Errorf("%w: code card %s is not in use by %s", ErrRejected, serial, u.ID)
		}
		spent, err := tx.SpendCodeCardEntry(serial, idx)
		if err != nil {
			return err
		}
		if !spent {
			return fmt.Errorf("%w: entry already answered", ErrRejected)
		}
		if !right {
			return nil
		}
		if err := f.renew(tx, u, card, idx, now); err != nil {
			return err
		}
		if card.Status == store.CardPending {
			cards, err := tx.CodeCards(u.ID)
			if err != nil {
				return err
			}
			for _, c := range cards {
				if c.Serial != serial && c.Status == store.CardActive {
					if err := tx.SetCodeCardStatus(c.Serial, store.CardRevoked); err != nil {
						return err
					}
					if _, err := tx.Audit(audit.Record{Time: now, Event: "codecard.revoked", Actor: "system", Subject: "user:" + u.ID,
						Outcome: "ok", Details: map[string]string{"serial": c.Serial, "reason": "replaced by " + serial}}); err != nil {
						return err
					}
				}
			}
			if err := tx.SetCodeCardStatus(serial, store.CardActive); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrRejected) || errors.Is(err, ErrInvalid) {
			return err
		}
		return fmt.Errorf("code card %s: %w", serial, err)
	}
	if !right {
		return fmt.Errorf("%w: wrong code", ErrRejected)
	}
	return nil
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
	keys, err := codecard.KeyNumbers(f.Master, serial)
	if err != nil {
		return err
	}
	if err := tx.CreateCodeCard(&store.CodeCard{Serial: serial, User: u.ID, Status: store.CardPending, Keys: keys, Created: now}); err != nil {
		return err
	}
	_, err = tx.Audit(audit.Record{Time: now, Event: "codecard.issued", Actor: "system", Subject: "user:" + u.ID, Outcome: "ok",
		Details: map[string]string{"serial": serial, "reason": fmt.Sprintf("%s has %d codes left", card.Serial, card.Unspent()), "printed": "false"}})
	return err
}
