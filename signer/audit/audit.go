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

// MarshalText writes the hash in hex, as checkpoints carry it.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("audit: a hash is %d hex digits, not %d", 2*len(h), len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

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

// Checkpoint is a signed head of the chain. Its JSON is one line of a
// checkpoint file and the value of the HSM's checkpoint object:
//
//	{"seq":42,"hash":"<hex>","time":"<RFC 3339>","signature":"<base64 DER>"}
//
// Time is when it was signed; it is not part of what is signed.
type Checkpoint struct {
	Seq       uint64    `json:"seq"`
	Hash      Hash      `json:"hash"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"`
}

// Verify checks the checkpoint's signature with the audit public key.
func (c Checkpoint) Verify(pub crypto.PublicKey) error {
	return VerifyCheckpoint(pub, c.Seq, c.Hash, c.Signature)
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
	// Anchored is the sequence number of the HSM's checkpoint that the
	// chain was found to reach (0 when none was given).
	Anchored uint64
	// External counts the checkpoints of a file kept elsewhere that were
	// found in the chain and the database.
	External int
	Broken   *Break
}

// Break names the first record or checkpoint that does not hold.
type Break struct {
	Seq    uint64
	Reason string
}

func (b *Break) Error() string { return b.Reason }

// Cadence is how often segld seals the chain (audit.checkpoint-every and
// audit.checkpoint-interval): a checkpoint at most Every records after
// the one before, and at most Interval after the first record it seals.
// Grace is the slack given to the sealer, which looks once a second, and
// to clocks.
type Cadence struct {
	Every    uint64
	Interval time.Duration
	Grace    time.Duration
}

// Expect is what Verify holds the chain to besides its own hashes and the
// database's checkpoints.
type Expect struct {
	// Anchor is the last checkpoint segld signed, as the HSM keeps it
	// where a database writer cannot change it: the chain must reach it.
	Anchor *Checkpoint
	// External are checkpoints from a copy kept outside the database
	// (audit.checkpoint-file): each must be in the chain and in the
	// database. ExternalName names the copy in messages.
	External     []Checkpoint
	ExternalName string
	// Cadence, when set, requires the checkpoints it implies, judged at
	// Now for the records not sealed yet.
	Cadence *Cadence
	Now     time.Time
}

// Records is the walk of Verify over records held in memory.
func Records(recs []Stored) func() (Stored, bool, error) {
	i := 0
	return func() (Stored, bool, error) {
		if i == len(recs) {
			return Stored{}, false, nil
		}
		i++
		return recs[i-1], true, nil
	}
}

// Verify walks the records in order and checks each against the chain,
// the database's checkpoints, and what exp adds. An error is returned only
// when the walk itself fails; a broken chain is Report.Broken.
func Verify(next func() (Stored, bool, error), checkpoints []Checkpoint, pub crypto.PublicKey, exp Expect) (Report, error) {
	v := verifier{pub: pub, exp: exp, db: map[uint64]Checkpoint{}, sealed: map[uint64]bool{}}
	for _, c := range checkpoints {
		v.db[c.Seq] = c
		v.sealed[c.Seq] = true
	}
	v.rep.Checkpoints = len(checkpoints)
	if exp.Anchor != nil {
		v.sealed[exp.Anchor.Seq] = true
	}
	external := map[uint64]Checkpoint{}
	for _, c := range exp.External {
		external[c.Seq] = c
		v.sealed[c.Seq] = true
	}
	for s := range v.sealed {
		v.lastSealed = max(v.lastSealed, s)
	}
	var prev Hash
	for {
		s, ok, err := next()
		if err != nil {
			return v.rep, err
		}
		if !ok {
			break
		}
		want := v.rep.Records + 1
		if s.Record.Seq != want {
			return v.broken(want, "record %d is missing: the next record is numbered %d", want, s.Record.Seq)
		}
		h, err := Next(prev, s.Record)
		if err != nil {
			return v.broken(want, "record %d cannot be encoded: %v", want, err)
		}
		if h != s.Hash {
			return v.broken(want, "record %d was altered: its hash does not follow from record %d", want, want-1)
		}
		if c, ok := v.db[want]; ok {
			if c.Hash != h {
				return v.broken(want, "checkpoint %d does not match the chain: records up to %d were rewritten", want, want)
			}
			if err := c.Verify(pub); err != nil {
				return v.broken(want, "checkpoint %d: %v", want, err)
			}
			v.rep.LastCheckpoint = want
		}
		if a := exp.Anchor; a != nil && a.Seq == want {
			if a.Hash != h {
				return v.broken(want, "record %d is not what the HSM's last checkpoint sealed: the log was rewritten up to there", want)
			}
			if err := a.Verify(pub); err != nil {
				return v.broken(want, "the HSM's checkpoint %d: %v", want, err)
			}
			if _, ok := v.db[want]; !ok {
				return v.broken(want, "checkpoint %d, the last the HSM holds, is missing from the database: checkpoints were deleted", want)
			}
			v.rep.Anchored = want
		}
		if c, ok := external[want]; ok {
			if c.Hash != h {
				return v.broken(want, "record %d is not what checkpoint %d of %s sealed: the log was rewritten up to there", want, want, exp.ExternalName)
			}
			if err := c.Verify(pub); err != nil {
				return v.broken(want, "checkpoint %d of %s: %v", want, exp.ExternalName, err)
			}
			if _, ok := v.db[want]; !ok {
				return v.broken(want, "checkpoint %d of %s is missing from the database: checkpoints were deleted", want, exp.ExternalName)
			}
			v.rep.External++
		}
		if b := v.cadence(want, s.Record.Time); b != nil {
			v.rep.Broken = b
			return v.rep, nil
		}
		prev, v.rep.Records, v.rep.Head = h, want, h
	}
	end := v.rep.Records
	if a := exp.Anchor; a != nil && a.Seq > end {
		return v.broken(end+1, "the log ends at record %d, but the HSM's last checkpoint seals record %d: records %d to %d were removed", end, a.Seq, end+1, a.Seq)
	}
	for _, c := range exp.External {
		if c.Seq > end {
			return v.broken(end+1, "the log ends at record %d, but checkpoint %d of %s seals record %d: records were removed", end, c.Seq, exp.ExternalName, c.Seq)
		}
	}
	for _, c := range checkpoints {
		if c.Seq > end {
			return v.broken(end+1, "checkpoint %d seals records that are gone: the log ends at %d", c.Seq, end)
		}
	}
	if b := v.tail(); b != nil {
		v.rep.Broken = b
		return v.rep, nil
	}
	v.rep.Unsealed = end - max(v.rep.LastCheckpoint, v.rep.Anchored)
	return v.rep, nil
}

type verifier struct {
	pub    crypto.PublicKey
	exp    Expect
	db     map[uint64]Checkpoint
	sealed map[uint64]bool // every position some checkpoint seals
	rep    Report
	// The stretch since the last sealed position: where it starts, and
	// the times of its first record and of the latest record.
	lastSealed          uint64 // the highest sealed position of all
	since               uint64
	firstTime, prevTime time.Time
	missedAt            uint64
	missedTime          time.Time
}

func (v *verifier) broken(seq uint64, format string, args ...any) (Report, error) {
	v.rep.Broken = &Break{Seq: seq, Reason: fmt.Sprintf(format, args...)}
	return v.rep, nil
}

// cadence follows the stretch of records since the last checkpoint as
// record seq (at t) joins it, and names a checkpoint that the cadence
// required and that is not there.
func (v *verifier) cadence(seq uint64, t time.Time) *Break {
	c := v.exp.Cadence
	if c == nil {
		return nil
	}
	if seq == v.since+1 {
		v.firstTime = t
	}
	if seq == v.since+c.Every+1 {
		// Record since+Every should have been sealed.
		if seq <= v.lastSealed {
			return &Break{Seq: seq - 1, Reason: fmt.Sprintf("no checkpoint seals records %d to %d, though one is due every %d records: a checkpoint is missing",
				v.since+1, seq-1, c.Every)}
		}
		v.missedAt, v.missedTime = seq-1, v.prevTime
	}
	if v.sealed[seq] {
		if span := t.Sub(v.firstTime); span > c.Interval+c.Grace {
			return &Break{Seq: seq, Reason: fmt.Sprintf("records %d to %d span %s with no checkpoint, though one is due every %s: a checkpoint is missing",
				v.since+1, seq, span.Round(time.Second), c.Interval)}
		}
		v.since = seq
	}
	v.prevTime = t
	return nil
}

// tail judges the records after the last checkpoint at exp.Now: segld
// seals them within the cadence, so older ones mean a checkpoint is
// missing (deleted, or segld stopped without sealing).
func (v *verifier) tail() *Break {
	c := v.exp.Cadence
	if c == nil || v.rep.Records <= v.since {
		return nil
	}
	if v.missedAt != 0 && v.exp.Now.Sub(v.missedTime) > c.Grace {
		return &Break{Seq: v.missedAt, Reason: fmt.Sprintf("records %d to %d are not sealed, though a checkpoint is due every %d records: a checkpoint is missing, or segld stopped without sealing",
			v.since+1, v.rep.Records, c.Every)}
	}
	if age := v.exp.Now.Sub(v.firstTime); age > c.Interval+c.Grace {
		return &Break{Seq: v.since + 1, Reason: fmt.Sprintf("records %d to %d are not sealed, and the first is %s old, though a checkpoint is due every %s: a checkpoint is missing, or segld stopped without sealing",
			v.since+1, v.rep.Records, age.Round(time.Second), c.Interval)}
	}
	return nil
}
