package yubico

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxCSV bounds a key file.
const MaxCSV = 8 << 20

// Key is one programmed YubiKey slot from the vendor's file.
type Key struct {
	Line      int    // 1-based, for messages
	Serial    string // the device serial, or the public ID when it has none
	PublicID  string // modhex
	PrivateID []byte // 6 bytes
	aesKey    []byte
}

// AESKey is the slot's key. Import it into the HSM and Zero the batch.
func (k *Key) AESKey() []byte { return k.aesKey }

// Batch is a parsed key file.
type Batch struct{ Keys []*Key }

// Zero overwrites every AES key.
func (b *Batch) Zero() {
	for _, k := range b.Keys {
		clear(k.aesKey)
	}
}

// ParseCSV reads the "Yubico format" CSV that YubiKey Manager (ykman otp
// yubiotp --config-output) and the Personalization Tool write, one slot a
// line:
//
//	serial,public ID (modhex),private ID (hex),AES key (hex),access code,timestamp,
//
// Only the first four fields are read; empty lines and lines starting
// with '#' are skipped. Like a PSKC batch it is all or nothing: one bad
// line rejects the file, and the error names the line.
func ParseCSV(r io.Reader) (*Batch, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxCSV+1))
	if err != nil {
		return nil, err
	}
	defer clear(b)
	if len(b) > MaxCSV {
		return nil, fmt.Errorf("yubico: the file is larger than %d bytes", MaxCSV)
	}
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.ReuseRecord = false
	batch := &Batch{}
	fail := func(line int, format string, args ...any) (*Batch, error) {
		batch.Zero()
		return nil, fmt.Errorf("yubico: line %d: %s", line, fmt.Sprintf(format, args...))
	}
	seen := map[string]int{}
	ids := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return fail(line, "not CSV: %v", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < 4 {
			return fail(line, "%d fields; want serial, public ID, private ID, AES key", len(rec))
		}
		k := &Key{Line: line, PublicID: strings.ToLower(strings.TrimSpace(rec[1]))}
		pub, err := Decode(k.PublicID)
		if err != nil || len(pub) == 0 || len(k.PublicID) > MaxPublicID {
			return fail(line, "public ID %q is not 1 to 16 bytes of modhex", rec[1])
		}
		if k.PrivateID, err = hex.DecodeString(strings.TrimSpace(rec[2])); err != nil || len(k.PrivateID) != 6 {
			return fail(line, "private ID is not 6 bytes of hex")
		}
		key, err := hex.DecodeString(strings.TrimSpace(rec[3]))
		if err != nil || len(key) != 16 {
			clear(key)
			return fail(line, "AES key is not 16 bytes of hex")
		}
		k.aesKey = key
		// Keys arrive before the serial is known to belong anywhere;
		// a token without one is named by its public ID.
		switch s := strings.TrimSpace(rec[0]); {
		case s == "" || s == "0" || s == "None":
			k.Serial = k.PublicID
		default:
			if n, err := strconv.ParseUint(s, 10, 32); err != nil || n == 0 {
				batch.Keys = append(batch.Keys, k)
				return fail(line, "serial %q is not a YubiKey serial number", s)
			}
			k.Serial = s
		}
		if first, dup := seen[k.Serial]; dup {
			batch.Keys = append(batch.Keys, k)
			return fail(line, "serial %s is also line %d's", k.Serial, first)
		}
		if first, dup := ids[k.PublicID]; dup {
			batch.Keys = append(batch.Keys, k)
			return fail(line, "public ID %s is also line %d's", k.PublicID, first)
		}
		seen[k.Serial], ids[k.PublicID] = line, line
		batch.Keys = append(batch.Keys, k)
	}
	if len(batch.Keys) == 0 {
		return nil, errors.New("yubico: no keys in the file")
	}
	return batch, nil
}
