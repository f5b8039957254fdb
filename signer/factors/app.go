package factors

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"

	"github.com/segl/segl/signer/app"
	"github.com/segl/segl/signer/errs"
	"github.com/segl/segl/signer/store"
)

// AppFactor is the code app's approval ("approve with a swipe"): a
// signature by an activated device's key over App approval v1, which
// covers the order, its current app challenge, what the user was shown
// and the payment. It is the device (possession) and the PIN or biometry
// that unlocks the key, and it links amount and payee.
type AppFactor struct{}

var (
	_ Factor  = AppFactor{}
	_ Several = AppFactor{}
	_ Linker  = AppFactor{}
	_ Methods = AppFactor{}
)

func (AppFactor) Type() Type         { return App }
func (AppFactor) Category() Category { return Possession }

// AMR is the least the approval proves; AMRs says what it does.
func (AppFactor) AMR() string  { return "swk" }
func (AppFactor) Linked() bool { return true }

// Categories: the device, and what unlocked its key.
func (AppFactor) Categories(o *store.Order) []Category {
	if o.UserVerification == app.VerifyBiometric {
		return []Category{Possession, Inherence}
	}
	return []Category{Possession, Knowledge}
}

// AMRs are RFC 8176's: swk or hwk for the device key, pin, fpt or face for
// its unlocking.
func (AppFactor) AMRs(r store.Reader, o *store.Order) ([]string, error) {
	d, err := r.Device(o.Device)
	if err != nil {
		return nil, fmt.Errorf("order %s's approving device: %w", o.Ref, err)
	}
	key := "swk"
	if d.KeyStorage == app.KeyHardware {
		key = "hwk"
	}
	uv := "pin"
	if o.UserVerification == app.VerifyBiometric {
		uv = map[string]string{app.BiometryFace: "face"}[d.Biometry]
		if uv == "" {
			uv = "fpt"
		}
	}
	return []string{key, uv}, nil
}

// ApprovalOf reads what a device signs from the order as stored.
func ApprovalOf(o *store.Order, challenge, decision, uv string) (app.Approval, error) {
	shown, err := base64.StdEncoding.DecodeString(o.UserVisibleData)
	if err != nil {
		return app.Approval{}, fmt.Errorf("order %s: userVisibleData column: %w", o.Ref, err)
	}
	p, err := payment(o)
	if err != nil {
		return app.Approval{}, err
	}
	return app.Approval{OrderRef: o.Ref, Challenge: challenge, UserVisibleData: shown,
		AmountMinor: p.AmountMinor, Currency: p.Currency, Payee: p.Payee, Decision: decision, UserVerification: uv}, nil
}

// Verify checks the device's signature over the order as read. A
// challenge that is not the order's current one (spent by another
// approval, or never given) meets nothing live: a duplicate, counted
// against no one. Settling spends the challenge, right or wrong, and
// notes the device and its user verification on the order.
func (AppFactor) Verify(_ context.Context, a *Attempt) (Verdict, error) {
	if a.Device == nil || a.Approval == nil {
		return Verdict{}, errs.Invalid("an app approval is given through the app API, not as a factor value")
	}
	ap := a.Approval
	if ap.Challenge == "" || ap.Challenge != a.Order.AppChallenge {
		return Verdict{Spend: func(store.Tx, *store.Order) (bool, error) { return false, nil }}, nil
	}
	msg, err := ApprovalOf(a.Order, ap.Challenge, ap.Decision, ap.UserVerification)
	if err != nil {
		return Verdict{}, err
	}
	pub, err := x509.ParsePKIXPublicKey(a.Device.PublicKey)
	if err != nil {
		return Verdict{}, fmt.Errorf("device %s's key: %w", a.Device.ID, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return Verdict{}, fmt.Errorf("device %s's key is a %T", a.Device.ID, pub)
	}
	right := app.Verify(ec, app.ApprovalMessage(msg), ap.Signature) == nil
	v := Verdict{Right: right, Reason: "the approval's signature does not verify over the order as stored"}
	v.Spend = func(tx store.Tx, o *store.Order) (bool, error) {
		d, err := tx.Device(a.Device.ID)
		if err != nil {
			return false, err
		}
		if !d.Active() || d.User != o.User || (o.Device != "" && o.Device != d.ID) {
			return false, nil // revoked, or taken by another device, while it was checked
		}
		live, err := tx.SwapAppChallenge(o.Ref, ap.Challenge, "spent:"+ap.Challenge)
		if err != nil || !live {
			return false, err
		}
		o.AppChallenge = "spent:" + ap.Challenge
		if right {
			o.Device, o.UserVerification = d.ID, ap.UserVerification
		}
		return true, nil
	}
	return v, nil
}
