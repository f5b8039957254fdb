package factors

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/errs"
	"github.com/segl/segl/signer/store"
)

// Lockout is how failures block something that can be guessed at: a user
// (PSD2 RTS art. 4(3)(b): at most 5 consecutive failures), an OTP token.
type Lockout struct {
	MaxFailures int
	// BlockFor is how long the n-th block (n = 1, 2, …) lasts.
	BlockFor func(n int) time.Duration
}

// Fixed is a BlockFor whose every block lasts d.
func Fixed(d time.Duration) func(int) time.Duration { return func(int) time.Duration { return d } }

// Fail counts one failure against l at now and blocks at MaxFailures,
// starting the count again for the next block. A failure while a block is
// in force counts nothing: one block per MaxFailures failures. It returns
// the count this failure reached (0 when it counted nothing) and whether
// it imposed a block.
func (p Lockout) Fail(l *store.Lockout, now time.Time) (count int, blocked bool) {
	if l.Blocked(now) {
		return 0, false
	}
	l.Failures++
	count = l.Failures
	if l.Failures < p.MaxFailures {
		return count, false
	}
	l.Blocks++
	l.BlockedUntil = now.Add(p.BlockFor(l.Blocks))
	l.Failures = 0
	return count, true
}

// Rules are the policy every factor goes through.
type Rules struct {
	// Users is the lockout of users, across all channels and orders.
	Users Lockout
	// ChallengeReissues is how often a challenge of one factor may be
	// issued again for one order, after the first (default 3).
	ChallengeReissues int
	// ChallengesPerHour is how many challenges of any factor one user
	// may be given in an hour (default 20).
	ChallengesPerHour int
}

// Outcome is what settling one submission came to.
type Outcome int

const (
	// Duplicate: the value met nothing live (spent already, by a
	// concurrent request or an earlier one, or the factor passed): nothing
	// was counted, and the answer is the order's state.
	Duplicate Outcome = iota
	// Accepted: the value was right and is spent; the factor is passed.
	Accepted
	// Refused: the value was wrong; one failure was counted.
	Refused
	// Blocked: the value was wrong and its failure blocked the user.
	Blocked
)

// Settle applies verdict v of factor f to user u and order o, inside the
// order's transaction, with u and o as read in it. The caller has checked
// that the order is pending and the user neither disabled nor blocked; it
// writes o afterwards (Settle changes its factors and challenge), and
// fails the order when the outcome is Blocked. actor is who submitted it.
func (r *Rules) Settle(tx store.Tx, f Factor, u *store.User, o *store.Order, v Verdict, actor string, now time.Time) (Outcome, error) {
	if slices.Contains(o.Factors, string(f.Type())) {
		return Duplicate, nil
	}
	if v.Spend != nil {
		live, err := v.Spend(tx, o)
		if err != nil {
			return 0, err
		}
		if !live {
			return Duplicate, nil
		}
	}
	subject := "order:" + o.Ref
	details := map[string]string{}
	for k, val := range v.Details {
		details[k] = val
	}
	details["user"], details["factor"] = u.ID, string(f.Type())
	if v.Right {
		o.Factors = append(o.Factors, string(f.Type()))
		_, err := tx.Audit(audit.Record{Time: now, Event: audit.FactorAccepted, Actor: actor, Subject: subject, Outcome: "ok", Details: details})
		return Accepted, err
	}
	count, blocked := r.Users.Fail(&u.Lockout, now)
	details["failures"] = strconv.Itoa(count)
	if v.Reason != "" {
		details["reason"] = v.Reason
	}
	if _, err := tx.Audit(audit.Record{Time: now, Event: audit.FactorRefused, Actor: actor, Subject: subject, Outcome: "refused",
		Details: details}); err != nil {
		return 0, err
	}
	if blocked {
		if _, err := tx.Audit(audit.Record{Time: now, Event: audit.UserBlocked, Actor: "system", Subject: "user:" + u.ID, Outcome: "ok",
			Details: map[string]string{"until": u.BlockedUntil.UTC().Format(time.RFC3339), "failures": strconv.Itoa(count),
				"blocks": strconv.Itoa(u.Blocks)}}); err != nil {
			return 0, err
		}
	}
	if err := tx.UpdateUser(u); err != nil {
		return 0, err
	}
	if blocked {
		return Blocked, nil
	}
	return Refused, nil
}

// Completed records that an order of u's completed: the login succeeded
// whole, which is the only thing that clears the user's failures.
func (r *Rules) Completed(tx store.Tx, u *store.User) error {
	if u.Failures == 0 {
		return nil
	}
	u.Failures = 0
	return tx.UpdateUser(u)
}

// spendChallenge spends the order's challenge, stored as it was when the
// value was checked, for a factor whose challenge is answered once, right
// or wrong (the passport's, the card's): a conditional update, false when
// another answer spent it or a new challenge replaced it. o follows, so
// that the order written after the settlement keeps it spent.
func spendChallenge(tx store.Tx, o *store.Order, stored string) (bool, error) {
	live, err := tx.SwapChallenge(o.Ref, stored, "spent:"+stored)
	if err != nil || !live {
		return false, err
	}
	o.Challenge = "spent:" + stored
	return true, nil
}

// answered reports whether the order's challenge of this kind (its
// prefix, "passport:") was answered already: a submission for it then is
// a duplicate.
func answered(o *store.Order, kind string) bool {
	return strings.HasPrefix(o.Challenge, "spent:"+kind)
}

// duplicate is the verdict on a value whose challenge another answer
// spent: nothing live, so nothing accepted and nothing counted.
var duplicate = Verdict{Spend: func(store.Tx, *store.Order) (bool, error) { return false, nil }}

// AllowChallenge refuses a challenge of type t for order o beyond the
// limits (errs.ErrLimited), and otherwise notes it, in the order's
// transaction.
func (r *Rules) AllowChallenge(tx store.Tx, u *store.User, o *store.Order, t Type, now time.Time) error {
	reissues, perHour := r.ChallengeReissues, r.ChallengesPerHour
	if reissues == 0 {
		reissues = 3
	}
	if perHour == 0 {
		perHour = 20
	}
	n, err := tx.CountChallenges(o.Ref, u.ID, string(t), now.Add(-time.Hour))
	if err != nil {
		return err
	}
	if n.ForOrder > reissues {
		return errs.Limited(0, "the %s challenge of order %s was issued %d times already: start a new order", t, o.Ref, n.ForOrder)
	}
	if n.ForUser >= perHour {
		retry := max(n.OldestForUser.Add(time.Hour).Sub(now), time.Second)
		return errs.Limited(retry, "user %s was given %d challenges in the last hour, the most allowed: try again in %s",
			u.ID, n.ForUser, retry.Round(time.Second))
	}
	return tx.RecordChallenge(store.ChallengeIssue{Order: o.Ref, User: u.ID, Factor: string(t), Issued: now})
}

// String names an outcome in logs and tests.
func (o Outcome) String() string {
	switch o {
	case Duplicate:
		return "duplicate"
	case Accepted:
		return "accepted"
	case Refused:
		return "refused"
	case Blocked:
		return "blocked"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}
