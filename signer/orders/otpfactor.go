package orders

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
	Store  store.Store
	Seeds  SeedOpener
	Policy otp.Policy
	Now    func() time.Time
}

var _ Factor = (*OTPFactor)(nil)

func (*OTPFactor) Type() string       { return "otp" }
func (*OTPFactor) Category() Category { return Possession }
func (*OTPFactor) AMR() string        { return "otp" }

func (f *OTPFactor) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// fits says whether the code has the shape of this token's codes: a
// Yubico OTP that begins with its public ID, or digits for HOTP/TOTP. A
// code meant for one of the user's tokens is not tried against the others.
func fits(t *store.OTPToken, code string) bool {
	o, err := yubico.Parse(code)
	if t.Kind == "yubico" {
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
	if t.Kind == "yubico" {
		return f.matchYubico(t, w, code)
	}
	seed, err := f.Seeds.WrappedHMAC(w)
	if err != nil {
		return 0, 0, false, err
	}
	h := otp.Hash(t.Hash)
	if t.Kind == "hotp" {
		c, ok, err := f.Policy.MatchHOTP(seed, h, t.Digits, uint64(t.Counter), code)
		return int64(c), 0, ok, err
	}
	return f.Policy.MatchTOTP(seed, h, t.Digits, t.Step, now.Unix(), t.Counter, t.Drift, code)
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
	key, err := f.Seeds.WrappedAES(w)
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

// Check accepts a code from any of the user's unblocked tokens, once: the
// use is recorded by a conditional UPDATE, so a replay, or the same code
// sent twice at once, is refused. A wrong code counts against each token
// tried, and blocks it (for longer each time) at the policy's limit.
func (f *OTPFactor) Check(ctx context.Context, u *store.User, o *store.Order, code string) error {
	now := f.now()
	var tokens []*store.OTPToken
	if err := f.Store.View(ctx, func(r store.Reader) (err error) {
		tokens, err = r.OTPTokens(u.ID)
		return err
	}); err != nil {
		return err
	}
	var usable, tried []*store.OTPToken
	for _, t := range tokens {
		if now.Before(t.BlockedUntil) {
			continue
		}
		usable = append(usable, t)
		if !fits(t, code) {
			continue
		}
		tried = append(tried, t)
		used, drift, ok, err := f.match(t, code, now)
		if errors.Is(err, otp.ErrFormat) {
			continue // a code no token could make; counted below
		}
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		var advanced bool
		err = f.Store.Update(ctx, func(tx store.Tx) (err error) {
			if advanced, err = tx.AdvanceOTP(t.Serial, used, drift); err != nil || !advanced {
				return err
			}
			_, err = tx.Audit(audit.Record{Time: now, Event: "otp.used", Actor: "user:" + u.ID, Subject: "token:" + t.Serial, Outcome: "ok",
				Details: map[string]string{"order": o.Ref, "counter": strconv.FormatInt(used, 10), "drift": strconv.FormatInt(drift, 10)}})
			return err
		})
		if err != nil {
			return err
		}
		if !advanced {
			// It matched the counter read a moment ago, so another
			// request used it in between: a genuine replay of an old
			// code does not match at all.
			return fmt.Errorf("%w: code %w", ErrRejected, ErrUsedConcurrently)
		}
		return nil
	}
	if len(usable) == 0 {
		return fmt.Errorf("%w: no usable token", ErrRejected)
	}
	if len(tried) == 0 {
		// Fits none of the user's tokens (digits for a YubiKey, another
		// YubiKey's OTP): a guess all the same, so it counts against
		// every token it could have been meant for.
		tried = usable
	}
	err := f.Store.Update(ctx, func(tx store.Tx) error {
		for _, t := range tried {
			cur, err := tx.OTPToken(t.Serial)
			if err != nil {
				return err
			}
			cur.Failures++
			if cur.Failures >= f.Policy.MaxFailures {
				cur.Blocks++
				cur.BlockedUntil = now.Add(f.Policy.BlockFor(cur.Blocks))
				cur.Failures = 0
				if _, err := tx.Audit(audit.Record{Time: now, Event: "otp.blocked", Actor: "system", Subject: "token:" + t.Serial, Outcome: "ok",
					Details: map[string]string{"until": cur.BlockedUntil.UTC().Format(time.RFC3339), "user": u.ID}}); err != nil {
					return err
				}
			}
			if err := tx.UpdateOTPToken(cur); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: wrong code", ErrRejected)
}
