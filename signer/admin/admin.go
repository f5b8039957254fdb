// Package admin is what officers do through the admin API: register users
// (with a signing key made and wrapped inside the HSM and a certificate
// from the issuer), set their personal passwords, disable and enable them,
// and register relying parties by their client certificates. Each change
// and its audit record commit together.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/ca"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/orders"
	"github.com/segl/segl/signer/smsgate"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/codecard"
	"github.com/segl/segl/tokens/otp"
	"github.com/segl/segl/tokens/password"
	"github.com/segl/segl/tokens/piv"
)

// ErrInvalid marks a request that is wrong as sent.
var ErrInvalid = orders.ErrInvalid

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// KeyMaker makes a user's signing key inside the HSM, wrapped under the
// KEK (*hsm.Keystore).
type KeyMaker interface {
	GenerateWrapped(kekLabel string, t hsm.KeyType) (*hsm.WrappedKey, error)
}

// Service carries out officers' requests.
type Service struct {
	Store          store.Store
	Keys           KeyMaker
	KEK            string // label of the key-encryption key
	Issuer         *ca.Issuer
	Pepper         password.Pepper
	PepperID       string
	PasswordParams password.Params
	CertValidity   time.Duration  // users' certificates; default 2 years
	CodeCardMaster codecard.HMAC  // the code-card master key in the HSM
	Tokens         SecretImporter // wraps imported OTP seeds in the HSM
	OTPPolicy      otp.Policy     // for resynchronising HOTP tokens
	Clock          clock.Clock
	// ClientCAs are the CAs that segld's TLS listener trusts for client
	// certificates (tls.client-ca): an RP's certificate must chain to one,
	// or it could never connect.
	ClientCAs []*x509.Certificate
	// PIV checks YubiKey attestations, and PIVPolicy what they must show.
	PIV       piv.Verifier
	PIVPolicy piv.Policy
}

func (s *Service) now() time.Time { return s.Clock.Now() }

func officer(id string) string { return "officer:" + id }

// NewUser is the body of POST /admin/v1/users.
type NewUser struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Phone    string `json:"phone,omitempty"`
	Password string `json:"password,omitempty"`
}

// UserView is a user as the admin API shows them: never the password
// verifier or the wrapped key.
type UserView struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Phone        string `json:"phone,omitempty"`
	Disabled     bool   `json:"disabled"`
	Blocked      bool   `json:"blocked"`
	BlockedUntil string `json:"blockedUntil,omitempty"`
	Failures     int    `json:"failures"`
	HasPassword  bool   `json:"hasPassword"`
	// HasIdentity: identity attributes are set (they are never shown).
	HasIdentity bool      `json:"hasIdentity"`
	Created     time.Time `json:"created"`
	Certificate string    `json:"certificate"` // PEM
	KeyID       string    `json:"keyId"`
}

func (s *Service) view(u *store.User) *UserView {
	v := &UserView{ID: u.ID, Name: u.Name, Phone: smsgate.MaskPhone(u.Phone), Disabled: u.Disabled, Failures: u.Failures,
		HasPassword: u.Password != "", HasIdentity: u.Identity.Set(), Created: u.Created,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: u.Certificate}))}
	if u.Blocked(s.now()) {
		v.Blocked, v.BlockedUntil = true, u.BlockedUntil.Format(time.RFC3339)
	}
	if w, err := hsm.ParseWrappedKey(u.SigningKey); err == nil {
		sum := sha256.Sum256(w.Public)
		v.KeyID = hex.EncodeToString(sum[:])
	}
	return v
}

func checkName(name string) error {
	if strings.TrimSpace(name) == "" {
		return invalid("name is empty")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > 128 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return invalid("name must be at most 128 characters of UTF-8 text without control characters")
	}
	return nil
}

// CreateUser registers a user: a P-256 signing key generated in the HSM
// and wrapped under the KEK, a certificate for it from the issuer, and the
// personal password if given.
func (s *Service) CreateUser(ctx context.Context, by string, req *NewUser) (*UserView, error) {
	if err := orders.CheckUserID(req.ID); err != nil {
		return nil, err
	}
	if err := checkName(req.Name); err != nil {
		return nil, err
	}
	if req.Phone != "" {
		p, err := smsgate.ParsePhone(req.Phone)
		if err != nil {
			return nil, err
		}
		req.Phone = p
	}
	if req.Password != "" {
		if err := password.Check([]byte(req.Password)); err != nil {
			return nil, invalid("password: %v", err)
		}
	}
	// Refuse a taken ID before spending an HSM key generation on it.
	err := s.Store.View(ctx, func(r store.Reader) error {
		_, err := r.User(req.ID)
		return err
	})
	if err == nil {
		return nil, fmt.Errorf("user %s: %w", req.ID, store.ErrExists)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	now := s.now()
	w, err := s.Keys.GenerateWrapped(s.KEK, hsm.ECDSAP256)
	if err != nil {
		return nil, fmt.Errorf("make user %s's signing key: %w", req.ID, err)
	}
	pub, err := w.PublicKey()
	if err != nil {
		return nil, err
	}
	validity := s.CertValidity
	if validity == 0 {
		validity = 2 * 365 * 24 * time.Hour
	}
	notAfter := now.Add(validity)
	if issuerEnd := s.Issuer.Cert.NotAfter; notAfter.After(issuerEnd) {
		notAfter = issuerEnd
	}
	cert, err := s.Issuer.UserCert(pub, req.ID, req.Name, now.Add(-time.Minute), notAfter)
	if err != nil {
		return nil, fmt.Errorf("certify user %s's key: %w", req.ID, err)
	}
	blob, err := w.MarshalBinary()
	if err != nil {
		return nil, err
	}
	u := &store.User{ID: req.ID, Name: req.Name, Phone: req.Phone, Created: now, SigningKey: blob, Certificate: cert.Raw}
	if req.Password != "" {
		if u.Password, err = password.Hash(s.Pepper, s.PepperID, u.ID, []byte(req.Password), s.params()); err != nil {
			return nil, err
		}
	}
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		_, err := tx.Audit(audit.Record{Time: now, Event: audit.AdminUserCreated, Actor: officer(by), Subject: "user:" + u.ID, Outcome: "ok",
			Details: map[string]string{"certificateSerial": cert.SerialNumber.Text(16), "password": fmt.Sprint(u.Password != "")}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.view(u), nil
}

func (s *Service) params() password.Params {
	if s.PasswordParams == (password.Params{}) {
		return password.DefaultParams
	}
	return s.PasswordParams
}

// User shows one user.
func (s *Service) User(ctx context.Context, id string) (*UserView, error) {
	var u *store.User
	err := s.Store.View(ctx, func(r store.Reader) (err error) {
		u, err = r.User(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.view(u), nil
}

// Users lists the users.
func (s *Service) Users(ctx context.Context) ([]*UserView, error) {
	var us []*store.User
	err := s.Store.View(ctx, func(r store.Reader) (err error) {
		us, err = r.Users()
		return err
	})
	views := []*UserView{}
	for _, u := range us {
		views = append(views, s.view(u))
	}
	return views, err
}

// SetDisabled disables or enables a user. Enabling also lifts a block
// and clears the failure count: it is the officer's unblock.
func (s *Service) SetDisabled(ctx context.Context, by, id string, disabled bool) (*UserView, error) {
	now := s.now()
	var u *store.User
	err := s.Store.Update(ctx, func(tx store.Tx) (err error) {
		if u, err = tx.User(id); err != nil {
			return err
		}
		event := audit.AdminUserDisabled
		u.Disabled = disabled
		if !disabled {
			event = audit.AdminUserEnabled
			u.Failures, u.BlockedUntil = 0, time.Time{}
		}
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: event, Actor: officer(by), Subject: "user:" + id, Outcome: "ok"})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.view(u), nil
}

// SetPassword sets a user's personal password.
func (s *Service) SetPassword(ctx context.Context, by, id string, pw []byte) error {
	if err := password.Check(pw); err != nil {
		return invalid("password: %v", err)
	}
	verifier, err := password.Hash(s.Pepper, s.PepperID, id, pw, s.params())
	if err != nil {
		return err
	}
	now := s.now()
	return s.Store.Update(ctx, func(tx store.Tx) error {
		u, err := tx.User(id)
		if err != nil {
			return err
		}
		u.Password = verifier
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.AdminUserPasswordSet, Actor: officer(by), Subject: "user:" + id, Outcome: "ok"})
		return err
	})
}

// SetPhone sets a user's mobile number, or deletes it when phone is
// empty.
func (s *Service) SetPhone(ctx context.Context, by, id, phone string) (*UserView, error) {
	event := audit.AdminUserPhoneDeleted
	if phone != "" {
		p, err := smsgate.ParsePhone(phone)
		if err != nil {
			return nil, err
		}
		phone, event = p, audit.AdminUserPhoneSet
	}
	now := s.now()
	var u *store.User
	err := s.Store.Update(ctx, func(tx store.Tx) (err error) {
		if u, err = tx.User(id); err != nil {
			return err
		}
		u.Phone = phone
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: event, Actor: officer(by), Subject: "user:" + id, Outcome: "ok",
			Details: map[string]string{"phone": smsgate.MaskPhone(phone)}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.view(u), nil
}

// Identity is the body of PUT /admin/v1/users/{id}/identity.
type Identity struct {
	Surname     string `json:"surname"`
	GivenNames  string `json:"givenNames"`
	DateOfBirth string `json:"dateOfBirth"` // YYYY-MM-DD
	Nationality string `json:"nationality,omitempty"`
}

var (
	namePattern        = regexp.MustCompile(`^\p{L}[\p{L}\p{M} '\-.]*$`)
	nationalityPattern = regexp.MustCompile(`^[A-Z]{1,3}$`)
)

// SetIdentity sets the identity attributes a document's holder is matched
// against. They are personal data: the audit records that they were set,
// not what they are.
func (s *Service) SetIdentity(ctx context.Context, by, id string, in *Identity) (*UserView, error) {
	for _, f := range []struct{ name, v string }{{"surname", in.Surname}, {"givenNames", in.GivenNames}} {
		if f.v == "" && f.name == "surname" {
			return nil, invalid("surname is empty")
		}
		if f.v == "" {
			continue
		}
		if utf8.RuneCountInString(f.v) > 100 || !namePattern.MatchString(f.v) {
			return nil, invalid("%s must be 1 to 100 letters, spaces, hyphens, apostrophes and full stops, beginning with a letter", f.name)
		}
		if err := orders.CheckShown(f.name, f.v, false); err != nil {
			return nil, err
		}
	}
	birth, err := time.Parse(time.DateOnly, in.DateOfBirth)
	if err != nil || birth.Format(time.DateOnly) != in.DateOfBirth || !birth.Before(s.now()) || birth.Year() < 1900 {
		return nil, invalid("dateOfBirth must be a date in the past, YYYY-MM-DD")
	}
	nat := in.Nationality
	if nat != "" {
		if !nationalityPattern.MatchString(nat) {
			return nil, invalid("nationality must be an ICAO 9303 code: 1 to 3 capital letters (D for Germany, DNK, GBR)")
		}
		nat += strings.Repeat("<", 3-len(nat))
	}
	now := s.now()
	var u *store.User
	err = s.Store.Update(ctx, func(tx store.Tx) (err error) {
		if u, err = tx.User(id); err != nil {
			return err
		}
		u.Identity = store.Identity{Surname: in.Surname, GivenNames: in.GivenNames, DateOfBirth: in.DateOfBirth, Nationality: nat}
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.AdminUserIdentitySet, Actor: officer(by), Subject: "user:" + id, Outcome: "ok"})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.view(u), nil
}

// Enrolment is the body of POST /rp/v1/enrol: a user's own change of their
// mobile number or password, on the strength of a fresh login.
type Enrolment struct {
	OrderRef    string  `json:"orderRef"`
	UserID      string  `json:"userId"`
	Phone       *string `json:"phone,omitempty"`
	DeletePhone bool    `json:"deletePhone,omitempty"`
	Password    *string `json:"password,omitempty"`
}

// EnrolWindow is how soon after its completion an auth order may be used
// for an enrolment.
const EnrolWindow = 5 * time.Minute

// Enrol changes a user's mobile number or password for relying party rp,
// only on the strength of an auth order of that user's, of rp's, that
// completed less than EnrolWindow ago and was not used for an enrolment
// before.
func (s *Service) Enrol(ctx context.Context, rp string, req *Enrolment) (*UserView, error) {
	if err := orders.CheckRef(req.OrderRef); err != nil {
		return nil, err
	}
	if (req.Phone != nil) == req.DeletePhone && req.Password == nil {
		return nil, invalid("give phone, or deletePhone, or password (or a password with either)")
	}
	if req.Phone != nil && req.DeletePhone {
		return nil, invalid("give phone or deletePhone, not both")
	}
	phone := ""
	if req.Phone != nil {
		p, err := smsgate.ParsePhone(*req.Phone)
		if err != nil {
			return nil, err
		}
		phone = p
	}
	var verifier string
	if req.Password != nil {
		if err := password.Check([]byte(*req.Password)); err != nil {
			return nil, invalid("password: %v", err)
		}
		v, err := password.Hash(s.Pepper, s.PepperID, req.UserID, []byte(*req.Password), s.params())
		if err != nil {
			return nil, err
		}
		verifier = v
	}
	now := s.now()
	var u *store.User
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		o, err := tx.Order(req.OrderRef)
		if errors.Is(err, store.ErrNotFound) || (err == nil && o.RP != rp) {
			return orders.ErrNotFound
		}
		if err != nil {
			return err
		}
		switch {
		case o.Kind != store.KindAuth || o.State != store.StateComplete:
			return invalid("order %s is not a completed auth order: an enrolment needs the user to have logged in", o.Ref)
		case o.User != req.UserID:
			return invalid("order %s is not a login of user %s", o.Ref, req.UserID)
		case now.Sub(o.Completed) >= EnrolWindow:
			return invalid("order %s completed %s ago; an enrolment needs a login of the last %s", o.Ref, now.Sub(o.Completed).Round(time.Second), EnrolWindow)
		}
		fresh, err := tx.MarkOrderEnrolled(o.Ref, now)
		if err != nil {
			return err
		}
		if !fresh {
			return invalid("order %s was used for an enrolment already: log in again", o.Ref)
		}
		if u, err = tx.User(o.User); err != nil {
			return err
		}
		details := map[string]string{"order": o.Ref}
		switch {
		case req.Phone != nil:
			u.Phone, details["phone"] = phone, smsgate.MaskPhone(phone)
		case req.DeletePhone:
			u.Phone, details["phone"] = "", "deleted"
		}
		if req.Password != nil {
			u.Password, details["password"] = verifier, "set"
		}
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.UserEnrolled, Actor: "rp:" + rp, Subject: "user:" + u.ID, Outcome: "ok", Details: details})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.view(u), nil
}

// SMSView is an SMS attempt as officers see it: never the text or code.
type SMSView struct {
	ID        string    `json:"id"`
	Message   string    `json:"message"`
	OrderRef  string    `json:"orderRef,omitempty"`
	UserID    string    `json:"userId"`
	To        string    `json:"to"` // masked
	Adapter   string    `json:"adapter"`
	GatewayID string    `json:"gatewayId,omitempty"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

// SMS lists the SMS attempts to a user (everyone's when empty), newest
// first.
func (s *Service) SMS(ctx context.Context, user string) ([]SMSView, error) {
	var as []*store.SMSAttempt
	err := s.Store.View(ctx, func(r store.Reader) (err error) {
		as, err = r.SMSAttempts(user, 1000)
		return err
	})
	views := []SMSView{}
	for _, a := range as {
		views = append(views, SMSView{ID: a.ID, Message: a.Message, OrderRef: a.Order, UserID: a.User, To: a.ToMasked, Adapter: a.Adapter,
			GatewayID: a.GatewayID, State: string(a.State), Reason: a.Reason, Created: a.Created, Updated: a.Updated})
	}
	return views, err
}

// NewRP is the body of POST /admin/v1/rps.
type NewRP struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Cert string `json:"certificate"` // PEM
}

// RPView is a relying party as the admin API shows it.
type RPView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	Subject     string    `json:"subject"`
	Disabled    bool      `json:"disabled"`
	Created     time.Time `json:"created"`
}

func rpView(rp *store.RP) *RPView {
	v := &RPView{ID: rp.ID, Name: rp.Name, Fingerprint: rp.Fingerprint, Disabled: rp.Disabled, Created: rp.Created}
	if b, _ := pem.Decode(rp.CertPEM); b != nil {
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			v.Subject = c.Subject.String()
		}
	}
	return v
}

// Fingerprint is how a client certificate is registered: the hex SHA-256
// of its DER.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// ClientCertificate parses one PEM certificate meant for TLS client
// authentication.
func ClientCertificate(pemBytes []byte) (*x509.Certificate, error) {
	b, rest := pem.Decode(pemBytes)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, invalid("certificate is not a PEM CERTIFICATE")
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, invalid("certificate: give exactly one PEM certificate, the client's own")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, invalid("certificate: %v", err)
	}
	if c.IsCA {
		return nil, invalid("certificate is a CA certificate; register the client's own certificate")
	}
	return c, nil
}

// CreateRP registers a relying party by its client certificate.
func (s *Service) CreateRP(ctx context.Context, by string, req *NewRP) (*RPView, error) {
	if err := orders.CheckUserID(req.ID); err != nil {
		return nil, invalid("id: %v", strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	}
	if err := checkName(req.Name); err != nil {
		return nil, err
	}
	cert, err := ClientCertificate([]byte(req.Cert))
	if err != nil {
		return nil, err
	}
	now := s.now()
	if now.After(cert.NotAfter) {
		return nil, invalid("certificate expired on %s", cert.NotAfter.Format(time.RFC3339))
	}
	if err := s.checkClientCA(cert, now); err != nil {
		return nil, err
	}
	rp := &store.RP{ID: req.ID, Name: req.Name, Fingerprint: Fingerprint(cert),
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), Created: now}
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateRP(rp); err != nil {
			return err
		}
		_, err := tx.Audit(audit.Record{Time: now, Event: audit.AdminRPCreated, Actor: officer(by), Subject: "rp:" + rp.ID, Outcome: "ok",
			Details: map[string]string{"fingerprint": rp.Fingerprint, "subject": cert.Subject.String()}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return rpView(rp), nil
}

// checkClientCA refuses a certificate that the TLS listener would refuse:
// one that does not chain to the client CA, or is not for client
// authentication.
func (s *Service) checkClientCA(cert *x509.Certificate, now time.Time) error {
	if len(s.ClientCAs) == 0 {
		return errors.New("admin: no client CA configured to check certificates against")
	}
	pool := x509.NewCertPool()
	var names, commonNames []string
	for _, c := range s.ClientCAs {
		pool.AddCert(c)
		names, commonNames = append(names, c.Subject.String()), append(commonNames, c.Subject.CommonName)
	}
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err == nil {
		return nil
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		issuer := cert.Issuer.String()
		if slices.Contains(commonNames, cert.Issuer.CommonName) {
			issuer += " (a CA of the client CA's name, but not its key)"
		}
		return invalid("certificate was issued by %s, which is not segld's client CA (%s, tls.client-ca): this relying party could never connect; have the client CA issue it",
			issuer, strings.Join(names, "; "))
	}
	return invalid("certificate (issued by %q) would be refused at the TLS handshake: %v", cert.Issuer.String(), err)
}

// RPs lists the relying parties.
func (s *Service) RPs(ctx context.Context) ([]*RPView, error) {
	var rps []*store.RP
	err := s.Store.View(ctx, func(r store.Reader) (err error) {
		rps, err = r.RPs()
		return err
	})
	views := []*RPView{}
	for _, rp := range rps {
		views = append(views, rpView(rp))
	}
	return views, err
}

// SetRPDisabled disables or enables a relying party; a disabled one is
// refused at its next TLS handshake and request.
func (s *Service) SetRPDisabled(ctx context.Context, by, id string, disabled bool) (*RPView, error) {
	now := s.now()
	var rp *store.RP
	err := s.Store.Update(ctx, func(tx store.Tx) (err error) {
		if rp, err = tx.RP(id); err != nil {
			return err
		}
		rp.Disabled = disabled
		if err := tx.UpdateRP(rp); err != nil {
			return err
		}
		event := audit.AdminRPEnabled
		if disabled {
			event = audit.AdminRPDisabled
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: event, Actor: officer(by), Subject: "rp:" + id, Outcome: "ok"})
		return err
	})
	if err != nil {
		return nil, err
	}
	return rpView(rp), nil
}
