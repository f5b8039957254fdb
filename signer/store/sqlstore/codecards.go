package sqlstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/segl/segl/signer/store"
)

func (r reader) CodeCard(serial string) (*store.CodeCard, error) {
	cs, err := r.codeCards(`WHERE serial = ?`, serial)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("code card %s: %w", serial, store.ErrNotFound)
	}
	return cs[0], nil
}

func (r reader) CodeCards(user string) ([]*store.CodeCard, error) {
	if user == "" {
		return r.codeCards(`ORDER BY user_id, created`)
	}
	return r.codeCards(`WHERE user_id = ? ORDER BY created`, user)
}

func (r reader) codeCards(where string, args ...any) ([]*store.CodeCard, error) {
	rows, err := r.q.Query(r.ctx, `SELECT serial, user_id, status, keys, created, printed, offered FROM codecards `+where, args...)
	if err != nil {
		return nil, err
	}
	var cards []*store.CodeCard
	for rows.Next() {
		var c store.CodeCard
		var keys string
		var created, printed int64
		if err := rows.Scan(&c.Serial, &c.User, &c.Status, &keys, &created, &printed, &c.Offered); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal([]byte(keys), &c.Keys); err != nil {
			rows.Close()
			return nil, fmt.Errorf("code card %s: keys column: %w", c.Serial, err)
		}
		c.Created, c.Printed = fromNanos(created), fromNanos(printed)
		cards = append(cards, &c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, c := range cards {
		c.Spent = make([]bool, len(c.Keys))
		er, err := r.q.Query(r.ctx, `SELECT idx FROM codecard_entries WHERE serial = ? AND spent = 1`, c.Serial)
		if err != nil {
			return nil, err
		}
		for er.Next() {
			var i int
			if err := er.Scan(&i); err != nil {
				er.Close()
				return nil, err
			}
			if i >= 0 && i < len(c.Spent) {
				c.Spent[i] = true
			}
		}
		er.Close()
		if err := er.Err(); err != nil {
			return nil, err
		}
	}
	return cards, nil
}

func (t *txn) CreateCodeCard(c *store.CodeCard) error {
	keys, err := json.Marshal(c.Keys)
	if err != nil {
		return err
	}
	if err := t.insert("code card "+c.Serial, `INSERT INTO codecards (serial, user_id, status, keys, created, printed) VALUES (?, ?, ?, ?, ?, ?)`,
		c.Serial, c.User, c.Status, string(keys), nanos(c.Created), nanos(c.Printed)); err != nil {
		return err
	}
	if len(c.Keys) == 0 {
		return nil
	}
	// One statement for all the entries: one round trip to a database
	// across a network, not 148.
	values := strings.Repeat("(?, ?), ", len(c.Keys))
	args := make([]any, 0, 2*len(c.Keys))
	for i := range c.Keys {
		args = append(args, c.Serial, i)
	}
	if _, err := t.q.Exec(t.ctx, `INSERT INTO codecard_entries (serial, idx) VALUES `+values[:len(values)-2], args...); err != nil {
		return err
	}
	return nil
}

func (t *txn) SetCodeCardStatus(serial string, status store.CodeCardStatus) error {
	n, err := t.q.Exec(t.ctx, `UPDATE codecards SET status = ? WHERE serial = ?`, status, serial)
	return affected(n, err, "code card "+serial)
}

// SpendCodeCardEntry is a conditional UPDATE: an entry answered by two
// requests at once is spent by exactly one.
func (t *txn) SpendCodeCardEntry(serial string, idx int) (bool, error) {
	return once(t.q.Exec(t.ctx, `UPDATE codecard_entries SET spent = 1 WHERE serial = ? AND idx = ? AND spent = 0`, serial, idx))
}

func (t *txn) OfferCodeCardEntry(serial string, idx int) error {
	n, err := t.q.Exec(t.ctx, `UPDATE codecards SET offered = ? WHERE serial = ?`, idx, serial)
	return affected(n, err, "code card "+serial)
}

func (t *txn) MarkCodeCardPrinted(serial string, at time.Time) (bool, error) {
	return once(t.q.Exec(t.ctx, `UPDATE codecards SET printed = ? WHERE serial = ? AND printed = 0`, nanos(at), serial))
}
