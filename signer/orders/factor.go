package orders

import (
	"context"
	"errors"

	"github.com/segl/segl/signer/store"
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

// ErrRejected is what a Factor returns for a wrong value. Every wrong
// factor gets the same answer, so the answer does not tell an attacker
// which of a user's secrets they have.
var ErrRejected = errors.New("the factor was not accepted")

// Factor checks one kind of authenticator for an order.
type Factor interface {
	// Type is the name used in /rp/v1/factor ("password", "otp", …).
	Type() string
	Category() Category
	// AMR is the RFC 8176 method reference put in the assertion.
	AMR() string
	// Check verifies value for user u and order o. It returns nil for a
	// right value, an error wrapping ErrRejected for a wrong one, and any
	// other error when it could not decide. It runs outside the order's
	// transaction, so a slow check (argon2id) does not hold the database.
	Check(ctx context.Context, u *store.User, o *store.Order, value string) error
}
