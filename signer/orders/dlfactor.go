package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/dlcode"
)

// PaymentRequest is the optional payment of /rp/v1/auth and /rp/v1/sign.
type PaymentRequest struct {
	AmountMinor string `json:"amountMinor"`
	Currency    string `json:"currency"`
	Payee       string `json:"payee"`
}

func (p *PaymentRequest) check() error {
	if err := (dlcode.Payment{OrderRef: "-", AmountMinor: p.AmountMinor, Currency: p.Currency, Payee: p.Payee}).Check(); err != nil {
		return invalid("payment: %s", strings.TrimPrefix(err.Error(), "dlcode: "))
	}
	return nil
}

// DLCodeFactor is the dynamic-linking code of PSD2 RTS art. 5: a code
// bound to the order's amount, currency and payee, valid 5 minutes, one
// use, 5 attempts. Its delivery by SMS comes with the gateway plugins;
// the code is computed and checked here.
type DLCodeFactor struct {
	Store    store.Store
	Key      dlcode.HMAC
	Digits   int           // default 6
	Validity time.Duration // default 5 minutes
	Attempts int           // default 5
	Now      func() time.Time
}

var _ Challenger = (*DLCodeFactor)(nil)

func (*DLCodeFactor) Type() string       { return "dlcode" }
func (*DLCodeFactor) Category() Category { return Possession }
func (*DLCodeFactor) AMR() string        { return "sms" }

func (f *DLCodeFactor) defaults() (digits int, validity time.Duration, attempts int, now time.Time) {
	digits, validity, attempts, now = 6, 5*time.Minute, 5, time.Now()
	if f.Digits != 0 {
		digits = f.Digits
	}
	if f.Validity != 0 {
		validity = f.Validity
	}
	if f.Attempts != 0 {
		attempts = f.Attempts
	}
	if f.Now != nil {
		now = f.Now()
	}
	return
}

// payment is the order's payment as the code binds it.
func payment(o *store.Order) (dlcode.Payment, error) {
	var p PaymentRequest
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
func (f *DLCodeFactor) Challenge(_ store.Tx, _ *store.User, o *store.Order) (string, any, error) {
	if o.Payment == "" {
		return "", nil, invalid("order %s has no payment: a dynamic-linking code needs one", o.Ref)
	}
	_, validity, _, now := f.defaults()
	at := now.Unix()
	return fmt.Sprintf("dlcode:%d:0", at), DLChallenge{Issued: time.Unix(at, 0).UTC(), ExpiresIn: int(validity / time.Second)}, nil
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
		return "", invalid("order %s has no dynamic-linking code issued", o.Ref)
	}
	p, err := payment(o)
	if err != nil {
		return "", err
	}
	digits, _, _, _ := f.defaults()
	return dlcode.Code(f.Key, p, at, digits)
}

// Check compares the answer with the code for the order's own payment, as
// stored: a code made for another amount or payee does not match. The
// challenge changes with every attempt (compare-and-set on the order), so
// attempts are counted exactly and a right code is used once.
func (f *DLCodeFactor) Check(ctx context.Context, u *store.User, o *store.Order, value string) error {
	digits, validity, attempts, now := f.defaults()
	at, n, ok := parseDLChallenge(o.Challenge)
	if !ok {
		return invalid("order %s has no dynamic-linking code issued: ask /rp/v1/challenge first", o.Ref)
	}
	if now.Sub(time.Unix(at, 0)) > validity {
		return fmt.Errorf("%w: the code expired", ErrRejected)
	}
	if n >= attempts {
		return fmt.Errorf("%w: no attempts left for this code", ErrRejected)
	}
	p, err := payment(o)
	if err != nil {
		return err
	}
	right, err := dlcode.Verify(f.Key, p, at, digits, value)
	if err != nil {
		return err
	}
	next := fmt.Sprintf("dlcode:%d:%d", at, n+1)
	if right {
		next = "" // one use
	}
	var swapped bool
	err = f.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.Order(o.Ref)
		if err != nil {
			return err
		}
		if cur.Challenge != o.Challenge {
			return nil // another attempt got there first
		}
		cur.Challenge, swapped = next, true
		return tx.UpdateOrder(cur)
	})
	if err != nil {
		return err
	}
	if !swapped {
		return fmt.Errorf("%w: the code changed while it was checked", ErrRejected)
	}
	if !right {
		return fmt.Errorf("%w: wrong code", ErrRejected)
	}
	return nil
}
