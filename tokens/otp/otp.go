// Package otp computes HOTP (RFC 4226) and TOTP (RFC 6238) codes with the
// HMAC inside the HSM: the seed is an HSM key (a wrapped seed unwrapped
// into a session object), never bytes in this process.
package otp

import (
	"crypto"
	_ "crypto/sha1" // the hashes tokens use
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// HMAC is a seed in the HSM (*hsm.HMACKey).
type HMAC interface {
	Sum(h crypto.Hash, msg []byte) ([]byte, error)
}

// Hash names a token's HMAC hash as PSKC and the vector files do.
type Hash string

// Kind is HOTP (a counter) or TOTP (the time).
type Kind string

const (
	KindHOTP Kind = "hotp"
	KindTOTP Kind = "totp"
)

const (
	SHA1   Hash = "sha1"
	SHA256 Hash = "sha256"
	SHA512 Hash = "sha512"
)

// Crypto is the hash's crypto.Hash.
func (h Hash) Crypto() (crypto.Hash, error) {
	switch h {
	case SHA1:
		return crypto.SHA1, nil
	case SHA256:
		return crypto.SHA256, nil
	case SHA512:
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("otp: hash %q: use sha1, sha256 or sha512", string(h))
}

// ErrDigits is returned for a code length other than 6 or 8.
var ErrDigits = errors.New("otp: codes have 6 or 8 digits")

var pow10 = map[int]uint32{6: 1_000_000, 8: 100_000_000}

// HOTP is RFC 4226's code for counter: dynamic truncation of
// HMAC(seed, be64(counter)), modulo 10^digits, zero-padded.
func HOTP(seed HMAC, h Hash, counter uint64, digits int) (string, error) {
	mod, ok := pow10[digits]
	if !ok {
		return "", ErrDigits
	}
	ch, err := h.Crypto()
	if err != nil {
		return "", err
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac, err := seed.Sum(ch, msg[:])
	if err != nil {
		return "", fmt.Errorf("otp: HMAC in the HSM: %w", err)
	}
	if len(mac) != ch.Size() {
		return "", fmt.Errorf("otp: the HSM returned a %d-byte HMAC for %s", len(mac), h)
	}
	off := mac[len(mac)-1] & 0x0f
	code := binary.BigEndian.Uint32(mac[off:off+4]) & 0x7fffffff
	s := strconv.FormatUint(uint64(code%mod), 10)
	for len(s) < digits {
		s = "0" + s
	}
	return s, nil
}

// TOTP is RFC 6238's code at Unix time t with a step of step seconds
// (T0 = 0): HOTP of floor(t / step).
func TOTP(seed HMAC, h Hash, t int64, step int64, digits int) (string, error) {
	if step <= 0 {
		return "", errors.New("otp: the time step must be positive")
	}
	if t < 0 {
		return "", errors.New("otp: time before 1970")
	}
	return HOTP(seed, h, uint64(t/step), digits)
}
