package testvectors_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/segl/segl/signer/app"
	"github.com/segl/segl/testvectors"
)

// The shipped app-approval.json through the production path, the one
// segld's app factor takes (signer/factors): app.ParsePublicKey,
// app.ApprovalMessage, app.Verify. A change to the message or to what
// Verify accepts fails here. `segl vectors verify` replays the same file.
func TestAppApprovalFileAgreesWithProduction(t *testing.T) {
	f, err := testvectors.Load("app-approval.json")
	if err != nil {
		t.Fatal(err)
	}
	if f.Algorithm != "app-approval" {
		t.Fatalf("algorithm %q", f.Algorithm)
	}
	valid := 0
	for _, c := range f.Cases {
		var in testvectors.AppApprovalInput
		var want struct {
			Valid *bool `json:"valid"`
		}
		if err := testvectors.Decode(c.Input, &in); err != nil {
			t.Fatalf("%s: input: %v", c.Name, err)
		}
		if err := testvectors.Decode(c.Expected, &want); err != nil || want.Valid == nil {
			t.Fatalf("%s: expected: %v", c.Name, err)
		}
		pub, _, err := app.ParsePublicKey(in.PublicKey)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		shown, err := base64.StdEncoding.Strict().DecodeString(in.UserVisibleData)
		if err != nil {
			t.Fatalf("%s: userVisibleData: %v", c.Name, err)
		}
		msg := app.ApprovalMessage(app.Approval{OrderRef: in.OrderRef, Challenge: in.Challenge, UserVisibleData: shown,
			AmountMinor: in.AmountMinor, Currency: in.Currency, Payee: in.Payee, Decision: in.Decision, UserVerification: in.UserVerification})
		err = app.Verify(pub, msg, in.Signature)
		if err != nil && !errors.Is(err, app.ErrBadSignature) {
			t.Errorf("%s: %v", c.Name, err)
		}
		if got := err == nil; got != *want.Valid {
			t.Errorf("%s: production says valid %t (%v), the file says %t", c.Name, got, err, *want.Valid)
		}
		if *want.Valid {
			valid++
		}
	}
	if valid < 5 || len(f.Cases)-valid < 10 {
		t.Fatalf("%d valid and %d invalid cases", valid, len(f.Cases)-valid)
	}
}
