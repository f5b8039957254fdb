package factors

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/otp"
	"github.com/segl/segl/tokens/yubico"
)

// SeedOpener gives a wrapped seed's HMAC, or a wrapped Yubico key's
// decryption, inside the HSM (*hsm.Keystore).
type SeedOpener interface {
	WrappedHMAC(w *hsm.WrappedKey) (*hsm.HMACKey, error)
	WrappedAES(w *hsm.WrappedKey) (*hsm.AESKey, error)
}

// OTPFactor is a hardware HOTP/TOTP or Yubico OTP token assigned to the
// user (possession).
type OTPFactor struct {
	store   store.Store
	seeds   SeedOpener
	policy  otp.Policy
	lockout Lockout
}

var _ Factor = (*OTPFactor)(nil)

// NewOTP checks codes against the user's tokens in st, their seeds opened
// in the HSM. Wrong codes block a token after policy.MaxFailures, for
// policy.BlockFor.
func NewOTP(st store.Store, seeds SeedOpener, policy otp.Policy) *OTPFactor {
	return &OTPFactor{store: st, seeds: seeds, policy: policy, lockout: Lockout{MaxFailures: policy.MaxFailures, BlockFor: policy.BlockFor}}
}

func (*OTPFactor) Type() Type         { return OTP }
func (*OTPFactor) Category() Category { return Possession }
func (*OTPFactor) AMR() string        { return "otp" }

// fits says whether the code has the shape of this token's codes: a
// Yubico OTP that begins with its public ID, or digits for HOTP/TOTP. A
// code meant for one of the user's tokens is not tried against the others.
func fits(t *store.OTPToken, code string) bool {
	o, err := yubico.Parse(code)
	if t.Kind == store.TokenYubico {
		return err == nil && o.PublicID == t.PublicID
	}
	return err != nil
}

// match tries a code against one token without changing anything.
func (f *OTPFactor) match(t *store.OTPToken, code string, now time.Time) (used, drift int64, ok bool, err error) {
	w, err := hsm.ParseWrappedKey(t.Seed)
	if err != nil {
		return 0, 0, false, fmt.Errorf("token %s's seed: %w", t.Serial, err)
	}
	if t.Kind == store.TokenYubico {
		return f.matchYubico(t, w, code)
	}
	seed, err := f.seeds.WrappedHMAC(w)
	if err != nil {
		return 0, 0, false, err
	}
	h := otp.Hash(t.Hash)
	if t.Kind == store.TokenHOTP {
		c, ok, err := f.policy.MatchHOTP(seed, h, t.Digits, uint64(t.Counter), code)
		return int64(c), 0, ok, err
	}
	return f.policy.MatchTOTP(seed, h, t.Digits, t.Step, now.Unix(), t.Counter, t.Drift, code)
}

// matchYubico decrypts the OTP inside the HSM; its position is the use,
// which AdvanceOTP accepts only past the last one.
func (f *OTPFactor) matchYubico(t *store.OTPToken, w *hsm.WrappedKey, code string) (used, drift int64, ok bool, err error) {
	o, err := yubico.Parse(code)
	if err != nil {
		return 0, 0, false, otp.ErrFormat
	}
	pid, err := hex.DecodeString(t.PrivateID)
	if err != nil {
		return 0, 0, false, fmt.Errorf("token %s's private ID: %w", t.Serial, err)
	}
	key, err := f.seeds.WrappedAES(w)
	if err != nil {
		return 0, 0, false, err
	}
	c, err := yubico.Check(key, pid, o)
	if errors.Is(err, yubico.ErrInvalid) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	return c.Position(), 0, c.Position() > t.Counter, nil
}

// Verify looks for the code among the user's unblocked tokens. A right
// code is spent by the token's conditional counter UPDATE, so a replay, or
// the same code sent twice at once, finds it used. A wrong one counts
// against each token it was tried against, which blocks it (for longer
// each time) at the policy's limit.
func (f *OTPFactor) Verify(ctx context.Context, a *Attempt) (Verdict, error) {
	var tokens []*store.OTPToken
	if err := f.store.View(ctx, func(r store.Reader) (err error) {
		tokens, err = r.OTPTokens(a.User.ID)
		return err
	}); err != nil {
		return Verdict{}, err
	}
	var usable, tried []*store.OTPToken
	for _, t := range tokens {
		if t.Blocked(a.Now) {
			continue
		}
		usable = append(usable, t)
		if !fits(t, a.Value) {
			continue
		}
		tried = append(tried, t)
		used, drift, ok, err := f.match(t, a.Value, a.Now)
		if errors.Is(err, otp.ErrFormat) {
			continue // a code no token could make; counted below
		}
		if err != nil {
			return Verdict{}, err
		}
		if ok {
			return Verdict{Right: true, Spend: f.advance(a, t.Serial, used, drift)}, nil
		}
	}
	if len(usable) == 0 {
		return Verdict{Reason: "no usable token"}, nil
	}
	if len(tried) == 0 {
		// Fits none of the user's tokens (digits for a YubiKey, another
		// YubiKey's OTP): a guess all the same, so it counts against
		// every token it could have been meant for.
		tried = usable
	}
	return Verdict{Reason: "wrong code", Spend: f.fail(a, tried)}, nil
}

// advance spends the code: false when its counter, or a later one, was
// used in between.
func (f *OTPFactor) advance(a *Attempt, serial string, used, drift int64) func(store.Tx, *store.Order) (bool, error) {
	return func(tx store.Tx, o *store.Order) (bool, error) {
		advanced, err := tx.AdvanceOTP(serial, used, drift)
		if err != nil || !advanced {
			return false, err
		}
		_, err = tx.Audit(audit.Record{Time: a.Now, Event: audit.OTPUsed, Actor: "user:" + a.User.ID, Subject: "token:" + serial, Outcome: "ok",
			Details: map[string]string{"order": o.Ref, "counter": strconv.FormatInt(used, 10), "drift": strconv.FormatInt(drift, 10)}})
		return true, err
	}
}

// fail counts a wrong code against the tokens it was tried against, each
// as it is now: one blocked in between counts nothing more.
func (f *OTPFactor) fail(a *Attempt, tried []*store.OTPToken) func(store.Tx, *store.Order) (bool, error) {
	return func(tx store.Tx, _ *store.Order) (bool, error) {
		for _, t := range tried {
			cur, err := tx.OTPToken(t.Serial)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted by an officer meanwhile
			}
			if err != nil {
				return false, err
			}
			if _, blocked := f.lockout.Fail(&cur.Lockout, a.Now); blocked {
				if _, err := tx.Audit(audit.Record{Time: a.Now, Event: audit.OTPBlocked, Actor: "system", Subject: "token:" + t.Serial, Outcome: "ok",
					Details: map[string]string{"until": cur.BlockedUntil.UTC().Format(time.RFC3339), "user": a.User.ID,
						"blocks": strconv.Itoa(cur.Blocks)}}); err != nil {
					return false, err
				}
			}
			if err := tx.UpdateOTPToken(cur); err != nil {
				return false, err
			}
		}
		return true, nil
	}
}
