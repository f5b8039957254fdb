package daemon_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/segl/segl/plugins/sms"
	"github.com/segl/segl/signer/app"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon"
	"github.com/segl/segl/signer/daemon/daemontest"
	"github.com/segl/segl/signer/factors"
	"github.com/segl/segl/signer/store"
)

// The app API through segld, with a phone written here from docs/app.md
// (the reference client, signer/app/client, is tested against segld in
// cmd/segl): activation with password and code card, signed requests,
// pending orders, approvals, the QR scan, and attacks on each.

type appEnv struct {
	*env
	app  *http.Client // TLS with segld's CA, no client certificate
	card issuedCard
}

func startApp(t *testing.T) *appEnv {
	t.Helper()
	return startAppWith(t, daemontest.Options{Factors: []factors.Factor{testFactor{}}})
}

func startAppWith(t *testing.T, opt daemontest.Options) *appEnv {
	t.Helper()
	d := daemontest.StartWith(t, opt)
	e := &env{t: t, dev: d.Dev, d: d, addr: d.Addr, rp: clientFor(t, d.Dev.TLSCA, d.Dev.RPCert, d.Dev.RPKey), off: clientFor(t, d.Dev.TLSCA, d.Dev.Cert, d.Dev.Key)}
	c := clientFor(t, e.dev.TLSCA, "", "")
	c.Transport.(*checkedTransport).spec = "app-openapi.yaml"
	a := &appEnv{env: e, app: c}
	e.createUser("karen", "hemmeligt1")
	a.card = e.issueCard("karen")
	return a
}

// phone is one device: its key and, once activated, its id.
type phone struct {
	a    *appEnv
	key  *ecdsa.PrivateKey
	id   string
	user string
}

func (a *appEnv) newPhone() *phone {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		a.t.Fatal(err)
	}
	return &phone{a: a, key: k}
}

func (p *phone) sign(msg []byte) string {
	sum := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, p.key, sum[:])
	if err != nil {
		p.a.t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// post sends an unsigned request to the app API.
func (a *appEnv) post(path string, body, out any) int {
	a.t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", "https://"+a.d.AppAddr+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	return a.send(req, out)
}

func (a *appEnv) send(req *http.Request, out any) int {
	a.t.Helper()
	resp, err := a.app.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %d %s: %v", req.Method, req.URL.Path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// request is a signed request, made now (the daemon's clock) with a new
// nonce.
func (p *phone) request(method, target string, body any) *http.Request {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	nb := make([]byte, 16)
	rand.Read(nb)
	nonce := base64.RawURLEncoding.EncodeToString(nb)
	now := p.a.d.Clock.Now().Unix()
	req, _ := http.NewRequest(method, "https://"+p.a.d.AppAddr+target, bytes.NewReader(raw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(app.HeaderDevice, p.id)
	req.Header.Set(app.HeaderTime, strconv.FormatInt(now, 10))
	req.Header.Set(app.HeaderNonce, nonce)
	req.Header.Set(app.HeaderSignature, p.sign(app.RequestInput(method, target, raw, now, nonce, p.id)))
	return req
}

func (p *phone) do(method, target string, body, out any) int {
	p.a.t.Helper()
	return p.a.send(p.request(method, target, body), out)
}

// activate runs an activation for the user with the card's right code.
func (a *appEnv) activate(p *phone, user, password string, card issuedCard, name, replace string) (int, json.RawMessage) {
	a.t.Helper()
	var ch app.ActivationChallenge
	if code := a.post(app.PathActivationStart, app.ActivationStart{UserID: user}, &ch); code != 200 {
		a.t.Fatalf("activation/start: %d", code)
	}
	return a.complete(p, ch, password, card.code(ch.KeyNumber), name, replace)
}

func (a *appEnv) complete(p *phone, ch app.ActivationChallenge, password, cardCode, name, replace string) (int, json.RawMessage) {
	a.t.Helper()
	der, _ := x509.MarshalPKIXPublicKey(&p.key.PublicKey)
	var out json.RawMessage
	code := a.post(app.PathActivationComplete, app.ActivationComplete{ActivationID: ch.ActivationID, Password: password, CardCode: cardCode,
		PublicKey: base64.StdEncoding.EncodeToString(der), Proof: p.sign(app.ActivationProof(ch.ActivationID)), DeviceName: name,
		ReplaceDeviceID: replace}, &out)
	if code == 200 {
		var done app.Activated
		json.Unmarshal(out, &done)
		p.id, p.user = done.DeviceID, done.UserID
	}
	return code, out
}

func (a *appEnv) activated(user string) *phone {
	a.t.Helper()
	p := a.newPhone()
	if code, out := a.activate(p, user, "hemmeligt1", a.card, "Pixel 9", ""); code != 200 {
		a.t.Fatalf("activate: %d %s", code, out)
	}
	return p
}

func (p *phone) pending(wait int) []app.PendingOrder {
	p.a.t.Helper()
	var out app.Pending
	target := app.PathPending
	if wait > 0 {
		target += "?wait=" + strconv.Itoa(wait)
	}
	if code := p.do("GET", target, nil, &out); code != 200 {
		p.a.t.Fatalf("pending: %d", code)
	}
	return out.Orders
}

// approval is a signed decision on a pending order, as the phone saw it.
func (p *phone) approval(o app.PendingOrder, decision, uv string, change func(*app.Approval)) app.Approve {
	shown, _ := base64.StdEncoding.DecodeString(o.UserVisibleData)
	ap := app.Approval{OrderRef: o.OrderRef, Challenge: o.Challenge, UserVisibleData: shown, Decision: decision, UserVerification: uv}
	if o.Payment != nil {
		ap.AmountMinor, ap.Currency, ap.Payee = o.Payment.AmountMinor, o.Payment.Currency, o.Payment.Payee
	}
	if change != nil {
		change(&ap)
	}
	return app.Approve{OrderRef: o.OrderRef, Challenge: o.Challenge, Decision: decision, UserVerification: uv, Signature: p.sign(app.ApprovalMessage(ap))}
}

func (p *phone) approve(req app.Approve) (int, app.Decided) {
	p.a.t.Helper()
	var out app.Decided
	code := p.do("POST", app.PathApprove, req, &out)
	return code, out
}

func (a *appEnv) failures(user string) int {
	a.t.Helper()
	var u *store.User
	if err := a.d.Store().View(t0(), func(r store.Reader) (err error) { u, err = r.User(user); return err }); err != nil {
		a.t.Fatal(err)
	}
	return u.Failures
}

func (a *env) claims(assertion string) map[string]any {
	a.t.Helper()
	sig, err := jose.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		a.t.Fatal(err)
	}
	payload, err := sig.Verify(readCert(a.t, a.dev.IssuerCA).PublicKey.(*ecdsa.PublicKey))
	if err != nil {
		a.t.Fatalf("the assertion does not verify with the issuer key: %v", err)
	}
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	return claims
}

// NemID login in the app: activation with password and code card, the
// order in the pending list, a swipe, and an assertion that says how.
func TestAppLogin(t *testing.T) {
	a := startApp(t)
	p := a.activated("karen")
	o := a.startOrder("auth", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1", "userVisibleData": b64("Log in to Segl Bank")})
	if got := a.collect(o.OrderRef); got.HintCode != "outstandingTransaction" {
		t.Fatalf("before the phone looked: %+v", got)
	}
	list := p.pending(0)
	if len(list) != 1 || list[0].OrderRef != o.OrderRef || list[0].RelyingParty == "" || list[0].Kind != "auth" ||
		list[0].UserVisibleData != b64("Log in to Segl Bank") || list[0].Challenge == "" || list[0].HintCode != "userSign" {
		t.Fatalf("pending: %+v", list)
	}
	if got := a.collect(o.OrderRef); got.HintCode != "userSign" {
		t.Fatalf("once shown: %+v", got)
	}
	if code, d := p.approve(p.approval(list[0], "approve", "pin", nil)); code != 200 || !d.Accepted || d.Status != "complete" {
		t.Fatalf("approve: %d %+v", code, d)
	}
	got := a.collect(o.OrderRef)
	if got.Status != "complete" {
		t.Fatalf("collect: %+v", got)
	}
	claims := a.claims(got.CompletionData.Assertion)
	if claims["sub"] != "karen" || fmt.Sprint(claims["amr"]) != "[swk pin mfa]" {
		t.Fatalf("claims %v; want karen, [swk pin mfa]", claims)
	}
	if len(p.pending(0)) != 0 {
		t.Fatal("a completed order is still pending")
	}
	events := auditEvents(t, a.env)
	if !containsInOrder(events, "device.activated", "order.started", "factor.accepted", "assertion.issued") {
		t.Fatalf("audit: %v", events)
	}
}

// A payment approved in the app: the approval alone completes it (two
// factors, linked to amount and payee); one signed over another amount or
// payee counts as a failed factor; a rejection fails it.
func TestAppPayment(t *testing.T) {
	a := startApp(t)
	p := a.activated("karen")
	pay := func() string {
		var o struct{ OrderRef string }
		if code := a.call(a.rp, "POST", "/rp/v1/auth", map[string]any{"userId": "karen", "endUserIp": "192.0.2.1",
			"userVisibleData": b64("Pay Café Ørsted"), "payment": map[string]string{"amountMinor": "12995", "currency": "DKK", "payee": "Café Ørsted"}}, &o); code != 200 {
			t.Fatalf("start a payment: %d", code)
		}
		return o.OrderRef
	}
	ref := pay()
	list := p.pending(0)
	if len(list) != 1 || list[0].Payment == nil || *list[0].Payment != (app.Payment{AmountMinor: "12995", Currency: "DKK", Payee: "Café Ørsted"}) {
		t.Fatalf("pending: %+v", list)
	}
	for i, change := range []func(*app.Approval){
		func(ap *app.Approval) { ap.AmountMinor = "1299500" },
		func(ap *app.Approval) { ap.Payee = "Cafe Orsted" },
		func(ap *app.Approval) { ap.UserVisibleData = []byte("Pay someone else") },
	} {
		code, d := p.approve(p.approval(p.pending(0)[0], "approve", "pin", change))
		if code != 200 || d.Accepted || d.Status != "pending" {
			t.Fatalf("altered approval %d: %d %+v", i, code, d)
		}
		if n := a.failures("karen"); n != i+1 {
			t.Fatalf("after altered approval %d the user has %d failures", i, n)
		}
	}
	code, d := p.approve(p.approval(p.pending(0)[0], "approve", "pin", nil))
	if code != 200 || !d.Accepted || d.Status != "complete" {
		t.Fatalf("the right approval: %d %+v", code, d)
	}
	if n := a.failures("karen"); n != 0 {
		t.Fatalf("a completed payment leaves %d failures", n)
	}
	if amr := fmt.Sprint(a.claims(a.collect(ref).CompletionData.Assertion)["amr"]); amr != "[swk pin mfa]" {
		t.Fatalf("amr %s", amr)
	}

	ref = pay()
	code, d = p.approve(p.approval(p.pending(0)[0], "reject", "pin", nil))
	if code != 200 || !d.Accepted || d.Status != "failed" || d.HintCode != "userCancel" {
		t.Fatalf("reject: %d %+v", code, d)
	}
	if got := a.collect(ref); got.Status != "failed" || got.HintCode != "userCancel" {
		t.Fatalf("collect after reject: %+v", got)
	}
	if n := a.failures("karen"); n != 0 {
		t.Fatalf("a rejection counted %d failures", n)
	}
}

// A sign order approved in the app: the approval is the signature
// activation, and the CMS verifies with openssl.
func TestAppSign(t *testing.T) {
	a := startApp(t)
	p := a.activated("karen")
	doc := []byte("I, Karen, agree to the loan terms of 2026-12-02.\n")
	sum := sha256.Sum256(doc)
	o := a.startOrder("sign", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1", "userVisibleData": b64("Loan agreement"),
		"documentDigest": base64.StdEncoding.EncodeToString(sum[:])})
	list := p.pending(0)
	if len(list) != 1 || list[0].Kind != "sign" || list[0].DocumentDigest != fmt.Sprintf("%x", sum) {
		t.Fatalf("pending: %+v", list)
	}
	if code, d := p.approve(p.approval(list[0], "approve", "pin", nil)); code != 200 || d.Status != "complete" {
		t.Fatalf("approve: %d %+v", code, d)
	}
	got := a.collect(o.OrderRef)
	cms, _ := base64.StdEncoding.DecodeString(got.CompletionData.Signature)
	if err := opensslVerify(t, a.dev.IssuerCA, doc, cms); err != nil {
		t.Fatalf("openssl cms -verify: %v", err)
	}
	if err := opensslVerify(t, a.dev.IssuerCA, append(doc, '!'), cms); err == nil {
		t.Fatal("openssl accepted the signature over another document")
	}
}

// BankID's QR scanned by the app: the order without a user becomes the
// scanning user's; an old QR code and a second scan are refused.
func TestAppQR(t *testing.T) {
	a := startApp(t)
	p := a.activated("karen")
	a.createUser("lars", "hemmeligt2")
	lars := a.newPhone()
	if code, out := a.activate(lars, "lars", "hemmeligt2", a.issueCard("lars"), "iPhone", ""); code != 200 {
		t.Fatalf("activate lars: %d %s", code, out)
	}
	o := a.startOrder("auth", map[string]string{"endUserIp": "192.0.2.1"})
	qr := func() string {
		var q struct{ QRData string }
		if code := a.call(a.rp, "POST", "/rp/v1/qr", map[string]string{"orderRef": o.OrderRef}, &q); code != 200 {
			t.Fatalf("qr: %d", code)
		}
		return q.QRData
	}
	old := qr()
	a.d.Clock.Set(5 * time.Second)
	var e apiError
	if code := p.do("POST", app.PathScan, app.Scan{QRData: old}, &e); code != 400 || !strings.Contains(e.Details, "old") {
		t.Fatalf("a 5-second-old QR code: %d %+v", code, e)
	}
	var s app.Scanned
	if code := p.do("POST", app.PathScan, app.Scan{QRData: qr()}, &s); code != 200 || s.OrderRef != o.OrderRef {
		t.Fatalf("scan: %d %+v", code, s)
	}
	if code := lars.do("POST", app.PathScan, app.Scan{QRData: qr()}, &e); code != 400 {
		t.Fatalf("a second scan, by another user: %d %+v", code, e)
	}
	if code := p.do("POST", app.PathScan, app.Scan{QRData: qr()}, &e); code != 400 {
		t.Fatalf("a second scan, by the same device: %d %+v", code, e)
	}
	if len(lars.pending(0)) != 0 {
		t.Fatal("the order is in another user's list")
	}
	list := p.pending(0)
	if len(list) != 1 || list[0].OrderRef != o.OrderRef {
		t.Fatalf("pending after the scan: %+v", list)
	}
	if code, d := p.approve(p.approval(list[0], "approve", "pin", nil)); code != 200 || d.Status != "complete" {
		t.Fatalf("approve: %d %+v", code, d)
	}
	if sub := a.claims(a.collect(o.OrderRef).CompletionData.Assertion)["sub"]; sub != "karen" {
		t.Fatalf("sub %v; want the scanning user", sub)
	}

	// The same-device start: the autoStartToken binds as the QR does.
	o2 := a.startOrder("auth", map[string]string{"endUserIp": "192.0.2.1"})
	if code := lars.do("POST", app.PathScan, app.Scan{AutoStartToken: o2.AutoStartToken}, &s); code != 200 || s.OrderRef != o2.OrderRef {
		t.Fatalf("autoStartToken: %d %+v", code, s)
	}
	if code := p.do("POST", app.PathScan, app.Scan{AutoStartToken: o2.AutoStartToken}, &e); code != 400 {
		t.Fatalf("a second start with the token: %d", code)
	}
}

// A new phone replaces the old one; a fourth device needs a replacement;
// a wrong card code counts toward the block and ends the activation.
func TestAppReactivation(t *testing.T) {
	a := startApp(t)
	old := a.activated("karen")
	if code := old.do("GET", app.PathDevices, nil, nil); code != 200 {
		t.Fatalf("the old phone, before: %d", code)
	}
	next := a.newPhone()
	if code, out := a.activate(next, "karen", "hemmeligt1", a.card, "Pixel 10", old.id); code != 200 {
		t.Fatalf("reactivation: %d %s", code, out)
	}
	var e apiError
	if code := old.do("GET", app.PathDevices, nil, &e); code != 401 || !strings.Contains(e.Details, "revoked") {
		t.Fatalf("the replaced phone: %d %+v", code, e)
	}
	var ds app.Devices
	if code := next.do("GET", app.PathDevices, nil, &ds); code != 200 || len(ds.Devices) != 2 || ds.Devices[0].Revoked == nil || !ds.Devices[1].Current {
		t.Fatalf("devices: %d %+v", code, ds)
	}
	a.activated("karen")
	a.activated("karen")
	fourth := a.newPhone()
	code, out := a.activate(fourth, "karen", "hemmeligt1", a.card, "Tablet", "")
	var many app.TooManyDevices
	json.Unmarshal(out, &many)
	if code != 409 || many.ErrorCode != "tooManyDevices" || len(many.Devices) != 3 {
		t.Fatalf("a fourth device: %d %s", code, out)
	}
	if n := a.failures("karen"); n != 0 {
		t.Fatalf("a refusal at the limit counted %d failures", n)
	}

	// A wrong card code: counted, and the activation is over.
	var ch app.ActivationChallenge
	a.post(app.PathActivationStart, app.ActivationStart{UserID: "karen"}, &ch)
	wrong := fmt.Sprintf("%06d", (mustAtoi(t, a.card.code(ch.KeyNumber))+1)%1000000)
	if code, out := a.complete(fourth, ch, "hemmeligt1", wrong, "Tablet", ds.Devices[1].ID); code != 400 || !strings.Contains(string(out), "activationFailed") {
		t.Fatalf("a wrong card code: %d %s", code, out)
	}
	if n := a.failures("karen"); n != 1 {
		t.Fatalf("a wrong card code counted %d failures; want 1", n)
	}
	if code, out := a.complete(fourth, ch, "hemmeligt1", a.card.code(ch.KeyNumber), "Tablet", ds.Devices[1].ID); code != 400 {
		t.Fatalf("the failed activation again, with the right code: %d %s", code, out)
	}
	// Five wrong ones across activations block the user.
	for range 4 {
		a.post(app.PathActivationStart, app.ActivationStart{UserID: "karen"}, &ch)
		a.complete(fourth, ch, "wrong password", a.card.code(ch.KeyNumber), "Tablet", "")
	}
	var blocked apiError
	if code := a.post(app.PathActivationStart, app.ActivationStart{UserID: "karen"}, &blocked); code != 400 || !strings.Contains(blocked.Details, "blocked") {
		t.Fatalf("after five failures: %d %+v", code, blocked)
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Captured, re-targeted, altered, stale and revoked requests are refused;
// a captured approval counts nothing.
func TestAppReplays(t *testing.T) {
	a := startApp(t)
	p := a.activated("karen")
	o := a.startOrder("auth", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1"})
	item := p.pending(0)[0]
	approval := p.approval(item, "approve", "pin", nil)
	captured := p.request("POST", app.PathApprove, approval)
	body, _ := io.ReadAll(captured.Body)
	again := func(method, target string, b []byte, change func(http.Header)) int {
		req, _ := http.NewRequest(method, "https://"+a.d.AppAddr+target, bytes.NewReader(b))
		req.Header = captured.Header.Clone()
		if change != nil {
			change(req.Header)
		}
		var e apiError
		code := a.send(req, &e)
		if code == 401 && e.ErrorCode != "unauthorized" {
			t.Errorf("401 with %+v", e)
		}
		return code
	}
	// Altered body, another path: refused before the nonce is spent.
	if code := again("POST", app.PathApprove, bytes.Replace(body, []byte(`"pin"`), []byte(`"biometric"`), 1), nil); code != 401 {
		t.Fatalf("an altered body: %d", code)
	}
	if code := again("POST", app.PathScan, body, nil); code != 401 {
		t.Fatalf("re-targeted to another path: %d", code)
	}
	if code := again("POST", app.PathApprove, body, func(h http.Header) { h.Set(app.HeaderTime, strconv.FormatInt(a.d.Clock.Now().Unix()-61, 10)) }); code != 401 {
		t.Fatalf("another time: %d", code)
	}
	if code := again("POST", app.PathApprove, body, nil); code != 200 {
		t.Fatalf("the captured request, first: %d", code)
	}
	if got := a.collect(o.OrderRef); got.Status != "complete" {
		t.Fatalf("%+v", got)
	}
	if code := again("POST", app.PathApprove, body, nil); code != 401 {
		t.Fatalf("the captured request replayed: %d", code)
	}
	// The captured approval, in a new signed request, for a new order.
	o2 := a.startOrder("auth", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1"})
	p.pending(0)
	replay := approval
	replay.OrderRef = o2.OrderRef
	if code, d := p.approve(replay); code != 200 || d.Accepted || d.Status != "pending" {
		t.Fatalf("an approval of another order replayed: %d %+v", code, d)
	}
	if code, d := p.approve(approval); code != 200 || d.Accepted || d.Status != "complete" {
		t.Fatalf("the approval replayed on its own order: %d %+v", code, d)
	}
	if n := a.failures("karen"); n != 0 {
		t.Fatalf("replays counted %d failures", n)
	}
	// Stale: 61 s behind the server.
	a.d.Clock.Advance(61 * time.Second)
	stale := p.request("GET", app.PathDevices, nil)
	a.d.Clock.Advance(-61 * time.Second)
	if code := a.send(stale, nil); code != 401 {
		t.Fatalf("a request from 61 s ago: %d", code)
	}
	// Revoked by an officer: every request of the device gets 401.
	if code := a.call(a.off, "POST", "/admin/v1/devices/"+p.id+"/revoke", nil, nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	var e apiError
	if code := p.do("GET", app.PathPending, nil, &e); code != 401 {
		t.Fatalf("a revoked device: %d", code)
	}
	if code, _ := p.approve(p.approval(item, "approve", "pin", nil)); code != 401 {
		t.Fatalf("an approval from a revoked device: %d", code)
	}
}

// The right approval 100 times at the same instant, from one device and
// from two: exactly one acceptance, nothing counted.
func TestAppConcurrentApprovals(t *testing.T) {
	a := startApp(t)
	first := a.activated("karen")
	second := a.activated("karen")
	for round, devices := range [][]*phone{{first}, {first, second}} {
		o := a.startOrder("auth", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1"})
		var reqs []*http.Request
		for i := range 100 {
			p := devices[i%len(devices)]
			item := p.pending(0)[0]
			reqs = append(reqs, p.request("POST", app.PathApprove, p.approval(item, "approve", "pin", nil)))
		}
		results := a.race(reqs)
		accepted := 0
		for _, r := range results {
			var d app.Decided
			if r.code != 200 || json.Unmarshal(r.body, &d) != nil {
				t.Fatalf("round %d: %d %s", round, r.code, r.body)
			}
			if d.Accepted {
				accepted++
			}
		}
		if accepted != 1 {
			t.Fatalf("round %d: %d approvals accepted; want exactly 1", round, accepted)
		}
		if got := a.collect(o.OrderRef); got.Status != "complete" {
			t.Fatalf("round %d: %+v", round, got)
		}
		if n := a.failures("karen"); n != 0 {
			t.Fatalf("round %d: %d failures counted", round, n)
		}
	}
}

// The right activation 100 times at the same instant: one device.
func TestAppConcurrentActivation(t *testing.T) {
	a := startApp(t)
	var ch app.ActivationChallenge
	a.post(app.PathActivationStart, app.ActivationStart{UserID: "karen"}, &ch)
	var reqs []*http.Request
	for range 100 {
		p := a.newPhone()
		der, _ := x509.MarshalPKIXPublicKey(&p.key.PublicKey)
		j, _ := json.Marshal(app.ActivationComplete{ActivationID: ch.ActivationID, Password: "hemmeligt1", CardCode: a.card.code(ch.KeyNumber),
			PublicKey: base64.StdEncoding.EncodeToString(der), Proof: p.sign(app.ActivationProof(ch.ActivationID)), DeviceName: "Pixel"})
		req, _ := http.NewRequest("POST", "https://"+a.d.AppAddr+app.PathActivationComplete, bytes.NewReader(j))
		req.Header.Set("Content-Type", "application/json")
		reqs = append(reqs, req)
	}
	ok := 0
	for _, r := range a.race(reqs) {
		if r.code == 200 {
			ok++
		}
	}
	var ds []*store.Device
	a.d.Store().View(t0(), func(r store.Reader) (err error) { ds, err = r.Devices("karen"); return err })
	if ok != 1 || len(ds) != 1 {
		t.Fatalf("%d activations succeeded, %d devices; want 1 and 1", ok, len(ds))
	}
	if n := a.failures("karen"); n != 0 {
		t.Fatalf("%d failures counted", n)
	}
}

// The long poll answers as soon as an order for the user starts.
func TestAppLongPoll(t *testing.T) {
	a := startApp(t)
	p := a.activated("karen")
	got := make(chan []app.PendingOrder, 1)
	go func() {
		var out app.Pending
		resp, err := a.app.Do(p.request("GET", app.PathPending+"?wait=25", nil))
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
		}
		got <- out.Orders
	}()
	time.Sleep(200 * time.Millisecond) // the poll is waiting (if not, it finds the order at once: the same answer)
	o := a.startOrder("auth", map[string]string{"userId": "karen", "endUserIp": "192.0.2.1"})
	select {
	case list := <-got:
		if len(list) != 1 || list[0].OrderRef != o.OrderRef {
			t.Fatalf("the long poll answered %+v", list)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll did not answer when the order started")
	}
	var e apiError
	if code := p.do("GET", app.PathPending+"?wait=26", nil, &e); code != 400 {
		t.Fatalf("wait=26: %d", code)
	}
}

type raced struct {
	code int
	body []byte
}

// race sends every request at the same instant, each on a connection of
// its own opened before.
func (a *appEnv) race(reqs []*http.Request) []raced {
	a.t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(a.dev.TLSCA)
	if err != nil {
		a.t.Fatal(err)
	}
	pool.AppendCertsFromPEM(ca)
	clients := make([]*http.Client, len(reqs))
	var warm sync.WaitGroup
	for i := range clients {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}, MaxIdleConnsPerHost: 1}
		a.t.Cleanup(tr.CloseIdleConnections)
		clients[i] = &http.Client{Transport: tr, Timeout: 60 * time.Second}
		warm.Go(func() {
			if resp, err := clients[i].Get("https://" + a.d.AppAddr + "/app/v1/openapi.yaml"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	warm.Wait()
	out := make([]raced, len(reqs))
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	for i, req := range reqs {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			resp, err := clients[i].Do(req)
			if err != nil {
				out[i] = raced{code: -1, body: []byte(err.Error())}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out[i] = raced{resp.StatusCode, b}
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()
	return out
}

func t0() context.Context { return context.Background() }

// opensslVerify runs openssl cms -verify over doc and a detached DER CMS.
func opensslVerify(t *testing.T, caFile string, doc, cms []byte) error {
	t.Helper()
	dir := t.TempDir()
	docPath, sigPath := filepath.Join(dir, "doc"), filepath.Join(dir, "sig.der")
	os.WriteFile(docPath, doc, 0o600)
	os.WriteFile(sigPath, cms, 0o600)
	out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-content", docPath, "-inform", "DER", "-in", sigPath,
		"-CAfile", caFile, "-out", os.DevNull).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// A user with a mobile number is told of every device activated for
// their login.
func TestAppActivationNotice(t *testing.T) {
	a := startAppWith(t, daemontest.Options{SMS: true})
	if code := a.call(a.off, "PUT", "/admin/v1/users/karen/phone", map[string]string{"phone": "+4512345678"}, nil); code != 200 {
		t.Fatalf("phone: %d", code)
	}
	a.activated("karen")
	sent := a.outbox()
	if len(sent) != 1 || sent[0].To != "+4512345678" ||
		sent[0].Text != `A new device "Pixel 9" was activated for your login. Not you? Call your bank.` {
		t.Fatalf("outbox: %+v", sent)
	}
	// A name too long for one SMS is cut short, and the notice still goes.
	for _, name := range []string{strings.Repeat("中", 64), strings.Repeat("Ø", 64) + "中", strings.Repeat("x", 64)} {
		text := daemon.DeviceNotice(name)
		if _, err := sms.Fit(text); err != nil || !strings.HasSuffix(text, "Call your bank.") {
			t.Errorf("notice for %q: %q, %v", name, text, err)
		}
	}
}

// Malformed activations and signed requests: each refused with a reason,
// nothing counted, no device made.
func TestAppRefusals(t *testing.T) {
	a := startApp(t)
	var ch app.ActivationChallenge
	if code := a.post(app.PathActivationStart, app.ActivationStart{UserID: "karen"}, &ch); code != 200 {
		t.Fatal(code)
	}
	p := a.newPhone()
	der, _ := x509.MarshalPKIXPublicKey(&p.key.PublicKey)
	good := app.ActivationComplete{ActivationID: ch.ActivationID, Password: "hemmeligt1", CardCode: a.card.code(ch.KeyNumber),
		PublicKey: base64.StdEncoding.EncodeToString(der), Proof: p.sign(app.ActivationProof(ch.ActivationID)), DeviceName: "Pixel"}
	other := a.newPhone()
	for name, c := range map[string]struct {
		change func(*app.ActivationComplete)
		want   string
	}{
		"proof by another key":  {func(r *app.ActivationComplete) { r.Proof = other.sign(app.ActivationProof(ch.ActivationID)) }, "proof"},
		"proof over another id": {func(r *app.ActivationComplete) { r.Proof = p.sign([]byte(ch.ActivationID)) }, "proof"},
		"not a key":             {func(r *app.ActivationComplete) { r.PublicKey = "bm90IGEga2V5" }, "publicKey"},
		"bidi in the name":      {func(r *app.ActivationComplete) { r.DeviceName = "Pixel\u202e9" }, "deviceName"},
		"newline in the name":   {func(r *app.ActivationComplete) { r.DeviceName = "Pixel\n9" }, "deviceName"},
		"a long name":           {func(r *app.ActivationComplete) { r.DeviceName = strings.Repeat("x", 65) }, "deviceName"},
		"an odd key storage":    {func(r *app.ActivationComplete) { r.KeyStorage = "cloud" }, "keyStorage"},
		"another replacement":   {func(r *app.ActivationComplete) { r.ReplaceDeviceID = "00000000-0000-4000-8000-000000000000" }, "replaceDeviceId"},
	} {
		r := good
		c.change(&r)
		var e apiError
		if code := a.post(app.PathActivationComplete, r, &e); code != 400 || !strings.Contains(e.Details, c.want) {
			t.Errorf("%s: %d %+v; want 400 naming %s", name, code, e, c.want)
		}
	}
	// Duplicate and miscased members, and an oversized body.
	for name, body := range map[string]string{
		"duplicate":  `{"userId":"nobody","userId":"karen"}`,
		"miscased":   `{"USERID":"karen"}`,
		"oversized":  `{"userId":"` + strings.Repeat("a", 20<<10) + `"}`,
		"not json":   `userId=karen`,
		"two values": `{"userId":"karen"}{}`,
	} {
		req, _ := http.NewRequest("POST", "https://"+a.d.AppAddr+app.PathActivationStart, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if code := a.send(req, nil); code != 400 {
			t.Errorf("%s: %d", name, code)
		}
	}
	if n := a.failures("karen"); n != 0 {
		t.Fatalf("refusals counted %d failures", n)
	}
	// The good one still works: nothing above spent the activation.
	var done app.Activated
	if code := a.post(app.PathActivationComplete, good, &done); code != 200 {
		t.Fatalf("the good activation after the refusals: %d", code)
	}
	p.id = done.DeviceID
	if code := p.do("GET", app.PathDevices, nil, nil); code != 200 {
		t.Fatalf("the device, signing right: %d", code)
	}
	for name, h := range map[string]func(http.Header){
		"no signature":    func(h http.Header) { h.Del(app.HeaderSignature) },
		"short nonce":     func(h http.Header) { h.Set(app.HeaderNonce, "abc") },
		"time with sign":  func(h http.Header) { h.Set(app.HeaderTime, "+"+h.Get(app.HeaderTime)) },
		"unknown device":  func(h http.Header) { h.Set(app.HeaderDevice, "00000000-0000-4000-8000-000000000000") },
		"not a device id": func(h http.Header) { h.Set(app.HeaderDevice, "../../etc") },
	} {
		req := p.request("GET", app.PathDevices, nil)
		h(req.Header)
		var e apiError
		if code := a.send(req, &e); code != 401 || e.Details == "" {
			t.Errorf("%s: %d %+v", name, code, e)
		}
	}
}

// Step-up without a document verifier: an order that would need a passport
// check is refused at its start, saying why; one that does not is not
// held up. (With a verifier: TestPassportStepUp.)
func TestStepUpWithoutAVerifier(t *testing.T) {
	a := startAppWith(t, daemontest.Options{Config: func(c *config.Config) {
		c.Orders.DocumentCheckFrom = map[string]int64{"DKK": 1000000}
	}})
	p := a.activated("karen")
	pay := func(amount string) map[string]any {
		return map[string]any{"userId": "karen", "endUserIp": "192.0.2.1",
			"payment": map[string]string{"amountMinor": amount, "currency": "DKK", "payee": "Fakta"}}
	}
	for name, body := range map[string]map[string]any{
		"documentCheck asked":  {"userId": "karen", "endUserIp": "192.0.2.1", "requirement": map[string]bool{"documentCheck": true}},
		"DKK 10,000.00, at it": pay("1000000"),
	} {
		var e apiError
		if code := a.call(a.rp, "POST", "/rp/v1/auth", body, &e); code != 400 || !strings.Contains(e.Details, "documents.verifier") {
			t.Errorf("%s: %d %+v", name, code, e)
		}
	}
	for name, body := range map[string]map[string]any{
		"DKK 9,999.99, below it": pay("999999"),
		"documentCheck false":    {"userId": "karen", "endUserIp": "192.0.2.1", "requirement": map[string]bool{"documentCheck": false}},
	} {
		var o struct{ OrderRef string }
		if code := a.call(a.rp, "POST", "/rp/v1/auth", body, &o); code != 200 {
			t.Fatalf("%s: start %d", name, code)
		}
		if code, d := p.approve(p.approval(p.pending(0)[0], "approve", "pin", nil)); code != 200 || d.Status != "complete" {
			t.Fatalf("%s: %d %+v", name, code, d)
		}
	}
}
