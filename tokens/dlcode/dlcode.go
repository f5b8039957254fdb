// Package dlcode is the dynamic-linking code of PSD2 RTS article 5
// (DESIGN "Dynamic-linking code v1"): a code that depends on the order,
// the amount, the currency and the payee, so that a code shown for one
// payment cannot approve another.
//
//	code = be64(HMAC(D, "SEGL-DLOTP-1" 0x00 T 0x00 A 0x00 C 0x00 P 0x00 be64(t))[0:8]) mod 10^d
package dlcode

import (
	"crypto"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// HMAC is the dynamic-linking key in the HSM (*hsm.HMACKey).
type HMAC interface {
	Sum(h crypto.Hash, msg []byte) ([]byte, error)
}

// Payment is what the code is linked to: an order's payment, or the order
// alone (AmountMinor, Currency and Payee all empty).
type Payment struct {
	OrderRef    string
	AmountMinor string // minor units as decimal text, "12995"
	Currency    string // ISO 4217, "DKK"
	Payee       string // as shown to the user
}

// MaxPayee is the longest payee, in characters.
const MaxPayee = 140

var (
	amountRE   = regexp.MustCompile(`^(0|[1-9][0-9]{0,17})$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Check validates the fields: the code's input must have one spelling.
// A code linked to the order alone (an order without a payment) has no
// amount, currency and payee at all.
func (p Payment) Check() error {
	switch {
	case p.OrderRef == "" || strings.ContainsRune(p.OrderRef, 0):
		return errors.New("dlcode: orderRef is empty or holds a NUL")
	case p.AmountMinor == "" && p.Currency == "" && p.Payee == "":
		return nil
	case !amountRE.MatchString(p.AmountMinor):
		return fmt.Errorf("dlcode: amountMinor %q is not a whole number of minor units without leading zeros", p.AmountMinor)
	case !currencyRE.MatchString(p.Currency):
		return fmt.Errorf("dlcode: currency %q is not an ISO 4217 code", p.Currency)
	case p.Payee == "" || !utf8.ValidString(p.Payee) || strings.ContainsRune(p.Payee, 0) || utf8.RuneCountInString(p.Payee) > MaxPayee:
		return fmt.Errorf("dlcode: payee must be 1 to %d characters of UTF-8 without NUL", MaxPayee)
	}
	return nil
}

// Code computes the code for p issued at Unix time issuedAt, with 6 or 8
// digits.
func Code(key HMAC, p Payment, issuedAt int64, digits int) (string, error) {
	if err := p.Check(); err != nil {
		return "", err
	}
	var mod uint64
	switch digits {
	case 6:
		mod = 1_000_000
	case 8:
		mod = 100_000_000
	default:
		return "", errors.New("dlcode: codes have 6 or 8 digits")
	}
	msg := []byte("SEGL-DLOTP-1\x00" + p.OrderRef + "\x00" + p.AmountMinor + "\x00" + p.Currency + "\x00" + p.Payee + "\x00")
	msg = binary.BigEndian.AppendUint64(msg, uint64(issuedAt))
	mac, err := key.Sum(crypto.SHA256, msg)
	if err != nil {
		return "", fmt.Errorf("dlcode: HMAC in the HSM: %w", err)
	}
	return fmt.Sprintf("%0*d", digits, binary.BigEndian.Uint64(mac[:8])%mod), nil
}

// Verify compares answer with the code for p in constant time.
func Verify(key HMAC, p Payment, issuedAt int64, digits int, answer string) (bool, error) {
	want, err := Code(key, p, issuedAt, digits)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(answer)) == 1, nil
}
