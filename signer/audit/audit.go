// Package audit is the audit chain's logic (DESIGN "Audit chain v1"):
//
//	h_0 = 32 zero bytes
//	h_i = SHA-256(h_{i-1} || canonical JSON of record i)
//	checkpoint = ECDSA signature by the audit key over
//	             "SEGL-AUDIT-1" || be64(i) || h_i   (SHA-256 digest)
//
// The store appends records and checkpoints; Verify walks them and names
// the first record that does not follow. Records after the last
// checkpoint are protected by the chain alone (Report.Unsealed): whoever
// can write the database could drop or rewrite that tail undetected until
// the next checkpoint seals it.
package audit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// Record is one security decision. Every field is part of the hash.
type Record struct {
	Seq     uint64            `json:"seq"`
	Time    time.Time         `json:"time"`
	Event   string            `json:"event"`
	Actor   string            `json:"actor"`
	Subject string            `json:"subject,omitempty"`
	Outcome string            `json:"outcome"`
	Details map[string]string `json:"details,omitempty"`
}

// TimeFormat is how Time enters the canonical JSON: UTC, nanoseconds.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// Hash is a chain value.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Canonical returns r as RFC 8785 (JCS) JSON. All members are strings
// except seq, an integer; Details is an object of strings.
func Canonical(r Record) ([]byte, error) {
	if r.Seq == 0 {
		return nil, errors.New("audit record has no sequence number")
	}
	if r.Event == "" || r.Actor == "" || r.Outcome == "" {
		return nil, errors.New("audit record needs an event, an actor and an outcome")
	}
	// The record's own member names are ASCII, so their RFC 8785 order is
	// fixed and written out here; only details needs sorting.
	b := []byte(`{"actor":`)
	var err error
	if b, err = appendString(b, r.Actor); err != nil {
		return nil, fmt.Errorf("actor: %w", err)
	}
	if len(r.Details) > 0 {
		b = append(b, `,"details":`...)
		if b, err = appendObject(b, r.Details); err != nil {
			return nil, fmt.Errorf("details: %w", err)
		}
	}
	for _, m := range []struct{ name, value string }{{"event", r.Event}, {"outcome", r.Outcome}} {
		b = append(append(append(b, ',', '"'), m.name...), '"', ':')
		if b, err = appendString(b, m.value); err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	b = strconv.AppendUint(append(b, `,"seq":`...), r.Seq, 10)
	if r.Subject != "" {
		b = append(b, `,"subject":`...)
		if b, err = appendString(b, r.Subject); err != nil {
			return nil, fmt.Errorf("subject: %w", err)
		}
	}
	b, _ = appendString(append(b, `,"time":`...), r.Time.UTC().Format(TimeFormat))
	return append(b, '}'), nil
}

// sortJCS sorts keys by their UTF-16 code units, as RFC 8785 §3.2.3 says.
func sortJCS(keys []string) {
	sort.Slice(keys, func(i, j int) bool { return lessUTF16(keys[i], keys[j]) })
}

func lessUTF16(a, b string) bool {
	ua, ub := utf16Units(a), utf16Units(b)
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

func utf16Units(s string) []uint16 {
	var u []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			u = append(u, uint16(0xd800+(r>>10)), uint16(0xdc00+(r&0x3ff)))
		} else {
			u = append(u, uint16(r))
		}
	}
	return u
}

func appendObject(b []byte, m map[string]string) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortJCS(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendString(b, k); err != nil {
			return nil, err
		}
		b = append(b, ':')
		if b, err = appendString(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendString escapes as RFC 8785 (ECMAScript JSON.stringify): only the
// quote, the backslash and control characters; everything else as UTF-8.
func appendString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%q is not valid UTF-8", s)
	}
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"'), nil
}

// Next returns h_i for record r following prev.
func Next(prev Hash, r Record) (Hash, error) {
	c, err := Canonical(r)
	if err != nil {
		return Hash{}, err
	}
	h := sha256.New()
	h.Write(prev[:])
	h.Write(c)
	var out Hash
	h.Sum(out[:0])
	return out, nil
}

// CheckpointMessage is what a checkpoint signs.
func CheckpointMessage(seq uint64, h Hash) []byte {
	msg := append([]byte("SEGL-AUDIT-1"), make([]byte, 8)...)
	binary.BigEndian.PutUint64(msg[len(msg)-8:], seq)
	return append(msg, h[:]...)
}

// SignCheckpoint signs the chain's head with the audit key (ECDSA).
func SignCheckpoint(key crypto.Signer, seq uint64, h Hash) ([]byte, error) {
	if _, ok := key.Public().(*ecdsa.PublicKey); !ok {
		return nil, errors.New("the audit key must be an ECDSA key")
	}
	d := sha256.Sum256(CheckpointMessage(seq, h))
	return key.Sign(rand.Reader, d[:], crypto.SHA256)
}

// VerifyCheckpoint checks a checkpoint's signature.
func VerifyCheckpoint(pub crypto.PublicKey, seq uint64, h Hash, sig []byte) error {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return errors.New("the audit key must be an ECDSA key")
	}
	d := sha256.Sum256(CheckpointMessage(seq, h))
	if !ecdsa.VerifyASN1(k, d[:], sig) {
		return errors.New("the signature does not verify with the audit key")
	}
	return nil
}

// Checkpoint is a signed head of the chain.
type Checkpoint struct {
	Seq       uint64
	Hash      Hash
	Time      time.Time
	Signature []byte
}

// Stored is a record with the hash stored beside it.
type Stored struct {
	Record Record
	Hash   Hash
}

// Report is what Verify found.
type Report struct {
	Records        uint64
	Checkpoints    int
	LastCheckpoint uint64
	// Unsealed counts the records after the last checkpoint.
	Unsealed uint64
	Head     Hash
	Broken   *Break
}

// Break names the first record or checkpoint that does not hold.
type Break struct {
	Seq    uint64
	Reason string
}

func (b *Break) Error() string { return b.Reason }

// Verify walks the records in order and checks each against the chain and
// the checkpoints against the recomputed heads. An error is returned only
// when the walk itself fails; a broken chain is Report.Broken.
func Verify(next func() (Stored, bool, error), checkpoints []Checkpoint, pub crypto.PublicKey) (Report, error) {
	var rep Report
	cps := map[uint64]Checkpoint{}
	for _, c := range checkpoints {
		cps[c.Seq] = c
	}
	rep.Checkpoints = len(checkpoints)
	var prev Hash
	for {
		s, ok, err := next()
		if err != nil {
			return rep, err
		}
		if !ok {
			break
		}
		want := rep.Records + 1
		if s.Record.Seq != want {
			rep.Broken = &Break{Seq: want, Reason: fmt.Sprintf("record %d is missing: the next record is numbered %d", want, s.Record.Seq)}
			return rep, nil
		}
		h, err := Next(prev, s.Record)
		if err != nil {
			rep.Broken = &Break{Seq: want, Reason: fmt.Sprintf("record %d cannot be encoded: %v", want, err)}
			return rep, nil
		}
		if h != s.Hash {
			rep.Broken = &Break{Seq: want, Reason: fmt.Sprintf("record %d was altered: its hash does not follow from record %d", want, want-1)}
			return rep, nil
		}
		if c, ok := cps[want]; ok {
			if c.Hash != h {
				rep.Broken = &Break{Seq: want, Reason: fmt.Sprintf("checkpoint %d does not match the chain: records up to %d were rewritten", want, want)}
				return rep, nil
			}
			if err := VerifyCheckpoint(pub, want, h, c.Signature); err != nil {
				rep.Broken = &Break{Seq: want, Reason: fmt.Sprintf("checkpoint %d: %v", want, err)}
				return rep, nil
			}
			rep.LastCheckpoint = want
		}
		prev, rep.Records, rep.Head = h, want, h
	}
	for _, c := range checkpoints {
		if c.Seq > rep.Records {
			rep.Broken = &Break{Seq: rep.Records + 1, Reason: fmt.Sprintf("checkpoint %d seals records that are gone: the log ends at %d", c.Seq, rep.Records)}
			return rep, nil
		}
	}
	rep.Unsealed = rep.Records - rep.LastCheckpoint
	return rep, nil
}
