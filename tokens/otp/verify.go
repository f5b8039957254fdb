package otp

import (
	"crypto/subtle"
	"errors"
	"time"
)

// Policy is how far a code may stray from what the server expects.
type Policy struct {
	LookAhead    int           // HOTP: counters after the next expected one that are accepted; default 10
	ResyncWindow int           // HOTP: how far ahead two consecutive codes may resynchronise; default 100
	TOTPWindow   int           // TOTP: steps either side of now (after drift); default 1
	MaxFailures  int           // consecutive failures before a block; default 5
	Block        time.Duration // first block; it doubles with each further block; default 15 minutes
	MaxBlock     time.Duration // the longest block; default a day
}

// DefaultPolicy is the default.
var DefaultPolicy = Policy{LookAhead: 10, ResyncWindow: 100, TOTPWindow: 1, MaxFailures: 5, Block: 15 * time.Minute, MaxBlock: 24 * time.Hour}

// ErrFormat is a code that is not digits of the token's length; it counts
// as a failure like a wrong code, but costs no HSM work.
var ErrFormat = errors.New("otp: the code is not the token's number of digits")

func wellFormed(code string, digits int) bool {
	if len(code) != digits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// match computes every candidate's code and compares each in constant
// time, without stopping at the first hit, so the time taken does not say
// how far off a code was. It returns the first matching candidate.
func match(n int, code func(i int) (string, error), answer string) (int, bool, error) {
	found := -1
	for i := 0; i < n; i++ {
		c, err := code(i)
		if err != nil {
			return 0, false, err
		}
		if subtle.ConstantTimeCompare([]byte(c), []byte(answer)) == 1 && found < 0 {
			found = i
		}
	}
	return found, found >= 0, nil
}

// MatchHOTP looks for answer at counters next … next+LookAhead and returns
// the counter it matched. Recording the use (and refusing a replay) is the
// store's conditional update, not this.
func (p Policy) MatchHOTP(seed HMAC, h Hash, digits int, next uint64, answer string) (uint64, bool, error) {
	if !wellFormed(answer, digits) {
		return 0, false, ErrFormat
	}
	i, ok, err := match(p.LookAhead+1, func(i int) (string, error) { return HOTP(seed, h, next+uint64(i), digits) }, answer)
	return next + uint64(i), ok, err
}

// Resync accepts two consecutive codes within ResyncWindow of next, for a
// token pressed many times away from the server; it returns the counter of
// the second code.
func (p Policy) Resync(seed HMAC, h Hash, digits int, next uint64, first, second string) (uint64, bool, error) {
	if !wellFormed(first, digits) || !wellFormed(second, digits) {
		return 0, false, ErrFormat
	}
	for i := 0; i < p.ResyncWindow; i++ {
		c, err := HOTP(seed, h, next+uint64(i), digits)
		if err != nil {
			return 0, false, err
		}
		if subtle.ConstantTimeCompare([]byte(c), []byte(first)) != 1 {
			continue
		}
		c2, err := HOTP(seed, h, next+uint64(i)+1, digits)
		if err != nil {
			return 0, false, err
		}
		if subtle.ConstantTimeCompare([]byte(c2), []byte(second)) == 1 {
			return next + uint64(i) + 1, true, nil
		}
	}
	return 0, false, nil
}

// MatchTOTP looks for answer at the steps around now (shifted by the
// token's known drift) that come after last, the last step used. It
// returns the matched step and the drift it shows.
func (p Policy) MatchTOTP(seed HMAC, h Hash, digits int, step, now, last, drift int64, answer string) (int64, int64, bool, error) {
	if !wellFormed(answer, digits) {
		return 0, 0, false, ErrFormat
	}
	if step <= 0 {
		return 0, 0, false, errors.New("otp: the time step must be positive")
	}
	center := now/step + drift
	w := int64(p.TOTPWindow)
	var candidates []int64
	for s := center - w; s <= center+w; s++ {
		if s > last && s >= 0 {
			candidates = append(candidates, s)
		}
	}
	i, ok, err := match(len(candidates), func(i int) (string, error) { return HOTP(seed, h, uint64(candidates[i]), digits) }, answer)
	if !ok || err != nil {
		return 0, 0, false, err
	}
	used := candidates[i]
	return used, used - now/step, true, nil
}

// BlockFor is the blocks-th block's length: Block, doubling each time, at
// most MaxBlock (a day when unset).
func (p Policy) BlockFor(blocks int) time.Duration {
	most := p.MaxBlock
	if most == 0 {
		most = 24 * time.Hour
	}
	d := p.Block
	for i := 1; i < blocks && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}
