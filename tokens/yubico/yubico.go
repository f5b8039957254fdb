// Package yubico checks Yubico OTPs (the 44 characters a YubiKey types)
// with the token's AES key inside the HSM, and reads the vendor's CSV of
// programmed keys.
//
// An OTP is the token's public ID and one AES-128 block, both in modhex.
// The block decrypts to: private ID (6 bytes), use counter (2, little
// endian, non-volatile), timestamp (3), session counter (1, volatile),
// random (2), CRC-16 (2). Its CRC must leave the ISO 13239 residue, its
// private ID must be the token's, and its counters must be past the last
// ones accepted; the last is the caller's to enforce atomically, with
// Counters.Position.
package yubico

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
)

// modhex is Yubico's hex alphabet, chosen to type the same on any
// keyboard layout.
const modhex = "cbdefghijklnrtuv"

// Errors an OTP can fail with. ErrFormat is a string that is not an OTP at
// all; ErrInvalid an OTP this token did not make.
var (
	ErrFormat  = errors.New("yubico: not a Yubico OTP (a public ID and 32 modhex characters)")
	ErrInvalid = errors.New("yubico: the OTP does not decrypt to this token's (wrong key, private ID or checksum)")
)

// Limits on the public ID: Yubico's are 6 bytes (12 characters); the
// format allows up to 16.
const (
	TokenLen    = 32
	MaxPublicID = 32
)

// Decode reads modhex into bytes.
func Decode(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("%w: odd length", ErrFormat)
	}
	out := make([]byte, len(s)/2)
	for i := 0; i < len(s); i += 2 {
		hi, lo := strings.IndexByte(modhex, s[i]), strings.IndexByte(modhex, s[i+1])
		if hi < 0 || lo < 0 {
			return nil, fmt.Errorf("%w: %q is not a modhex character", ErrFormat, s[i:i+2])
		}
		out[i/2] = byte(hi<<4 | lo)
	}
	return out, nil
}

// Encode writes bytes as modhex.
func Encode(b []byte) string {
	var sb strings.Builder
	sb.Grow(2 * len(b))
	for _, c := range b {
		sb.WriteByte(modhex[c>>4])
		sb.WriteByte(modhex[c&15])
	}
	return sb.String()
}

// OTP is a typed OTP split into its parts.
type OTP struct {
	PublicID string // modhex, as typed
	Block    []byte // the encrypted 16 bytes
}

// Parse splits an OTP. Upper case is read as lower case (caps lock).
func Parse(s string) (*OTP, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < TokenLen || len(s) > TokenLen+MaxPublicID {
		return nil, fmt.Errorf("%w: %d characters", ErrFormat, len(s))
	}
	pub := s[:len(s)-TokenLen]
	if _, err := Decode(pub); err != nil {
		return nil, err
	}
	block, err := Decode(s[len(pub):])
	if err != nil {
		return nil, err
	}
	return &OTP{PublicID: pub, Block: block}, nil
}

// Counters are what a valid OTP says about its place in the token's life.
type Counters struct {
	Use       uint16 // non-volatile: incremented at each power-up
	Session   uint8  // volatile: incremented at each OTP since power-up
	Timestamp uint32 // 8 Hz, 24 bits, from power-up
}

// Position orders OTPs of one token: an OTP is new only if its Position is
// greater than the last accepted one.
func (c Counters) Position() int64 { return int64(c.Use)<<8 | int64(c.Session) }

// Decrypter decrypts one AES block inside the HSM (*hsm.AESKey).
type Decrypter interface {
	DecryptBlock(block []byte) ([]byte, error)
}

// Check decrypts the OTP with the token's key and checks its CRC and
// private ID. It does not know the last counters; compare Position.
func Check(key Decrypter, privateID []byte, o *OTP) (Counters, error) {
	pt, err := key.DecryptBlock(o.Block)
	if err != nil {
		return Counters{}, err
	}
	defer clear(pt)
	if len(pt) != 16 {
		return Counters{}, fmt.Errorf("yubico: the HSM returned %d bytes for one block", len(pt))
	}
	crcOK := crc16(pt) == crcResidue
	idOK := subtle.ConstantTimeCompare(pt[:6], privateID) == 1
	if !crcOK || !idOK {
		return Counters{}, ErrInvalid
	}
	return Counters{
		Use:       uint16(pt[6]) | uint16(pt[7])<<8,
		Timestamp: uint32(pt[8]) | uint32(pt[9])<<8 | uint32(pt[10])<<16,
		Session:   pt[11],
	}, nil
}

// crcResidue is what ISO 13239's CRC-16 leaves over data that ends in its
// own (complemented) CRC.
const crcResidue = 0xf0b8

func crc16(b []byte) uint16 {
	crc := uint16(0xffff)
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			lsb := crc & 1
			crc >>= 1
			if lsb != 0 {
				crc ^= 0x8408
			}
		}
	}
	return crc
}
