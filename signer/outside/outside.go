// Package outside keeps HSM calls out of database write transactions.
//
// A write transaction holds the audit chain's head until it commits (see
// store.Tx): every other writer, in every daemon, waits for it. An HSM
// call inside one — the assertion's signature, an activation's MAC — would
// make every writer wait on the HSM's latency, which behind a network HSM
// is milliseconds. So a transaction that needs an HSM answer asks for it
// with Do; the first time, Do answers ErrWanted, Update rolls the
// transaction back, makes the call with no transaction open, and runs the
// transaction again, where Do now returns the answer. Nothing of the first
// run was committed, so the guarantees are those of one transaction: the
// state change, its audit record and the answer commit together, and an
// answer that the second run does not ask for (the state moved on in
// between) is thrown away, never returned.
//
// The inputs of a call are its key: a run that asks with other inputs
// gets no earlier answer. Values a transaction invents (a random ID, the
// time) must be the same in every run for its keys to match: Stable gives
// them.
package outside

import (
	"context"
	"errors"
	"fmt"

	"github.com/segl/segl/signer/store"
)

// ErrWanted is Do's answer when the call must be made outside the
// transaction first; fn must return it (wrapped or not) for Update to
// make the call.
var ErrWanted = errors.New("outside: an HSM answer is wanted before the transaction can go on")

// Runs is how many times Update runs a transaction that keeps asking for
// new answers before it lets the calls be made inside it: a bound, not an
// expectation (a second run is the rule).
const Runs = 4

// Calls is what one Update knows across its runs.
type Calls struct {
	answers map[string]answer
	stable  map[string]any
	wanted  []wanted
	inline  bool
}

type answer struct {
	v   any
	err error
}

type wanted struct {
	key string
	op  func() (any, error)
}

// Do returns the answer of op for key, as made outside an earlier run of
// the transaction; or, when it has none, records op and returns ErrWanted.
// op must not touch the database. A nil c makes the call at once.
func Do[T any](c *Calls, key string, op func() (T, error)) (T, error) {
	var zero T
	if c == nil {
		return op()
	}
	if a, ok := c.answers[key]; ok {
		if a.err != nil {
			return zero, a.err
		}
		return a.v.(T), nil
	}
	if c.inline {
		return op()
	}
	c.wanted = append(c.wanted, wanted{key, func() (any, error) { return op() }})
	return zero, ErrWanted
}

// Stable returns the value gen made for key in the first run of the
// transaction, in every run. A nil c makes a new one.
func Stable[T any](c *Calls, key string, gen func() T) T {
	if c == nil {
		return gen()
	}
	if v, ok := c.stable[key]; ok {
		return v.(T)
	}
	v := gen()
	c.stable[key] = v
	return v
}

// Update runs fn in a write transaction of st, making the HSM calls fn
// asks for with Do between runs, outside any transaction.
func Update(ctx context.Context, st store.Store, fn func(tx store.Tx, c *Calls) error) error {
	c := &Calls{answers: map[string]answer{}, stable: map[string]any{}}
	for run := 1; ; run++ {
		c.wanted = nil
		c.inline = run == Runs
		err := st.Update(ctx, func(tx store.Tx) error { return fn(tx, c) })
		if !errors.Is(err, ErrWanted) {
			return err
		}
		if len(c.wanted) == 0 {
			return fmt.Errorf("outside: the transaction returned ErrWanted without asking for a call: %w", err)
		}
		for _, w := range c.wanted {
			v, err := w.op()
			c.answers[w.key] = answer{v, err}
		}
	}
}
