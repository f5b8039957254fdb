package factors

import (
	"context"
	"errors"
	"time"

	"github.com/segl/segl/signer/errs"
	"github.com/segl/segl/signer/smsgate"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/dlcode"
)

// SMSChallenge sends the dynamic-linking code by SMS (challenge type
// "sms"): for a payment, linked to its amount, currency and payee, and
// for another order to the order alone. The dlcode factor checks it; a
// new one voids the one before.
type SMSChallenge struct {
	codes *DLCodeFactor
	gate  *smsgate.Gate
	texts smsgate.Texts
}

var _ Deliverer = (*SMSChallenge)(nil)

// NewSMSChallenge sends codes' texts through gate.
func NewSMSChallenge(codes *DLCodeFactor, gate *smsgate.Gate, texts smsgate.Texts) *SMSChallenge {
	texts.Minutes, texts.Digits = int(codes.validity/time.Minute), codes.digits
	return &SMSChallenge{codes: codes, gate: gate, texts: texts}
}

func (*SMSChallenge) Type() Type { return SMS }

// Serves is the factor whose value the SMS carries.
func (*SMSChallenge) Serves() Type { return DLCode }

// SMSSent is what /rp/v1/challenge answers for an SMS: where it went and
// for how long the code is valid; never the code. Delivery is "sent", or
// "unknown" when the gateway's answer did not come (the code may still
// arrive; a new challenge voids it).
type SMSSent struct {
	SentTo    string `json:"sentTo"`
	ExpiresIn int    `json:"expiresIn"` // seconds
	Delivery  string `json:"delivery"`
}

// CheckPayment refuses, at an order's start, a payment whose SMS would
// not fit in one message.
func (c *SMSChallenge) CheckPayment(p dlcode.Payment) error { return c.texts.CheckPayment(p) }

// Challenge issues a new code for the order, within the SMS limits.
func (c *SMSChallenge) Challenge(tx store.Tx, a *Attempt) (string, any, error) {
	if a.User.Phone == "" {
		return "", nil, errs.Invalid("user %s has no mobile number: an officer sets one (`segl users phone set`), or the user enrols one", a.User.ID)
	}
	if err := c.gate.Allow(tx, a.Order.Ref, a.User.ID); err != nil {
		return "", nil, err
	}
	return dlChallenge(issueTime(a), 0), nil, nil
}

// Deliver sends the code's text to the user's phone.
func (c *SMSChallenge) Deliver(ctx context.Context, a *Attempt) (any, error) {
	code, err := c.codes.Code(a.Order)
	if err != nil {
		return nil, err
	}
	p, err := payment(a.Order)
	if err != nil {
		return nil, err
	}
	_, err = c.gate.Send(ctx, smsgate.Message{Order: a.Order.Ref, User: a.User.ID, To: a.User.Phone, Text: c.texts.Render(code, &p)})
	sent := SMSSent{SentTo: smsgate.MaskPhone(a.User.Phone), ExpiresIn: int(c.codes.validity / time.Second), Delivery: "sent"}
	switch {
	case errors.Is(err, smsgate.ErrUnknown):
		sent.Delivery = "unknown"
	case err != nil:
		return nil, err
	}
	return sent, nil
}
