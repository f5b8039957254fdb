// Package pskc reads token batches in the Portable Symmetric Key Container
// format (RFC 6030) that OTP token vendors ship. A batch is all or
// nothing: one bad KeyPackage rejects the file, with an error that names
// the package, and nothing from it is used.
//
// Secrets come in plaintext (RFC 6030 figure 2) or sealed for transport
// (§6.1): AES-CBC under a pre-shared key (figure 6) or under a key derived
// from a password with PBKDF2 (figure 7), each value with an HMAC under a
// MAC key sealed the same way. This package never decrypts a sealed value:
// it hands the ciphertext, its MAC and the transport key to the HSM
// ([hsm.Keystore.ImportSealed]), which checks every MAC first.
package pskc

import (
	"bytes"
	"crypto"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
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

// ErrNeedKey: the batch is sealed and the key or password to open it was
// not given.
var ErrNeedKey = errors.New("pskc: the secrets are encrypted")

// Algorithm identifiers of XML Encryption and XML Signature that PSKC uses.
const (
	encAES128CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
	encAES192CBC = "http://www.w3.org/2001/04/xmlenc#aes192-cbc"
	encAES256CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
	macHMACSHA1  = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
	macHMACSHA2  = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
	kdfPBKDF2    = "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2"
	prfSHA256    = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
	prfSHA512    = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512"
)

// Bounds on PBKDF2's iteration count: RFC 8018 asks for at least 1,000,
// and a file must not be able to make the importer spin for hours.
const (
	MinIterations = 1_000
	MaxIterations = 10_000_000
)

// Protection is how a sealed batch was sealed.
type Protection struct {
	KeyName string // the pre-shared key's name in the file, if any
	KeyLen  int    // AES key length of the transport key: 16, 24 or 32
	// PBKDF2, when the transport key is derived from a password.
	Password   bool
	Salt       []byte
	Iterations int
	PRF        crypto.Hash
	// The MAC: its hash and the MAC key, IV || ciphertext.
	MACHash crypto.Hash
	MACKey  []byte
}

// TransportKey returns the AES transport key: the pre-shared key (raw
// bytes, or hex text as a key file may hold it) or PBKDF2 of the password.
// Give the one the batch needs; the caller zeroes the result.
func (p *Protection) TransportKey(psk, password []byte) ([]byte, error) {
	if !p.Password {
		if len(password) > 0 {
			return nil, errors.New("pskc: the batch is sealed with a pre-shared key, not a password; give the key file instead")
		}
		if len(psk) == 0 {
			name := ""
			if p.KeyName != "" {
				name = fmt.Sprintf(" (%q)", p.KeyName)
			}
			return nil, fmt.Errorf("%w with a pre-shared key%s: give the %d-byte key file (--psk-file)", ErrNeedKey, name, p.KeyLen)
		}
		key := ParseKey(psk)
		if len(key) != p.KeyLen {
			clear(key)
			return nil, fmt.Errorf("pskc: the pre-shared key has %d bytes; this batch is sealed with AES-%d, which takes %d (raw bytes, or %d hex digits)", len(key), p.KeyLen*8, p.KeyLen, 2*p.KeyLen)
		}
		return key, nil
	}
	if len(psk) > 0 {
		return nil, errors.New("pskc: the batch is sealed with a password (PBKDF2), not a pre-shared key; give the password file instead")
	}
	if len(password) == 0 {
		return nil, fmt.Errorf("%w with a password (PBKDF2): give the password file (--password-file)", ErrNeedKey)
	}
	var key []byte
	var err error
	switch p.PRF {
	case crypto.SHA256:
		key, err = pbkdf2.Key(sha256.New, string(password), p.Salt, p.Iterations, p.KeyLen)
	case crypto.SHA512:
		key, err = pbkdf2.Key(sha512.New, string(password), p.Salt, p.Iterations, p.KeyLen)
	default:
		key, err = pbkdf2.Key(sha1.New, string(password), p.Salt, p.Iterations, p.KeyLen)
	}
	if err != nil {
		return nil, fmt.Errorf("pskc: PBKDF2: %w", err)
	}
	return key, nil
}

// ParseKey reads a key file's contents: hex text (surrounding white space
// ignored) when it is that, else the raw bytes. The result is a copy.
func ParseKey(b []byte) []byte {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && len(t)%2 == 0 {
		k := make([]byte, len(t)/2)
		if _, err := hex.Decode(k, t); err == nil {
			return k
		}
		clear(k)
	}
	return bytes.Clone(b)
}

// Token is one OTP token of a batch.
type Token struct {
	Package int // 1-based position in the file, for messages
	Serial  string
	KeyID   string
	Kind    otp.Kind
	Hash    otp.Hash
	Digits  int
	Counter uint64 // HOTP: the next counter
	Step    int64  // TOTP: seconds
	secret  []byte
	// A sealed seed: IV || AES-CBC ciphertext, and its MAC.
	sealed, mac []byte
}

// Secret is the token's plaintext seed, nil when it is sealed. Import it
// into the HSM and Zero the batch.
func (t *Token) Secret() []byte { return t.secret }

// Sealed returns the sealed seed (IV || ciphertext) and its MAC, or nils
// when the seed is in plaintext.
func (t *Token) Sealed() (value, mac []byte) { return t.sealed, t.mac }

// Batch is a parsed file.
type Batch struct {
	Tokens []*Token
	// Protection is how the seeds are sealed; nil for a plaintext batch.
	Protection *Protection
}

// Zero overwrites every secret.
func (b *Batch) Zero() {
	for _, t := range b.Tokens {
		clear(t.secret)
	}
}

// The XML, as much of RFC 6030 as Segl reads; unknown elements are
// ignored by encoding/xml, which is what RFC 6030's extensibility asks.
type keyContainer struct {
	XMLName       xml.Name       `xml:"urn:ietf:params:xml:ns:keyprov:pskc KeyContainer"`
	Version       string         `xml:"Version,attr"`
	EncryptionKey *encryptionKey `xml:"EncryptionKey"`
	MACMethod     *macMethod     `xml:"MACMethod"`
	Packages      []keyPackage   `xml:"KeyPackage"`
}

type encryptionKey struct {
	KeyName string `xml:"KeyName"`
	Derived *struct {
		Method struct {
			Algorithm string `xml:"Algorithm,attr"`
			Params    *struct {
				Salt       *string `xml:"Salt>Specified"`
				Iterations string  `xml:"IterationCount"`
				KeyLength  string  `xml:"KeyLength"`
				PRF        *struct {
					Algorithm string `xml:"Algorithm,attr"`
				} `xml:"PRF"`
			} `xml:"PBKDF2-params"`
		} `xml:"KeyDerivationMethod"`
	} `xml:"DerivedKey"`
	Other *struct{} `xml:"X509Data"`
}

type macMethod struct {
	Algorithm string          `xml:"Algorithm,attr"`
	MACKey    *encryptedValue `xml:"MACKey"`
}

type encryptedValue struct {
	Method *struct {
		Algorithm string `xml:"Algorithm,attr"`
	} `xml:"EncryptionMethod"`
	CipherValue *string `xml:"CipherData>CipherValue"`
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
		PlainValue     *string         `xml:"PlainValue"`
		EncryptedValue *encryptedValue `xml:"EncryptedValue"`
		ValueMAC       *string         `xml:"ValueMAC"`
	} `xml:"Data>Secret"`
	Counter      *string   `xml:"Data>Counter>PlainValue"`
	SealedOther  *struct{} `xml:"Data>Counter>EncryptedValue"`
	SealedTime   *struct{} `xml:"Data>Time>EncryptedValue"`
	SealedStep   *struct{} `xml:"Data>TimeInterval>EncryptedValue"`
	TimeInterval *string   `xml:"Data>TimeInterval>PlainValue"`
	Time         *string   `xml:"Data>Time>PlainValue"`
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
	batch := &Batch{}
	if kc.EncryptionKey != nil || kc.MACMethod != nil {
		if batch.Protection, err = kc.protection(); err != nil {
			return nil, err
		}
	}
	serials := map[string]int{}
	for i, p := range kc.Packages {
		t, err := p.token(i+1, batch.Protection)
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

// protection reads the container's EncryptionKey and MACMethod.
func (kc *keyContainer) protection() (*Protection, error) {
	ek, mm := kc.EncryptionKey, kc.MACMethod
	if ek == nil {
		return nil, errors.New("pskc: a MACMethod but no EncryptionKey; Segl reads MACs only of sealed values")
	}
	if mm == nil {
		return nil, errors.New("pskc: an EncryptionKey but no MACMethod: AES-CBC values must carry a MAC (RFC 6030 §6.1.1), and Segl imports no unauthenticated seed")
	}
	p := &Protection{KeyName: strings.TrimSpace(ek.KeyName)}
	switch {
	case ek.Other != nil:
		return nil, errors.New("pskc: the seeds are sealed with a public key (X509Data); Segl reads pre-shared-key and PBKDF2 protection")
	case ek.Derived != nil:
		m := ek.Derived.Method
		if m.Algorithm != kdfPBKDF2 {
			return nil, fmt.Errorf("pskc: KeyDerivationMethod %q; Segl reads PBKDF2 (%s)", m.Algorithm, kdfPBKDF2)
		}
		if m.Params == nil || m.Params.Salt == nil {
			return nil, errors.New("pskc: PBKDF2-params with a Salt/Specified are missing")
		}
		p.Password = true
		var err error
		if p.Salt, err = base64.StdEncoding.DecodeString(strings.TrimSpace(*m.Params.Salt)); err != nil || len(p.Salt) < 8 {
			return nil, errors.New("pskc: PBKDF2 Salt is not 8 or more bytes of base64")
		}
		if p.Iterations, err = strconv.Atoi(strings.TrimSpace(m.Params.Iterations)); err != nil || p.Iterations < MinIterations || p.Iterations > MaxIterations {
			return nil, fmt.Errorf("pskc: PBKDF2 IterationCount %q; Segl takes %d to %d", m.Params.Iterations, MinIterations, MaxIterations)
		}
		if kl := strings.TrimSpace(m.Params.KeyLength); kl != "" {
			if p.KeyLen, err = strconv.Atoi(kl); err != nil {
				return nil, fmt.Errorf("pskc: PBKDF2 KeyLength %q is not a number", m.Params.KeyLength)
			}
		}
		p.PRF = crypto.SHA1
		if m.Params.PRF != nil {
			switch m.Params.PRF.Algorithm {
			case "", macHMACSHA1:
			case prfSHA256:
				p.PRF = crypto.SHA256
			case prfSHA512:
				p.PRF = crypto.SHA512
			default:
				return nil, fmt.Errorf("pskc: PBKDF2 PRF %q; Segl reads HMAC-SHA1, -SHA256 and -SHA512", m.Params.PRF.Algorithm)
			}
		}
	}
	switch mm.Algorithm {
	case macHMACSHA1:
		p.MACHash = crypto.SHA1
	case macHMACSHA2:
		p.MACHash = crypto.SHA256
	default:
		return nil, fmt.Errorf("pskc: MACMethod Algorithm %q; Segl reads HMAC-SHA1 and HMAC-SHA256", mm.Algorithm)
	}
	if mm.MACKey == nil {
		return nil, errors.New("pskc: MACMethod has no MACKey (a MACKeyReference is not read); the MAC key must be in the file, sealed")
	}
	var err error
	p.MACKey, err = p.sealedValue(mm.MACKey, "MACMethod/MACKey")
	if err != nil {
		return nil, err
	}
	return p, nil
}

// sealedValue checks an EncryptedValue's algorithm against the batch's and
// returns IV || ciphertext.
func (p *Protection) sealedValue(v *encryptedValue, what string) ([]byte, error) {
	if v.Method == nil {
		return nil, fmt.Errorf("pskc: %s has no EncryptionMethod", what)
	}
	n := 0
	switch v.Method.Algorithm {
	case encAES128CBC:
		n = 16
	case encAES192CBC:
		n = 24
	case encAES256CBC:
		n = 32
	default:
		return nil, fmt.Errorf("pskc: %s: EncryptionMethod %q; Segl reads AES-CBC (aes128-cbc, aes192-cbc, aes256-cbc)", what, v.Method.Algorithm)
	}
	if p.KeyLen == 0 {
		p.KeyLen = n
	}
	if n != p.KeyLen {
		return nil, fmt.Errorf("pskc: %s is sealed with AES-%d, but the batch's transport key is AES-%d", what, n*8, p.KeyLen*8)
	}
	if v.CipherValue == nil {
		return nil, fmt.Errorf("pskc: %s has no CipherData/CipherValue", what)
	}
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(*v.CipherValue), ""))
	if err != nil || len(b) < 32 || len(b)%16 != 0 {
		return nil, fmt.Errorf("pskc: %s: CipherValue is not base64 of an IV and whole AES blocks", what)
	}
	return b, nil
}

func (p *keyPackage) token(n int, prot *Protection) (*Token, error) {
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
		t.Kind = otp.KindHOTP
	case algoTOTP:
		t.Kind, t.Step = otp.KindTOTP, 30
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
	if k.SealedOther != nil || k.SealedTime != nil || k.SealedStep != nil {
		return fail("Counter, Time or TimeInterval is encrypted; Segl reads them in plaintext")
	}
	var secret []byte
	switch {
	case k.Secret.EncryptedValue != nil:
		if prot == nil {
			return fail("Data/Secret is encrypted, but the file has no EncryptionKey")
		}
		if k.Secret.ValueMAC == nil {
			return fail("Data/Secret has no ValueMAC; Segl imports no unauthenticated seed")
		}
		v, err := prot.sealedValue(k.Secret.EncryptedValue, "Data/Secret")
		if err != nil {
			return fail("%v", strings.TrimPrefix(err.Error(), "pskc: "))
		}
		mac, err := base64.StdEncoding.DecodeString(strings.TrimSpace(*k.Secret.ValueMAC))
		if err != nil || len(mac) < 20 {
			return fail("ValueMAC is not base64 of an HMAC")
		}
		if len(v)-16 > 144 {
			return fail("the sealed secret is longer than 128 bytes")
		}
		t.sealed, t.mac = v, mac
	case k.Secret.PlainValue != nil:
		var err error
		secret, err = base64.StdEncoding.DecodeString(strings.TrimSpace(*k.Secret.PlainValue))
		if err != nil || len(secret) < 16 || len(secret) > 128 {
			clear(secret)
			return fail("the secret is not 16 to 128 bytes of base64")
		}
		t.secret = secret
	default:
		return fail("Data/Secret has neither PlainValue nor EncryptedValue")
	}
	if k.Counter != nil {
		c, err := strconv.ParseUint(strings.TrimSpace(*k.Counter), 10, 63)
		if err != nil {
			clear(secret)
			return fail("Counter %q is not a whole number", *k.Counter)
		}
		t.Counter = c
	}
	if t.Kind == otp.KindTOTP && k.TimeInterval != nil {
		step, err := strconv.ParseInt(strings.TrimSpace(*k.TimeInterval), 10, 64)
		if err != nil || (step != 30 && step != 60) {
			clear(secret)
			return fail("TimeInterval %q; Segl reads 30 or 60 seconds", *k.TimeInterval)
		}
		t.Step = step
	}
	if t.Kind == otp.KindTOTP && k.Time != nil && strings.TrimSpace(*k.Time) != "0" {
		clear(secret)
		return fail("Time (T0) %q; Segl reads tokens whose T0 is 0", *k.Time)
	}
	return t, nil
}
