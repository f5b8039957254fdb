package orders

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/segl/segl/plugins/docverify"
	"github.com/segl/segl/signer/app"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/factors"
	"github.com/segl/segl/signer/qr"
	"github.com/segl/segl/signer/store"
)

// The code app's side of orders: activating a device with the password
// and the code card, the device's pending orders, its approval or
// rejection, and the QR scan. Activations and approvals settle through
// the same factor rules as a relying party's factors (settle).

var (
	// ErrUnauthorized is a signed request that does not authenticate a
	// device: unknown or revoked, a bad signature, a stale time, a nonce
	// seen before.
	ErrUnauthorized = errors.New("the request is not signed by an active device")
	// ErrActivationFailed is an activation whose password or card code
	// was wrong (and counted): it is over.
	ErrActivationFailed = errors.New("the activation failed")
)

// TooManyDevicesError refuses an activation at the limit of devices; it
// lists them, so that the user may name one to replace.
type TooManyDevicesError struct {
	User    string
	Limit   int
	Devices []*store.Device
}

func (e *TooManyDevicesError) Error() string {
	var names []string
	for _, d := range e.Devices {
		names = append(names, fmt.Sprintf("%s (%q)", d.ID, d.Name))
	}
	return fmt.Sprintf("user %s has %d active devices, the most allowed: %s; activate again with replaceDeviceId naming one to revoke",
		e.User, e.Limit, strings.Join(names, ", "))
}

func actorDevice(d *store.Device) string { return "device:" + d.ID }

// randomToken is 16 random bytes, base64url.
func randomToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// StartActivation begins an activation of a new device for a user: an
// order of its own (it does not hold the user's one pending order) whose
// code-card challenge is issued as any other, within the same limits.
func (s *Service) StartActivation(ctx context.Context, userID, method string) (*app.ActivationChallenge, error) {
	if err := CheckUserID(userID); err != nil {
		return nil, err
	}
	kind := map[string]factors.Type{"": factors.CodeCard, app.MethodCodeCard: factors.CodeCard, app.MethodPassport: factors.Passport}[method]
	if kind == "" {
		return nil, invalid("method must be codecard or passport")
	}
	card, ok := s.challengers[kind]
	if !ok {
		return nil, invalid("this server has no %s factor: the app cannot be activated with it", kind)
	}
	now := s.now()
	o := &store.Order{Ref: newUUID(), User: userID, Kind: store.KindAuth, Purpose: store.PurposeActivation, State: store.StatePending,
		Hint: HintOutstanding, EndUserIP: "-", AutoStartToken: newUUID(), QRStartToken: newUUID(), QRStartSecret: newUUID(),
		Created: now, Expires: now.Add(app.ActivationLifetime)}
	var shown any
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := s.expire(tx, now); err != nil {
			return err
		}
		u, err := tx.User(userID)
		if errors.Is(err, store.ErrNotFound) {
			return invalid("userId %s is not a user of this issuer", userID)
		}
		if err != nil {
			return err
		}
		if err := usable(u, now); err != nil {
			return err
		}
		if err := tx.CreateOrder(o); err != nil {
			return err
		}
		if err := s.rules.AllowChallenge(tx, u, o, card.Type(), now); err != nil {
			return err
		}
		var stored string
		if stored, shown, err = card.Challenge(tx, &factors.Attempt{User: u, Order: o, Now: now}); err != nil {
			return err
		}
		o.Challenge = stored
		if err := tx.UpdateOrder(o); err != nil {
			return err
		}
		if _, err := tx.Audit(audit.Record{Time: now, Event: audit.OrderStarted, Actor: "app", Subject: "order:" + o.Ref, Outcome: "ok",
			Details: map[string]string{"kind": "activation", "user": u.ID}}); err != nil {
			return err
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.ChallengeIssued, Actor: "app", Subject: "order:" + o.Ref, Outcome: "ok",
			Details: map[string]string{"user": u.ID, "factor": string(card.Type()), "challenge": stored}})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &app.ActivationChallenge{ActivationID: o.Ref, ExpiresAt: o.Expires.UTC()}
	switch c := shown.(type) {
	case factors.CodeCardChallenge:
		out.CardSerial, out.KeyNumber = c.CardSerial, c.KeyNumber
	case factors.PassportChallenge:
		out.DocumentChallenge = c.Challenge
	default:
		return nil, fmt.Errorf("the activation's challenge is a %T", shown)
	}
	return out, nil
}

// maxDeviceName bounds a device's name, in characters.
const maxDeviceName = 64

// CompleteActivation checks the password and the card code of an
// activation, and the new key's proof of possession, and registers the
// device. A wrong factor counts as anywhere else and ends the activation;
// at the limit of devices nothing is spent, and the same activation may
// be completed again naming a device to replace.
func (s *Service) CompleteActivation(ctx context.Context, req *app.ActivationComplete) (*app.Activated, error) {
	if err := CheckRef(req.ActivationID); err != nil {
		return nil, invalid("activationId is not an activation id (a lowercase UUID)")
	}
	pub, der, err := app.ParsePublicKey(req.PublicKey)
	if err != nil {
		return nil, invalid("%v", err)
	}
	if err := app.Verify(pub, app.ActivationProof(req.ActivationID), req.Proof); err != nil {
		return nil, invalid("proof: %v (it signs \"SEGL-ACTIVATION-1\" 0x00 activationId with the new key)", err)
	}
	name := req.DeviceName
	if name == "" || utf8.RuneCountInString(name) > maxDeviceName {
		return nil, invalid("deviceName must be 1 to %d characters", maxDeviceName)
	}
	if err := CheckShown("deviceName", name, false); err != nil {
		return nil, err
	}
	storage, biometry := req.KeyStorage, req.Biometry
	if storage == "" {
		storage = app.KeySoftware
	}
	if biometry == "" {
		biometry = app.BiometryNone
	}
	if storage != app.KeySoftware && storage != app.KeyHardware {
		return nil, invalid("keyStorage must be software or hardware")
	}
	if !slices.Contains([]string{app.BiometryNone, app.BiometryFingerprint, app.BiometryFace}, biometry) {
		return nil, invalid("biometry must be none, fingerprint or face")
	}
	if req.Password == "" || (req.CardCode == "") == (req.Document == nil) {
		return nil, invalid("password is needed, and cardCode or (for the passport method) document, one of them")
	}
	if len(req.Password) > MaxFactorValue || len(req.CardCode) > MaxFactorValue {
		return nil, invalid("password and cardCode are at most %d bytes", MaxFactorValue)
	}
	second, value := factors.CodeCard, req.CardCode
	var doc *docverify.Document
	if req.Document != nil {
		second = factors.Passport
		d, err := (&Document{SOD: req.Document.SOD, DataGroups: req.Document.DataGroups, AASignature: req.Document.AASignature}).decode()
		if err != nil {
			return nil, err
		}
		doc = d
	}
	password, card := s.factors[factors.Password], s.factors[second]
	if password == nil || card == nil {
		return nil, invalid("this server lacks the password or the %s factor: the app cannot be activated with them", second)
	}

	var o *store.Order
	var u *store.User
	if err := s.store.View(ctx, func(r store.Reader) error {
		if o, err = r.Order(req.ActivationID); err != nil {
			return err
		}
		u, err = r.User(o.User)
		return err
	}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	now := s.now()
	if o.Purpose != store.PurposeActivation {
		return nil, ErrNotFound
	}
	if o.State != store.StatePending || !now.Before(o.Expires) {
		return nil, invalid("activation %s is over (%s): start a new one", o.Ref, map[bool]string{true: string(o.State), false: "expired"}[o.State != store.StatePending])
	}
	if err := usable(u, now); err != nil {
		return nil, err
	}
	var passes []pass
	for _, c := range []struct {
		f     factors.Factor
		value string
		doc   *docverify.Document
	}{{password, req.Password, nil}, {card, value, doc}} {
		v, err := c.f.Verify(ctx, &factors.Attempt{User: u, Order: o, Value: c.value, Now: now, Document: c.doc})
		if err != nil {
			if errors.Is(err, ErrInvalid) {
				return nil, err
			}
			return nil, fmt.Errorf("check %s: %w", c.f.Type(), err)
		}
		passes = append(passes, pass{c.f, v})
	}

	dev := &store.Device{ID: newUUID(), User: u.ID, Name: name, PublicKey: der, KeyStorage: storage, Biometry: biometry,
		Activation: o.Ref, Created: now}
	var replaced string
	created := false
	activate := func(tx store.Tx, u *store.User, o *store.Order) error {
		all, err := tx.Devices(u.ID)
		if err != nil {
			return err
		}
		var active []*store.Device
		for _, d := range all {
			if d.Active() {
				active = append(active, d)
			}
		}
		if req.ReplaceDeviceID != "" {
			i := slices.IndexFunc(active, func(d *store.Device) bool { return d.ID == req.ReplaceDeviceID })
			if i < 0 {
				return invalid("replaceDeviceId %s is not an active device of user %s", req.ReplaceDeviceID, u.ID)
			}
			if _, err := tx.RevokeDevice(req.ReplaceDeviceID, "activation:"+o.Ref, now); err != nil {
				return err
			}
			if _, err := tx.Audit(audit.Record{Time: now, Event: audit.DeviceRevoked, Actor: "app", Subject: "user:" + u.ID, Outcome: "ok",
				Details: map[string]string{"device": req.ReplaceDeviceID, "reason": "replaced by " + dev.ID}}); err != nil {
				return err
			}
			replaced = req.ReplaceDeviceID
			active = slices.Delete(active, i, i+1)
		}
		if second == factors.Passport {
			// Remote reactivation: the passport stands in for a lost or
			// stolen phone, so every other device goes.
			for _, old := range active {
				if _, err := tx.RevokeDevice(old.ID, "activation:"+o.Ref, now); err != nil {
					return err
				}
				if _, err := tx.Audit(audit.Record{Time: now, Event: audit.DeviceRevoked, Actor: "app", Subject: "user:" + u.ID, Outcome: "ok",
					Details: map[string]string{"device": old.ID, "reason": "remote reactivation with a passport by " + dev.ID}}); err != nil {
					return err
				}
			}
			active = nil
		}
		if limit := s.maxDevices(); len(active) >= limit {
			return &TooManyDevicesError{User: u.ID, Limit: limit, Devices: active}
		}
		if err := tx.CreateDevice(dev); err != nil {
			if errors.Is(err, store.ErrExists) {
				return invalid("publicKey is another device's: make a new key for each activation")
			}
			return err
		}
		o.Device, created = dev.ID, true
		o.Completion = []byte(fmt.Sprintf(`{"deviceId":%q}`, dev.ID))
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.DeviceActivated, Actor: "app", Subject: "user:" + u.ID, Outcome: "ok",
			Details: map[string]string{"device": dev.ID, "name": name, "keyStorage": storage, "biometry": biometry, "activation": o.Ref}})
		return err
	}
	resp, err := s.settle(ctx, o.Ref, settlement{actor: "app", passes: passes, activate: activate}, now)
	if err != nil {
		return nil, err
	}
	if !created && resp.Status == store.StateComplete {
		// Another request completed it first: this one counted nothing.
		return nil, invalid("activation %s was completed already: start a new one", o.Ref)
	}
	if !created {
		return nil, fmt.Errorf("%w: %s", ErrActivationFailed, map[bool]string{
			true:  "the password or the card code is wrong, or the activation is over; start a new activation",
			false: "user " + u.ID + " is blocked after repeated failed factors",
		}[resp.HintCode != HintBlocked])
	}
	if s.notice != nil && u.Phone != "" {
		s.notice(context.WithoutCancel(ctx), u, dev.Name)
	}
	return &app.Activated{DeviceID: dev.ID, UserID: u.ID, Replaced: replaced}, nil
}

func (s *Service) maxDevices() int {
	if s.cfg.MaxDevices > 0 {
		return s.cfg.MaxDevices
	}
	return 3
}

// SetDeviceNotice sets what tells a user with a mobile number that a
// device was activated for their login (an SMS).
func (s *Service) SetDeviceNotice(fn func(ctx context.Context, u *store.User, deviceName string)) {
	s.notice = fn
}

// Authenticate checks a signed request and spends its nonce: the device
// it names, active; its time within app.MaxSkew; its signature over
// app.RequestInput; its nonce new for the device.
func (s *Service) Authenticate(ctx context.Context, deviceID, method, target string, body []byte, timeHeader, nonce, signature string) (*store.Device, error) {
	if deviceID == "" || timeHeader == "" || nonce == "" || signature == "" {
		return nil, fmt.Errorf("%w: it needs the headers %s, %s, %s and %s (docs/app.md)", ErrUnauthorized,
			app.HeaderDevice, app.HeaderTime, app.HeaderNonce, app.HeaderSignature)
	}
	if CheckRef(deviceID) != nil {
		return nil, fmt.Errorf("%w: %s is not a device id", ErrUnauthorized, app.HeaderDevice)
	}
	t, err := app.ParseTime(timeHeader)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if err := app.CheckNonce(nonce); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	now := s.now()
	if skew := now.Sub(time.Unix(t, 0)); skew > app.MaxSkew || skew < -app.MaxSkew {
		return nil, fmt.Errorf("%w: %s is %s from the server's clock, more than %s: set the phone's clock", ErrUnauthorized,
			app.HeaderTime, skew.Round(time.Second), app.MaxSkew)
	}
	var d *store.Device
	err = s.store.View(ctx, func(r store.Reader) error {
		d, err = r.Device(deviceID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: no device %s", ErrUnauthorized, deviceID)
	}
	if err != nil {
		return nil, err
	}
	if !d.Active() {
		return nil, fmt.Errorf("%w: device %s was revoked on %s: activate the app again", ErrUnauthorized, d.ID, d.Revoked.UTC().Format(time.RFC3339))
	}
	pub, _, err := app.ParsePublicKey(base64.StdEncoding.EncodeToString(d.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("device %s's key: %w", d.ID, err)
	}
	if err := app.Verify(pub, app.RequestInput(method, target, body, t, nonce, d.ID), signature); err != nil {
		return nil, fmt.Errorf("%w: %v over this request (docs/app.md: signed requests)", ErrUnauthorized, err)
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		// Read again: a revocation may have landed since.
		if d, err = tx.Device(deviceID); err != nil {
			return err
		}
		if !d.Active() {
			return fmt.Errorf("%w: device %s was revoked", ErrUnauthorized, d.ID)
		}
		fresh, err := tx.SpendNonce(d.ID, nonce, now, now.Add(-3*app.MaxSkew))
		if err != nil {
			return err
		}
		if !fresh {
			return fmt.Errorf("%w: the nonce was used before: a request is sent once", ErrUnauthorized)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Pending lists the orders waiting for the device's user, waiting up to
// wait for one to appear. An order bound to another device (by its scan)
// is not listed. Listing an order gives it an app challenge, once, and
// the hint userSign.
func (s *Service) Pending(ctx context.Context, d *store.Device, wait time.Duration) (*app.Pending, error) {
	wait = min(max(wait, 0), app.MaxWait)
	select {
	case <-s.waiters.ending():
		wait = 0
	default:
	}
	deadline := time.Now().Add(wait)
	for {
		woken := s.waiters.wait(d.User)
		list, err := s.pending(ctx, d)
		if err != nil || len(list.Orders) > 0 || !time.Now().Before(deadline) {
			s.waiters.done(d.User, woken)
			return list, err
		}
		// Woken by a start or a scan in this process; the tick finds
		// those of other segld on the same database.
		tick := time.NewTimer(min(time.Until(deadline), time.Second))
		select {
		case <-woken:
		case <-tick.C:
		case <-ctx.Done():
		case <-s.waiters.ending():
			deadline = time.Now()
		}
		tick.Stop()
		s.waiters.done(d.User, woken)
		if ctx.Err() != nil {
			return list, nil // a stop, or the phone hung up: it asks again
		}
	}
}

func (s *Service) pending(ctx context.Context, d *store.Device) (*app.Pending, error) {
	now := s.now()
	var due []*store.Order
	list := &app.Pending{Orders: []app.PendingOrder{}}
	names := map[string]string{}
	err := s.store.View(ctx, func(r store.Reader) error {
		os, err := r.PendingOrders(d.User)
		if err != nil {
			return err
		}
		for _, o := range os {
			if !now.Before(o.Expires) || (o.Device != "" && o.Device != d.ID) {
				continue
			}
			if _, ok := names[o.RP]; !ok {
				rp, err := r.RP(o.RP)
				if err != nil {
					return err
				}
				names[o.RP] = rp.Name
			}
			due = append(due, o)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, o := range due {
		if o.AppChallenge == "" || o.Hint == HintOutstanding || reissue(o) || s.needsDocumentChallenge(o) {
			if o, err = s.shown(ctx, o, now); err != nil {
				return nil, err
			}
			if o == nil {
				continue
			}
		}
		challenge := o.AppChallenge
		if strings.HasPrefix(challenge, "spent:") {
			if o.Hint != HintDocumentCheck {
				continue // approved or rejected: being settled
			}
			challenge = "" // approved; the passport is what is left
		}
		p := app.PendingOrder{OrderRef: o.Ref, RelyingParty: names[o.RP], Kind: string(o.Kind), UserVisibleData: o.UserVisibleData,
			Challenge: challenge, ExpiresAt: o.Expires.UTC(), HintCode: o.Hint}
		if m := passportChallenge.FindStringSubmatch(o.Challenge); m != nil && o.Hint == HintDocumentCheck {
			p.DocumentChallenge = m[1]
		}
		if o.DocumentDigest != nil {
			p.DocumentDigest = hex.EncodeToString(o.DocumentDigest)
		}
		if o.Payment != "" {
			ap, err := factors.ApprovalOf(o, "", "", "")
			if err != nil {
				return nil, err
			}
			p.Payment = &app.Payment{AmountMinor: ap.AmountMinor, Currency: ap.Currency, Payee: ap.Payee}
		}
		list.Orders = append(list.Orders, p)
	}
	return list, nil
}

var passportChallenge = regexp.MustCompile(`^passport:([0-9a-f]{16})$`)

// needsDocumentChallenge reports whether an order waits for a passport
// check that has no challenge yet, which a device's listing then issues.
func (s *Service) needsDocumentChallenge(o *store.Order) bool {
	_, ok := s.challengers[factors.Passport]
	return ok && o.Hint == HintDocumentCheck && !passportChallenge.MatchString(o.Challenge)
}

// documentChallenge issues the passport challenge of o in tx, within the
// challenge limits, as /rp/v1/challenge would.
func (s *Service) documentChallenge(tx store.Tx, o *store.Order, now time.Time) error {
	f := s.challengers[factors.Passport]
	u, err := tx.User(o.User)
	if err != nil {
		return err
	}
	if err := s.rules.AllowChallenge(tx, u, o, f.Type(), now); err != nil {
		return err
	}
	stored, _, err := f.Challenge(tx, &factors.Attempt{User: u, Order: o, Now: now})
	if err != nil {
		return err
	}
	o.Challenge = stored
	if err := tx.UpdateOrder(o); err != nil {
		return err
	}
	_, err = tx.Audit(audit.Record{Time: now, Event: audit.ChallengeIssued, Actor: "app", Subject: "order:" + o.Ref, Outcome: "ok",
		Details: map[string]string{"user": u.ID, "factor": string(f.Type()), "challenge": stored}})
	return err
}

// SubmitDocument is the passport check of one of the device's user's
// orders, the chip's files relayed by the app: the same factor, rules and
// settlement as a relying party's.
func (s *Service) SubmitDocument(ctx context.Context, d *store.Device, req *app.Document) (*app.Decided, error) {
	if err := CheckRef(req.OrderRef); err != nil {
		return nil, err
	}
	f, ok := s.factors[factors.Passport]
	if !ok {
		return nil, invalid("this server has no document verifier (documents.verifier)")
	}
	doc, err := (&Document{SOD: req.SOD, DataGroups: req.DataGroups, AASignature: req.AASignature}).decode()
	if err != nil {
		return nil, err
	}
	var o *store.Order
	err = s.store.View(ctx, func(r store.Reader) error {
		var err error
		o, err = r.Order(req.OrderRef)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && (o.User != d.User || o.Purpose != "" || (o.Device != "" && o.Device != d.ID))) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r, err := s.submit(ctx, actorDevice(d), o, f, "", doc)
	if err != nil {
		return nil, err
	}
	return &app.Decided{OrderRef: r.OrderRef, Accepted: r.Accepted, Status: string(r.Status), HintCode: r.HintCode}, nil
}

// reissue reports whether an order's app challenge was spent by an
// approval that did not pass (its signature was wrong): the order is
// still pending and gets a new one. One that passed is being completed.
func reissue(o *store.Order) bool {
	return strings.HasPrefix(o.AppChallenge, "spent:") && !slices.Contains(o.Factors, string(factors.App))
}

// shown gives a listed order its app challenge (of concurrent listings one
// makes it, all show it) and the hint userSign; nil when the order moved
// on meanwhile.
func (s *Service) shown(ctx context.Context, o *store.Order, now time.Time) (*store.Order, error) {
	var out *store.Order
	err := s.store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.Order(o.Ref)
		if err != nil {
			return err
		}
		if cur.State != store.StatePending || !now.Before(cur.Expires) {
			return nil
		}
		if cur.AppChallenge == "" || reissue(cur) {
			next := randomToken()
			if _, err := tx.SwapAppChallenge(cur.Ref, cur.AppChallenge, next); err != nil {
				return err
			}
			cur.AppChallenge = next
		}
		if cur.Hint == HintOutstanding {
			cur.Hint = HintUserSign
			if err := tx.UpdateOrder(cur); err != nil {
				return err
			}
		}
		if s.needsDocumentChallenge(cur) {
			if err := s.documentChallenge(tx, cur, now); err != nil {
				return err
			}
		}
		out = cur
		return nil
	})
	return out, err
}

// Approve settles a device's approval or rejection of one of its user's
// orders, through the factor rules: a signature over anything but the
// order as stored counts as a failed factor; a challenge already spent
// (a replay, or the other of two devices) counts nothing.
func (s *Service) Approve(ctx context.Context, d *store.Device, req *app.Approve) (*app.Decided, error) {
	if err := CheckRef(req.OrderRef); err != nil {
		return nil, err
	}
	if req.Decision != app.DecisionApprove && req.Decision != app.DecisionReject {
		return nil, invalid("decision must be approve or reject")
	}
	if req.UserVerification != app.VerifyPIN && req.UserVerification != app.VerifyBiometric {
		return nil, invalid("userVerification must be pin or biometric")
	}
	if req.UserVerification == app.VerifyBiometric && d.Biometry == app.BiometryNone {
		return nil, invalid("device %s declared no biometry at its activation: userVerification must be pin", d.ID)
	}
	if req.Challenge == "" || len(req.Challenge) > 64 || req.Signature == "" || len(req.Signature) > 200 {
		return nil, invalid("challenge and signature are needed (the challenge as /app/v1/pending gave it)")
	}
	f := s.factors[factors.App]
	if f == nil {
		return nil, invalid("this server does not take app approvals")
	}
	var o *store.Order
	var u *store.User
	err := s.store.View(ctx, func(r store.Reader) error {
		var err error
		if o, err = r.Order(req.OrderRef); err != nil {
			return err
		}
		if o.User != d.User || o.Purpose != "" {
			return store.ErrNotFound
		}
		u, err = r.User(o.User)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound // another user's order is not found either
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	decided := &app.Decided{OrderRef: o.Ref, Status: string(o.State), HintCode: o.Hint}
	if o.State != store.StatePending || !now.Before(o.Expires) {
		return decided, nil
	}
	if o.Device != "" && o.Device != d.ID {
		return nil, ErrNotFound // taken by another device's scan
	}
	if err := usable(u, now); err != nil {
		return nil, err
	}
	v, err := f.Verify(ctx, &factors.Attempt{User: u, Order: o, Now: now, Device: d,
		Approval: &factors.Approval{Challenge: req.Challenge, Decision: req.Decision, UserVerification: req.UserVerification, Signature: req.Signature}})
	if err != nil {
		return nil, err
	}
	resp, err := s.settle(ctx, o.Ref, settlement{actor: actorDevice(d), passes: []pass{{f, v}}, reject: req.Decision == app.DecisionReject}, now)
	if err != nil {
		return nil, err
	}
	accepted := resp.Accepted
	if req.Decision == app.DecisionReject {
		accepted = resp.HintCode == HintUserCancel && v.Right
	}
	return &app.Decided{OrderRef: resp.OrderRef, Accepted: accepted, Status: string(resp.Status), HintCode: resp.HintCode}, nil
}

// Scan takes an order without a user for the device's user: the animated
// QR code it scanned (its HMAC right and at most QRMaxAge old, so that a
// relayed screenshot fails), or the order's autoStartToken. Of two scans
// of one order, one takes it.
func (s *Service) Scan(ctx context.Context, d *store.Device, req *app.Scan) (*app.Scanned, error) {
	if (req.QRData == "") == (req.AutoStartToken == "") {
		return nil, invalid("give qrData or autoStartToken, one of them")
	}
	var o *store.Order
	var parsed qr.Parsed
	err := s.store.View(ctx, func(r store.Reader) error {
		var err error
		if req.QRData != "" {
			if parsed, err = qr.Parse(req.QRData); err != nil {
				return invalid("qrData: %v", err)
			}
			if parsed.Prefix != qr.Prefix {
				return invalid("qrData is not a Segl QR code (prefix %q)", parsed.Prefix)
			}
			o, err = r.OrderByQRToken(parsed.StartToken)
		} else {
			if CheckRef(req.AutoStartToken) != nil {
				return invalid("autoStartToken is not one (a lowercase UUID)")
			}
			o, err = r.OrderByAutoStartToken(req.AutoStartToken)
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && o.Purpose != "") {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if o.State != store.StatePending || !now.Before(o.Expires) {
		return nil, invalid("order %s is no longer pending", o.Ref)
	}
	if req.QRData != "" {
		if err := qr.Verify(parsed, o.QRStartSecret, o.Created, now, s.cfg.QRMaxAge); err != nil {
			return nil, invalid("qrData: %v", err)
		}
	}
	if o.Device != "" || (o.User != "" && o.User != d.User) {
		return nil, invalid("order %s was taken by another device already", o.Ref)
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		u, err := tx.User(d.User)
		if err != nil {
			return err
		}
		if err := usable(u, now); err != nil {
			return err
		}
		bound, err := tx.BindOrder(o.Ref, d.User, d.ID)
		if errors.Is(err, store.ErrExists) {
			return ErrAlreadyInProgress
		}
		if err != nil {
			return err
		}
		if !bound {
			return invalid("order %s was taken by another device already", o.Ref)
		}
		how := "qr"
		if req.AutoStartToken != "" {
			how = "autoStartToken"
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.OrderBound, Actor: actorDevice(d), Subject: "order:" + o.Ref, Outcome: "ok",
			Details: map[string]string{"user": d.User, "device": d.ID, "by": how}})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.waiters.wake(d.User)
	return &app.Scanned{OrderRef: o.Ref}, nil
}

// Devices lists a user's devices (every user's when user is empty).
func (s *Service) Devices(ctx context.Context, user string) ([]*store.Device, error) {
	var ds []*store.Device
	err := s.store.View(ctx, func(r store.Reader) error {
		var err error
		ds, err = r.Devices(user)
		return err
	})
	return ds, err
}

// RevokeDevice revokes a device for actor; user, when not empty, is the
// only user whose device it may be (a device revoking its user's).
func (s *Service) RevokeDevice(ctx context.Context, id, user, actor string) (*store.Device, error) {
	if CheckRef(id) != nil {
		return nil, invalid("%q is not a device id", id)
	}
	now := s.now()
	var d *store.Device
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if d, err = tx.Device(id); err != nil {
			return err
		}
		if user != "" && d.User != user {
			return store.ErrNotFound
		}
		revoked, err := tx.RevokeDevice(id, actor, now)
		if err != nil {
			return err
		}
		if !revoked {
			return invalid("device %s was revoked already", id)
		}
		d.Revoked, d.RevokedBy = now, actor
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.DeviceRevoked, Actor: actor, Subject: "user:" + d.User, Outcome: "ok",
			Details: map[string]string{"device": id}})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no device %s: %w", id, ErrNotFound)
	}
	return d, err
}

// EndPolls makes every long poll answer now, and later ones at once: segld
// is stopping.
func (s *Service) EndPolls() { s.waiters.end() }

// waiters wakes the long polls of a user's devices when an order for the
// user starts or is bound.
type waiters struct {
	mu    sync.Mutex
	by    map[string][]chan struct{}
	once  sync.Once
	ended chan struct{}
}

func (w *waiters) ending() chan struct{} {
	w.once.Do(func() { w.ended = make(chan struct{}) })
	return w.ended
}

func (w *waiters) end() {
	c := w.ending()
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

func (w *waiters) wait(user string) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.by == nil {
		w.by = map[string][]chan struct{}{}
	}
	c := make(chan struct{})
	w.by[user] = append(w.by[user], c)
	return c
}

func (w *waiters) done(user string, c chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cs := slices.DeleteFunc(w.by[user], func(x chan struct{}) bool { return x == c })
	if len(cs) == 0 {
		delete(w.by, user)
	} else {
		w.by[user] = cs
	}
}

func (w *waiters) wake(user string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.by[user] {
		close(c)
	}
	delete(w.by, user)
}
