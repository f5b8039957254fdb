// Package factors is what an authentication factor is, the factors Segl
// has, and the rules every one of them obeys. The rules live here, once,
// so that a factor added later (SMS, the code app, the passport, PIV)
// inherits them instead of deriving them again:
//
//   - A factor decides on a value outside any transaction (the HSM's
//     HMAC, argon2id) and says what the value spends: a code-card entry,
//     an OTP counter, a dynamic-linking code. The spend is a conditional
//     UPDATE inside the order's transaction, so of any number of
//     submissions of one value exactly one spends it.
//   - A submission that finds its value spent already, by a concurrent
//     request or an earlier one, or finds the factor passed for the order
//     already, is a duplicate: it counts nothing against anyone, and its
//     answer is the order's state.
//   - A wrong value counts once against the user (and against the
//     factor's own authenticator, an OTP token); the fifth consecutive
//     failure blocks, and failures while a block is in force count
//     nothing, so blocks never stack.
//   - The user's count goes back to zero only when an order completes:
//     one accepted factor is half a login, not a success.
//   - Challenges are rationed: per order and per user per hour.
//
// Settle applies the first four inside the order's transaction;
// AllowChallenge the last.
package factors

import (
	"context"
	"time"

	"github.com/segl/segl/plugins/docverify"
	"github.com/segl/segl/signer/store"
)

// Type names a factor in /rp/v1/factor and /rp/v1/challenge.
type Type string

const (
	Password Type = "password"
	CodeCard Type = "codecard"
	OTP      Type = "otp"
	DLCode   Type = "dlcode"
	// SMS is a challenge only: the dynamic-linking code, sent by SMS; the
	// dlcode factor checks it.
	SMS Type = "sms"
	// App is the code app's approval, given through the app API only.
	App Type = "app"
	// Passport is the chip check of the holder's passport or ID card.
	Passport Type = "passport"
)

// Category is the PSD2 element a factor belongs to. Two factors complete
// an order only if they are of different categories: a password and a PIN
// are one element, not two.
type Category string

const (
	Knowledge  Category = "knowledge"
	Possession Category = "possession"
	Inherence  Category = "inherence"
)

// Factor checks one kind of authenticator.
type Factor interface {
	Type() Type
	Category() Category
	// AMR is the RFC 8176 method reference put in the assertion.
	AMR() string
	// Verify decides whether a.Value is right for a.User and a.Order. It
	// runs outside any transaction, so a slow check does not hold the
	// database; what it decided is applied by Settle. It returns an error
	// only when it could not decide: the HSM is gone (any error), or the
	// request is wrong as sent (errs.ErrInvalid: no challenge asked).
	Verify(ctx context.Context, a *Attempt) (Verdict, error)
}

// Challenger asks something before a factor can be answered
// (/rp/v1/challenge): the code card's key number, a dynamic-linking code.
type Challenger interface {
	// Type is the challenge's type in /rp/v1/challenge.
	Type() Type
	// Challenge picks what the user must answer for the order, returning
	// what the order stores and what the relying party shows. It runs in
	// the order's transaction, after AllowChallenge.
	Challenge(tx store.Tx, a *Attempt) (stored string, shown any, err error)
}

// Deliverer is a challenger whose challenge goes to the user rather than
// to the relying party (an SMS): Deliver runs after the challenge is
// committed, outside any transaction (a gateway may take seconds), with
// the order as stored then, and its answer is what the relying party is
// shown.
type Deliverer interface {
	Challenger
	Deliver(ctx context.Context, a *Attempt) (shown any, err error)
}

// Attempt is one submission: the user and order as read before the
// check, the value, and the time.
type Attempt struct {
	User  *store.User
	Order *store.Order
	Value string
	Now   time.Time
	// Device and Approval are an app approval's: the device that sent it
	// (its request signature verified) and what it signed.
	Device   *store.Device
	Approval *Approval
	// Document is a passport check's: the chip's files and its answer to
	// the challenge.
	Document *docverify.Document
}

// Approval is what a device sent to approve or reject an order.
type Approval struct {
	Challenge        string
	Decision         string
	UserVerification string
	Signature        string // base64 DER, over app.ApprovalMessage
}

// Several is a factor that is more than one element at once: the app's
// approval is possession of the device and the PIN or biometry that
// unlocks its key. Categories are those of the factor as o passed it.
type Several interface {
	Categories(o *store.Order) []Category
}

// Linker is a factor that binds the payment's amount and payee (PSD2 RTS
// art. 5): a payment order completes only with one of them.
type Linker interface {
	Linked() bool
}

// Methods is a factor whose RFC 8176 methods depend on how o passed it
// (the app: the device's key storage and its user verification).
type Methods interface {
	AMRs(r store.Reader, o *store.Order) ([]string, error)
}

// Verdict is a factor's decision on one value and what it spends.
type Verdict struct {
	// Right is whether the value is right for the state read before the
	// check.
	Right bool
	// Reason says why a wrong value is wrong, for the audit record ("wrong
	// code", "no usable token"); never the value.
	Reason string
	// Details go into the audit record, right or wrong (a passport's
	// issuing state and a hash of its number); never personal data.
	Details map[string]string
	// Spend uses up, in the order's transaction (o as read there), what
	// the value was checked against: for a right value what it proves
	// (the code-card entry, the OTP counter, the dynamic-linking code),
	// for a wrong one what the guess used up (the entry, an attempt at
	// the code) and the factor's own count (an OTP token's failures). It
	// is a conditional update, and reports false when there was nothing
	// live to use up any more: then the submission is a duplicate. nil:
	// nothing to spend (a password).
	Spend func(tx store.Tx, o *store.Order) (live bool, err error)
}
