// Package codecard is the NemID-style code card (DESIGN "Code card v1"):
// 148 one-time codes behind 4-digit key numbers, all derived from one HMAC
// master key in the HSM and the card's serial, so that only the serial,
// the key-number list and which entries are spent need storing.
//
//	msg(kind, S, i) = "SEGL-CODECARD-1" 0x00 kind 0x00 S 0x00 be32(i)
//	key numbers: k_j = be64(HMAC(M, msg("KEY", S, j))[0:8]) mod 10000,
//	             the first 148 distinct values in order of j
//	code of entry i: be64(HMAC(M, msg("CODE", S, i))[0:8]) mod 1000000
package codecard

import (
	"crypto"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
)

// Entries is how many codes a card holds.
const Entries = 148

// HMAC is the master key in the HSM (*hsm.HMACKey).
type HMAC interface {
	Sum(h crypto.Hash, msg []byte) ([]byte, error)
}

var serialRE = regexp.MustCompile(`^[0-9]{10}$`)

// CheckSerial checks a card serial: 10 decimal digits.
func CheckSerial(s string) error {
	if !serialRE.MatchString(s) {
		return fmt.Errorf("codecard: serial %q is not 10 decimal digits", s)
	}
	return nil
}

func msg(kind, serial string, i uint32) []byte {
	m := []byte("SEGL-CODECARD-1\x00" + kind + "\x00" + serial + "\x00")
	return binary.BigEndian.AppendUint32(m, i)
}

func derive(m HMAC, kind, serial string, i uint32, mod uint64) (uint64, error) {
	mac, err := m.Sum(crypto.SHA256, msg(kind, serial, i))
	if err != nil {
		return 0, fmt.Errorf("codecard: HMAC in the HSM: %w", err)
	}
	if len(mac) < 8 {
		return 0, errors.New("codecard: the HSM returned a short HMAC")
	}
	return binary.BigEndian.Uint64(mac[:8]) % mod, nil
}

// KeyNumbers returns the card's 148 key numbers, entry i's at index i.
func KeyNumbers(m HMAC, serial string) ([]int, error) {
	if err := CheckSerial(serial); err != nil {
		return nil, err
	}
	seen := make(map[int]bool, Entries)
	keys := make([]int, 0, Entries)
	// 148 distinct values of 10,000 take about 149 tries; the bound only
	// stops a broken HMAC from looping for ever.
	for j := uint32(0); len(keys) < Entries; j++ {
		if j > 100_000 {
			return nil, errors.New("codecard: key numbers do not become distinct: is the HMAC constant?")
		}
		k, err := derive(m, "KEY", serial, j, 10_000)
		if err != nil {
			return nil, err
		}
		if !seen[int(k)] {
			seen[int(k)] = true
			keys = append(keys, int(k))
		}
	}
	return keys, nil
}

// Code returns entry i's 6-digit code.
func Code(m HMAC, serial string, i int) (string, error) {
	if err := CheckSerial(serial); err != nil {
		return "", err
	}
	if i < 0 || i >= Entries {
		return "", fmt.Errorf("codecard: entry %d: a card has entries 0 to %d", i, Entries-1)
	}
	c, err := derive(m, "CODE", serial, uint32(i), 1_000_000)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", c), nil
}

// Check reports whether answer is entry i's code, comparing in constant
// time. A wrong or malformed answer is false, never an error: the caller
// counts it as a failure either way.
func Check(m HMAC, serial string, i int, answer string) (bool, error) {
	want, err := Code(m, serial, i)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(answer)) == 1, nil
}

// NewSerial draws a card serial from crypto/rand.
func NewSerial() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%010d", binary.BigEndian.Uint64(b[:])%10_000_000_000), nil
}

// LowWater is how many entries are left when a new card is issued.
const LowWater = 20
