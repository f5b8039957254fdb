package orders

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/password"
)

// PasswordFactor is the user's personal password (knowledge).
type PasswordFactor struct {
	Pepper   password.Pepper
	PepperID string

	// argon2id takes tens of megabytes and a core for ~100 ms per check:
	// at most one check per core runs at once, the rest wait (or give up
	// with their request), so a burst cannot exhaust memory.
	once  sync.Once
	slots chan struct{}
}

var _ Factor = (*PasswordFactor)(nil)

func (*PasswordFactor) Type() string       { return "password" }
func (*PasswordFactor) Category() Category { return Knowledge }
func (*PasswordFactor) AMR() string        { return "pwd" }

func (p *PasswordFactor) Check(ctx context.Context, u *store.User, _ *store.Order, value string) error {
	if u.Password == "" {
		return fmt.Errorf("%w: no password set", ErrRejected)
	}
	p.once.Do(func() { p.slots = make(chan struct{}, runtime.GOMAXPROCS(0)) })
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	err := password.Verify(p.Pepper, p.PepperID, u.ID, []byte(value), u.Password)
	if errors.Is(err, password.ErrMismatch) {
		return fmt.Errorf("%w: wrong password", ErrRejected)
	}
	return err
}
