package daemon_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/plugins/docverify/icao9303/icaotest"
	"github.com/segl/segl/signer/app"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon/daemontest"
	"github.com/segl/segl/signer/store"
)

// A payment above orders.document-check-from: approved in the app, it
// waits for the passport; the relying party relays the chip's files and
// its signature over the challenge, and the order completes. Through the
// real verifier plugin, trusting the test document's CSCA.
func TestPassportStepUp(t *testing.T) {
	karen := icaotest.Options{Signer: "p256", Surname: "OERSTED", GivenNames: "KAREN", DocumentNumber: "DK1234567", Nationality: "DNK",
		Birth: time.Date(1985, 4, 17, 0, 0, 0, 0, time.UTC)}
	passport := icaotest.New(t, karen)
	csca := filepath.Join(t.TempDir(), "csca.der")
	os.WriteFile(csca, passport.CSCA, 0o600)
	a := startAppWith(t, daemontest.Options{Adapters: []daemontest.Adapter{daemontest.Verifier("icao", csca)},
		Config: func(c *config.Config) { c.Orders.DocumentCheckFrom = map[string]int64{"DKK": 1000000} }})
	if code := a.call(a.off, "PUT", "/admin/v1/users/karen/identity", map[string]string{"surname": "Ørsted", "givenNames": "Karen",
		"dateOfBirth": "1985-04-17", "nationality": "DNK"}, nil); code != 200 {
		t.Fatalf("identity: %d", code)
	}
	p := a.activated("karen")
	pay := func() string {
		var o struct{ OrderRef string }
		if code := a.call(a.rp, "POST", "/rp/v1/auth", map[string]any{"userId": "karen", "endUserIp": "192.0.2.1",
			"payment": map[string]string{"amountMinor": "1500000", "currency": "DKK", "payee": "Bilhuset"}}, &o); code != 200 {
			t.Fatalf("start: %d", code)
		}
		if code, d := p.approve(p.approval(p.pending(0)[0], "approve", "pin", nil)); code != 200 || !d.Accepted || d.HintCode != "documentCheckRequired" {
			t.Fatalf("approve: %d %+v", code, d)
		}
		return o.OrderRef
	}
	challenge := func(ref string) []byte {
		var c struct{ Challenge string }
		if code := a.call(a.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": ref, "type": "passport"}, &c); code != 200 {
			t.Fatalf("passport challenge: %d", code)
		}
		b, err := hex.DecodeString(c.Challenge)
		if err != nil || len(b) != 8 {
			t.Fatalf("challenge %q", c.Challenge)
		}
		return b
	}
	b64 := base64.StdEncoding.EncodeToString
	submit := func(ref string, d *icaotest.Document, sig []byte) (int, map[string]any) {
		doc := map[string]any{"sod": b64(d.SOD), "aaSignature": b64(sig), "dataGroups": map[string]string{}}
		for _, n := range []int{1, 15} {
			doc["dataGroups"].(map[string]string)[fmt.Sprint(n)] = b64(d.DataGroups[n])
		}
		var out map[string]any
		code := a.call(a.rp, "POST", "/rp/v1/factor", map[string]any{"orderRef": ref, "type": "passport", "document": doc}, &out)
		return code, out
	}

	// Someone else's genuine passport, signed by the same document
	// signer: genuine, but not the holder; counted, and the audit names
	// what differed, not what it was.
	ref := pay()
	stranger := icaotest.New(t, icaotest.Options{SignedBy: passport, Surname: "NIELSEN", GivenNames: "KAREN", DocumentNumber: "DK7654321",
		Nationality: "DNK", Birth: time.Date(1985, 4, 17, 0, 0, 0, 0, time.UTC)})
	answered := challenge(ref)
	if code, out := submit(ref, stranger, stranger.SignAA(answered)); code != 200 || out["accepted"] != false {
		t.Fatalf("another holder's passport: %d %v", code, out)
	}
	if n := a.failures("karen"); n != 1 {
		t.Fatalf("another holder's passport counted %d failures", n)
	}
	// The wrong answer spent the challenge: Karen's own passport
	// answering it meets nothing live, and counts nothing.
	if code, out := submit(ref, passport, passport.SignAA(answered)); code != 200 || out["accepted"] != false {
		t.Fatalf("an answer to a spent challenge: %d %v", code, out)
	}
	if n := a.failures("karen"); n != 1 {
		t.Fatalf("an answer to a spent challenge left %d failures", n)
	}
	refused := lastAudit(t, a.env, audit.FactorRefused, "passport")
	if refused["genuine"] != "true" || refused["reason"] != "the holder is not the user: mrz: the holder does not match: surname" ||
		strings.Contains(fmt.Sprint(refused), "NIELSEN") {
		t.Fatalf("another holder's passport is refused as: %v", refused)
	}
	// Karen's own passport answering a challenge that was replaced is
	// refused too: active authentication is over the current one only.
	old := challenge(ref)
	challenge(ref) // a new one replaces it
	if code, out := submit(ref, passport, passport.SignAA(old)); code != 200 || out["accepted"] != false {
		t.Fatalf("a wrong AA signature: %d %v", code, out)
	}
	// Karen's, answering the challenge: complete, with the chip's key in the amr.
	c := challenge(ref)
	sig := passport.SignAA(c)
	if code, out := submit(ref, passport, sig); code != 200 || out["accepted"] != true || out["status"] != "complete" {
		t.Fatalf("her passport: %d %v", code, out)
	}
	got := a.collect(ref)
	if amr := fmt.Sprint(a.claims(got.CompletionData.Assertion)["amr"]); amr != "[swk pin hwk mfa]" {
		t.Fatalf("amr %s", amr)
	}
	if n := a.failures("karen"); n != 0 {
		t.Fatalf("a completed order leaves %d failures", n)
	}
	// The audit says which document, never whose: no name, number or birth.
	rec := lastAudit(t, a.env, audit.FactorAccepted, "passport")
	if rec["issuingState"] != "DNK" || len(rec["document"]) != 16 || rec["genuine"] != "true" {
		t.Fatalf("the passport's audit record: %v", rec)
	}
	for _, v := range rec {
		if strings.Contains(v, "OERSTED") || strings.Contains(v, "DK1234567") || strings.Contains(v, "1985") {
			t.Fatalf("the audit record holds personal data: %v", rec)
		}
	}
	// The same answer for the next order's challenge: refused.
	ref = pay()
	challenge(ref)
	if code, out := submit(ref, passport, sig); code != 200 || out["accepted"] != false {
		t.Fatalf("a replayed chip answer: %d %v", code, out)
	}

	a.call(a.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": ref}, nil)

	// The app relays the chip: the pending list gives the challenge of an
	// approved order that waits for the passport.
	ref = pay()
	list := p.pending(0)
	if len(list) != 1 || list[0].OrderRef != ref || list[0].HintCode != "documentCheckRequired" || len(list[0].DocumentChallenge) != 16 {
		t.Fatalf("pending after the approval: %+v", list)
	}
	c, _ = hex.DecodeString(list[0].DocumentChallenge)
	body := app.Document{OrderRef: ref, SOD: b64(passport.SOD), AASignature: b64(passport.SignAA(c)),
		DataGroups: map[string]string{"1": b64(passport.DataGroups[1]), "15": b64(passport.DataGroups[15])}}
	var d app.Decided
	if code := p.do("POST", app.PathDocument, body, &d); code != 200 || !d.Accepted || d.Status != "complete" {
		t.Fatalf("the app's document: %d %+v", code, d)
	}
	if len(p.pending(0)) != 0 {
		t.Fatal("a completed order is still pending")
	}
	// A login whose relying party asks for the document waits for it too.
	var o struct{ OrderRef string }
	if code := a.call(a.rp, "POST", "/rp/v1/auth", map[string]any{"userId": "karen", "endUserIp": "192.0.2.1",
		"requirement": map[string]bool{"documentCheck": true}}, &o); code != 200 {
		t.Fatalf("a login asking for a document: %d", code)
	}
	if code, d := p.approve(p.approval(p.pending(0)[0], "approve", "pin", nil)); code != 200 || d.Status != "pending" || d.HintCode != "documentCheckRequired" {
		t.Fatalf("the login, approved: %d %+v", code, d)
	}
}

// Remote reactivation: the password and the user's passport activate a
// new phone and revoke every other device.
func TestRemoteReactivation(t *testing.T) {
	passport := icaotest.New(t, icaotest.Options{Signer: "rsa", Surname: "OERSTED", GivenNames: "KAREN", Nationality: "DNK",
		Birth: time.Date(1985, 4, 17, 0, 0, 0, 0, time.UTC)})
	csca := filepath.Join(t.TempDir(), "csca.der")
	os.WriteFile(csca, passport.CSCA, 0o600)
	a := startAppWith(t, daemontest.Options{Adapters: []daemontest.Adapter{daemontest.Verifier("icao", csca)}})
	a.call(a.off, "PUT", "/admin/v1/users/karen/identity", map[string]string{"surname": "Ørsted", "givenNames": "Karen", "dateOfBirth": "1985-04-17"}, nil)
	old1, old2 := a.activated("karen"), a.activated("karen")
	var ch app.ActivationChallenge
	if code := a.post(app.PathActivationStart, app.ActivationStart{UserID: "karen", Method: "passport"}, &ch); code != 200 || len(ch.DocumentChallenge) != 16 || ch.KeyNumber != "" {
		t.Fatalf("activation/start with a passport: %d %+v", code, ch)
	}
	c, _ := hex.DecodeString(ch.DocumentChallenge)
	b64 := base64.StdEncoding.EncodeToString
	files := &app.DocumentFiles{SOD: b64(passport.SOD), AASignature: b64(passport.SignAA(c)),
		DataGroups: map[string]string{"1": b64(passport.DataGroups[1]), "15": b64(passport.DataGroups[15])}}
	p := a.newPhone()
	der, _ := x509.MarshalPKIXPublicKey(&p.key.PublicKey)
	var done app.Activated
	if code := a.post(app.PathActivationComplete, app.ActivationComplete{ActivationID: ch.ActivationID, Password: "hemmeligt1", Document: files,
		PublicKey: b64(der), Proof: p.sign(app.ActivationProof(ch.ActivationID)), DeviceName: "New phone"}, &done); code != 200 {
		t.Fatalf("activation/complete with a passport: %d", code)
	}
	p.id = done.DeviceID
	for _, old := range []*phone{old1, old2} {
		if code := old.do("GET", app.PathDevices, nil, nil); code != 401 {
			t.Fatalf("an old device after the remote reactivation: %d", code)
		}
	}
	var ds app.Devices
	if code := p.do("GET", app.PathDevices, nil, &ds); code != 200 || len(ds.Devices) != 3 {
		t.Fatalf("devices: %d %+v", code, ds)
	}
	// The same chip answer again, for a new activation: refused.
	a.post(app.PathActivationStart, app.ActivationStart{UserID: "karen", Method: "passport"}, &ch)
	q := a.newPhone()
	der, _ = x509.MarshalPKIXPublicKey(&q.key.PublicKey)
	var e apiError
	if code := a.post(app.PathActivationComplete, app.ActivationComplete{ActivationID: ch.ActivationID, Password: "hemmeligt1", Document: files,
		PublicKey: b64(der), Proof: q.sign(app.ActivationProof(ch.ActivationID)), DeviceName: "Replay"}, &e); code != 400 || e.ErrorCode != "activationFailed" {
		t.Fatalf("a replayed chip answer: %d %+v", code, e)
	}
}

// lastAudit is the details of the last audit record of the event for the
// factor.
func lastAudit(t *testing.T, e *env, event, factor string) map[string]string {
	t.Helper()
	var rec map[string]string
	e.d.Store().View(t0(), func(r store.Reader) error {
		return r.AuditRecords(1, func(s audit.Stored) (bool, error) {
			if s.Record.Event == event && s.Record.Details["factor"] == factor {
				rec = s.Record.Details
			}
			return true, nil
		})
	})
	return rec
}
