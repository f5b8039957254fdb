package sqlstore

import (
	"time"

	"github.com/segl/segl/signer/store"
)

func (t *txn) CreateSMSAttempt(a *store.SMSAttempt) error {
	_, err := t.q.Exec(t.ctx, `INSERT INTO sms_attempts (id, message, order_ref, user_id, to_masked, adapter, gateway_id, state, reason, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.Message, a.Order, a.User, a.ToMasked, a.Adapter, a.GatewayID, a.State, a.Reason,
		nanos(a.Created), nanos(a.Created))
	return err
}

func (t *txn) UpdateSMSAttempt(id string, state store.SMSState, gatewayID, reason string, at time.Time) (bool, error) {
	return once(t.q.Exec(t.ctx, `UPDATE sms_attempts SET state = ?,
		gateway_id = CASE CAST(? AS TEXT) WHEN '' THEN gateway_id ELSE ? END, reason = CASE CAST(? AS TEXT) WHEN '' THEN reason ELSE ? END, updated = ?
		WHERE id = ? AND state != 'delivered'`, state, gatewayID, gatewayID, reason, reason, nanos(at), id))
}

func (r reader) SMSAttempts(user string, limit int) ([]*store.SMSAttempt, error) {
	q := `SELECT id, message, order_ref, user_id, to_masked, adapter, gateway_id, state, reason, created, updated FROM sms_attempts`
	args := []any{}
	if user != "" {
		q += ` WHERE user_id = ?`
		args = append(args, user)
	}
	q += ` ORDER BY created DESC, id LIMIT ?`
	args = append(args, limit)
	rows, err := r.q.Query(r.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.SMSAttempt
	for rows.Next() {
		var a store.SMSAttempt
		var created, updated int64
		if err := rows.Scan(&a.ID, &a.Message, &a.Order, &a.User, &a.ToMasked, &a.Adapter, &a.GatewayID, &a.State, &a.Reason, &created, &updated); err != nil {
			return nil, err
		}
		a.Created, a.Updated = fromNanos(created), fromNanos(updated)
		out = append(out, &a)
	}
	return out, rows.Err()
}

func (r reader) CountSMS(order, user string, since time.Time) (forOrder, forUser int, err error) {
	err = r.q.QueryRow(r.ctx, `SELECT
		(SELECT COUNT(DISTINCT message) FROM sms_attempts WHERE order_ref = ? AND order_ref != ''),
		(SELECT COUNT(DISTINCT message) FROM sms_attempts WHERE user_id = ? AND created >= ?)`, order, user, nanos(since)).Scan(&forOrder, &forUser)
	return forOrder, forUser, err
}
