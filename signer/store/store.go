// Package store is the daemon's persistent state behind a small interface:
// users, relying parties, officers, orders, single-use signature
// activations and the audit chain. SQLite (package sqlite) is the embedded
// default, PostgreSQL (package postgres) the store of several daemons; both
// run the one set of queries of package sqlstore.
//
// Every state change runs in Update, one write transaction, and the audit
// record describing it is appended in the same transaction: a change without
// its record, or a record without its change, cannot be committed.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/segl/segl/signer/audit"
)

var (
	// ErrNotFound is returned when a row asked for by its key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when a row with the same key or unique value
	// (an RP's certificate, a user's pending order) already exists.
	ErrExists = errors.New("already exists")
	// ErrUnavailable wraps an error of the database itself, not of the
	// request: it cannot be reached, is shutting down or failing over,
	// or is too busy. Nothing was committed; the request may be retried.
	ErrUnavailable = errors.New("the database is unavailable")
)

// Store opens transactions.
type Store interface {
	// Update runs fn in one write transaction, committed durably when fn
	// returns nil and rolled back otherwise.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Reader) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// Reader is what a read-only transaction can do.
type Reader interface {
	User(id string) (*User, error)
	Users() ([]*User, error)
	RP(id string) (*RP, error)
	RPs() ([]*RP, error)
	// CallerByFingerprint finds the RP or officer registered with a client
	// certificate, by the SHA-256 of its DER, disabled or not.
	CallerByFingerprint(fp string) (*Caller, error)
	Officers() ([]*Caller, error)
	Order(ref string) (*Order, error)
	// OrderByQRToken finds an order by its qrStartToken.
	OrderByQRToken(token string) (*Order, error)
	// OrderByAutoStartToken finds an order by its autoStartToken.
	OrderByAutoStartToken(token string) (*Order, error)
	// PendingOrders lists a user's pending orders of relying parties
	// (not activations), oldest first; the caller skips expired ones.
	PendingOrders(user string) ([]*Order, error)
	// OrderCounts counts orders by state, for metrics.
	OrderCounts() (map[OrderState]int, error)
	Activation(id string) (*Activation, error)
	OTPToken(serial string) (*OTPToken, error)
	// OTPTokens lists a user's tokens (every token when user is empty).
	OTPTokens(user string) ([]*OTPToken, error)
	CodeCard(serial string) (*CodeCard, error)
	Device(id string) (*Device, error)
	// Devices lists a user's devices, revoked ones too (every user's when
	// user is empty), oldest first.
	Devices(user string) ([]*Device, error)
	// PIVCard is the card with this serial enrolled now (or, when none
	// is, the last one revoked); ErrNotFound when it never was.
	PIVCard(serial uint32) (*PIVCard, error)
	// PIVCards lists a user's cards, revoked ones too (every user's when
	// user is empty), oldest first.
	PIVCards(user string) ([]*PIVCard, error)
	// OfficerPIVCards lists an officer's cards likewise.
	OfficerPIVCards(officer string) ([]*PIVCard, error)
	// CodeCards lists a user's cards (all users' when user is empty).
	CodeCards(user string) ([]*CodeCard, error)

	// SMSAttempts lists the SMS attempts to a user (every user's when
	// empty), newest first, at most limit.
	SMSAttempts(user string, limit int) ([]*SMSAttempt, error)
	// CountSMS counts the messages (codes, not attempts) of an order, and
	// those to a user since a time.
	CountSMS(order, user string, since time.Time) (forOrder, forUser int, err error)

	// AuditRecords calls fn for each audit record from seq on, in order,
	// with the hash stored for it; fn returning false stops the walk.
	AuditRecords(from uint64, fn func(audit.Stored) (bool, error)) error
	AuditCheckpoints() ([]audit.Checkpoint, error)
	// LastCheckpoint is the sequence number the newest checkpoint seals
	// (0 when there is none).
	LastCheckpoint() (uint64, error)
	// AuditHead is the last record's sequence number and hash (0 and the
	// zero hash when the log is empty).
	AuditHead() (uint64, audit.Hash, error)
}

// Tx is a write transaction. A Create method's ErrExists leaves it usable
// (a duplicate is refused without an error in the database), as does a
// false answer of a single-use method; any other error, ErrExists from an
// Update method included, means the transaction cannot go on (PostgreSQL
// has aborted it): return it from the function Update runs.
type Tx interface {
	Reader

	CreateUser(u *User) error
	UpdateUser(u *User) error
	CreateRP(rp *RP) error
	UpdateRP(rp *RP) error
	CreateOfficer(o *Caller) error
	// UpdateOfficer writes an officer's name, certificate fingerprint and
	// state, found by ID.
	UpdateOfficer(o *Caller) error
	// DeleteOfficer removes an officer's registration.
	DeleteOfficer(id string) error

	// CreateOrder refuses (ErrExists) a second pending order for a user.
	CreateOrder(o *Order) error
	UpdateOrder(o *Order) error
	// ExpireOrders moves pending orders whose expiry has passed to failed
	// with hint expiredTransaction, and returns them.
	ExpireOrders(now time.Time) ([]*Order, error)

	CreateActivation(a *Activation) error
	// SpendActivation marks an activation spent, once: it reports false
	// when it was spent already or does not exist.
	SpendActivation(id string, now time.Time) (bool, error)

	CreateOTPToken(t *OTPToken) error
	// UpdateOTPToken writes a token's assignment and failure state; the
	// counter moves only through AdvanceOTP.
	UpdateOTPToken(t *OTPToken) error
	// AdvanceOTP records that a token's code for counter (HOTP), time
	// step (TOTP) or position (Yubico) was used, in one conditional UPDATE: it reports false when
	// that counter or step, or a later one, was used already, so of many
	// concurrent submissions of one code exactly one succeeds.
	AdvanceOTP(serial string, used, drift int64) (bool, error)
	DeleteOTPToken(serial string) error

	// CreateCodeCard stores a card and its 148 unspent entries.
	CreateCodeCard(c *CodeCard) error
	SetCodeCardStatus(serial string, status CodeCardStatus) error
	// MarkCodeCardPrinted records a card's printing, once: false when it
	// was printed before.
	MarkCodeCardPrinted(serial string, at time.Time) (bool, error)
	// SpendCodeCardEntry marks an entry spent, once: false when it was.
	SpendCodeCardEntry(serial string, idx int) (bool, error)
	// OfferCodeCardEntry records the entry a challenge shows, so that it
	// is shown again until it is answered (-1: none).
	OfferCodeCardEntry(serial string, idx int) error

	// MarkOrderEnrolled records that a completed order was used for an
	// enrolment, once: false when it was used before.
	MarkOrderEnrolled(ref string, at time.Time) (bool, error)

	// SwapChallenge replaces an order's challenge with next only if it is
	// still old, in one conditional UPDATE: of concurrent answers to one
	// challenge exactly one swaps it.
	SwapChallenge(ref, old, next string) (bool, error)
	// SwapAppChallenge is SwapChallenge for the app approval's challenge.
	SwapAppChallenge(ref, old, next string) (bool, error)
	// BindOrder gives a pending order without a device to user and
	// device, in one conditional UPDATE: only if it has no user yet or
	// has this one. It reports false when it was bound already or is no
	// longer pending, and ErrExists when the user has another pending
	// order.
	BindOrder(ref, user, device string) (bool, error)

	// CreateDevice registers an activated device; ErrExists when its key
	// is another device's.
	CreateDevice(d *Device) error
	// RevokeDevice revokes a device, once: false when it was revoked
	// already.
	RevokeDevice(id, by string, at time.Time) (bool, error)
	// CreatePIVCard enrols a card; ErrExists when its serial is enrolled
	// and not revoked.
	CreatePIVCard(c *PIVCard) error
	// RevokePIVCard revokes the enrolled card with this serial, once:
	// false when none is enrolled.
	RevokePIVCard(serial uint32, by string, at time.Time) (bool, error)
	// SpendNonce records a signed request's nonce for its device, once:
	// false when the device sent it before. It forgets nonces seen before
	// forget, and notes the device's last use.
	SpendNonce(device, nonce string, at, forget time.Time) (bool, error)
	// RecordChallenge notes a challenge issued, for the limits on them.
	RecordChallenge(c ChallengeIssue) error
	// CountChallenges counts the challenges of a factor type issued for an
	// order, and those of any type issued to a user since a time. Records
	// older than an hour may be forgotten.
	CountChallenges(order, user, factor string, since time.Time) (ChallengeCounts, error)

	// CreateSMSAttempt records an attempt to send an SMS.
	CreateSMSAttempt(a *SMSAttempt) error
	// UpdateSMSAttempt moves an attempt to state, with the gateway's id
	// and reason when given (empty keeps them), and reports whether there
	// was such an attempt to change: a delivered one stays delivered.
	UpdateSMSAttempt(id string, state SMSState, gatewayID, reason string, at time.Time) (bool, error)

	// Audit appends a record: the store assigns Seq and the chain hash.
	Audit(r audit.Record) (audit.Stored, error)
	AddCheckpoint(c audit.Checkpoint) error
}

// Role is what a client certificate may do.
type Role string

const (
	RoleRP      Role = "rp"
	RoleOfficer Role = "officer"
)

// Caller is an authenticated client: a relying party or an officer.
type Caller struct {
	Role        Role
	ID          string
	Name        string
	Fingerprint string // hex SHA-256 of the client certificate's DER
	Disabled    bool
	Created     time.Time
}

// RP is a relying party: a bank's front end that starts orders.
type RP struct {
	ID          string
	Name        string
	Fingerprint string
	CertPEM     []byte
	Disabled    bool
	Created     time.Time
}

// User is a person who authenticates and signs.
type User struct {
	ID       string
	Name     string
	Phone    string
	Disabled bool
	Created  time.Time

	// Password is the personal password's verifier (tokens/password), or
	// empty when none is set.
	Password string
	// Lockout counts consecutive failed factors across all channels and
	// orders, until an order completes (signer/factors).
	Lockout

	// Identity is what a document's holder is matched against; zero when
	// none is set.
	Identity Identity

	// SigningKey is the user's signing key, wrapped under the KEK
	// (hsm.WrappedKey's binary form); Certificate is its DER certificate.
	SigningKey  []byte
	Certificate []byte
}

// Identity is a user's identity attributes, as an officer set them.
type Identity struct {
	Surname     string
	GivenNames  string
	DateOfBirth string // YYYY-MM-DD
	Nationality string // ICAO three-letter code, or ""
}

// Set reports whether the identity was set.
func (i Identity) Set() bool { return i.Surname != "" }

// Lockout is the failure count of something that can be guessed at: a
// user, an OTP token. signer/factors owns its rules.
type Lockout struct {
	Failures     int       // consecutive failures since the last success or block
	Blocks       int       // blocks so far
	BlockedUntil time.Time // zero, or when the current block ends
}

// Blocked reports whether a block is in force at now.
func (l Lockout) Blocked(now time.Time) bool { return now.Before(l.BlockedUntil) }

// ChallengeIssue is one challenge issued to a user for an order.
type ChallengeIssue struct {
	Order  string
	User   string
	Factor string
	Issued time.Time
}

// ChallengeCounts are what CountChallenges found.
type ChallengeCounts struct {
	ForOrder      int
	ForUser       int
	OldestForUser time.Time // the earliest of ForUser's, zero when none
}

// OrderKind is what an order asks of the user.
type OrderKind string

const (
	KindAuth OrderKind = "auth"
	KindSign OrderKind = "sign"
)

// OrderState is BankID's collect status.
type OrderState string

const (
	StatePending  OrderState = "pending"
	StateFailed   OrderState = "failed"
	StateComplete OrderState = "complete"
)

// Order is one auth or sign transaction started by a relying party.
type Order struct {
	Ref             string
	RP              string
	User            string // empty until known for an auth order without userId
	Kind            OrderKind
	State           OrderState
	Hint            string
	UserVisibleData string // base64, as the RP sent it
	DocumentDigest  []byte // SHA-256 of the document, sign orders only
	EndUserIP       string
	AutoStartToken  string
	QRStartToken    string
	QRStartSecret   string
	Created         time.Time
	Expires         time.Time
	Completed       time.Time
	// Factors are the factor types the user has passed, in order.
	Factors []string
	// Completion is the JSON completionData of a complete order.
	Completion []byte
	// Challenge is what the order waits for an answer to, set by a
	// factor's challenge (e.g. "codecard:<serial>:<entry>").
	Challenge string
	// Payment is the JSON of the payment the order approves, or empty.
	Payment string
	// Purpose is PurposeActivation for an app activation, empty for a
	// relying party's order.
	Purpose string
	// Device is the device the order is bound to (by a scan) or that
	// approved it.
	Device string
	// AppChallenge is what an app approval must sign: empty until a
	// device fetched the order, "spent:…" once an approval used it.
	AppChallenge string
	// UserVerification is how the approving device's key was unlocked.
	UserVerification string
	// RequiresDocument: the order needs a passport check besides its two
	// factors.
	RequiresDocument bool
	// PIVCard is the smart card whose signature passed the piv factor:
	// its serial, then ":pin" when its key signs only after the card's
	// PIN, ":bio" after a fingerprint; empty until then.
	PIVCard string
}

// PurposeActivation marks an order that activates a device.
const PurposeActivation = "activation"

// Device is an activated app: its P-256 key signs the user's requests and
// approvals.
type Device struct {
	ID         string
	User       string
	Name       string
	PublicKey  []byte // DER SubjectPublicKeyInfo
	KeyStorage string // software or hardware
	Biometry   string // none, fingerprint or face
	Activation string // the activation order's ref
	Created    time.Time
	LastUsed   time.Time
	Revoked    time.Time // zero while active
	RevokedBy  string    // who revoked it: an officer, the user's device, a replacing activation
}

// Active reports whether the device may be used.
func (d *Device) Active() bool { return d.Revoked.IsZero() }

// PIVCard is a YubiKey enrolled to a user or an officer: the key in one of its slots,
// made on the card, the issuer's certificate for it, and the card's
// attestation that proves where the key was made and with which policies.
type PIVCard struct {
	ID          string
	Serial      uint32
	User        string // the user's card, or
	Officer     string // the officer's, whose card signs approvals (dual control)
	Slot        string // 9a, 9c, …
	PublicKey   []byte // DER SubjectPublicKeyInfo
	Certificate []byte // DER
	AttestSlot  []byte // DER, the slot's attestation certificate
	AttestCard  []byte // DER, the card's (f9)
	Firmware    string
	PINPolicy   string // never, once, always, …
	TouchPolicy string
	FormFactor  string
	Created     time.Time
	CreatedBy   string
	Revoked     time.Time // zero while enrolled
	RevokedBy   string
}

// Active reports whether the card may be used.
func (c *PIVCard) Active() bool { return c.Revoked.IsZero() }

// Activation is the single-use permission to sign one digest with one
// user's key (EN 419 241 signature activation).
type Activation struct {
	ID      string
	Order   string
	User    string
	KeyID   string // hex SHA-256 of the wrapped key's public key
	Digest  []byte
	Expires time.Time
	MAC     []byte // HSM HMAC over the bound fields
	Spent   time.Time
	Created time.Time
}

// TokenKind is the kind of an OTP token.
type TokenKind string

const (
	TokenHOTP   TokenKind = "hotp"
	TokenTOTP   TokenKind = "totp"
	TokenYubico TokenKind = "yubico"
)

// OTPToken is a hardware OTP token (HOTP, TOTP or Yubico OTP).
type OTPToken struct {
	Serial string
	Kind   TokenKind
	Hash   string // "sha1", "sha256", "sha512"; "" for Yubico
	Digits int
	Step   int64  // TOTP step in seconds
	Seed   []byte // wrapped under the KEK (hsm.WrappedKey's binary form)
	User   string // assigned user, or empty
	// Counter is, for HOTP, the next counter a code may use; for TOTP, the
	// last time step used; for Yubico, the last position (use counter << 8
	// | session counter) used. -1 before the first for TOTP and Yubico.
	Counter int64
	Drift   int64 // TOTP: steps the token's clock is off, as last seen
	// Lockout counts wrong codes against this token; each block lasts
	// twice as long as the one before.
	Lockout
	Created time.Time
	// Yubico only: the modhex public ID its OTPs begin with, and the hex
	// private ID inside them.
	PublicID, PrivateID string
}

// CodeCardStatus is a code card's place in its life.
type CodeCardStatus string

const (
	CardPending CodeCardStatus = "pending" // issued, not used yet while an older card is active
	CardActive  CodeCardStatus = "active"
	CardRevoked CodeCardStatus = "revoked"
)

// CodeCard is a printed card of 148 codes.
type CodeCard struct {
	Serial string
	User   string
	Status CodeCardStatus
	Keys   []int  // the key numbers, entry i's at index i
	Spent  []bool // filled by reads
	// Offered is the entry a challenge showed and no answer has spent yet
	// (-1: none): it is shown again until answered, so asking again never
	// shows another key number.
	Offered int
	Created time.Time
	Printed time.Time // zero until printed
}

// Unspent counts the entries left.
func (c *CodeCard) Unspent() int {
	n := 0
	for _, s := range c.Spent {
		if !s {
			n++
		}
	}
	return n
}

// SMSState is where an SMS attempt is.
type SMSState string

const (
	SMSSending   SMSState = "sending"
	SMSAccepted  SMSState = "accepted"
	SMSDelivered SMSState = "delivered"
	SMSFailed    SMSState = "failed"
	SMSUnknown   SMSState = "unknown" // the gateway may or may not have it: not sent again
)

// SMSAttempt is one attempt to send an SMS through one adapter. Neither
// the text nor the code is kept.
type SMSAttempt struct {
	ID        string // the gateway's idempotency key
	Message   string // the message (code) it is an attempt at
	Order     string
	User      string
	ToMasked  string
	Adapter   string
	GatewayID string
	State     SMSState
	Reason    string
	Created   time.Time
	Updated   time.Time
}
