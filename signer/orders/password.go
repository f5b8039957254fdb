package orders

import (
	"context"
	"errors"
	"fmt"

	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/password"
)

// PasswordFactor is the user's personal password (knowledge).
type PasswordFactor struct {
	Pepper   password.Pepper
	PepperID string
}

var _ Factor = (*PasswordFactor)(nil)

func (*PasswordFactor) Type() string       { return "password" }
func (*PasswordFactor) Category() Category { return Knowledge }
func (*PasswordFactor) AMR() string        { return "pwd" }

func (p *PasswordFactor) Check(_ context.Context, u *store.User, _ *store.Order, value string) error {
	if u.Password == "" {
		return fmt.Errorf("%w: no password set", ErrRejected)
	}
	err := password.Verify(p.Pepper, p.PepperID, u.ID, []byte(value), u.Password)
	if errors.Is(err, password.ErrMismatch) {
		return fmt.Errorf("%w: wrong password", ErrRejected)
	}
	return err
}
