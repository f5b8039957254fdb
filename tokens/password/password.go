// Package password is the user's personal password: argon2id over an
// HMAC of the password computed inside the HSM (the pepper). A stolen
// database is then useless for guessing without the HSM, and the argon2id
// cost still stands if the HSM is reachable by the thief.
//
//	input    = HMAC-SHA256_HSM(pepper, "SEGL-PASSWORD-1" || 0x00 || userID || 0x00 || password)
//	verifier = "$segl-argon2id$v=1$pepper=<id>$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>"
//
// salt and hash in unpadded standard base64; the hash is 32 bytes.
// Binding the user ID stops a verifier from being copied to another user.
package password

import (
	"crypto"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Pepper computes an HMAC inside the HSM (*hsm.HMACKey).
type Pepper interface {
	Sum(h crypto.Hash, msg []byte) ([]byte, error)
}

// Params are argon2id's costs.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams follow OWASP's argon2id guidance (m=19 MiB, t=2 is its
// floor); 64 MiB and 2 passes take about 100 ms on one server core.
var DefaultParams = Params{Memory: 64 * 1024, Time: 2, Threads: 2}

// MinParams is the floor Hash accepts.
var MinParams = Params{Memory: 8 * 1024, Time: 1, Threads: 1}

// Errors of Verify.
var (
	ErrMismatch  = errors.New("wrong password")
	ErrMalformed = errors.New("malformed password verifier")
	ErrPepperID  = errors.New("the verifier was made with another pepper key")
)

// Length limits of a personal password, in characters.
const (
	MinLength = 6
	MaxLength = 128
)

// Check applies the password policy. Its errors never quote the password.
func Check(pw []byte) error {
	if !utf8.Valid(pw) {
		return errors.New("the password is not UTF-8 text")
	}
	n := utf8.RuneCount(pw)
	if n < MinLength || n > MaxLength {
		return fmt.Errorf("the password must be %d to %d characters long", MinLength, MaxLength)
	}
	for _, r := range string(pw) {
		if unicode.IsControl(r) {
			return errors.New("the password contains a control character")
		}
	}
	return nil
}

func peppered(p Pepper, userID string, pw []byte) ([]byte, error) {
	msg := append([]byte("SEGL-PASSWORD-1\x00"+userID+"\x00"), pw...)
	out, err := p.Sum(crypto.SHA256, msg)
	clear(msg)
	if err != nil {
		return nil, fmt.Errorf("pepper the password in the HSM: %w", err)
	}
	return out, nil
}

var b64 = base64.RawStdEncoding

// Hash makes a verifier for pw.
func Hash(p Pepper, pepperID, userID string, pw []byte, params Params) (string, error) {
	if err := Check(pw); err != nil {
		return "", err
	}
	if params.Memory < MinParams.Memory || params.Time < MinParams.Time || params.Threads < MinParams.Threads {
		return "", fmt.Errorf("argon2id parameters %+v are below the minimum %+v", params, MinParams)
	}
	if !pepperIDRE.MatchString(pepperID) {
		return "", fmt.Errorf("pepper id %q: use letters, digits and ._/-", pepperID)
	}
	in, err := peppered(p, userID, pw)
	if err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey(in, salt, params.Time, params.Memory, params.Threads, 32)
	return format(verifier{pepperID, params, salt, key}), nil
}

type verifier struct {
	pepperID string
	params   Params
	salt     []byte
	hash     []byte
}

func format(v verifier) string {
	return fmt.Sprintf("$segl-argon2id$v=1$pepper=%s$m=%d,t=%d,p=%d$%s$%s",
		v.pepperID, v.params.Memory, v.params.Time, v.params.Threads, b64.EncodeToString(v.salt), b64.EncodeToString(v.hash))
}

var (
	pepperIDRE = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,64}$`)
	verifierRE = regexp.MustCompile(`^\$segl-argon2id\$v=1\$pepper=([A-Za-z0-9._/-]{1,64})\$m=([1-9][0-9]{0,9}),t=([1-9][0-9]{0,2}),p=([1-9][0-9]{0,2})\$([A-Za-z0-9+/]{22,86})\$([A-Za-z0-9+/]{43})$`)
)

// Caps a stored verifier cannot exceed, so a tampered row cannot make
// Verify allocate gigabytes or run for minutes.
const (
	maxMemory  = 1 << 21 // 2 GiB in KiB
	maxTime    = 100
	maxThreads = 255
)

func parse(s string) (verifier, error) {
	m := verifierRE.FindStringSubmatch(s)
	if m == nil {
		return verifier{}, fmt.Errorf("%w: not of the form $segl-argon2id$v=1$pepper=…$m=…,t=…,p=…$salt$hash", ErrMalformed)
	}
	mem, _ := strconv.ParseUint(m[2], 10, 64)
	t, _ := strconv.ParseUint(m[3], 10, 64)
	p, _ := strconv.ParseUint(m[4], 10, 64)
	if mem > maxMemory || t > maxTime || p > maxThreads {
		return verifier{}, fmt.Errorf("%w: costs m=%d t=%d p=%d exceed the caps", ErrMalformed, mem, t, p)
	}
	salt, err := b64.DecodeString(m[5])
	if err != nil || len(salt) < 16 || len(salt) > 64 {
		return verifier{}, fmt.Errorf("%w: the salt must be 16 to 64 bytes of base64", ErrMalformed)
	}
	hash, err := b64.DecodeString(m[6])
	if err != nil || len(hash) != 32 {
		return verifier{}, fmt.Errorf("%w: the hash must be 32 bytes of base64", ErrMalformed)
	}
	v := verifier{m[1], Params{uint32(mem), uint32(t), uint8(p)}, salt, hash}
	if format(v) != s {
		return verifier{}, fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	return v, nil
}

// Verify checks pw against a verifier, comparing in constant time.
func Verify(p Pepper, pepperID, userID string, pw []byte, encoded string) error {
	v, err := parse(encoded)
	if err != nil {
		return err
	}
	if v.pepperID != pepperID {
		return fmt.Errorf("%w (%s, not %s)", ErrPepperID, v.pepperID, pepperID)
	}
	in, err := peppered(p, userID, pw)
	if err != nil {
		return err
	}
	key := argon2.IDKey(in, v.salt, v.params.Time, v.params.Memory, v.params.Threads, uint32(len(v.hash)))
	if subtle.ConstantTimeCompare(key, v.hash) != 1 {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether a verifier's costs are below p.
func NeedsRehash(encoded string, p Params) (bool, error) {
	v, err := parse(encoded)
	if err != nil {
		return false, err
	}
	return v.params.Memory < p.Memory || v.params.Time < p.Time || v.params.Threads < p.Threads, nil
}
