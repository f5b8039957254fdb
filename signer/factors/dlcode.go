package factors

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/segl/segl/signer/errs"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/dlcode"
)

// DLCodeFactor is the dynamic-linking code of PSD2 RTS art. 5: a code
// bound to the order's amount, currency and payee, valid for a while, used
// once, with a few attempts. Its delivery by SMS comes with the gateway
// plugins; the code is computed and checked here.
type DLCodeFactor struct {
	key      dlcode.HMAC
	digits   int
	validity time.Duration
	attempts int
}

var _ Challenger = (*DLCodeFactor)(nil)

// NewDLCode makes and checks codes with the dynamic-linking key in the
// HSM: 6 digits, valid 5 minutes, 5 attempts.
func NewDLCode(key dlcode.HMAC) *DLCodeFactor {
	return &DLCodeFactor{key: key, digits: 6, validity: 5 * time.Minute, attempts: 5}
}

func (*DLCodeFactor) Type() Type         { return DLCode }
func (*DLCodeFactor) Category() Category { return Possession }
func (*DLCodeFactor) AMR() string        { return "sms" }

// Linked: the code is computed over amount, currency and payee.
func (*DLCodeFactor) Linked() bool { return true }

// Payment is the payment of an order, as /rp/v1/auth and /rp/v1/sign take
// it and the order stores it.
type Payment struct {
	AmountMinor string `json:"amountMinor"`
	Currency    string `json:"currency"`
	Payee       string `json:"payee"`
}

// payment is the order's payment as the code binds it: the order alone
// when it has none.
func payment(o *store.Order) (dlcode.Payment, error) {
	if o.Payment == "" {
		return dlcode.Payment{OrderRef: o.Ref}, nil
	}
	var p Payment
	if err := json.Unmarshal([]byte(o.Payment), &p); err != nil {
		return dlcode.Payment{}, fmt.Errorf("order %s: payment column: %w", o.Ref, err)
	}
	return dlcode.Payment{OrderRef: o.Ref, AmountMinor: p.AmountMinor, Currency: p.Currency, Payee: p.Payee}, nil
}

// DLChallenge is what /rp/v1/challenge answers for a dynamic-linking code.
type DLChallenge struct {
	Issued    time.Time `json:"issued"`
	ExpiresIn int       `json:"expiresIn"` // seconds
}

// Challenge issues a new code for the order's payment (replacing any
// earlier one).
func (f *DLCodeFactor) Challenge(_ store.Tx, a *Attempt) (string, any, error) {
	if a.Order.Payment == "" {
		return "", nil, errs.Invalid("order %s has no payment: a dynamic-linking code needs one", a.Order.Ref)
	}
	at := issueTime(a)
	return dlChallenge(at, 0), DLChallenge{Issued: time.Unix(at, 0).UTC(), ExpiresIn: int(f.validity / time.Second)}, nil
}

// issueTime is a new code's issue time: now, or a second after the code
// it replaces if that was issued in this same second, since the code is
// computed from the time in whole seconds and a new code must differ.
func issueTime(a *Attempt) int64 {
	at := a.Now.Unix()
	if prev, _, ok := parseDLChallenge(a.Order.Challenge); ok && prev >= at {
		at = prev + 1
	}
	return at
}

func dlChallenge(issuedAt int64, attempts int) string {
	return fmt.Sprintf("dlcode:%d:%d", issuedAt, attempts)
}

var dlChallengeRE = regexp.MustCompile(`^dlcode:(0|[1-9][0-9]{0,11}):(0|[1-9][0-9]{0,2})$`)

// parseDLChallenge reads "dlcode:<issued at>:<attempts>" in its one
// canonical spelling.
func parseDLChallenge(s string) (issuedAt int64, attempts int, ok bool) {
	m := dlChallengeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false
	}
	at, _ := strconv.ParseInt(m[1], 10, 64)
	n, _ := strconv.Atoi(m[2])
	return at, n, true
}

// Code is the current code of an order, as the SMS plugin will send it.
func (f *DLCodeFactor) Code(o *store.Order) (string, error) {
	at, _, ok := parseDLChallenge(o.Challenge)
	if !ok {
		return "", errs.Invalid("order %s has no dynamic-linking code issued", o.Ref)
	}
	p, err := payment(o)
	if err != nil {
		return "", err
	}
	return dlcode.Code(f.key, p, at, f.digits)
}

// Verify compares the answer with the code for the order's own payment,
// as stored: a code made for another amount or payee does not match. An
// expired code is tried against nothing: it counts nothing, and is
// refused. Settling swaps the order's challenge by a conditional UPDATE:
// a right code empties it (one use), a wrong one counts an attempt, and
// the last attempt empties it too.
func (f *DLCodeFactor) Verify(_ context.Context, a *Attempt) (Verdict, error) {
	at, _, ok := parseDLChallenge(a.Order.Challenge)
	if !ok {
		return Verdict{}, errs.Invalid("order %s has no dynamic-linking code issued: ask /rp/v1/challenge first", a.Order.Ref)
	}
	if a.Now.Sub(time.Unix(at, 0)) > f.validity {
		return Verdict{Reason: "the code expired", Spend: func(store.Tx, *store.Order) (bool, error) { return false, nil }}, nil
	}
	p, err := payment(a.Order)
	if err != nil {
		return Verdict{}, err
	}
	right, err := dlcode.Verify(f.key, p, at, f.digits, a.Value)
	if err != nil {
		return Verdict{}, err
	}
	v := Verdict{Right: right, Reason: "wrong code"}
	v.Spend = func(tx store.Tx, o *store.Order) (bool, error) {
		curAt, n, ok := parseDLChallenge(o.Challenge)
		if !ok || curAt != at || n >= f.attempts {
			return false, nil // used, replaced by a new code, or out of attempts
		}
		next := dlChallenge(at, n+1)
		if right || n+1 >= f.attempts {
			next = ""
		}
		swapped, err := tx.SwapChallenge(o.Ref, o.Challenge, next)
		if swapped {
			o.Challenge = next
		}
		return swapped, err
	}
	return v, nil
}
