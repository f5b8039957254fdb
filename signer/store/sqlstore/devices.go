package sqlstore

import (
	"time"

	"github.com/segl/segl/signer/store"
)

const deviceCols = `id, user_id, name, public_key, key_storage, biometry, activation, created, last_used, revoked, revoked_by`

func scanDevice(s interface{ Scan(...any) error }) (*store.Device, error) {
	var d store.Device
	var created, used, revoked int64
	if err := s.Scan(&d.ID, &d.User, &d.Name, &d.PublicKey, &d.KeyStorage, &d.Biometry, &d.Activation, &created, &used, &revoked, &d.RevokedBy); err != nil {
		return nil, err
	}
	d.Created, d.LastUsed, d.Revoked = fromNanos(created), fromNanos(used), fromNanos(revoked)
	return &d, nil
}

func (r reader) Device(id string) (*store.Device, error) {
	d, err := scanDevice(r.q.QueryRow(r.ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "device "+id)
	}
	return d, nil
}

func (r reader) Devices(user string) ([]*store.Device, error) {
	return all(scanDevice)(r.q.Query(r.ctx, `SELECT `+deviceCols+` FROM devices WHERE CAST(? AS TEXT) = '' OR user_id = ? ORDER BY created, id`, user, user))
}

func (t *txn) CreateDevice(d *store.Device) error {
	return t.insert("device "+d.ID+" (or its key, registered to another device)", `INSERT INTO devices (`+deviceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.User, d.Name, d.PublicKey, d.KeyStorage, d.Biometry, d.Activation, nanos(d.Created), nanos(d.LastUsed), nanos(d.Revoked), d.RevokedBy)
}

func (t *txn) RevokeDevice(id, by string, at time.Time) (bool, error) {
	return once(t.q.Exec(t.ctx, `UPDATE devices SET revoked = ?, revoked_by = ? WHERE id = ? AND revoked = 0`, nanos(at), by, id))
}

// SpendNonce is an INSERT that a PRIMARY KEY makes single-use; ON
// CONFLICT keeps the transaction going when it was spent before.
func (t *txn) SpendNonce(device, nonce string, at, forget time.Time) (bool, error) {
	if _, err := t.q.Exec(t.ctx, `DELETE FROM app_nonces WHERE seen < ?`, nanos(forget)); err != nil {
		return false, err
	}
	n, err := t.q.Exec(t.ctx, `INSERT INTO app_nonces (device_id, nonce, seen) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, device, nonce, nanos(at))
	if err != nil || n == 0 {
		return false, err
	}
	_, err = t.q.Exec(t.ctx, `UPDATE devices SET last_used = ? WHERE id = ?`, nanos(at), device)
	return true, err
}
