package daemon_test

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/segl/segl/signer/daemon/daemontest"
)

type outboxLine struct {
	To, Text, Encoding, MessageID, Key string
}

// outbox reads the development SMS adapter's file.
func (e *env) outbox() []outboxLine {
	e.t.Helper()
	f, err := os.Open(e.dev.Outbox())
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []outboxLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l outboxLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

var codeInText = regexp.MustCompile(`(?:Code|Kode) ([0-9]{6}) `)

func (e *env) smsChallenge(ref string) (int, map[string]any) {
	e.t.Helper()
	var out map[string]any
	code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": ref, "type": "sms"}, &out)
	return code, out
}

// The cardholder's 3-D Secure purchase: an SMS that shows the amount, the
// merchant and the code, and code + personal password approve it; the
// code fails for another amount.
func TestSMSPaymentEndToEnd(t *testing.T) {
	d := daemontest.StartWith(t, daemontest.Options{SMS: true})
	e := &env{t: t, dev: d.Dev, d: d, addr: d.Addr, rp: clientFor(t, d.Dev.TLSCA, d.Dev.RPCert, d.Dev.RPKey), off: clientFor(t, d.Dev.TLSCA, d.Dev.Cert, d.Dev.Key)}
	e.createUser("karen", "hemmeligt1")
	var u struct{ Phone string }
	if code := e.call(e.off, "PUT", "/admin/v1/users/karen/phone", map[string]string{"phone": "+4512345678"}, &u); code != 200 || u.Phone != "+45 •••• ••78" {
		t.Fatalf("phone set: %d %+v", code, u)
	}
	start := func(amount, payee string) (int, string) {
		var o struct{ OrderRef, ErrorCode, Details string }
		code := e.call(e.rp, "POST", "/rp/v1/auth", map[string]any{"userId": "karen", "endUserIp": "192.0.2.1",
			"payment": map[string]string{"amountMinor": amount, "currency": "DKK", "payee": payee}}, &o)
		if code != 200 {
			return code, o.Details
		}
		return code, o.OrderRef
	}
	_, ref := start("12995", "Fakta")
	code, sent := e.smsChallenge(ref)
	if code != 200 || sent["sentTo"] != "+45 •••• ••78" || sent["expiresIn"] != float64(300) || sent["delivery"] != "sent" {
		t.Fatalf("sms challenge: %d %v", code, sent)
	}
	box := e.outbox()
	if len(box) != 1 || box[0].To != "+4512345678" || box[0].Encoding != "gsm7" {
		t.Fatalf("outbox: %+v", box)
	}
	m := codeInText.FindStringSubmatch(box[0].Text)
	if m == nil || box[0].Text != "Code "+m[1]+" for DKK 129.95 at Fakta. Valid 5 min. Never share it." {
		t.Fatalf("the SMS says %q", box[0].Text)
	}
	first := m[1]
	if strings.Contains(e.d.Logs.String(), first) {
		t.Fatal("the code is in segld's log")
	}
	e.factor(ref, "password", "hemmeligt1")
	if r := e.factor(ref, "dlcode", first); !r.Accepted || r.Status != "complete" {
		t.Fatalf("code + password: %+v", r)
	}
	sig, err := jose.ParseSigned(e.collect(ref).CompletionData.Assertion, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ AMR []string }
	json.Unmarshal(sig.UnsafePayloadWithoutVerification(), &claims)
	if strings.Join(claims.AMR, " ") != "pwd sms mfa" {
		t.Fatalf("amr %v", claims.AMR)
	}
	// Another amount: the first code fails.
	_, ref2 := start("13000", "Fakta")
	if code, _ := e.smsChallenge(ref2); code != 200 {
		t.Fatalf("second challenge: %d", code)
	}
	e.factor(ref2, "password", "hemmeligt1")
	if r := e.factor(ref2, "dlcode", first); r.Accepted {
		t.Fatal("the code for DKK 129.95 approved DKK 130.00")
	}
	box = e.outbox()
	if !strings.Contains(box[len(box)-1].Text, "DKK 130.00") {
		t.Fatalf("the second SMS says %q", box[len(box)-1].Text)
	}
	// Resending: a new code voids the old; at most 3 codes an order.
	old := codeInText.FindStringSubmatch(box[len(box)-1].Text)[1]
	e.smsChallenge(ref2)
	box = e.outbox()
	if r := e.factor(ref2, "dlcode", old); r.Accepted {
		t.Fatal("a voided code was accepted")
	}
	e.smsChallenge(ref2)
	var errResp apiError
	if code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": ref2, "type": "sms"}, &errResp); code != 429 || errResp.ErrorCode != "tooManyRequests" {
		t.Fatalf("a fourth SMS for one order: %d %+v", code, errResp)
	}
	e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": ref2}, nil)
	// At most 5 SMS to a user an hour, across orders: a new order's code is
	// refused once they are spent, with the hour to wait.
	_, ref4 := start("100", "Fakta")
	refused := false
	for range 5 {
		if code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": ref4, "type": "sms"}, &errResp); code == 429 {
			refused = strings.Contains(errResp.Details, "in the last hour") && e.lastHeader.Get("Retry-After") != ""
			break
		}
	}
	if !refused {
		t.Fatalf("no refusal past 5 SMS an hour: %+v", errResp)
	}
	if n := len(e.outbox()); n != 5 {
		t.Fatalf("%d SMS sent in the hour; want 5", n)
	}
	e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": ref4}, nil)
	// Each attempt is in the audit log: its start, then its outcome.
	if events := auditEvents(t, e); !containsInOrder(events, "challenge.issued", "sms.sending", "sms.state") {
		t.Fatalf("audit events %v", events)
	}
	// A payee GSM 03.38 lacks goes as UCS-2, and still fits.
	e.d.Clock.Advance(2 * time.Hour) // past the hour's 5 SMS
	_, ref3 := start("4500", "Zoë's Café")
	if code, sent := e.smsChallenge(ref3); code != 200 || sent["delivery"] != "sent" {
		t.Fatalf("Zoë's Café: %d %v", code, sent)
	}
	box = e.outbox()
	if l := box[len(box)-1]; l.Encoding != "ucs2" || !strings.Contains(l.Text, "DKK 45.00 at Zoë's Café") {
		t.Fatalf("Zoë's Café's SMS: %+v", l)
	}
	e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": ref3}, nil)
	// One that could not fit is refused at the start.
	if code, details := start("4500", strings.Repeat("ë", 40)); code != 400 || !strings.Contains(details, "too long for the SMS") {
		t.Fatalf("a payee too long for the SMS: %d %s", code, details)
	}
	// An order without a payment: a code linked to the order alone.
	o := e.startOrder("auth", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1"})
	if code, _ := e.smsChallenge(o.OrderRef); code != 200 {
		t.Fatalf("a login code: %d", code)
	}
	box = e.outbox()
	l := box[len(box)-1]
	if !strings.HasPrefix(l.Text, "Code ") || !strings.Contains(l.Text, "to log in to segl-dev") {
		t.Fatalf("the login SMS says %q", l.Text)
	}
	e.factor(o.OrderRef, "password", "hemmeligt1")
	if r := e.factor(o.OrderRef, "dlcode", codeInText.FindStringSubmatch(l.Text)[1]); r.Status != "complete" {
		t.Fatalf("login with SMS code + password: %+v", r)
	}
	// Every attempt is recorded, masked, delivered (the outbox's report).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var list struct {
			SMS []struct{ To, State, Adapter string }
		}
		e.call(e.off, "GET", "/admin/v1/sms?userId=karen", nil, &list)
		delivered := 0
		for _, m := range list.SMS {
			if m.To != "+45 •••• ••78" || m.Adapter != "outbox" {
				t.Fatalf("attempt %+v", m)
			}
			if m.State == "delivered" {
				delivered++
			}
		}
		if len(list.SMS) == len(e.outbox()) && delivered == len(list.SMS) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("attempts %+v, outbox %d", list.SMS, len(e.outbox()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// No mobile number, no SMS.
	e.call(e.off, "DELETE", "/admin/v1/users/karen/phone", nil, nil)
	o = e.startOrder("auth", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1"})
	if code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": o.OrderRef, "type": "sms"}, &errResp); code != 400 || !strings.Contains(errResp.Details, "no mobile number") {
		t.Fatalf("no phone: %d %+v", code, errResp)
	}
}

// The issuer's enrolment page changes a user's phone or password only on
// the strength of that user's fresh, completed, unused login.
func TestEnrolment(t *testing.T) {
	e := start(t)
	e.createUser("nora", "hemmeligt1")
	e.createUser("otto", "hemmeligt2")
	login := func(user, pw string) string {
		o := e.startOrder("auth", map[string]string{"userId": user, "endUserIp": "192.0.2.1"})
		e.factor(o.OrderRef, "password", pw)
		if r := e.factor(o.OrderRef, "test", "ok"); r.Status != "complete" {
			t.Fatalf("login: %+v", r)
		}
		return o.OrderRef
	}
	enrol := func(body map[string]any) (int, apiError, map[string]any) {
		var out map[string]any
		code := e.call(e.rp, "POST", "/rp/v1/enrol", body, &out)
		var ae apiError
		if code != 200 {
			ae.ErrorCode, _ = out["errorCode"].(string)
			ae.Details, _ = out["details"].(string)
		}
		return code, ae, out
	}
	ref := login("nora", "hemmeligt1")
	// Another user's login does not do.
	if code, ae, _ := enrol(map[string]any{"orderRef": ref, "userId": "otto", "phone": "+4511111111"}); code != 400 || !strings.Contains(ae.Details, "not a login of user otto") {
		t.Fatalf("another user's order: %d %+v", code, ae)
	}
	code, _, out := enrol(map[string]any{"orderRef": ref, "userId": "nora", "phone": "+4512345678", "password": "nyt kodeord 9"})
	if code != 200 || out["phone"] != "+45 •••• ••78" || out["hasPassword"] != true {
		t.Fatalf("enrol: %d %v", code, out)
	}
	// Once per login.
	if code, ae, _ := enrol(map[string]any{"orderRef": ref, "userId": "nora", "deletePhone": true}); code != 400 || !strings.Contains(ae.Details, "used for an enrolment already") {
		t.Fatalf("a second enrolment on one login: %d %+v", code, ae)
	}
	// The new password is the one that works.
	o := e.startOrder("auth", map[string]string{"userId": "nora", "endUserIp": "192.0.2.1"})
	if r := e.factor(o.OrderRef, "password", "nyt kodeord 9"); !r.Accepted {
		t.Fatalf("the enrolled password: %+v", r)
	}
	// A pending order, or a stale login, does not do.
	if code, ae, _ := enrol(map[string]any{"orderRef": o.OrderRef, "userId": "nora", "deletePhone": true}); code != 400 || !strings.Contains(ae.Details, "not a completed auth order") {
		t.Fatalf("a pending order: %d %+v", code, ae)
	}
	e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": o.OrderRef}, nil)
	stale := login("nora", "nyt kodeord 9")
	e.d.Clock.Advance(5*time.Minute + time.Second)
	if code, ae, _ := enrol(map[string]any{"orderRef": stale, "userId": "nora", "deletePhone": true}); code != 400 || !strings.Contains(ae.Details, "needs a login of the last 5m0s") {
		t.Fatalf("a stale login: %d %+v", code, ae)
	}
	// Nothing to change, or a bad number.
	fresh := login("nora", "nyt kodeord 9")
	if code, _, _ := enrol(map[string]any{"orderRef": fresh, "userId": "nora"}); code != 400 {
		t.Fatalf("no change: %d", code)
	}
	if code, ae, _ := enrol(map[string]any{"orderRef": fresh, "userId": "nora", "phone": "12345"}); code != 400 || !strings.Contains(ae.Details, "E.164") {
		t.Fatalf("a bad number: %d %+v", code, ae)
	}
	if !containsInOrder(auditEvents(t, e), "user.enrolled") {
		t.Fatal("no user.enrolled audit record")
	}
}
