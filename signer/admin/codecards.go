package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/orders"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/codecard"
)

// CardEntry is one printed pair.
type CardEntry struct {
	Key  string `json:"key"`
	Code string `json:"code"`
}

// IssuedCard is a new card as the officer prints it: the only time its
// codes leave the HSM, and only to the officer's mTLS connection.
type IssuedCard struct {
	Serial  string      `json:"serial"`
	UserID  string      `json:"userId"`
	Name    string      `json:"name"`
	Status  string      `json:"status"`
	Entries []CardEntry `json:"entries"` // sorted by key number
}

// CardView is a card without its codes.
type CardView struct {
	Serial  string    `json:"serial"`
	UserID  string    `json:"userId"`
	Status  string    `json:"status"`
	Unspent int       `json:"unspent"`
	Printed bool      `json:"printed"`
	Created time.Time `json:"created"`
}

func cardView(c *store.CodeCard) CardView {
	return CardView{Serial: c.Serial, UserID: c.User, Status: string(c.Status), Unspent: c.Unspent(), Printed: !c.Printed.IsZero(), Created: c.Created}
}

// IssueCodeCard makes a card for a user: active if they have none in use,
// pending (until its first successful use) if they do.
func (s *Service) IssueCodeCard(ctx context.Context, by, userID string) (*IssuedCard, error) {
	if s.CodeCardMaster == nil {
		return nil, errors.New("no code-card master key is configured")
	}
	var u *store.User
	if err := s.Store.View(ctx, func(r store.Reader) (err error) { u, err = r.User(userID); return err }); err != nil {
		return nil, err
	}
	serial, err := codecard.NewSerial()
	if err != nil {
		return nil, err
	}
	keys, err := codecard.KeyNumbers(s.CodeCardMaster, serial)
	if err != nil {
		return nil, err
	}
	card, err := s.printable(serial, u, keys)
	if err != nil {
		return nil, err
	}
	now := s.now()
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		cards, err := tx.CodeCards(u.ID)
		if err != nil {
			return err
		}
		status := store.CardActive
		for _, c := range cards {
			if c.Status == store.CardActive {
				status = store.CardPending
			}
		}
		card.Status = string(status)
		if err := tx.CreateCodeCard(&store.CodeCard{Serial: serial, User: u.ID, Status: status, Keys: keys, Created: now, Printed: now}); err != nil {
			return err
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.AdminCodeCardIssued, Actor: officer(by), Subject: "user:" + u.ID, Outcome: "ok",
			Details: map[string]string{"serial": serial, "status": string(status)}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return card, nil
}

// printable computes a card's pairs in the HSM, sorted by key number.
func (s *Service) printable(serial string, u *store.User, keys []int) (*IssuedCard, error) {
	card := &IssuedCard{Serial: serial, UserID: u.ID, Name: u.Name}
	for i, k := range keys {
		code, err := codecard.Code(s.CodeCardMaster, serial, i)
		if err != nil {
			return nil, err
		}
		card.Entries = append(card.Entries, CardEntry{Key: fmt.Sprintf("%04d", k), Code: code})
	}
	sort.Slice(card.Entries, func(i, j int) bool { return card.Entries[i].Key < card.Entries[j].Key })
	return card, nil
}

// PrintCodeCard hands out the codes of a card the server issued by itself
// (when the old card ran low), once.
func (s *Service) PrintCodeCard(ctx context.Context, by, serial string) (*IssuedCard, error) {
	if err := codecard.CheckSerial(serial); err != nil {
		return nil, fmt.Errorf("%w: %v", orders.ErrInvalid, err)
	}
	now := s.now()
	var out *IssuedCard
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		c, err := tx.CodeCard(serial)
		if err != nil {
			return err
		}
		if c.Status == store.CardRevoked {
			return fmt.Errorf("%w: code card %s is revoked", orders.ErrInvalid, serial)
		}
		ok, err := tx.MarkCodeCardPrinted(serial, now)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: code card %s was printed on %s already; revoke it and issue another if the print was lost",
				orders.ErrInvalid, serial, c.Printed.Format(time.RFC3339))
		}
		u, err := tx.User(c.User)
		if err != nil {
			return err
		}
		if out, err = s.printable(serial, u, c.Keys); err != nil {
			return err
		}
		out.Status = string(c.Status)
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.AdminCodeCardPrinted, Actor: officer(by), Subject: "user:" + c.User, Outcome: "ok",
			Details: map[string]string{"serial": serial}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CodeCards lists cards, of one user or all.
func (s *Service) CodeCards(ctx context.Context, userID string) ([]CardView, error) {
	views := []CardView{}
	err := s.Store.View(ctx, func(r store.Reader) error {
		cards, err := r.CodeCards(userID)
		for _, c := range cards {
			views = append(views, cardView(c))
		}
		return err
	})
	return views, err
}

// RevokeCodeCard revokes a card at once.
func (s *Service) RevokeCodeCard(ctx context.Context, by, serial string) (*CardView, error) {
	if err := codecard.CheckSerial(serial); err != nil {
		return nil, fmt.Errorf("%w: %v", orders.ErrInvalid, err)
	}
	now := s.now()
	var v CardView
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		c, err := tx.CodeCard(serial)
		if err != nil {
			return err
		}
		if err := tx.SetCodeCardStatus(serial, store.CardRevoked); err != nil {
			return err
		}
		c.Status = store.CardRevoked
		v = cardView(c)
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.AdminCodeCardRevoked, Actor: officer(by), Subject: "user:" + c.User, Outcome: "ok",
			Details: map[string]string{"serial": serial}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &v, nil
}
