package sqlstore

import (
	"github.com/segl/segl/signer/store"
)

const otpCols = `serial, kind, hash, digits, step, seed, user_id, counter, drift, failures, blocks, blocked_until, created, public_id, private_id`

func scanOTP(s interface{ Scan(...any) error }) (*store.OTPToken, error) {
	var t store.OTPToken
	var blocked, created int64
	err := s.Scan(&t.Serial, &t.Kind, &t.Hash, &t.Digits, &t.Step, &t.Seed, &t.User, &t.Counter, &t.Drift, &t.Failures, &t.Blocks, &blocked, &created, &t.PublicID, &t.PrivateID)
	t.BlockedUntil, t.Created = fromNanos(blocked), fromNanos(created)
	return &t, err
}

func (r reader) OTPToken(serial string) (*store.OTPToken, error) {
	t, err := scanOTP(r.q.QueryRow(r.ctx, `SELECT `+otpCols+` FROM otp_tokens WHERE serial = ?`, serial))
	if err != nil {
		return nil, notFound(err, "OTP token "+serial)
	}
	return t, nil
}

func (r reader) OTPTokens(user string) ([]*store.OTPToken, error) {
	q, args := `SELECT `+otpCols+` FROM otp_tokens ORDER BY serial`, []any{}
	if user != "" {
		q, args = `SELECT `+otpCols+` FROM otp_tokens WHERE user_id = ? ORDER BY serial`, []any{user}
	}
	return all(scanOTP)(r.q.Query(r.ctx, q, args...))
}

func (t *txn) DeleteOTPToken(serial string) error {
	n, err := t.q.Exec(t.ctx, `DELETE FROM otp_tokens WHERE serial = ?`, serial)
	return affected(n, err, "OTP token "+serial)
}

func (t *txn) CreateOTPToken(o *store.OTPToken) error {
	exists := "OTP token " + o.Serial
	if o.PublicID != "" {
		exists += " (public ID " + o.PublicID + ")"
	}
	return t.insert(exists, `INSERT INTO otp_tokens (`+otpCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.Serial, o.Kind, o.Hash, o.Digits, o.Step, o.Seed, o.User, o.Counter, o.Drift, o.Failures, o.Blocks, nanos(o.BlockedUntil), nanos(o.Created), o.PublicID, o.PrivateID)
}

func (t *txn) UpdateOTPToken(o *store.OTPToken) error {
	n, err := t.q.Exec(t.ctx, `UPDATE otp_tokens SET user_id = ?, failures = ?, blocks = ?, blocked_until = ? WHERE serial = ?`,
		o.User, o.Failures, o.Blocks, nanos(o.BlockedUntil), o.Serial)
	return affected(n, err, "OTP token "+o.Serial)
}

// AdvanceOTP is a compare-and-set in SQL: the WHERE clause is the check,
// so no read-check-write window exists, in this process or another.
func (t *txn) AdvanceOTP(serial string, used, drift int64) (bool, error) {
	return once(t.q.Exec(t.ctx, `UPDATE otp_tokens
		SET counter = CASE kind WHEN 'hotp' THEN ?1 + 1 ELSE ?1 END, drift = ?2, failures = 0
		WHERE serial = ?3 AND ((kind = 'hotp' AND counter <= ?1) OR (kind IN ('totp', 'yubico') AND counter < ?1))`, used, drift, serial))
}
