package admin

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/piv"
)

// PIVEnrolment is the body of POST /admin/v1/piv: what `segl piv enrol`
// read from the card after generating a key in its slot.
type PIVEnrolment struct {
	UserID string `json:"userId"`
	Slot   string `json:"slot"`
	// PublicKey is the key the card answered GENERATE with, DER
	// SubjectPublicKeyInfo: the attestation must be of this key.
	PublicKey []byte `json:"publicKey"`
	// Attestation is the card's attestation certificate (slot f9), and
	// SlotAttestation the slot's, as ATTEST gave it; both DER.
	Attestation     []byte `json:"attestation"`
	SlotAttestation []byte `json:"slotAttestation"`
}

// PIVView is an enrolled card as the admin API shows it.
type PIVView struct {
	Serial      uint32    `json:"serial"`
	UserID      string    `json:"userId,omitempty"`
	OfficerID   string    `json:"officerId,omitempty"`
	Slot        string    `json:"slot"`
	Firmware    string    `json:"firmware"`
	PINPolicy   string    `json:"pinPolicy"`
	TouchPolicy string    `json:"touchPolicy"`
	FormFactor  string    `json:"formFactor"`
	Created     time.Time `json:"created"`
	CreatedBy   string    `json:"createdBy"`
	Revoked     string    `json:"revoked,omitempty"`
	RevokedBy   string    `json:"revokedBy,omitempty"`
	// Certificate is the issuer's certificate for a user's card's key,
	// DER: what segl piv enrol writes to the slot.
	Certificate []byte `json:"certificate,omitempty"`
}

func pivView(c *store.PIVCard) *PIVView {
	v := &PIVView{Serial: c.Serial, UserID: c.User, OfficerID: c.Officer, Slot: c.Slot, Firmware: c.Firmware, PINPolicy: c.PINPolicy, TouchPolicy: c.TouchPolicy,
		FormFactor: c.FormFactor, Created: c.Created, CreatedBy: c.CreatedBy, Certificate: c.Certificate}
	if !c.Active() {
		v.Revoked, v.RevokedBy = c.Revoked.UTC().Format(time.RFC3339), c.RevokedBy
	}
	return v
}

var pivSlots = map[string]bool{"9a": true, "9c": true, "9d": true, "9e": true}

// EnrolPIV enrols a user's YubiKey: the attestation must chain to a
// trusted root through the card's own attestation certificate, be of the
// key the card generated in the slot named, and pass the policy; then the
// issuer certifies the key (the certificate's serial carries the card's)
// and the card is stored with its attestation, audited.
func (s *Service) EnrolPIV(ctx context.Context, by string, req *PIVEnrolment) (*PIVView, error) {
	a, pub, err := s.checkPIV(req)
	if err != nil {
		return nil, err
	}
	var u *store.User
	err = s.Store.View(ctx, func(r store.Reader) (err error) {
		if u, err = r.User(req.UserID); err != nil {
			return err
		}
		c, err := r.PIVCard(a.Serial)
		if err == nil && c.Active() {
			holder := "user " + c.User
			if c.Officer != "" {
				holder = "officer " + c.Officer
			}
			return invalid("card %d is enrolled already, to %s: revoke it first (segl piv revoke --serial %d)", a.Serial, holder, a.Serial)
		}
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no user %s: %w", req.UserID, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	notAfter := now.Add(s.validity())
	if end := s.Issuer.Cert.NotAfter; notAfter.After(end) {
		notAfter = end
	}
	cert, err := s.Issuer.CardCert(pub, u.ID, u.Name, a.Serial, now.Add(-time.Minute), notAfter)
	if err != nil {
		return nil, fmt.Errorf("certify card %d's key: %w", a.Serial, err)
	}
	c, err := pivRecord(req, a, now, by)
	if err != nil {
		return nil, err
	}
	c.User, c.Certificate = u.ID, cert.Raw
	if err := s.storePIV(ctx, c, "user:"+u.ID, map[string]string{"certificateSerial": cert.SerialNumber.Text(16)}); err != nil {
		return nil, err
	}
	return pivView(c), nil
}

// checkPIV is what every enrolment checks of a card, a user's or an
// officer's: the attestation chains to a trusted root through the card's
// own attestation certificate, is of the key the card generated in the
// slot named, and passes the policy.
func (s *Service) checkPIV(req *PIVEnrolment) (*piv.Attestation, crypto.PublicKey, error) {
	if !pivSlots[req.Slot] {
		return nil, nil, invalid("slot %q: want 9a, 9c, 9d or 9e", req.Slot)
	}
	pub, err := x509.ParsePKIXPublicKey(req.PublicKey)
	if err != nil {
		return nil, nil, invalid("publicKey is not a DER SubjectPublicKeyInfo: %v", err)
	}
	a, err := s.PIV.Verify(req.Attestation, req.SlotAttestation)
	if err != nil {
		return nil, nil, invalid("the attestation: %v", err)
	}
	if a.Slot != req.Slot {
		return nil, nil, invalid("the attestation is of slot %s, not %s", a.Slot, req.Slot)
	}
	if err := a.Binds(pub); err != nil {
		return nil, nil, invalid("%v", err)
	}
	if err := s.PIVPolicy.Check(a); err != nil {
		return nil, nil, invalid("%v", err)
	}
	return a, pub, nil
}

// pivRecord is the stored card for an attestation checkPIV passed; the
// caller names its holder.
func pivRecord(req *PIVEnrolment, a *piv.Attestation, now time.Time, by string) (*store.PIVCard, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &store.PIVCard{ID: hex.EncodeToString(id), Serial: a.Serial, Slot: a.Slot, PublicKey: req.PublicKey, Certificate: []byte{},
		AttestSlot: req.SlotAttestation, AttestCard: req.Attestation, Firmware: a.Firmware.String(), PINPolicy: a.PINPolicy,
		TouchPolicy: a.TouchPolicy, FormFactor: a.FormFactor, Created: now, CreatedBy: officer(by)}, nil
}

// storePIV stores a checked card with its audit record; a serial enrolled
// and not revoked is refused.
func (s *Service) storePIV(ctx context.Context, c *store.PIVCard, subject string, details map[string]string) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreatePIVCard(c); err != nil {
			if errors.Is(err, store.ErrExists) {
				return invalid("card %d is enrolled already: revoke it first (segl piv revoke --serial %d)", c.Serial, c.Serial)
			}
			return err
		}
		d := map[string]string{"serial": fmt.Sprint(c.Serial), "slot": c.Slot, "firmware": c.Firmware, "pinPolicy": c.PINPolicy,
			"touchPolicy": c.TouchPolicy}
		for k, v := range details {
			d[k] = v
		}
		_, err := tx.Audit(audit.Record{Time: c.Created, Event: audit.AdminPIVEnrolled, Actor: c.CreatedBy, Subject: subject, Outcome: "ok", Details: d})
		return err
	})
}

// EnrolOfficerPIV registers the calling officer's own card, whose key
// will sign the officer's approvals of others' proposals (dual control).
// It is checked as a user's card is; no certificate is made for it.
func (s *Service) EnrolOfficerPIV(ctx context.Context, by string, req *PIVEnrolment) (*PIVView, error) {
	if req.UserID != "" {
		return nil, invalid("an officer's card is the officer's own: leave userId out")
	}
	a, _, err := s.checkPIV(req)
	if err != nil {
		return nil, err
	}
	c, err := pivRecord(req, a, s.now(), by)
	if err != nil {
		return nil, err
	}
	c.Officer = by
	if err := s.storePIV(ctx, c, officer(by), nil); err != nil {
		return nil, err
	}
	return pivView(c), nil
}

// OfficerPIVCards lists an officer's cards (every officer's when empty).
func (s *Service) OfficerPIVCards(ctx context.Context, officer string) ([]*PIVView, error) {
	views := []*PIVView{}
	err := s.Store.View(ctx, func(r store.Reader) error {
		cs, err := r.OfficerPIVCards(officer)
		for _, c := range cs {
			views = append(views, pivView(c))
		}
		return err
	})
	return views, err
}

func (s *Service) validity() time.Duration {
	if s.CertValidity == 0 {
		return 2 * 365 * 24 * time.Hour
	}
	return s.CertValidity
}

// PIVCard is the card with this serial: the one enrolled now, or the last
// revoked.
func (s *Service) PIVCard(ctx context.Context, serial uint32) (*PIVView, error) {
	var v *PIVView
	err := s.Store.View(ctx, func(r store.Reader) error {
		c, err := r.PIVCard(serial)
		if err == nil {
			v = pivView(c)
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no card %d: %w", serial, store.ErrNotFound)
	}
	return v, err
}

// PIVCards lists a user's cards (every user's when user is empty).
func (s *Service) PIVCards(ctx context.Context, user string) ([]*PIVView, error) {
	views := []*PIVView{}
	err := s.Store.View(ctx, func(r store.Reader) error {
		cs, err := r.PIVCards(user)
		for _, c := range cs {
			views = append(views, pivView(c))
		}
		return err
	})
	return views, err
}

// RevokePIV revokes the enrolled card with this serial: it completes no
// order from then on.
func (s *Service) RevokePIV(ctx context.Context, by string, serial uint32) (*PIVView, error) {
	now := s.now()
	var c *store.PIVCard
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if c, err = tx.PIVCard(serial); err != nil {
			return err
		}
		ok, err := tx.RevokePIVCard(serial, officer(by), now)
		if err != nil {
			return err
		}
		if !ok {
			return invalid("card %d was revoked already", serial)
		}
		c.Revoked, c.RevokedBy = now, officer(by)
		subject := "user:" + c.User
		if c.Officer != "" {
			subject = officer(c.Officer)
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.AdminPIVRevoked, Actor: officer(by), Subject: subject, Outcome: "ok",
			Details: map[string]string{"serial": fmt.Sprint(serial)}})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no card %d: %w", serial, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return pivView(c), nil
}
