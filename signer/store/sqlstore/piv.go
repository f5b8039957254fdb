package sqlstore

import (
	"fmt"
	"time"

	"github.com/segl/segl/signer/store"
)

const pivCols = `id, serial, COALESCE(user_id, ''), COALESCE(officer_id, ''), slot, public_key, certificate, attest_slot, attest_card, firmware, pin_policy, touch_policy, form_factor, created, created_by, revoked, revoked_by`

func scanPIVCard(s interface{ Scan(...any) error }) (*store.PIVCard, error) {
	var c store.PIVCard
	var serial, created, revoked int64
	if err := s.Scan(&c.ID, &serial, &c.User, &c.Officer, &c.Slot, &c.PublicKey, &c.Certificate, &c.AttestSlot, &c.AttestCard, &c.Firmware,
		&c.PINPolicy, &c.TouchPolicy, &c.FormFactor, &created, &c.CreatedBy, &revoked, &c.RevokedBy); err != nil {
		return nil, err
	}
	c.Serial, c.Created, c.Revoked = uint32(serial), fromNanos(created), fromNanos(revoked)
	return &c, nil
}

func (r reader) PIVCard(serial uint32) (*store.PIVCard, error) {
	// The live one first, else the last revoked.
	c, err := scanPIVCard(r.q.QueryRow(r.ctx, `SELECT `+pivCols+` FROM piv_cards WHERE serial = ?
		ORDER BY revoked = 0 DESC, revoked DESC LIMIT 1`, int64(serial)))
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("PIV card %d", serial))
	}
	return c, nil
}

func (r reader) PIVCards(user string) ([]*store.PIVCard, error) {
	return all(scanPIVCard)(r.q.Query(r.ctx, `SELECT `+pivCols+` FROM piv_cards
		WHERE user_id IS NOT NULL AND (CAST(? AS TEXT) = '' OR user_id = ?) ORDER BY created, id`, user, user))
}

func (r reader) OfficerPIVCards(officer string) ([]*store.PIVCard, error) {
	return all(scanPIVCard)(r.q.Query(r.ctx, `SELECT `+pivCols+` FROM piv_cards
		WHERE officer_id IS NOT NULL AND (CAST(? AS TEXT) = '' OR officer_id = ?) ORDER BY created, id`, officer, officer))
}

// pivInsertCols are pivCols as written: a card is a user's or an
// officer's, the other NULL.
const pivInsertCols = `id, serial, user_id, officer_id, slot, public_key, certificate, attest_slot, attest_card, firmware, pin_policy, touch_policy, form_factor, created, created_by, revoked, revoked_by`

func (t *txn) CreatePIVCard(c *store.PIVCard) error {
	if (c.User == "") == (c.Officer == "") {
		return fmt.Errorf("PIV card %d: a card is a user's or an officer's", c.Serial)
	}
	return t.insert(fmt.Sprintf("PIV card %d (enrolled already)", c.Serial), `INSERT INTO piv_cards (`+pivInsertCols+`)
		VALUES (?, ?, NULLIF(CAST(? AS TEXT), ''), NULLIF(CAST(? AS TEXT), ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, int64(c.Serial), c.User, c.Officer, c.Slot, c.PublicKey, c.Certificate, c.AttestSlot, c.AttestCard, c.Firmware, c.PINPolicy, c.TouchPolicy,
		c.FormFactor, nanos(c.Created), c.CreatedBy, nanos(c.Revoked), c.RevokedBy)
}

func (t *txn) RevokePIVCard(serial uint32, by string, at time.Time) (bool, error) {
	return once(t.q.Exec(t.ctx, `UPDATE piv_cards SET revoked = ?, revoked_by = ? WHERE serial = ? AND revoked = 0`, nanos(at), by, int64(serial)))
}
