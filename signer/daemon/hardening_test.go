package daemon_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon/daemontest"
)

func wantInvalid(t *testing.T, code int, resp apiError, text string) {
	t.Helper()
	if code != 400 || resp.ErrorCode != "invalidParameters" || !strings.Contains(resp.Details, text) {
		t.Fatalf("%d %+v, want 400 invalidParameters with %q", code, resp, text)
	}
}

// Every endpoint with a body reads it as openapi.yaml describes it: a
// member given twice, or in another case, is refused, not resolved.
func TestStrictJSONOnEveryEndpoint(t *testing.T) {
	e := start(t)
	e.createUser("alice", "hemmeligt1")
	o := e.startOrder("auth", map[string]string{"userId": "alice", "endUserIp": "192.0.2.1"})
	ref := `"` + o.OrderRef + `"`
	for _, c := range []struct {
		client       *http.Client
		method, path string
		body         string
	}{
		{e.rp, "POST", "/rp/v1/auth", `{"userId":"nobody","userId":"alice","endUserIp":"192.0.2.1"}`},
		{e.rp, "POST", "/rp/v1/sign", `{"userId":"alice","endUserIp":"192.0.2.1","endUserIp":"192.0.2.2"}`},
		{e.rp, "POST", "/rp/v1/collect", `{"orderRef":` + ref + `,"orderRef":` + ref + `}`},
		{e.rp, "POST", "/rp/v1/cancel", `{"orderRef":` + ref + `,"orderRef":` + ref + `}`},
		{e.rp, "POST", "/rp/v1/factor", `{"orderRef":` + ref + `,"type":"password","value":"x","value":"hemmeligt1"}`},
		{e.rp, "POST", "/rp/v1/qr", `{"orderRef":` + ref + `,"format":"png","format":""}`},
		{e.rp, "POST", "/rp/v1/qr/verify", `{"qrData":"a","qrData":"b"}`},
		{e.rp, "POST", "/rp/v1/challenge", `{"orderRef":` + ref + `,"type":"codecard","type":"dlcode"}`},
		{e.off, "POST", "/admin/v1/users", `{"id":"bob","name":"Bob","name":"Robert"}`},
		{e.off, "PUT", "/admin/v1/users/alice/password", `{"password":"a long one 1","password":"a long one 2"}`},
		{e.off, "POST", "/admin/v1/rps", `{"id":"x","id":"y","name":"X","certificate":""}`},
		{e.off, "POST", "/admin/v1/codecards", `{"userId":"alice","userId":"bob"}`},
		{e.off, "POST", "/admin/v1/tokens", `{"file":"AA==","file":"AA=="}`},
		{e.off, "POST", "/admin/v1/tokens/HW1", `{"action":"delete","action":"unblock"}`},
	} {
		var resp apiError
		wantInvalid(t, e.call(c.client, c.method, c.path, c.body, &resp), resp, "given twice")
	}
	var resp apiError
	code := e.call(e.rp, "POST", "/rp/v1/auth", `{"USERID":"alice","endUserIp":"192.0.2.1"}`, &resp)
	wantInvalid(t, code, resp, `case-sensitive: "userId"`)
	code = e.call(e.rp, "POST", "/rp/v1/auth", `{"userId":"alice","endUserIp":"192.0.2.1","payment":{"AmountMinor":"1","currency":"DKK","payee":"x"}}`, &resp)
	wantInvalid(t, code, resp, "payment.AmountMinor")
}

func TestWhatTheUserSees(t *testing.T) {
	e := start(t)
	e.createUser("alice", "hemmeligt1")
	start := func(body map[string]any) (int, apiError) {
		var out struct{ OrderRef, ErrorCode, Details string }
		code := e.call(e.rp, "POST", "/rp/v1/auth", body, &out)
		if code == 200 {
			e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": out.OrderRef}, nil)
		}
		return code, apiError{out.ErrorCode, out.Details}
	}
	pay := func(amount, currency, payee string) map[string]any {
		return map[string]any{"userId": "alice", "endUserIp": "192.0.2.1", "payment": map[string]string{"amountMinor": amount, "currency": currency, "payee": payee}}
	}
	for name, payee := range map[string]string{
		"ESC":                  "\x1b[31mNetto",
		"a C1 control":         "Netto\u0085",
		"DEL":                  "Netto\x7f",
		"a newline":            "Netto\nRefund",
		"right-to-left":        "Netto \u202eotteN",
		"an isolate":           "Netto \u2066x\u2069",
		"a zero-width space":   "Net\u200bto",
		"a byte-order mark":    "\ufeffNetto",
		"a right-to-left mark": "Netto\u200f",
		"71 characters":        strings.Repeat("ø", 141),
	} {
		code, resp := start(pay("100", "DKK", payee))
		if code != 400 || resp.ErrorCode != "invalidParameters" {
			t.Errorf("payee with %s: %d %+v", name, code, resp)
		}
	}
	for _, cur := range []string{"ZZZ", "XXX", "XTS", "XAU", "BGN", "HRK", "dkk"} {
		if code, resp := start(pay("100", cur, "Netto")); code != 400 || !strings.Contains(resp.Details, "currency") {
			t.Errorf("currency %s: %d %+v", cur, code, resp)
		}
	}
	// Limits are characters: 140 × "ø" (280 bytes) is a payee.
	if code, resp := start(pay("100", "EUR", strings.Repeat("ø", 140))); code != 200 {
		t.Fatalf("140 × ø: %d %+v", code, resp)
	}
	for name, text := range map[string]string{
		"ESC":           "Log in\x1b[2J",
		"right-to-left": "Pay \u202e0001 DKK",
		"a zero-width":  "Pa\u200dy",
		"a CR":          "Line\rover",
		"a separator":   "one\u2028two",
	} {
		code, resp := start(map[string]any{"userId": "alice", "endUserIp": "192.0.2.1", "userVisibleData": base64.StdEncoding.EncodeToString([]byte(text))})
		if code != 400 || !strings.Contains(resp.Details, "userVisibleData") {
			t.Errorf("userVisibleData with %s: %d %+v", name, code, resp)
		}
	}
	if code, resp := start(map[string]any{"userId": "alice", "endUserIp": "192.0.2.1",
		"userVisibleData": base64.StdEncoding.EncodeToString([]byte("Log in to Bank\nfrom Aarhus"))}); code != 200 {
		t.Fatalf("a newline in userVisibleData: %d %+v", code, resp)
	}
	for _, ip := range []string{"fe80::1%eth0", "fe80::1%" + strings.Repeat("x", 13900) + "<script>\u202e\n", "192.0.2.1 ", "::ffff:192.0.2.1%1", "localhost"} {
		if code, resp := start(map[string]any{"endUserIp": ip}); code != 400 || !strings.Contains(resp.Details, "endUserIp") {
			t.Errorf("endUserIp %.40q: %d %+v", ip, code, resp)
		}
	}
	if code, resp := start(map[string]any{"endUserIp": "2001:db8::1"}); code != 200 {
		t.Fatalf("an IPv6 address: %d %+v", code, resp)
	}
}

func TestAuditPageRange(t *testing.T) {
	e := start(t)
	for _, from := range []string{"9223372036854775808", "18446744073709551616", "0", "-1", "1e3", "x"} {
		var resp apiError
		if code := e.call(e.off, "GET", "/admin/v1/audit?from="+from, nil, &resp); code != 400 {
			t.Errorf("from=%s: %d %+v", from, code, resp)
		}
	}
	var page struct{ Records []any }
	if code := e.call(e.off, "GET", "/admin/v1/audit?from=9223372036854775807", nil, &page); code != 200 || len(page.Records) != 0 {
		t.Fatalf("from=MaxInt64: %d %+v", code, page)
	}
}

// otherCA makes a client certificate from a CA segld does not trust.
func otherCA(t *testing.T) string {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Other Bank Issuing CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Front end"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestRPMustChainToClientCA(t *testing.T) {
	e := start(t)
	var resp apiError
	code := e.call(e.off, "POST", "/admin/v1/rps", map[string]string{"id": "other", "name": "Other", "certificate": otherCA(t)}, &resp)
	wantInvalid(t, code, resp, `issued by CN=Other Bank Issuing CA, which is not segld's client CA (CN=Segl Development TLS CA`)
	foreign, _ := foreignClient(t) // a CA of the same name, another key
	pemBytes, _ := os.ReadFile(foreign)
	code = e.call(e.off, "POST", "/admin/v1/rps", map[string]string{"id": "other", "name": "Other", "certificate": string(pemBytes)}, &resp)
	wantInvalid(t, code, resp, "not its key")
	var rps struct{ RPs []any }
	if e.call(e.off, "GET", "/admin/v1/rps", nil, &rps); len(rps.RPs) != 1 {
		t.Fatalf("a refused RP was registered: %+v", rps)
	}
}

func TestMetricsOnlyForRegisteredCallers(t *testing.T) {
	e := start(t)
	cert, key := unregisteredClient(t, filepath.Dir(e.dev.TLSCA))
	stranger := clientFor(t, e.dev.TLSCA, cert, key)
	var resp apiError
	if code := e.call(stranger, "GET", "/metrics", nil, &resp); code != 401 || resp.ErrorCode != "unauthorized" {
		t.Fatalf("an unregistered certificate read /metrics: %d", code)
	}
	for name, c := range map[string]*http.Client{"relying party": e.rp, "officer": e.off} {
		resp, err := c.Get(e.addr + "/metrics")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", name, resp, err)
		}
		resp.Body.Close()
	}
}

// The config is the truth about officers: one taken out of it is removed
// at the next start, and its certificate gets 401.
func TestOfficerRemovedFromConfig(t *testing.T) {
	var extra []config.Officer
	d := daemontest.StartWith(t, daemontest.Options{Factors: nil, Config: func(c *config.Config) { c.Officers = append(c.Officers, extra...) }})
	cert, key := unregisteredClient(t, filepath.Dir(d.Dev.TLSCA))
	extra = []config.Officer{{ID: "temp", Name: "Temporary officer", Certificate: cert}}
	d = d.Restart(t)
	e := &env{t: t, dev: d.Dev, d: d, addr: d.Addr, off: clientFor(t, d.Dev.TLSCA, d.Dev.Cert, d.Dev.Key)}
	temp := clientFor(t, d.Dev.TLSCA, cert, key)
	var users map[string]any
	if code := e.call(temp, "GET", "/admin/v1/users", nil, &users); code != 200 {
		t.Fatalf("the added officer: %d", code)
	}
	extra = nil
	d = d.Restart(t)
	e.d, e.addr = d, d.Addr
	temp = clientFor(t, d.Dev.TLSCA, cert, key)
	var resp apiError
	if code := e.call(temp, "GET", "/admin/v1/users", nil, &resp); code != 401 || resp.ErrorCode != "unauthorized" {
		t.Fatalf("an officer taken out of the config: %d %+v, want 401", code, resp)
	}
	if code := e.call(e.off, "GET", "/admin/v1/users", nil, &users); code != 200 {
		t.Fatalf("the officer still in the config: %d", code)
	}
	if !containsInOrder(auditEvents(t, e), "admin.officer.registered", "admin.officer.removed") {
		t.Fatalf("audit: %v", auditEvents(t, e))
	}
	// Back in the config, back in office.
	extra = []config.Officer{{ID: "temp", Name: "Temporary officer", Certificate: cert}}
	d = d.Restart(t)
	e.addr = d.Addr
	if code := e.call(clientFor(t, d.Dev.TLSCA, cert, key), "GET", "/admin/v1/users", nil, &users); code != 200 {
		t.Fatalf("the officer put back: %d", code)
	}
}

// /readyz does an operation with a key in the HSM: with the token gone
// and no other traffic it turns 503 within 2 seconds, and back after.
func TestReadyzExercisesTheHSM(t *testing.T) {
	e := start(t)
	ready := func() int {
		resp, err := e.off.Get(e.addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ready(); code != 200 {
		t.Fatalf("before: %d", code)
	}
	tokens := filepath.Join(e.dev.Token.Dir, "tokens")
	if err := os.Rename(tokens, tokens+".away"); err != nil {
		t.Fatal(err)
	}
	back := func() { os.Rename(tokens+".away", tokens) }
	defer back()
	gone := time.Now()
	for ready() != 503 {
		if time.Since(gone) > 2*time.Second {
			t.Fatal("/readyz still 200 two seconds after the token went away")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("503 after %s", time.Since(gone).Round(time.Millisecond))
	back()
	returned := time.Now()
	for ready() != 200 {
		if time.Since(returned) > 15*time.Second {
			t.Fatal("/readyz not back 15 seconds after the token returned")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("200 again after %s", time.Since(returned).Round(time.Millisecond))
}
