package factors

import (
	"context"
	"errors"
	"runtime"

	"github.com/segl/segl/tokens/password"
)

// PasswordFactor is the user's personal password (knowledge). It spends
// nothing: a right password may be given again.
type PasswordFactor struct {
	pepper   password.Pepper
	pepperID string
	// argon2id takes tens of megabytes and a core for ~100 ms per check:
	// at most one check per core runs at once, the rest wait (or give up
	// with their request), so a burst cannot exhaust memory.
	slots chan struct{}
}

var _ Factor = (*PasswordFactor)(nil)

// NewPassword checks passwords with the pepper in the HSM.
func NewPassword(pepper password.Pepper, pepperID string) *PasswordFactor {
	return &PasswordFactor{pepper: pepper, pepperID: pepperID, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

func (*PasswordFactor) Type() Type         { return Password }
func (*PasswordFactor) Category() Category { return Knowledge }
func (*PasswordFactor) AMR() string        { return "pwd" }

func (p *PasswordFactor) Verify(ctx context.Context, a *Attempt) (Verdict, error) {
	if a.User.Password == "" {
		return Verdict{Reason: "no password set"}, nil
	}
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		return Verdict{}, ctx.Err()
	}
	err := password.Verify(p.pepper, p.pepperID, a.User.ID, []byte(a.Value), a.User.Password)
	switch {
	case errors.Is(err, password.ErrMismatch):
		return Verdict{Reason: "wrong password"}, nil
	case err != nil:
		return Verdict{}, err
	}
	return Verdict{Right: true}, nil
}
