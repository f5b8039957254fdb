package orders

import (
	"encoding/base64"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/segl/segl/plugins/docverify"
	"github.com/segl/segl/signer/errs"
	"github.com/segl/segl/signer/factors"
	"github.com/segl/segl/signer/text"
	"github.com/segl/segl/tokens/dlcode"
)

// Limits on what a relying party may send.
const (
	// MaxUserVisibleData is BankID's limit on userVisibleData: 1,500
	// characters of base64 (about 1,125 bytes of text).
	MaxUserVisibleData = 1500
	// MaxFactorValue bounds a factor's value, in characters.
	MaxFactorValue = 1024
	maxUserID      = 64
)

// ErrInvalid marks a request that is wrong as sent (errorCode
// invalidParameters); its text says which field and why.
var ErrInvalid = errs.ErrInvalid

func invalid(format string, args ...any) error { return errs.Invalid(format, args...) }

// StartRequest is the body of /rp/v1/auth and /rp/v1/sign.
type StartRequest struct {
	UserID          string           `json:"userId,omitempty"`
	UserVisibleData string           `json:"userVisibleData,omitempty"`
	DocumentDigest  string           `json:"documentDigest,omitempty"`
	EndUserIP       string           `json:"endUserIp"`
	Payment         *factors.Payment `json:"payment,omitempty"`
	// Requirement is what the relying party asks beyond two factors.
	Requirement *Requirement `json:"requirement,omitempty"`
}

// Requirement is a relying party's demand on how an order completes.
type Requirement struct {
	// DocumentCheck: a passing passport check besides the two factors.
	DocumentCheck bool `json:"documentCheck"`
}

var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]*$`)

// CheckUserID checks the form of a user ID (letters, digits and ._@+-, at
// most 64), so IDs are safe in logs, URLs and certificates.
func CheckUserID(id string) error {
	if id == "" {
		return invalid("userId is empty")
	}
	if len(id) > maxUserID || !userIDPattern.MatchString(id) {
		return invalid("userId must be 1 to %d of A-Z a-z 0-9 . _ @ + -, starting with a letter or digit", maxUserID)
	}
	return nil
}

// check validates a start request for an order of kind k, returning the
// decoded document digest of a sign order.
func (r *StartRequest) check(sign bool) (digest []byte, err error) {
	if r.UserID != "" || sign {
		if err := CheckUserID(r.UserID); err != nil {
			return nil, err
		}
	}
	if r.EndUserIP == "" {
		return nil, invalid("endUserIp is required: the IP address of the user's device as the front end sees it")
	}
	// An address only: netip also takes an IPv6 zone ("fe80::1%eth0"),
	// which is free text from the caller and names nothing of the user's.
	if ip, err := netip.ParseAddr(r.EndUserIP); err != nil || ip.Zone() != "" {
		return nil, invalid("endUserIp is not an IPv4 or IPv6 address (without a zone)")
	}
	if sign && r.UserVisibleData == "" {
		return nil, invalid("userVisibleData is required for sign: the user must see what they sign")
	}
	if r.Payment != nil {
		if err := checkPayment(r.Payment); err != nil {
			return nil, err
		}
		if r.UserID == "" {
			return nil, invalid("a payment needs userId: the code is sent to the user")
		}
	}
	if r.UserVisibleData != "" {
		if len(r.UserVisibleData) > MaxUserVisibleData {
			return nil, invalid("userVisibleData is %d base64 characters; at most %d", len(r.UserVisibleData), MaxUserVisibleData)
		}
		text, err := base64.StdEncoding.Strict().DecodeString(r.UserVisibleData)
		if err != nil {
			return nil, invalid("userVisibleData is not standard base64")
		}
		if err := CheckShown("userVisibleData", string(text), true); err != nil {
			return nil, err
		}
	}
	if !sign {
		if r.DocumentDigest != "" {
			return nil, invalid("documentDigest belongs to sign orders, not auth")
		}
		return nil, nil
	}
	digest, err = base64.StdEncoding.Strict().DecodeString(r.DocumentDigest)
	if err != nil || len(digest) != 32 {
		return nil, invalid("documentDigest must be the base64 of the document's 32-byte SHA-256")
	}
	return digest, nil
}

// checkPayment checks a payment as the user will approve it: the code's
// own input rules, a currency in use, a payee shown as it is.
func checkPayment(p *factors.Payment) error {
	if err := (dlcode.Payment{OrderRef: "-", AmountMinor: p.AmountMinor, Currency: p.Currency, Payee: p.Payee}).Check(); err != nil {
		return invalid("payment: %s", strings.TrimPrefix(err.Error(), "dlcode: "))
	}
	if !dlcode.ActiveCurrency(p.Currency) {
		return invalid("payment: currency %q is not an active ISO 4217 currency", p.Currency)
	}
	return CheckShown("payment.payee", p.Payee, false)
}

// CheckShown refuses text that would not look to the user like what it
// is: what the user sees must be what they approve. It refuses invalid
// UTF-8; C0 and C1 control characters and DEL (a newline is allowed where
// newlines is set); bidirectional overrides, embeddings and isolates
// (U+202A–U+202E, U+2066–U+2069) and marks; zero-width and invisible
// characters; and the Unicode line and paragraph separators.
func CheckShown(field, s string, newlines bool) error {
	if !utf8.ValidString(s) {
		return invalid("%s is not UTF-8 text", field)
	}
	for i, r := range s {
		if r == '\n' && newlines {
			continue
		}
		if why := text.Hidden(r); why != "" {
			return invalid("%s holds %s (U+%04X at byte %d): the user must see exactly what they approve", field, why, r, i)
		}
	}
	return nil
}

// FactorRequest is the body of /rp/v1/factor.
type FactorRequest struct {
	OrderRef string `json:"orderRef"`
	Type     string `json:"type"`
	Value    string `json:"value,omitempty"`
	// Document is the passport factor's: what the chip gave.
	Document *Document `json:"document,omitempty"`
}

// Document is a chip's files as a relying party or the app relays them:
// EF.SOD and the data groups (by number; DG1, DG15, and DG14 for an EC
// chip key are enough), each base64, and the chip's signature over the
// passport challenge.
type Document struct {
	SOD         string            `json:"sod"`
	DataGroups  map[string]string `json:"dataGroups"`
	AASignature string            `json:"aaSignature"`
}

func (d *Document) decode() (*docverify.Document, error) {
	b64 := base64.StdEncoding.Strict()
	out := &docverify.Document{DataGroups: map[int][]byte{}}
	var err error
	if out.SOD, err = b64.DecodeString(d.SOD); err != nil || len(out.SOD) == 0 {
		return nil, invalid("document.sod is not standard base64 of EF.SOD")
	}
	if out.AASignature, err = b64.DecodeString(d.AASignature); err != nil || len(out.AASignature) == 0 {
		return nil, invalid("document.aaSignature is not standard base64 of the chip's signature over the challenge")
	}
	for k, v := range d.DataGroups {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 || n > 16 || strconv.Itoa(n) != k {
			return nil, invalid("document.dataGroups: %q is not a data group number, 1 to 16", k)
		}
		if out.DataGroups[n], err = b64.DecodeString(v); err != nil || len(out.DataGroups[n]) == 0 {
			return nil, invalid("document.dataGroups.%s is not standard base64 of the file", k)
		}
	}
	return out, nil
}

// RefRequest is the body of /rp/v1/collect, /rp/v1/cancel and /rp/v1/qr.
type RefRequest struct {
	OrderRef string `json:"orderRef"`
	Format   string `json:"format,omitempty"` // "png" on /rp/v1/qr
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// CheckRef checks that an orderRef has the form Segl gives them.
func CheckRef(ref string) error {
	if !uuidPattern.MatchString(ref) {
		return invalid("orderRef is not an order reference (a lowercase UUID)")
	}
	return nil
}
