// Package pskc reads token batches in the Portable Symmetric Key Container
// format (RFC 6030) that OTP token vendors ship. A batch is all or
// nothing: one bad KeyPackage rejects the file, with an error that names
// the package, and nothing from it is used.
//
// This version reads plaintext secrets (RFC 6030 figure 2). Encrypted
// secrets (a pre-shared key, or PBKDF2 from a password) are recognised and
// refused with ErrEncrypted until their HSM import path exists.
package pskc

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/segl/segl/tokens/otp"
)

// Limits on what a vendor file may hold.
const (
	MaxFile     = 32 << 20
	MaxPackages = 100_000
)

const (
	nsPSKC   = "urn:ietf:params:xml:ns:keyprov:pskc"
	algoHOTP = "urn:ietf:params:xml:ns:keyprov:pskc:hotp"
	algoTOTP = "urn:ietf:params:xml:ns:keyprov:pskc:totp"
)

// ErrEncrypted is a batch whose secrets are encrypted.
var ErrEncrypted = errors.New("pskc: the secrets are encrypted; this segl imports plaintext PSKC only so far")

// Token is one OTP token of a batch.
type Token struct {
	Package int // 1-based position in the file, for messages
	Serial  string
	KeyID   string
	Kind    string // "hotp" or "totp"
	Hash    otp.Hash
	Digits  int
	Counter uint64 // HOTP: the next counter
	Step    int64  // TOTP: seconds
	secret  []byte
}

// Secret is the token's seed. Import it into the HSM and Zero the batch.
func (t *Token) Secret() []byte { return t.secret }

// Batch is a parsed file.
type Batch struct{ Tokens []*Token }

// Zero overwrites every secret.
func (b *Batch) Zero() {
	for _, t := range b.Tokens {
		clear(t.secret)
	}
}

// The XML, as much of RFC 6030 as Segl reads; unknown elements are
// ignored by encoding/xml, which is what RFC 6030's extensibility asks.
type keyContainer struct {
	XMLName       xml.Name     `xml:"urn:ietf:params:xml:ns:keyprov:pskc KeyContainer"`
	Version       string       `xml:"Version,attr"`
	EncryptionKey *struct{}    `xml:"EncryptionKey"`
	MACMethod     *struct{}    `xml:"MACMethod"`
	Packages      []keyPackage `xml:"KeyPackage"`
}

type keyPackage struct {
	SerialNo string `xml:"DeviceInfo>SerialNo"`
	Keys     []key  `xml:"Key"`
}

type key struct {
	ID        string `xml:"Id,attr"`
	Algorithm string `xml:"Algorithm,attr"`
	Suite     string `xml:"AlgorithmParameters>Suite"`
	Format    *struct {
		Length   string `xml:"Length,attr"`
		Encoding string `xml:"Encoding,attr"`
	} `xml:"AlgorithmParameters>ResponseFormat"`
	Secret *struct {
		PlainValue     *string   `xml:"PlainValue"`
		EncryptedValue *struct{} `xml:"EncryptedValue"`
	} `xml:"Data>Secret"`
	Counter      *string `xml:"Data>Counter>PlainValue"`
	TimeInterval *string `xml:"Data>TimeInterval>PlainValue"`
	Time         *string `xml:"Data>Time>PlainValue"`
}

// Parse reads a whole PSKC file.
func Parse(r io.Reader) (*Batch, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFile {
		return nil, fmt.Errorf("pskc: the file is larger than %d bytes", MaxFile)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	// No DTDs, no entities beyond XML's own: a vendor file has no use for
	// them, and they are how XML parsers get attacked.
	dec.Strict = true
	dec.Entity = nil
	var kc keyContainer
	if err := dec.Decode(&kc); err != nil {
		return nil, fmt.Errorf("pskc: not a PSKC KeyContainer (%s): %w", nsPSKC, err)
	}
	// Anything after the root element but whitespace is a broken file.
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pskc: after the KeyContainer: %w", err)
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) == 0 {
			continue
		}
		if _, ok := tok.(xml.Comment); ok {
			continue
		}
		return nil, errors.New("pskc: data after the KeyContainer")
	}
	if kc.Version != "1.0" {
		return nil, fmt.Errorf("pskc: KeyContainer Version %q; RFC 6030 is version 1.0", kc.Version)
	}
	if len(kc.Packages) == 0 {
		return nil, errors.New("pskc: no KeyPackage in the file")
	}
	if len(kc.Packages) > MaxPackages {
		return nil, fmt.Errorf("pskc: %d KeyPackages; at most %d in one file", len(kc.Packages), MaxPackages)
	}
	encrypted := kc.EncryptionKey != nil || kc.MACMethod != nil
	batch := &Batch{}
	serials := map[string]int{}
	for i, p := range kc.Packages {
		t, err := p.token(i+1, encrypted)
		if err != nil {
			batch.Zero()
			return nil, err
		}
		if first, dup := serials[t.Serial]; dup {
			batch.Zero()
			return nil, fmt.Errorf("pskc: KeyPackage %d: serial %s is also KeyPackage %d's", i+1, t.Serial, first)
		}
		serials[t.Serial] = i + 1
		batch.Tokens = append(batch.Tokens, t)
	}
	return batch, nil
}

func (p *keyPackage) token(n int, encrypted bool) (*Token, error) {
	fail := func(format string, args ...any) (*Token, error) {
		where := fmt.Sprintf("pskc: KeyPackage %d", n)
		if p.SerialNo != "" {
			where += " (serial " + p.SerialNo + ")"
		}
		return nil, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
	}
	serial := strings.TrimSpace(p.SerialNo)
	if serial == "" || len(serial) > 64 || strings.ContainsAny(serial, " \t\r\n:/") {
		return fail("DeviceInfo/SerialNo is missing or not a serial number")
	}
	if len(p.Keys) != 1 {
		return fail("has %d Keys; Segl reads one key per token", len(p.Keys))
	}
	k := p.Keys[0]
	t := &Token{Package: n, Serial: serial, KeyID: k.ID, Hash: otp.SHA1}
	switch k.Algorithm {
	case algoHOTP:
		t.Kind = "hotp"
	case algoTOTP:
		t.Kind, t.Step = "totp", 30
	default:
		return fail("Algorithm %q is not HOTP or TOTP", k.Algorithm)
	}
	if s := strings.ToLower(k.Suite); s != "" {
		switch {
		case strings.Contains(s, "sha512"):
			t.Hash = otp.SHA512
		case strings.Contains(s, "sha256"):
			t.Hash = otp.SHA256
		case strings.Contains(s, "sha1"):
			t.Hash = otp.SHA1
		default:
			return fail("Suite %q is not SHA-1, SHA-256 or SHA-512", k.Suite)
		}
	}
	if k.Format == nil {
		return fail("AlgorithmParameters/ResponseFormat is missing")
	}
	if k.Format.Encoding != "DECIMAL" {
		return fail("ResponseFormat Encoding %q; Segl reads DECIMAL codes", k.Format.Encoding)
	}
	switch k.Format.Length {
	case "6", "8":
		t.Digits = int(k.Format.Length[0] - '0')
	default:
		return fail("ResponseFormat Length %q; codes have 6 or 8 digits", k.Format.Length)
	}
	if k.Secret == nil {
		return fail("Data/Secret is missing")
	}
	if k.Secret.EncryptedValue != nil || encrypted {
		return nil, fmt.Errorf("KeyPackage %d (serial %s): %w", n, serial, ErrEncrypted)
	}
	if k.Secret.PlainValue == nil {
		return fail("Data/Secret has no PlainValue")
	}
	secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(*k.Secret.PlainValue))
	if err != nil || len(secret) < 16 || len(secret) > 128 {
		clear(secret)
		return fail("the secret is not 16 to 128 bytes of base64")
	}
	t.secret = secret
	if k.Counter != nil {
		c, err := strconv.ParseUint(strings.TrimSpace(*k.Counter), 10, 63)
		if err != nil {
			clear(secret)
			return fail("Counter %q is not a whole number", *k.Counter)
		}
		t.Counter = c
	}
	if t.Kind == "totp" && k.TimeInterval != nil {
		step, err := strconv.ParseInt(strings.TrimSpace(*k.TimeInterval), 10, 64)
		if err != nil || (step != 30 && step != 60) {
			clear(secret)
			return fail("TimeInterval %q; Segl reads 30 or 60 seconds", *k.TimeInterval)
		}
		t.Step = step
	}
	if t.Kind == "totp" && k.Time != nil && strings.TrimSpace(*k.Time) != "0" {
		clear(secret)
		return fail("Time (T0) %q; Segl reads tokens whose T0 is 0", *k.Time)
	}
	return t, nil
}
