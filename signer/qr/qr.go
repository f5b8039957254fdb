// Package qr is BankID's animated QR code (DESIGN "Animated QR v1"):
//
//	prefix "." qrStartToken "." t "." hex(HMAC-SHA256(qrStartSecret, t))
//
// with t the whole seconds since the order started. The relying party
// holds qrStartSecret too, so this HMAC runs in software. A scanned string
// is accepted only while fresh, so a screenshot relayed to a victim's
// phone from elsewhere is too old by the time it is used.
package qr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// Prefix is Segl's QR prefix.
const Prefix = "segl"

// Errors of Verify and Parse.
var (
	ErrMalformed = errors.New("malformed QR data")
	ErrBadMAC    = errors.New("QR code does not belong to this order")
	ErrStale     = errors.New("QR code is too old")
	ErrFuture    = errors.New("QR code is from the future")
)

const maxLen = 200

func mac(secret string, t int64) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(t, 10)))
	return m.Sum(nil)
}

// Data is the QR string for second t of an order.
func Data(prefix, startToken, startSecret string, t int64) string {
	return prefix + "." + startToken + "." + strconv.FormatInt(t, 10) + "." + hex.EncodeToString(mac(startSecret, t))
}

// Parsed is a scanned QR string split into its parts.
type Parsed struct {
	Prefix, StartToken string
	Time               int64
	MAC                []byte
}

var (
	prefixRE = regexp.MustCompile(`^[a-z0-9]{1,16}$`)
	uuidRE   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timeRE   = regexp.MustCompile(`^(0|[1-9][0-9]{0,9})$`)
	macRE    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Parse splits a QR string strictly; its canonical form is the only one
// accepted, so each scan has exactly one spelling.
func Parse(data string) (Parsed, error) {
	if len(data) > maxLen {
		return Parsed{}, fmt.Errorf("%w: longer than %d characters", ErrMalformed, maxLen)
	}
	parts := strings.Split(data, ".")
	if len(parts) != 4 {
		return Parsed{}, fmt.Errorf("%w: want prefix.token.time.mac", ErrMalformed)
	}
	switch {
	case !prefixRE.MatchString(parts[0]):
		return Parsed{}, fmt.Errorf("%w: prefix", ErrMalformed)
	case !uuidRE.MatchString(parts[1]):
		return Parsed{}, fmt.Errorf("%w: qrStartToken is not a lowercase UUID", ErrMalformed)
	case !timeRE.MatchString(parts[2]):
		return Parsed{}, fmt.Errorf("%w: time is not a whole number of seconds", ErrMalformed)
	case !macRE.MatchString(parts[3]):
		return Parsed{}, fmt.Errorf("%w: the HMAC is not 64 lowercase hex digits", ErrMalformed)
	}
	t, _ := strconv.ParseInt(parts[2], 10, 64)
	m, _ := hex.DecodeString(parts[3])
	return Parsed{Prefix: parts[0], StartToken: parts[1], Time: t, MAC: m}, nil
}

// String re-forms the QR string.
func (p Parsed) String() string {
	return p.Prefix + "." + p.StartToken + "." + strconv.FormatInt(p.Time, 10) + "." + hex.EncodeToString(p.MAC)
}

// Verify checks p against the order's secret and start: the HMAC must
// match and the code must be shown at most maxAge before now.
func Verify(p Parsed, startSecret string, startedAt, now time.Time, maxAge time.Duration) error {
	if !hmac.Equal(mac(startSecret, p.Time), p.MAC) {
		return ErrBadMAC
	}
	shown := startedAt.Add(time.Duration(p.Time) * time.Second)
	if shown.After(now) {
		return ErrFuture
	}
	if age := now.Sub(shown); age > maxAge {
		return fmt.Errorf("%w: shown %s ago, at most %s", ErrStale, age.Truncate(time.Millisecond), maxAge)
	}
	return nil
}

// PNG renders data as a QR code image of size×size pixels.
func PNG(data string, size int) ([]byte, error) {
	return qrcode.Encode(data, qrcode.Medium, size)
}
