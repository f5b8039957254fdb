package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/segl/segl/signer/store"
)

// Users.

const userCols = `id, name, phone, disabled, created, password, failures, blocks, blocked_until, signing_key, certificate,
	identity_surname, identity_given_names, identity_birth, identity_nationality`

func scanUser(s interface{ Scan(...any) error }) (*store.User, error) {
	var u store.User
	var created, blocked int64
	err := s.Scan(&u.ID, &u.Name, &u.Phone, &u.Disabled, &created, &u.Password, &u.Failures, &u.Blocks, &blocked, &u.SigningKey, &u.Certificate,
		&u.Identity.Surname, &u.Identity.GivenNames, &u.Identity.DateOfBirth, &u.Identity.Nationality)
	u.Created, u.BlockedUntil = fromNanos(created), fromNanos(blocked)
	return &u, err
}

func (r reader) User(id string) (*store.User, error) {
	u, err := scanUser(r.q.QueryRow(r.ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "user "+id)
	}
	return u, nil
}

func (r reader) Users() ([]*store.User, error) {
	return all(scanUser)(r.q.Query(r.ctx, `SELECT `+userCols+` FROM users ORDER BY id`))
}

func (t *txn) CreateUser(u *store.User) error {
	return t.insert("user "+u.ID, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.Phone, u.Disabled, nanos(u.Created), u.Password, u.Failures, u.Blocks, nanos(u.BlockedUntil), u.SigningKey, u.Certificate,
		u.Identity.Surname, u.Identity.GivenNames, u.Identity.DateOfBirth, u.Identity.Nationality)
}

func (t *txn) UpdateUser(u *store.User) error {
	n, err := t.q.Exec(t.ctx, `UPDATE users SET name = ?, phone = ?, disabled = ?, password = ?, failures = ?, blocks = ?,
		blocked_until = ?, signing_key = ?, certificate = ?, identity_surname = ?, identity_given_names = ?, identity_birth = ?,
		identity_nationality = ? WHERE id = ?`,
		u.Name, u.Phone, u.Disabled, u.Password, u.Failures, u.Blocks, nanos(u.BlockedUntil), u.SigningKey, u.Certificate,
		u.Identity.Surname, u.Identity.GivenNames, u.Identity.DateOfBirth, u.Identity.Nationality, u.ID)
	return affected(n, err, "user "+u.ID)
}

// Callers: relying parties and officers, keyed by certificate fingerprint.

const callerCols = `role, id, name, fingerprint, cert_pem, disabled, created`

func scanCaller(s interface{ Scan(...any) error }) (*store.Caller, []byte, error) {
	var c store.Caller
	var pem []byte
	var created int64
	err := s.Scan(&c.Role, &c.ID, &c.Name, &c.Fingerprint, &pem, &c.Disabled, &created)
	c.Created = fromNanos(created)
	return &c, pem, err
}

func rpOf(c *store.Caller, pem []byte) *store.RP {
	return &store.RP{ID: c.ID, Name: c.Name, Fingerprint: c.Fingerprint, CertPEM: pem, Disabled: c.Disabled, Created: c.Created}
}

func (r reader) CallerByFingerprint(fp string) (*store.Caller, error) {
	c, _, err := scanCaller(r.q.QueryRow(r.ctx, `SELECT `+callerCols+` FROM callers WHERE fingerprint = ?`, fp))
	if err != nil {
		return nil, notFound(err, "client certificate "+fp)
	}
	return c, nil
}

func (r reader) RP(id string) (*store.RP, error) {
	c, pem, err := scanCaller(r.q.QueryRow(r.ctx, `SELECT `+callerCols+` FROM callers WHERE role = 'rp' AND id = ?`, id))
	if err != nil {
		return nil, notFound(err, "relying party "+id)
	}
	return rpOf(c, pem), nil
}

func (r reader) RPs() ([]*store.RP, error) {
	cs, pems, err := r.callers(store.RoleRP)
	var rps []*store.RP
	for i, c := range cs {
		rps = append(rps, rpOf(c, pems[i]))
	}
	return rps, err
}

func (r reader) Officers() ([]*store.Caller, error) {
	cs, _, err := r.callers(store.RoleOfficer)
	return cs, err
}

func (r reader) callers(role store.Role) ([]*store.Caller, [][]byte, error) {
	rows, err := r.q.Query(r.ctx, `SELECT `+callerCols+` FROM callers WHERE role = ? ORDER BY id`, role)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var cs []*store.Caller
	var pems [][]byte
	for rows.Next() {
		c, pem, err := scanCaller(rows)
		if err != nil {
			return nil, nil, err
		}
		cs, pems = append(cs, c), append(pems, pem)
	}
	return cs, pems, rows.Err()
}

func (t *txn) createCaller(c *store.Caller, pem []byte) error {
	return t.insert(fmt.Sprintf("%s %s or its certificate", c.Role, c.ID), `INSERT INTO callers (`+callerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.Role, c.ID, c.Name, c.Fingerprint, pem, c.Disabled, nanos(c.Created))
}

func (t *txn) CreateRP(rp *store.RP) error {
	return t.createCaller(&store.Caller{Role: store.RoleRP, ID: rp.ID, Name: rp.Name, Fingerprint: rp.Fingerprint,
		Disabled: rp.Disabled, Created: rp.Created}, rp.CertPEM)
}

func (t *txn) UpdateRP(rp *store.RP) error {
	n, err := t.q.Exec(t.ctx, `UPDATE callers SET name = ?, disabled = ? WHERE role = 'rp' AND id = ?`,
		rp.Name, rp.Disabled, rp.ID)
	return affected(n, err, "relying party "+rp.ID)
}

func (t *txn) CreateOfficer(o *store.Caller) error {
	c := *o
	c.Role = store.RoleOfficer
	return t.createCaller(&c, []byte{})
}

func (t *txn) DeleteOfficer(id string) error {
	n, err := t.q.Exec(t.ctx, `DELETE FROM callers WHERE role = 'officer' AND id = ?`, id)
	return affected(n, err, "officer "+id)
}

func (t *txn) UpdateOfficer(o *store.Caller) error {
	n, err := t.q.Exec(t.ctx, `UPDATE callers SET name = ?, fingerprint = ?, disabled = ? WHERE role = 'officer' AND id = ?`,
		o.Name, o.Fingerprint, o.Disabled, o.ID)
	if isUnique(err) {
		return fmt.Errorf("officer %s's certificate is registered to another caller: %w", o.ID, store.ErrExists)
	}
	return affected(n, err, "officer "+o.ID)
}

// Orders.

const orderCols = `ref, rp, user_id, kind, state, hint, user_visible_data, document_digest, end_user_ip,
	auto_start_token, qr_start_token, qr_start_secret, created, expires, completed, factors, completion, challenge, payment,
	purpose, device_id, app_challenge, user_verification, requires_document, piv_card`

func scanOrder(s interface{ Scan(...any) error }) (*store.Order, error) {
	var o store.Order
	var created, expires, completed int64
	var factors string
	err := s.Scan(&o.Ref, &o.RP, &o.User, &o.Kind, &o.State, &o.Hint, &o.UserVisibleData, &o.DocumentDigest, &o.EndUserIP,
		&o.AutoStartToken, &o.QRStartToken, &o.QRStartSecret, &created, &expires, &completed, &factors, &o.Completion, &o.Challenge, &o.Payment,
		&o.Purpose, &o.Device, &o.AppChallenge, &o.UserVerification, &o.RequiresDocument, &o.PIVCard)
	if err != nil {
		return nil, err
	}
	o.Created, o.Expires, o.Completed = fromNanos(created), fromNanos(expires), fromNanos(completed)
	if err := json.Unmarshal([]byte(factors), &o.Factors); err != nil {
		return nil, fmt.Errorf("order %s: factors column: %w", o.Ref, err)
	}
	return &o, nil
}

func (r reader) Order(ref string) (*store.Order, error) {
	o, err := scanOrder(r.q.QueryRow(r.ctx, `SELECT `+orderCols+` FROM orders WHERE ref = ?`, ref))
	if err != nil {
		return nil, notFound(err, "order "+ref)
	}
	return o, nil
}

func (r reader) OrderByQRToken(token string) (*store.Order, error) {
	o, err := scanOrder(r.q.QueryRow(r.ctx, `SELECT `+orderCols+` FROM orders WHERE qr_start_token = ?`, token))
	if err != nil {
		return nil, notFound(err, "order with that qrStartToken")
	}
	return o, nil
}

func (r reader) OrderByAutoStartToken(token string) (*store.Order, error) {
	o, err := scanOrder(r.q.QueryRow(r.ctx, `SELECT `+orderCols+` FROM orders WHERE auto_start_token = ?`, token))
	if err != nil {
		return nil, notFound(err, "order with that autoStartToken")
	}
	return o, nil
}

func (r reader) PendingOrders(user string) ([]*store.Order, error) {
	return all(scanOrder)(r.q.Query(r.ctx, `SELECT `+orderCols+` FROM orders
		WHERE user_id = ? AND state = 'pending' AND purpose = '' ORDER BY created, ref`, user))
}

func (r reader) OrderCounts() (map[store.OrderState]int, error) {
	rows, err := r.q.Query(r.ctx, `SELECT state, COUNT(*) FROM orders GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[store.OrderState]int{}
	for rows.Next() {
		var s store.OrderState
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		counts[s] = n
	}
	return counts, rows.Err()
}

func factorsJSON(f []string) string {
	if f == nil {
		f = []string{}
	}
	b, _ := json.Marshal(f)
	return string(b)
}

func (t *txn) CreateOrder(o *store.Order) error {
	return t.insert("a pending order for user "+o.User, `INSERT INTO orders (`+orderCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.Ref, o.RP, o.User, o.Kind, o.State, o.Hint, o.UserVisibleData, o.DocumentDigest, o.EndUserIP,
		o.AutoStartToken, o.QRStartToken, o.QRStartSecret, nanos(o.Created), nanos(o.Expires), nanos(o.Completed),
		factorsJSON(o.Factors), o.Completion, o.Challenge, o.Payment, o.Purpose, o.Device, o.AppChallenge, o.UserVerification,
		o.RequiresDocument, o.PIVCard)
}

func (t *txn) UpdateOrder(o *store.Order) error {
	// The app challenge moves only through SwapAppChallenge.
	n, err := t.q.Exec(t.ctx, `UPDATE orders SET user_id = ?, state = ?, hint = ?, completed = ?, factors = ?, completion = ?,
		challenge = ?, device_id = ?, user_verification = ?, piv_card = ? WHERE ref = ?`, o.User, o.State, o.Hint, nanos(o.Completed),
		factorsJSON(o.Factors), o.Completion, o.Challenge, o.Device, o.UserVerification, o.PIVCard, o.Ref)
	if isUnique(err) {
		return fmt.Errorf("a pending order for user %s: %w", o.User, store.ErrExists)
	}
	return affected(n, err, "order "+o.Ref)
}

// MarkOrderEnrolled is a conditional UPDATE: of two enrolments on one
// order, one succeeds.
func (t *txn) MarkOrderEnrolled(ref string, at time.Time) (bool, error) {
	return once(t.q.Exec(t.ctx, `UPDATE orders SET enrolled = ? WHERE ref = ? AND enrolled = 0`, nanos(at), ref))
}

// SwapChallenge is a compare-and-set in SQL, as AdvanceOTP is.
func (t *txn) SwapChallenge(ref, old, next string) (bool, error) {
	return once(t.q.Exec(t.ctx, `UPDATE orders SET challenge = ? WHERE ref = ? AND challenge = ?`, next, ref, old))
}

func (t *txn) SwapAppChallenge(ref, old, next string) (bool, error) {
	return once(t.q.Exec(t.ctx, `UPDATE orders SET app_challenge = ? WHERE ref = ? AND app_challenge = ?`, next, ref, old))
}

func (t *txn) BindOrder(ref, user, device string) (bool, error) {
	// The user's other pending order is looked for first, so that no
	// unique violation ends the transaction (the write transaction holds
	// the head, so none can appear between the two statements).
	var others int
	if err := t.q.QueryRow(t.ctx, `SELECT COUNT(*) FROM orders WHERE user_id = ? AND state = 'pending' AND purpose = '' AND ref != ?`,
		user, ref).Scan(&others); err != nil {
		return false, err
	}
	if others > 0 {
		return false, fmt.Errorf("a pending order for user %s: %w", user, store.ErrExists)
	}
	return once(t.q.Exec(t.ctx, `UPDATE orders SET user_id = ?, device_id = ?
		WHERE ref = ? AND state = 'pending' AND purpose = '' AND device_id = '' AND (user_id = '' OR user_id = ?)`, user, device, ref, user))
}

// RecordChallenge also forgets what is more than an hour old: no limit
// looks further back, and no order lives longer.
func (t *txn) RecordChallenge(c store.ChallengeIssue) error {
	if _, err := t.q.Exec(t.ctx, `DELETE FROM challenges WHERE issued < ?`, nanos(c.Issued.Add(-time.Hour))); err != nil {
		return err
	}
	_, err := t.q.Exec(t.ctx, `INSERT INTO challenges (order_ref, user_id, factor, issued) VALUES (?, ?, ?, ?)`,
		c.Order, c.User, c.Factor, nanos(c.Issued))
	return err
}

func (r reader) CountChallenges(order, user, factor string, since time.Time) (store.ChallengeCounts, error) {
	var n store.ChallengeCounts
	var oldest int64
	err := r.q.QueryRow(r.ctx, `SELECT
		(SELECT COUNT(*) FROM challenges WHERE order_ref = ? AND factor = ?),
		(SELECT COUNT(*) FROM challenges WHERE user_id = ? AND issued >= ?),
		(SELECT COALESCE(MIN(issued), 0) FROM challenges WHERE user_id = ? AND issued >= ?)`,
		order, factor, user, nanos(since), user, nanos(since)).Scan(&n.ForOrder, &n.ForUser, &oldest)
	n.OldestForUser = fromNanos(oldest)
	return n, err
}

func (t *txn) ExpireOrders(now time.Time) ([]*store.Order, error) {
	return all(scanOrder)(t.q.Query(t.ctx, `UPDATE orders SET state = 'failed', hint = 'expiredTransaction', completed = ?
		WHERE state = 'pending' AND expires <= ? RETURNING `+orderCols, nanos(now), nanos(now)))
}

// Activations.

func (t *txn) CreateActivation(a *store.Activation) error {
	return t.insert("activation "+a.ID, `INSERT INTO activations (id, order_ref, user_id, key_id, digest, expires, mac, spent, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)`, a.ID, a.Order, a.User, a.KeyID, a.Digest, nanos(a.Expires), a.MAC, nanos(a.Created))
}

// SpendActivation is one conditional UPDATE, so two concurrent spends of
// one activation cannot both succeed.
func (t *txn) SpendActivation(id string, now time.Time) (bool, error) {
	return once(t.q.Exec(t.ctx, `UPDATE activations SET spent = ? WHERE id = ? AND spent = 0`, nanos(now), id))
}

func (r reader) Activation(id string) (*store.Activation, error) {
	var a store.Activation
	var expires, spent, created int64
	err := r.q.QueryRow(r.ctx, `SELECT id, order_ref, user_id, key_id, digest, expires, mac, spent, created
		FROM activations WHERE id = ?`, id).Scan(&a.ID, &a.Order, &a.User, &a.KeyID, &a.Digest, &expires, &a.MAC, &spent, &created)
	if err != nil {
		return nil, notFound(err, "activation "+id)
	}
	a.Expires, a.Spent, a.Created = fromNanos(expires), fromNanos(spent), fromNanos(created)
	return &a, nil
}
