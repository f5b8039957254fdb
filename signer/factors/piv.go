package factors

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/segl/segl/signer/errs"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/piv"
)

// PIV is a YubiKey PIV card's signature over a challenge.
const PIV Type = "piv"

// PIVFactor is the user's enrolled smart card: its key, made on the card
// (the enrolment's attestation proved it), signs a challenge the server
// chose. A card whose key signs only after its PIN is possession and
// knowledge at once; one without (an enrolment the policy allowed) is
// possession alone.
type PIVFactor struct {
	Store store.Store
}

var (
	_ Challenger = (*PIVFactor)(nil)
	_ Several    = (*PIVFactor)(nil)
	_ Methods    = (*PIVFactor)(nil)
)

func NewPIV(st store.Store) *PIVFactor { return &PIVFactor{Store: st} }

func (*PIVFactor) Type() Type         { return PIV }
func (*PIVFactor) Category() Category { return Possession }

// AMR is the least the card proves; AMRs says what it did.
func (*PIVFactor) AMR() string { return "sc" }

// Categories: the card, and what its key asks for before it signs: the
// PIN (knowledge), or on a YubiKey Bio a fingerprint (inherence).
func (*PIVFactor) Categories(o *store.Order) []Category {
	switch {
	case strings.HasSuffix(o.PIVCard, ":pin"):
		return []Category{Possession, Knowledge}
	case strings.HasSuffix(o.PIVCard, ":bio"):
		return []Category{Possession, Inherence}
	}
	return []Category{Possession}
}

// AMRs are RFC 8176's: sc, then pin or fpt for what unlocked the key.
func (*PIVFactor) AMRs(_ store.Reader, o *store.Order) ([]string, error) {
	switch {
	case strings.HasSuffix(o.PIVCard, ":pin"):
		return []string{"sc", "pin"}, nil
	case strings.HasSuffix(o.PIVCard, ":bio"):
		return []string{"sc", "fpt"}, nil
	}
	return []string{"sc"}, nil
}

// unlocked is the order's note of what a card's PIN policy asks before
// its key signs: ":pin", ":bio" (match-once, match-always: a YubiKey
// Bio's fingerprint) or nothing (never).
func unlocked(pinPolicy string) string {
	switch pinPolicy {
	case "once", "always":
		return ":pin"
	case "match-once", "match-always":
		return ":bio"
	}
	return ""
}

// PIVChallenge is what /rp/v1/challenge shows for piv: the 32 bytes
// (hex) whose piv.ChallengeDigest the card must sign, once.
type PIVChallenge struct {
	Challenge string `json:"challenge"`
}

var pivChallengeRE = regexp.MustCompile(`^piv:([0-9a-f]{64})$`)

// Challenge picks 32 random bytes, replacing any earlier challenge of the
// order; a user with no enrolled card is told so.
func (f *PIVFactor) Challenge(tx store.Tx, a *Attempt) (string, any, error) {
	cards, err := activeCards(tx, a.User.ID)
	if err != nil {
		return "", nil, err
	}
	if len(cards) == 0 {
		return "", nil, errs.Invalid("user %s has no enrolled PIV card: an officer enrols one (segl piv enrol)", a.User.ID)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	c := hex.EncodeToString(b)
	return "piv:" + c, PIVChallenge{Challenge: c}, nil
}

func activeCards(r store.Reader, user string) ([]*store.PIVCard, error) {
	all, err := r.PIVCards(user)
	var live []*store.PIVCard
	for _, c := range all {
		if c.Active() {
			live = append(live, c)
		}
	}
	return live, err
}

// Verify checks the signature (base64 DER ECDSA) over the order's
// challenge against each of the user's enrolled cards. Settling spends
// the challenge, right or wrong, and notes the card on the order; a card
// revoked while the signature was checked makes the submission a
// duplicate, counted against no one and accepted by no one.
func (f *PIVFactor) Verify(ctx context.Context, a *Attempt) (Verdict, error) {
	if answered(a.Order, "piv:") {
		return duplicate, nil
	}
	m := pivChallengeRE.FindStringSubmatch(a.Order.Challenge)
	if m == nil {
		return Verdict{}, errs.Invalid("order %s has no piv challenge: ask /rp/v1/challenge {\"type\":\"piv\"} first", a.Order.Ref)
	}
	sig, err := base64.StdEncoding.DecodeString(a.Value)
	if err != nil || len(sig) == 0 || len(sig) > 160 {
		return Verdict{}, errs.Invalid("a piv value is the card's signature, base64 DER (at most 160 bytes)")
	}
	challenge, _ := hex.DecodeString(m[1])
	digest := piv.ChallengeDigest(challenge)
	var cards []*store.PIVCard
	if err := f.Store.View(ctx, func(r store.Reader) (err error) {
		cards, err = activeCards(r, a.User.ID)
		return err
	}); err != nil {
		return Verdict{}, err
	}
	var signer *store.PIVCard
	for _, c := range cards {
		pub, err := x509.ParsePKIXPublicKey(c.PublicKey)
		if err != nil {
			return Verdict{}, fmt.Errorf("card %d's key: %w", c.Serial, err)
		}
		if ec, ok := pub.(*ecdsa.PublicKey); ok && ecdsa.VerifyASN1(ec, digest, sig) {
			signer = c
			break
		}
	}
	stored := a.Order.Challenge
	v := Verdict{Reason: "the signature is not one of the user's enrolled cards' over this order's challenge"}
	if signer != nil {
		v = Verdict{Right: true, Details: map[string]string{"card": fmt.Sprint(signer.Serial), "slot": signer.Slot, "pinPolicy": signer.PINPolicy}}
	}
	v.Spend = func(tx store.Tx, o *store.Order) (bool, error) {
		if signer != nil {
			c, err := tx.PIVCard(signer.Serial)
			if err != nil {
				return false, err
			}
			if c.ID != signer.ID || !c.Active() {
				return false, nil // revoked while it was checked
			}
		}
		live, err := spendChallenge(tx, o, stored)
		if err != nil || !live {
			return false, err
		}
		if signer != nil {
			o.PIVCard = strconv.FormatUint(uint64(signer.Serial), 10) + unlocked(signer.PINPolicy)
		}
		return true, nil
	}
	return v, nil
}
