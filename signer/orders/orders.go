// Package orders is the order state machine of the relying-party API
// (modelled on BankID RP API v6): start an auth or sign order, pass
// factors, collect the result, cancel.
//
//	pending ──two factors of different categories──▶ complete
//	   │
//	   ├─ expiry, cancel, user blocked, signing failed ──▶ failed
//
// Every state change and its audit record commit in one transaction. The
// factors are signer/factors': each verifies a value outside any
// transaction, and factors.Rules settles it inside the order's.
package orders

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/segl/segl/plugins/docverify"
	"github.com/segl/segl/signer/activation"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/factors"
	"github.com/segl/segl/signer/jws"
	"github.com/segl/segl/signer/outside"
	"github.com/segl/segl/signer/qr"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/dlcode"
)

var (
	// ErrNotFound: no such order for this relying party. Another RP's
	// order is not found either, so order references cannot be probed.
	ErrNotFound = errors.New("no such order")
	// ErrAlreadyInProgress: the user has a pending order already.
	ErrAlreadyInProgress = errors.New("the user has an order in progress")
)

// Hint codes, BankID's names where one fits.
const (
	HintOutstanding = "outstandingTransaction"
	HintUserSign    = "userSign"
	HintExpired     = "expiredTransaction"
	HintCancelled   = "cancelled"
	HintStartFailed = "startFailed"
	HintBlocked     = "userBlocked"
	HintUserCancel  = "userCancel"
	// HintDocumentCheck: the order's two factors are in, and it waits for
	// a passport check (step-up).
	HintDocumentCheck = "documentCheckRequired"
	// HintActivationFailed ends an activation whose password or card
	// code was wrong.
	HintActivationFailed = "activationFailed"
)

// Issuer is the issuer CA: its key signs assertions, its chain goes with
// every signature.
type Issuer struct {
	Name   string        // the assertion's iss
	Key    crypto.Signer // ES256 (P-256), in the HSM
	KeyID  string        // JWS kid
	Chain  []*x509.Certificate
	Issuer *x509.Certificate
}

// Config holds the policy.
type Config struct {
	Expiry            time.Duration // pending order lifetime; default 3 minutes
	MaxFailures       int           // consecutive failed factors before a block; default 5
	Block             time.Duration // how long a block lasts; default 15 minutes
	AssertionLifetime time.Duration // JWS exp - iat; default 5 minutes
	QRMaxAge          time.Duration // default 3 seconds
	ChallengeReissues int           // a challenge issued again for one order at most this often; default 3
	ChallengesPerHour int           // challenges one user may be given in an hour; default 20
	MaxDevices        int           // active app devices per user; default 3
	// DocumentCheckFrom: payments at or above the amount (minor units, by
	// currency) need a passport check besides their two factors.
	DocumentCheckFrom map[string]int64
}

// Service runs orders.
type Service struct {
	store   store.Store
	issuer  *Issuer
	acts    *activation.Authority
	factors map[factors.Type]factors.Factor
	// challengers by challenge type: the factors' own, and challenges that
	// only deliver another factor's value (an SMS of the dlcode)
	challengers  map[factors.Type]factors.Challenger
	checkPayment func(dlcode.Payment) error
	rules        factors.Rules
	cfg          Config
	clock        clock.Clock
	notice       func(ctx context.Context, u *store.User, deviceName string)
	waiters      waiters // the app's long polls
}

// New returns a Service accepting the given factors, reading the time
// from clk.
func New(st store.Store, iss *Issuer, acts *activation.Authority, cfg Config, clk clock.Clock, fs ...factors.Factor) *Service {
	if cfg.Expiry == 0 {
		cfg.Expiry = 3 * time.Minute
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Block == 0 {
		cfg.Block = 15 * time.Minute
	}
	if cfg.AssertionLifetime == 0 {
		cfg.AssertionLifetime = 5 * time.Minute
	}
	if cfg.QRMaxAge == 0 {
		cfg.QRMaxAge = 3 * time.Second
	}
	s := &Service{store: st, issuer: iss, acts: acts, cfg: cfg, clock: clk, factors: map[factors.Type]factors.Factor{},
		rules: factors.Rules{Users: factors.Lockout{MaxFailures: cfg.MaxFailures, BlockFor: factors.Fixed(cfg.Block)},
			ChallengeReissues: cfg.ChallengeReissues, ChallengesPerHour: cfg.ChallengesPerHour}}
	s.challengers = map[factors.Type]factors.Challenger{}
	for _, f := range fs {
		s.factors[f.Type()] = f
		if c, ok := f.(factors.Challenger); ok {
			s.challengers[c.Type()] = c
		}
	}
	return s
}

// AddFactor accepts f besides the factors given to New (a factor whose
// verifier is a plugin, started after the service).
func (s *Service) AddFactor(f factors.Factor) {
	s.factors[f.Type()] = f
	if c, ok := f.(factors.Challenger); ok {
		s.challengers[c.Type()] = c
	}
}

// AddChallenger accepts challenges of c's type besides the factors' own.
func (s *Service) AddChallenger(c factors.Challenger) { s.challengers[c.Type()] = c }

// SetPaymentCheck adds a check of every payment at an order's start (that
// its SMS fits in one message).
func (s *Service) SetPaymentCheck(check func(dlcode.Payment) error) { s.checkPayment = check }

func (s *Service) now() time.Time { return s.clock.Now() }

// StartResponse answers /rp/v1/auth and /rp/v1/sign.
type StartResponse struct {
	OrderRef       string `json:"orderRef"`
	AutoStartToken string `json:"autoStartToken"`
	QRStartToken   string `json:"qrStartToken"`
	QRStartSecret  string `json:"qrStartSecret"`
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func rpActor(rp string) string { return "rp:" + rp }

// Start begins an order of kind for relying party rp.
func (s *Service) Start(ctx context.Context, rp string, kind store.OrderKind, req *StartRequest) (*StartResponse, error) {
	digest, err := req.check(kind == store.KindSign)
	if err != nil {
		return nil, err
	}
	now := s.now()
	ref := newUUID()
	if req.Payment != nil && s.checkPayment != nil {
		if err := s.checkPayment(dlcode.Payment{OrderRef: ref, AmountMinor: req.Payment.AmountMinor, Currency: req.Payment.Currency, Payee: req.Payment.Payee}); err != nil {
			return nil, err
		}
	}
	o := &store.Order{Ref: ref, RP: rp, User: req.UserID, Kind: kind, State: store.StatePending, Hint: HintOutstanding,
		UserVisibleData: req.UserVisibleData, DocumentDigest: digest, EndUserIP: req.EndUserIP,
		AutoStartToken: newUUID(), QRStartToken: newUUID(), QRStartSecret: newUUID(),
		Created: now, Expires: now.Add(s.cfg.Expiry)}
	if req.Payment != nil {
		b, err := json.Marshal(req.Payment)
		if err != nil {
			return nil, err
		}
		o.Payment = string(b)
	}
	o.RequiresDocument = (req.Requirement != nil && req.Requirement.DocumentCheck) || s.stepUp(req.Payment)
	if _, ok := s.factors[factors.Passport]; o.RequiresDocument && !ok {
		return nil, invalid("the order needs a passport check (requirement.documentCheck, or a payment from orders.document-check-from), " +
			"and this server has no document verifier (documents.verifier)")
	}
	if o.RequiresDocument && o.User == "" {
		return nil, invalid("an order that needs a passport check needs userId: the holder is matched against the user")
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := s.expire(tx, now); err != nil {
			return err
		}
		if o.User != "" {
			u, err := tx.User(o.User)
			if errors.Is(err, store.ErrNotFound) {
				return invalid("userId %s is not a user of this issuer", o.User)
			}
			if err != nil {
				return err
			}
			if err := usable(u, now); err != nil {
				return err
			}
		}
		if err := tx.CreateOrder(o); err != nil {
			if errors.Is(err, store.ErrExists) {
				return ErrAlreadyInProgress
			}
			return err
		}
		details := map[string]string{"kind": string(kind), "endUserIp": req.EndUserIP}
		if digest != nil {
			details["documentDigest"] = hex.EncodeToString(digest)
		}
		if o.User != "" {
			details["user"] = o.User
		}
		if o.Payment != "" {
			details["payment"] = o.Payment
		}
		_, err := tx.Audit(audit.Record{Time: now, Event: audit.OrderStarted, Actor: rpActor(rp), Subject: "order:" + o.Ref,
			Outcome: "ok", Details: details})
		return err
	})
	if err != nil {
		return nil, err
	}
	if o.User != "" {
		s.waiters.wake(o.User)
	}
	return &StartResponse{OrderRef: o.Ref, AutoStartToken: o.AutoStartToken, QRStartToken: o.QRStartToken, QRStartSecret: o.QRStartSecret}, nil
}

// usable refuses a disabled or blocked user.
func usable(u *store.User, now time.Time) error {
	if u.Disabled {
		return invalid("user %s is disabled", u.ID)
	}
	if u.Blocked(now) {
		return invalid("user %s is blocked after repeated failed factors until %s; an officer can lift it with `segl users enable`",
			u.ID, u.BlockedUntil.Format(time.RFC3339))
	}
	return nil
}

// expire fails every pending order past its expiry, with an audit record
// each, in tx.
func (s *Service) expire(tx store.Tx, now time.Time) error {
	expired, err := tx.ExpireOrders(now)
	if err != nil {
		return err
	}
	for _, o := range expired {
		if _, err := tx.Audit(audit.Record{Time: now, Event: audit.OrderExpired, Actor: "system", Subject: "order:" + o.Ref,
			Outcome: "ok"}); err != nil {
			return err
		}
	}
	return nil
}

// order loads ref for rp, after expiring what is due.
func (s *Service) order(ctx context.Context, rp, ref string) (*store.Order, error) {
	if err := CheckRef(ref); err != nil {
		return nil, err
	}
	now := s.now()
	var o *store.Order
	err := s.store.View(ctx, func(r store.Reader) error {
		var err error
		o, err = r.Order(ref)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && (o.RP != rp || o.Purpose != "")) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if o.State == store.StatePending && !now.Before(o.Expires) {
		err = s.store.Update(ctx, func(tx store.Tx) error {
			if err := s.expire(tx, now); err != nil {
				return err
			}
			o, err = tx.Order(ref)
			return err
		})
	}
	return o, err
}

// CollectResponse is BankID's collect answer.
type CollectResponse struct {
	OrderRef       string           `json:"orderRef"`
	Status         store.OrderState `json:"status"`
	HintCode       string           `json:"hintCode,omitempty"`
	CompletionData json.RawMessage  `json:"completionData,omitempty"`
}

// Collect reports an order's state.
func (s *Service) Collect(ctx context.Context, rp, ref string) (*CollectResponse, error) {
	o, err := s.order(ctx, rp, ref)
	if err != nil {
		return nil, err
	}
	resp := &CollectResponse{OrderRef: o.Ref, Status: o.State}
	if o.State == store.StateComplete {
		resp.CompletionData = o.Completion
	} else {
		resp.HintCode = o.Hint
	}
	return resp, nil
}

// Cancel fails a pending order; cancelling a finished one is refused.
func (s *Service) Cancel(ctx context.Context, rp, ref string) error {
	if _, err := s.order(ctx, rp, ref); err != nil {
		return err
	}
	now := s.now()
	return s.store.Update(ctx, func(tx store.Tx) error {
		o, err := tx.Order(ref)
		if err != nil {
			return err
		}
		if o.State != store.StatePending {
			return invalid("order %s is %s already", ref, o.State)
		}
		o.State, o.Hint, o.Completed = store.StateFailed, HintCancelled, now
		if err := tx.UpdateOrder(o); err != nil {
			return err
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.OrderCancelled, Actor: rpActor(rp), Subject: "order:" + ref, Outcome: "ok"})
		return err
	})
}

// QR returns the animated QR string of a pending order for now.
func (s *Service) QR(ctx context.Context, rp, ref string) (string, error) {
	o, err := s.order(ctx, rp, ref)
	if err != nil {
		return "", err
	}
	if o.State != store.StatePending {
		return "", invalid("order %s is %s: there is no QR code to show", ref, o.State)
	}
	t := int64(s.now().Sub(o.Created) / time.Second)
	return qr.Data(qr.Prefix, o.QRStartToken, o.QRStartSecret, max(t, 0)), nil
}

// QRVerify checks a scanned QR string: it names the order only if its HMAC
// matches and it is at most QRMaxAge old, so a relayed screenshot fails.
func (s *Service) QRVerify(ctx context.Context, rp, data string) (string, error) {
	p, err := qr.Parse(data)
	if err != nil {
		return "", invalid("qrData: %v", err)
	}
	if p.Prefix != qr.Prefix {
		return "", invalid("qrData is not a Segl QR code (prefix %q)", p.Prefix)
	}
	var o *store.Order
	err = s.store.View(ctx, func(r store.Reader) error {
		o, err = r.OrderByQRToken(p.StartToken)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && o.RP != rp) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	now := s.now()
	if o.State != store.StatePending || !now.Before(o.Expires) {
		return "", invalid("the order of this QR code is no longer pending")
	}
	if err := qr.Verify(p, o.QRStartSecret, o.Created, now, s.cfg.QRMaxAge); err != nil {
		return "", invalid("qrData: %v", err)
	}
	return o.Ref, nil
}

// FactorResponse answers /rp/v1/factor. A wrong factor of any type gets
// the same answer: accepted false, and the order's state; so does a
// duplicate of a right one.
type FactorResponse struct {
	OrderRef string           `json:"orderRef"`
	Accepted bool             `json:"accepted"`
	Status   store.OrderState `json:"status"`
	HintCode string           `json:"hintCode,omitempty"`
}

// SubmitFactor checks one factor for a pending order and completes the
// order when it is the second, independent one. The factor decides
// outside any transaction; what it decided is settled by the factor rules
// in one transaction that reads the order and the user again, so a value
// that lost a race, or came again after it was accepted, counts nothing.
func (s *Service) SubmitFactor(ctx context.Context, rp string, req *FactorRequest) (*FactorResponse, error) {
	f, ok := s.factors[factors.Type(req.Type)]
	if !ok {
		return nil, invalid("type %q is not a factor this server accepts (%s)", req.Type, s.factorTypes())
	}
	var doc *docverify.Document
	switch {
	case f.Type() == factors.Passport:
		if req.Value != "" || req.Document == nil {
			return nil, invalid("a passport factor gives document (the chip's files and its signature over the challenge), not value")
		}
		d, err := req.Document.decode()
		if err != nil {
			return nil, err
		}
		doc = d
	case req.Document != nil:
		return nil, invalid("document belongs to the passport factor")
	case req.Value == "":
		return nil, invalid("value is empty")
	case utf8.RuneCountInString(req.Value) > MaxFactorValue:
		return nil, invalid("value is longer than %d characters", MaxFactorValue)
	}
	o, err := s.order(ctx, rp, req.OrderRef)
	if err != nil {
		return nil, err
	}
	return s.submit(ctx, rpActor(rp), o, f, req.Value, doc)
}

// submit checks one factor's value (or document) for order o as read,
// and settles it: the path of a relying party's factor and of the app's
// passport alike.
func (s *Service) submit(ctx context.Context, actor string, o *store.Order, f factors.Factor, value string, doc *docverify.Document) (*FactorResponse, error) {
	var err error
	state := &FactorResponse{OrderRef: o.Ref, Status: o.State, HintCode: o.Hint}
	if o.State != store.StatePending || slices.Contains(o.Factors, string(f.Type())) {
		return state, nil // finished, or this factor passed: a repeat changes nothing
	}
	if o.User == "" {
		return nil, invalid("order %s has no user yet: start it with userId", o.Ref)
	}
	var u *store.User
	if err := s.store.View(ctx, func(r store.Reader) error {
		u, err = r.User(o.User)
		return err
	}); err != nil {
		return nil, err
	}
	now := s.now()
	if err := usable(u, now); err != nil {
		return nil, err
	}
	verdict, err := f.Verify(ctx, &factors.Attempt{User: u, Order: o, Value: value, Now: now, Document: doc})
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return nil, err
		}
		return nil, fmt.Errorf("check %s: %w", f.Type(), err)
	}
	return s.settle(ctx, o.Ref, settlement{actor: actor, passes: []pass{{f, verdict}}}, now)
}

// pass is one factor's verdict on a submission.
type pass struct {
	f factors.Factor
	v factors.Verdict
}

// settlement is what one request asks to settle on an order.
type settlement struct {
	actor  string
	passes []pass
	// reject: the one pass is a device's signed rejection; when it
	// verifies, it fails the order (userCancel) instead of passing.
	reject bool
	// activate completes an activation order: it registers the device,
	// in the transaction that settles the factors, and may refuse (then
	// nothing is spent or counted).
	activate func(tx store.Tx, u *store.User, o *store.Order) error
}

// settle applies the verdicts to the order in one transaction, through
// the factor rules, and completes the order when its factors do: every
// channel — a relying party's factor, the app's approval, an activation
// — goes through here, so that spending, counting and completing are one
// rule. The order and the user are read again in it: another request may
// have moved them on since the factors were checked.
func (s *Service) settle(ctx context.Context, ref string, st settlement, now time.Time) (*FactorResponse, error) {
	var act *activation.Activation
	var u *store.User
	var o *store.Order
	resp := &FactorResponse{OrderRef: ref}
	// The assertion's signature and the activation's MAC are made
	// outside the transaction (package outside): it runs again with them.
	err := outside.Update(ctx, s.store, func(tx store.Tx, calls *outside.Calls) error {
		act = nil
		var err error
		if o, err = tx.Order(ref); err != nil {
			return err
		}
		if u, err = tx.User(o.User); err != nil {
			return err
		}
		resp.Status, resp.HintCode, resp.Accepted = o.State, o.Hint, false
		// Finished, expired, or the user blocked or disabled while the
		// factor was checked: that wins, and nothing is counted.
		if o.State != store.StatePending || !now.Before(o.Expires) || usable(u, now) != nil {
			return nil
		}
		if st.reject && st.passes[0].v.Right {
			return s.rejected(tx, o, st.passes[0].v, st.actor, now, resp)
		}
		accepted := 0
	passes:
		for _, p := range st.passes {
			outcome, err := s.rules.Settle(tx, p.f, u, o, p.v, st.actor, now)
			if err != nil {
				return err
			}
			switch outcome {
			case factors.Accepted:
				accepted++
			case factors.Blocked:
				o.State, o.Hint, o.Completed = store.StateFailed, HintBlocked, now
				break passes
			}
		}
		if accepted > 0 && o.State == store.StatePending {
			resp.Accepted = accepted == len(st.passes)
			o.Hint = HintUserSign
			if o.RequiresDocument && s.twoFactors(o) && !s.complete(o) {
				o.Hint = HintDocumentCheck
			}
		}
		switch {
		case o.State != store.StatePending:
		case s.complete(o):
			if err := s.rules.Completed(tx, u); err != nil {
				return err
			}
			switch {
			case o.Purpose == store.PurposeActivation:
				if err := st.activate(tx, u, o); err != nil {
					return err
				}
				o.State, o.Hint, o.Completed = store.StateComplete, "", now
			case o.Kind == store.KindAuth:
				if err := s.completeAuth(tx, calls, u, o, now); err != nil {
					return err
				}
			case o.Kind == store.KindSign:
				act, err = s.acts.Issue(tx, calls, o.Ref, u, o.DocumentDigest, activation.MaxLifetime)
				if err != nil {
					return err
				}
			}
		case o.Purpose == store.PurposeActivation && !resp.Accepted:
			// An activation is answered once: a wrong factor ends it.
			o.State, o.Hint, o.Completed = store.StateFailed, HintActivationFailed, now
		}
		resp.Status, resp.HintCode = o.State, o.Hint
		return tx.UpdateOrder(o)
	})
	if err != nil {
		return nil, err
	}
	if act != nil {
		if err := s.completeSign(ctx, u, o, act); err != nil {
			return nil, err
		}
		resp.Status, resp.HintCode = store.StateComplete, ""
	}
	return resp, nil
}

// rejected fails an order its user rejected in the app, spending the
// challenge the rejection signed: a second rejection, or an approval
// racing it, meets a spent challenge.
func (s *Service) rejected(tx store.Tx, o *store.Order, v factors.Verdict, actor string, now time.Time, resp *FactorResponse) error {
	live, err := v.Spend(tx, o)
	if err != nil || !live {
		return err
	}
	o.State, o.Hint, o.Completed = store.StateFailed, HintUserCancel, now
	resp.Status, resp.HintCode = o.State, o.Hint
	if err := tx.UpdateOrder(o); err != nil {
		return err
	}
	_, err = tx.Audit(audit.Record{Time: now, Event: audit.OrderRejected, Actor: actor, Subject: "order:" + o.Ref, Outcome: "ok",
		Details: map[string]string{"user": o.User}})
	return err
}

// stepUp reports whether a payment is large enough to need a passport
// check (orders.document-check-from).
func (s *Service) stepUp(p *factors.Payment) bool {
	if p == nil {
		return false
	}
	from, ok := s.cfg.DocumentCheckFrom[p.Currency]
	if !ok {
		return false
	}
	amount, err := strconv.ParseInt(p.AmountMinor, 10, 64)
	return err == nil && amount >= from
}

// complete reports whether an order's passed factors complete it: two
// categories, for a payment a dynamically linked one (PSD2 RTS art. 5:
// a code card or token code alone does not depend on amount and payee),
// and a passport check when the order requires one.
func (s *Service) complete(o *store.Order) bool {
	return s.twoFactors(o) && (!o.RequiresDocument || slices.Contains(o.Factors, string(factors.Passport)))
}

// twoFactors reports whether the passed factors are two independent ones,
// linked for a payment.
func (s *Service) twoFactors(o *store.Order) bool {
	if o.Payment != "" && !slices.ContainsFunc(o.Factors, func(t string) bool {
		l, ok := s.factors[factors.Type(t)].(factors.Linker)
		return ok && l.Linked()
	}) {
		return false
	}
	return s.independent(o)
}

// independent reports whether the passed factors span two categories.
func (s *Service) independent(o *store.Order) bool {
	seen := map[factors.Category]bool{}
	for _, t := range o.Factors {
		switch f := s.factors[factors.Type(t)].(type) {
		case factors.Several:
			for _, c := range f.Categories(o) {
				seen[c] = true
			}
		case factors.Factor:
			seen[f.Category()] = true
		}
	}
	return len(seen) >= 2
}

// amr lists the RFC 8176 methods of the passed factors, then "mfa".
func (s *Service) amr(r store.Reader, o *store.Order) ([]string, error) {
	var amr []string
	for _, t := range o.Factors {
		var methods []string
		switch f := s.factors[factors.Type(t)].(type) {
		case factors.Methods:
			m, err := f.AMRs(r, o)
			if err != nil {
				return nil, err
			}
			methods = m
		case factors.Factor:
			methods = []string{f.AMR()}
		}
		for _, m := range methods {
			if !slices.Contains(amr, m) {
				amr = append(amr, m)
			}
		}
	}
	return append(amr, "mfa"), nil
}

func (s *Service) factorTypes() string {
	var ts []string
	for t := range s.factors {
		ts = append(ts, string(t))
	}
	slices.Sort(ts)
	return fmt.Sprint(ts)
}

// Claims is the auth assertion's payload.
type Claims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience string   `json:"aud"`
	IssuedAt int64    `json:"iat"`
	Expires  int64    `json:"exp"`
	OrderRef string   `json:"order_ref"`
	AMR      []string `json:"amr"`
	Name     string   `json:"name,omitempty"`
}

type userData struct {
	UserID string `json:"userId"`
	Name   string `json:"name"`
}

type authCompletion struct {
	User      userData `json:"user"`
	Assertion string   `json:"assertion"`
}

type signCompletion struct {
	User             userData `json:"user"`
	Signature        string   `json:"signature"`        // base64 DER CMS SignedData, detached
	CertificateChain []string `json:"certificateChain"` // base64 DER, the user's certificate first
}

func (s *Service) completeAuth(tx store.Tx, calls *outside.Calls, u *store.User, o *store.Order, now time.Time) error {
	amr, err := s.amr(tx, o)
	if err != nil {
		return err
	}
	claims := Claims{Issuer: s.issuer.Name, Subject: u.ID, Audience: o.RP, IssuedAt: now.Unix(),
		Expires: now.Add(s.cfg.AssertionLifetime).Unix(), OrderRef: o.Ref, AMR: amr, Name: u.Name}
	key, err := json.Marshal(claims)
	if err != nil {
		return err
	}
	tok, err := outside.Do(calls, "jws\x00"+s.issuer.KeyID+"\x00"+string(key), func() (string, error) {
		return jws.Sign(s.issuer.Key, s.issuer.KeyID, claims)
	})
	if errors.Is(err, outside.ErrWanted) {
		return err
	}
	if err != nil {
		return fmt.Errorf("sign the assertion: %w", err)
	}
	o.Completion, err = json.Marshal(authCompletion{User: userData{u.ID, u.Name}, Assertion: tok})
	if err != nil {
		return err
	}
	o.State, o.Hint, o.Completed = store.StateComplete, "", now
	_, err = tx.Audit(audit.Record{Time: now, Event: audit.AssertionIssued, Actor: "system", Subject: "order:" + o.Ref, Outcome: "ok",
		Details: map[string]string{"user": u.ID, "aud": o.RP}})
	return err
}

// completeSign makes the user's signature through the activation, then
// records it; the signature is returned to no one before that commit.
func (s *Service) completeSign(ctx context.Context, u *store.User, o *store.Order, act *activation.Activation) error {
	cert, err := x509.ParseCertificate(u.Certificate)
	if err != nil {
		return fmt.Errorf("user %s's certificate: %w", u.ID, err)
	}
	chain := append([]*x509.Certificate{cert}, s.issuer.Chain...)
	sig, signErr := s.acts.SignCMS(ctx, act, u, chain, "system")
	now := s.now()
	err = s.store.Update(ctx, func(tx store.Tx) error {
		o, err := tx.Order(o.Ref)
		if err != nil {
			return err
		}
		if signErr != nil {
			o.State, o.Hint, o.Completed = store.StateFailed, HintStartFailed, now
			if err := tx.UpdateOrder(o); err != nil {
				return err
			}
			_, err := tx.Audit(audit.Record{Time: now, Event: audit.SignatureFailed, Actor: "system", Subject: "order:" + o.Ref,
				Outcome: "error", Details: map[string]string{"user": u.ID, "error": signErr.Error()}})
			if err != nil {
				return err
			}
			return nil
		}
		var certs []string
		for _, c := range chain {
			certs = append(certs, base64.StdEncoding.EncodeToString(c.Raw))
		}
		o.Completion, err = json.Marshal(signCompletion{User: userData{u.ID, u.Name},
			Signature: base64.StdEncoding.EncodeToString(sig), CertificateChain: certs})
		if err != nil {
			return err
		}
		o.State, o.Hint, o.Completed = store.StateComplete, "", now
		if err := tx.UpdateOrder(o); err != nil {
			return err
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.SignatureMade, Actor: "system", Subject: "order:" + o.Ref, Outcome: "ok",
			Details: map[string]string{"user": u.ID, "digest": hex.EncodeToString(o.DocumentDigest), "activation": act.ID}})
		return err
	})
	if err == nil && signErr != nil {
		// Recorded as failed above; the caller answers internalError.
		err = fmt.Errorf("sign for order %s: %w", o.Ref, signErr)
	}
	return err
}

// ChallengeRequest is the body of /rp/v1/challenge.
type ChallengeRequest struct {
	OrderRef string `json:"orderRef"`
	Type     string `json:"type"`
}

// Challenge asks a challenger for what the user must answer, replacing
// any earlier challenge of the order, within the factor rules' limits on
// challenges. A challenge that goes to the user (an SMS) is sent after it
// is committed.
func (s *Service) Challenge(ctx context.Context, rp string, req *ChallengeRequest) (any, error) {
	f, ok := s.challengers[factors.Type(req.Type)]
	if !ok {
		return nil, invalid("type %q has no challenge", req.Type)
	}
	o, err := s.order(ctx, rp, req.OrderRef)
	if err != nil {
		return nil, err
	}
	if o.State != store.StatePending {
		return nil, invalid("order %s is %s", o.Ref, o.State)
	}
	if o.User == "" {
		return nil, invalid("order %s has no user yet: start it with userId", o.Ref)
	}
	served := f.Type()
	if sv, ok := f.(interface{ Serves() factors.Type }); ok {
		served = sv.Serves()
	}
	if slices.Contains(o.Factors, string(served)) {
		return nil, invalid("factor %s was passed already for order %s", served, o.Ref)
	}
	now := s.now()
	var shown any
	var attempt *factors.Attempt
	err = s.store.Update(ctx, func(tx store.Tx) error {
		o, err := tx.Order(req.OrderRef)
		if err != nil {
			return err
		}
		if o.State != store.StatePending || !now.Before(o.Expires) {
			return invalid("order %s is no longer pending", o.Ref)
		}
		u, err := tx.User(o.User)
		if err != nil {
			return err
		}
		if err := usable(u, now); err != nil {
			return err
		}
		if err := s.rules.AllowChallenge(tx, u, o, f.Type(), now); err != nil {
			return err
		}
		attempt = &factors.Attempt{User: u, Order: o, Now: now}
		var stored string
		if stored, shown, err = f.Challenge(tx, attempt); err != nil {
			return err
		}
		o.Challenge = stored
		if err := tx.UpdateOrder(o); err != nil {
			return err
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.ChallengeIssued, Actor: rpActor(rp), Subject: "order:" + o.Ref, Outcome: "ok",
			Details: map[string]string{"user": u.ID, "factor": string(f.Type()), "challenge": stored}})
		return err
	})
	if err != nil {
		return nil, err
	}
	if d, ok := f.(factors.Deliverer); ok {
		return d.Deliver(ctx, attempt)
	}
	return shown, nil
}
