package factors

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/segl/segl/plugins/docverify"
	"github.com/segl/segl/plugins/docverify/icao9303/mrz"
	"github.com/segl/segl/signer/errs"
	"github.com/segl/segl/signer/store"
)

// PassportFactor is the chip check of the user's passport or ID card
// (possession, bound to the person): the chip signs a challenge the
// server chose (active authentication) with a key its issuing state's
// signature covers, and the document's holder is the user. The verifier
// is a plugin (docverify); the match of the holder against the user's
// identity attributes is segld's.
type PassportFactor struct {
	// Verifier is the document verifier to use now (the plugin host's).
	Verifier func(ctx context.Context) (docverify.Verifier, error)
	// Match reports why the holder DG1 names is not the user, or nil
	// (MatchDG1 unless a test says otherwise).
	Match func(dg1 []byte, id store.Identity, at time.Time) error
}

var _ Challenger = (*PassportFactor)(nil)

func (*PassportFactor) Type() Type         { return Passport }
func (*PassportFactor) Category() Category { return Possession }

// AMR: the chip's key is a hardware key.
func (*PassportFactor) AMR() string { return "hwk" }

// PassportChallenge is what /rp/v1/challenge shows for a passport: the
// 8 bytes the chip must sign (hex), once.
type PassportChallenge struct {
	Challenge string `json:"challenge"`
}

var passportChallengeRE = regexp.MustCompile(`^passport:([0-9a-f]{16})$`)

// Challenge picks 8 random bytes for the chip to sign (ICAO 9303 part 11
// 6.1, RND.IFD), replacing any earlier challenge of the order.
func (f *PassportFactor) Challenge(_ store.Tx, a *Attempt) (string, any, error) {
	if !a.User.Identity.Set() {
		return "", nil, errs.Invalid("user %s has no identity attributes to match a document against: an officer sets them (`segl users identity set`)", a.User.ID)
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	c := hex.EncodeToString(b)
	return "passport:" + c, PassportChallenge{Challenge: c}, nil
}

// Verify sends the document to the verifier with the order's challenge,
// and takes it when the verdict is genuine, the chip answered the
// challenge with a key the SOD covers, and the holder is the user.
// Settling spends the challenge, right or wrong: an answer to it given
// again meets nothing live.
func (f *PassportFactor) Verify(ctx context.Context, a *Attempt) (Verdict, error) {
	if a.Document == nil {
		return Verdict{}, errs.Invalid("a passport check gives the chip's files (document), not a value")
	}
	if answered(a.Order, "passport:") {
		return duplicate, nil
	}
	m := passportChallengeRE.FindStringSubmatch(a.Order.Challenge)
	if m == nil {
		return Verdict{}, errs.Invalid("order %s has no passport challenge: ask /rp/v1/challenge {\"type\":\"passport\"} first", a.Order.Ref)
	}
	if !a.User.Identity.Set() {
		return Verdict{}, errs.Invalid("user %s has no identity attributes to match a document against", a.User.ID)
	}
	challenge, _ := hex.DecodeString(m[1])
	doc := *a.Document
	doc.AAChallenge, doc.At = challenge, a.Now
	v, err := f.Verifier(ctx)
	if err != nil {
		return Verdict{}, fmt.Errorf("the document verifier: %w", err)
	}
	verdict, err := v.Verify(ctx, doc)
	if errors.Is(err, docverify.ErrInvalid) {
		return Verdict{}, errs.Invalid("document: %v", err)
	}
	if err != nil {
		return Verdict{}, fmt.Errorf("the document verifier: %w", err)
	}
	out := Verdict{Right: true}
	switch {
	case !verdict.Genuine:
		out = Verdict{Reason: "the document is not genuine: " + verdict.Reason}
	case !verdict.ActiveAuthenticated:
		out = Verdict{Reason: "the chip did not sign the challenge with a key its SOD covers (active authentication)"}
	case !checked(verdict, "dg1-hash"):
		out = Verdict{Reason: "the document's DG1 is missing or not authenticated: the holder cannot be matched"}
	default:
		match := f.Match
		if match == nil {
			match = MatchDG1
		}
		if err := match(a.Document.DataGroups[1], a.User.Identity, a.Now); err != nil {
			out = Verdict{Reason: "the holder is not the user: " + err.Error()}
		}
	}
	// The audit knows which document it was, not whose: the issuing
	// state and a hash of the document number.
	out.Details = map[string]string{"genuine": fmt.Sprint(verdict.Genuine), "activeAuthentication": fmt.Sprint(verdict.ActiveAuthenticated)}
	if h := verdict.Holder; h != nil {
		sum := sha256.Sum256([]byte("SEGL-DOCUMENT-1\x00" + h.IssuingState + "\x00" + h.DocumentNumber))
		out.Details["issuingState"], out.Details["document"] = strings.TrimRight(h.IssuingState, "<"), hex.EncodeToString(sum[:8])
	}
	stored := a.Order.Challenge
	out.Spend = func(tx store.Tx, o *store.Order) (bool, error) { return spendChallenge(tx, o, stored) }
	return out, nil
}

// checked reports whether the verdict's check name passed.
func checked(v *docverify.Verdict, name string) bool {
	for _, c := range v.Checks {
		if c.Name == name {
			return c.Result == docverify.OK
		}
	}
	return false
}

// MatchDG1 matches DG1's MRZ against the user's identity attributes with
// ICAO 9303's transliteration; its error names the attribute, never the
// value.
func MatchDG1(dg1 []byte, id store.Identity, at time.Time) error {
	m, err := mrz.ParseDG1At(dg1, at)
	if err != nil {
		return err
	}
	birth, err := time.Parse(time.DateOnly, id.DateOfBirth)
	if err != nil {
		return fmt.Errorf("the user's date of birth: %w", err)
	}
	return mrz.MatchHolder(m, id.Surname, id.GivenNames, birth, id.Nationality)
}
