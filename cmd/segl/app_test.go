package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/segl/segl/plugins/docverify/icao9303/icaotest"
	"github.com/segl/segl/signer/app"
	appclient "github.com/segl/segl/signer/app/client"
	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon/daemontest"
)

// The reference app plays the phone through segl app, against a real
// segld over real sockets: the flows of the code app as a user and a
// relying party see them.

type appWorld struct {
	t    *testing.T
	d    *daemontest.Daemon
	dir  string
	rp   *http.Client
	card map[string]string // key number → code, read from the card's PDF
	pin  string            // the app PIN's file
	pw   string            // the password's file
}

func newAppWorld(t *testing.T) *appWorld { return newAppWorldWith(t, daemontest.Options{}) }

func newAppWorldWith(t *testing.T, opt daemontest.Options) *appWorld {
	d := daemontest.StartWith(t, opt)
	useDaemon(t, d)
	t.Setenv("SEGL_APP_ADDR", d.AppAddr)
	t.Setenv("SEGL_APP_PIN_FILE", "")
	// Every command unlocks the key: argon2id at its real cost takes about
	// a second under -race. The files record what they were sealed with.
	kdf := appclient.DefaultKDF
	appclient.DefaultKDF = appclient.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}
	t.Cleanup(func() { appclient.DefaultKDF = kdf })
	w := &appWorld{t: t, d: d, dir: t.TempDir()}
	w.pw, w.pin = filepath.Join(w.dir, "pw"), filepath.Join(w.dir, "pin")
	os.WriteFile(w.pw, []byte("hemmeligt1\n"), 0o600)
	os.WriteFile(w.pin, []byte("2468\n"), 0o600)
	mustSegl(t, "users", "create", "--id", "karen", "--name", "Karen Blixen", "--password-file", w.pw)
	pdf := filepath.Join(w.dir, "card.pdf")
	mustSegl(t, "codecards", "issue", "--user", "karen", "--out", pdf)
	text, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	w.card = map[string]string{}
	for _, p := range regexp.MustCompile(`\b([0-9]{4}) ([0-9]{6})\b`).FindAllStringSubmatch(string(text), -1) {
		w.card[p[1]] = p[2]
	}
	if len(w.card) != 148 {
		t.Fatalf("%d codes read from the card", len(w.card))
	}
	cert, err := tls.LoadX509KeyPair(d.Dev.RPCert, d.Dev.RPKey)
	if err != nil {
		t.Fatal(err)
	}
	w.rp = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.pool(), Certificates: []tls.Certificate{cert}}}}
	return w
}

func (w *appWorld) pool() *x509.CertPool {
	b, err := os.ReadFile(w.d.Dev.TLSCA)
	if err != nil {
		w.t.Fatal(err)
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(b)
	return p
}

// activate is segl app activate, both steps, with the card's right code
// unless code is given; it returns the second step's output and exit.
func (w *appWorld) activate(state, name string, extra ...string) (string, string, int) {
	w.t.Helper()
	out := mustSegl(w.t, "app", "activate", "--user", "karen", "--state", state)
	m := regexp.MustCompile(`^activation (\S+): card ([0-9]{10}), key number ([0-9]{4})\n$`).FindStringSubmatch(out)
	if m == nil {
		w.t.Fatalf("activate --user: %q", out)
	}
	args := []string{"app", "activate", "--activation", m[1], "--card-code", w.card[m[3]], "--password-file", w.pw,
		"--pin-file", w.pin, "--device-name", name, "--state", state}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i] == "--card-code" {
			args[5] = extra[i+1]
			continue
		}
		args = append(args, extra[i], extra[i+1])
	}
	return segl(w.t, args...)
}

func (w *appWorld) rpCall(path string, body any, out any) int {
	w.t.Helper()
	j, _ := json.Marshal(body)
	resp, err := w.rp.Post(w.d.Addr+path, "application/json", bytes.NewReader(j))
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(b, out)
	}
	return resp.StatusCode
}

type rpCollect struct {
	Status         string
	HintCode       string
	CompletionData struct {
		Assertion string
		Signature string
	}
}

func (w *appWorld) collect(ref string) rpCollect {
	var c rpCollect
	w.rpCall("/rp/v1/collect", map[string]string{"orderRef": ref}, &c)
	return c
}

func (w *appWorld) start(kind string, body map[string]any) string {
	w.t.Helper()
	var o struct{ OrderRef string }
	if code := w.rpCall("/rp/v1/"+kind, body, &o); code != 200 {
		w.t.Fatalf("start %s: %d", kind, code)
	}
	return o.OrderRef
}

func (w *appWorld) claims(assertion string) map[string]any {
	w.t.Helper()
	b, _ := os.ReadFile(w.d.Dev.IssuerCA)
	block, _ := pem.Decode(b)
	issuer, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		w.t.Fatal(err)
	}
	sig, err := jose.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		w.t.Fatal(err)
	}
	payload, err := sig.Verify(issuer.PublicKey.(*ecdsa.PublicKey))
	if err != nil {
		w.t.Fatalf("the assertion does not verify: %v", err)
	}
	var c map[string]any
	json.Unmarshal(payload, &c)
	return c
}

func b64s(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAppCommandsEndToEnd(t *testing.T) {
	w := newAppWorld(t)
	phone := filepath.Join(w.dir, "phone.json")
	out, errOut, code := w.activate(phone, "Pixel 9")
	if code != 0 || !strings.Contains(out, "activated for karen") {
		t.Fatalf("activate: %d %s %s", code, out, errOut)
	}
	if fi, err := os.Stat(phone); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	if raw, _ := os.ReadFile(phone); bytes.Contains(raw, []byte("2468")) || bytes.Contains(raw, []byte("hemmeligt1")) {
		t.Fatal("the state file holds the PIN or the password")
	}

	// NemID login: the order in the app, a swipe, an assertion.
	ref := w.start("auth", map[string]any{"userId": "karen", "endUserIp": "192.0.2.1", "userVisibleData": b64s("Log in to Segl Bank")})
	out = mustSegl(t, "app", "pending", "--state", phone, "--pin-file", w.pin)
	if !strings.Contains(out, ref) || !strings.Contains(out, `"Log in to Segl Bank"`) {
		t.Fatalf("pending: %s", out)
	}
	out = mustSegl(t, "app", "approve", "--order", ref, "--state", phone, "--pin-file", w.pin)
	if !strings.Contains(out, "complete") {
		t.Fatalf("approve: %s", out)
	}
	c := w.collect(ref)
	claims := w.claims(c.CompletionData.Assertion)
	if c.Status != "complete" || claims["sub"] != "karen" || fmt.Sprint(claims["amr"]) != "[swk pin mfa]" {
		t.Fatalf("collect %+v, claims %v", c, claims)
	}
	wrongPIN := filepath.Join(w.dir, "wrongpin")
	os.WriteFile(wrongPIN, []byte("1357\n"), 0o600)
	if _, errOut, code := segl(t, "app", "pending", "--state", phone, "--pin-file", wrongPIN); code == 0 || !strings.Contains(errOut, "PIN") {
		t.Fatalf("a wrong PIN: %d %s", code, errOut)
	}

	// A payment: the approval alone completes it; a rejection fails the next.
	pay := map[string]any{"userId": "karen", "endUserIp": "192.0.2.1", "userVisibleData": b64s("Pay Café Ørsted"),
		"payment": map[string]string{"amountMinor": "12995", "currency": "DKK", "payee": "Café Ørsted"}}
	ref = w.start("auth", pay)
	var pending app.Pending
	json.Unmarshal([]byte(mustSegl(t, "app", "pending", "--json", "--state", phone, "--pin-file", w.pin)), &pending)
	if len(pending.Orders) != 1 || pending.Orders[0].Payment == nil || pending.Orders[0].Payment.Payee != "Café Ørsted" {
		t.Fatalf("pending --json: %+v", pending)
	}
	mustSegl(t, "app", "approve", "--order", ref, "--state", phone, "--pin-file", w.pin)
	if c := w.collect(ref); c.Status != "complete" {
		t.Fatalf("payment: %+v", c)
	}
	ref = w.start("auth", pay)
	mustSegl(t, "app", "reject", "--order", ref, "--state", phone, "--pin-file", w.pin)
	if c := w.collect(ref); c.Status != "failed" || c.HintCode != "userCancel" {
		t.Fatalf("rejected: %+v", c)
	}

	// A sign order: the CMS verifies with openssl.
	doc := []byte("I, Karen, agree.\n")
	sum := sha256.Sum256(doc)
	ref = w.start("sign", map[string]any{"userId": "karen", "endUserIp": "192.0.2.1", "userVisibleData": b64s("Agreement"),
		"documentDigest": base64.StdEncoding.EncodeToString(sum[:])})
	mustSegl(t, "app", "approve", "--order", ref, "--state", phone, "--pin-file", w.pin)
	cms, _ := base64.StdEncoding.DecodeString(w.collect(ref).CompletionData.Signature)
	docPath, sigPath := filepath.Join(w.dir, "doc"), filepath.Join(w.dir, "doc.p7s")
	os.WriteFile(docPath, doc, 0o600)
	os.WriteFile(sigPath, cms, 0o600)
	if out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-content", docPath, "-inform", "DER", "-in", sigPath,
		"-CAfile", w.d.Dev.IssuerCA, "-out", os.DevNull).CombinedOutput(); err != nil {
		t.Fatalf("openssl cms -verify: %v %s", err, out)
	}

	// BankID QR: an order without a user, scanned; an old QR and a second
	// scan are refused.
	ref = w.start("auth", map[string]any{"endUserIp": "192.0.2.1"})
	qr := func() string {
		var q struct{ QRData string }
		w.rpCall("/rp/v1/qr", map[string]string{"orderRef": ref}, &q)
		return q.QRData
	}
	old := qr()
	w.d.Clock.Set(5 * time.Second)
	if _, errOut, code := segl(t, "app", "scan", "--qr", old, "--state", phone, "--pin-file", w.pin); code == 0 || !strings.Contains(errOut, "old") {
		t.Fatalf("a 5-second-old QR: %d %s", code, errOut)
	}
	mustSegl(t, "app", "scan", "--qr", qr(), "--state", phone, "--pin-file", w.pin)
	if _, errOut, code := segl(t, "app", "scan", "--qr", qr(), "--state", phone, "--pin-file", w.pin); code == 0 || !strings.Contains(errOut, "taken") {
		t.Fatalf("a second scan: %d %s", code, errOut)
	}
	w.d.Clock.Set(0)
	mustSegl(t, "app", "approve", "--order", ref, "--state", phone, "--pin-file", w.pin)
	if sub := w.claims(w.collect(ref).CompletionData.Assertion)["sub"]; sub != "karen" {
		t.Fatalf("sub %v", sub)
	}

	// A captured signed request, sent again: 401.
	st, _ := appclient.Load(phone)
	dev, err := st.Open([]byte("2468"))
	if err != nil {
		t.Fatal(err)
	}
	cl := appclient.New(w.d.AppAddr, w.pool())
	req, _ := cl.Signed(t.Context(), dev, "GET", app.PathDevices, nil)
	for i, want := range []int{200, 401} {
		r := req.Clone(t.Context())
		resp, err := cl.HTTP.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("the captured request, time %d: %d; want %d", i+1, resp.StatusCode, want)
		}
	}

	// Reactivation on a new phone: the old state is refused at once.
	id := regexp.MustCompile(`[0-9a-f-]{36}`).FindString(mustSegl(t, "app", "devices", "--state", phone, "--pin-file", w.pin))
	newPhone := filepath.Join(w.dir, "new-phone.json")
	if out, errOut, code := w.activate(newPhone, "Pixel 10", "--replace", id); code != 0 {
		t.Fatalf("reactivation: %s %s", out, errOut)
	}
	if _, errOut, code := segl(t, "app", "pending", "--state", phone, "--pin-file", w.pin); code == 0 || !strings.Contains(errOut, "401") {
		t.Fatalf("the replaced phone: %d %s", code, errOut)
	}
	// Two more, then a fourth is refused without --replace, listing them.
	w.activate(filepath.Join(w.dir, "tablet.json"), "Tablet")
	w.activate(filepath.Join(w.dir, "watch.json"), "Watch")
	if _, errOut, code := w.activate(filepath.Join(w.dir, "fourth.json"), "Fourth"); code == 0 || !strings.Contains(errOut, "tooManyDevices") ||
		!strings.Contains(errOut, "Tablet") {
		t.Fatalf("a fourth device: %d %s", code, errOut)
	}
	// A wrong card code counts toward the block.
	if _, errOut, code := w.activate(filepath.Join(w.dir, "fourth.json"), "Fourth", "--card-code", "000000", "--replace", id); code == 0 ||
		!strings.Contains(errOut, "activationFailed") {
		t.Fatalf("a wrong card code: %d %s", code, errOut)
	}
	if out := mustSegl(t, "users", "show", "--id", "karen"); !regexp.MustCompile(`failures\s*:?\s*1\b`).MatchString(out) {
		t.Fatalf("users show after a wrong card code:\n%s", out)
	}
	// The officer's view, and revocation.
	out = mustSegl(t, "devices", "list", "--user", "karen")
	if strings.Count(out, "karen") != 4 || !strings.Contains(out, "revoked") {
		t.Fatalf("devices list:\n%s", out)
	}
	tablet, _ := appclient.Load(filepath.Join(w.dir, "tablet.json"))
	mustSegl(t, "devices", "revoke", "--id", tablet.DeviceID)
	if _, errOut, code := segl(t, "app", "pending", "--state", filepath.Join(w.dir, "tablet.json"), "--pin-file", w.pin); code == 0 || !strings.Contains(errOut, "revoked") {
		t.Fatalf("a revoked device: %d %s", code, errOut)
	}
}

// segl app document plays a test passport's chip for a payment that
// waits for a passport check, through the real verifier plugin.
func TestAppDocumentCommand(t *testing.T) {
	passport := icaotest.New(t, icaotest.Options{Signer: "rsa", Surname: "BLIXEN", GivenNames: "KAREN", Nationality: "DNK",
		Birth: time.Date(1985, 4, 17, 0, 0, 0, 0, time.UTC)})
	dump := filepath.Join(t.TempDir(), "dump")
	passport.WriteDump(dump)
	w := newAppWorldWith(t, daemontest.Options{Adapters: []daemontest.Adapter{daemontest.Verifier("icao", filepath.Join(dump, "csca.der"))},
		Config: func(c *config.Config) { c.Orders.DocumentCheckFrom = map[string]int64{"DKK": 1000000} }})
	mustSegl(t, "users", "identity", "set", "--id", "karen", "--surname", "Blixen", "--given-names", "Karen", "--date-of-birth", "1985-04-17",
		"--nationality", "DNK")
	phone := filepath.Join(w.dir, "phone.json")
	if _, errOut, code := w.activate(phone, "Pixel 9"); code != 0 {
		t.Fatal(errOut)
	}
	ref := w.start("auth", map[string]any{"userId": "karen", "endUserIp": "192.0.2.1",
		"payment": map[string]string{"amountMinor": "2500000", "currency": "DKK", "payee": "Bilhuset"}})
	if out := mustSegl(t, "app", "approve", "--order", ref, "--state", phone, "--pin-file", w.pin); !strings.Contains(out, "documentCheckRequired") {
		t.Fatalf("approve: %s", out)
	}
	out := mustSegl(t, "app", "document", "--order", ref, "--dir", dump, "--aa-key", filepath.Join(dump, "aa-key.pem"), "--state", phone, "--pin-file", w.pin)
	if !strings.Contains(out, "complete") {
		t.Fatalf("document: %s", out)
	}
	if c := w.collect(ref); c.Status != "complete" {
		t.Fatalf("collect: %+v", c)
	}
}
