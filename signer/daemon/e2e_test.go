package daemon_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/segl/segl/cmd/segld/devenv"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/daemon/daemontest"
	"github.com/segl/segl/signer/factors"
	"github.com/segl/segl/signer/orders"
	"github.com/segl/segl/signer/store"
)

// testFactor is a possession factor whose right value is "ok": the tests
// of orders themselves (assertions, signatures, refusals, shutdown) use it
// so that they do not depend on a card or a token; the real factors have
// tests of their own.
type testFactor struct{}

func (testFactor) Type() factors.Type         { return "test" }
func (testFactor) Category() factors.Category { return factors.Possession }
func (testFactor) AMR() string                { return "hwk" }
func (testFactor) Verify(_ context.Context, a *factors.Attempt) (factors.Verdict, error) {
	return factors.Verdict{Right: a.Value == "ok", Reason: "not ok"}, nil
}

// env is a daemon started by the test on a real socket, and clients with
// the development certificates.
type env struct {
	t       *testing.T
	dev     *devenv.Env
	d       *daemontest.Daemon
	addr    string
	rp, off *http.Client
	// lastHeader is the header of the last answer call got.
	lastHeader http.Header
}

func clientFor(t *testing.T, caPath, certPath, keyPath string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	b, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(b)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	if certPath != "" {
		c, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Transport: &checkedTransport{t: t, next: &http.Transport{TLSClientConfig: cfg}}, Timeout: 30 * time.Second}
}

func start(t *testing.T) *env {
	t.Helper()
	d := daemontest.Start(t, testFactor{})
	return &env{t: t, dev: d.Dev, d: d, addr: d.Addr,
		rp:  clientFor(t, d.Dev.TLSCA, d.Dev.RPCert, d.Dev.RPKey),
		off: clientFor(t, d.Dev.TLSCA, d.Dev.Cert, d.Dev.Key)}
}

// call posts body as JSON and decodes the answer into out; it returns the
// status code.
func (e *env) call(c *http.Client, method, path string, body, out any) int {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.addr+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	e.lastHeader = resp.Header
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

type apiError struct {
	ErrorCode string `json:"errorCode"`
	Details   string `json:"details"`
}

func (e *env) createUser(id, pw string) {
	e.t.Helper()
	var out map[string]any
	if code := e.call(e.off, "POST", "/admin/v1/users", map[string]string{"id": id, "name": "User " + id, "password": pw}, &out); code != 201 {
		e.t.Fatalf("create user: %d %v", code, out)
	}
}

func (e *env) startOrder(kind string, body map[string]string) orders.StartResponse {
	e.t.Helper()
	var out orders.StartResponse
	if code := e.call(e.rp, "POST", "/rp/v1/"+kind, body, &out); code != 200 {
		e.t.Fatalf("start %s: %d", kind, code)
	}
	return out
}

func (e *env) factor(ref, typ, value string) orders.FactorResponse {
	e.t.Helper()
	var out orders.FactorResponse
	if code := e.call(e.rp, "POST", "/rp/v1/factor", map[string]string{"orderRef": ref, "type": typ, "value": value}, &out); code != 200 {
		e.t.Fatalf("factor %s: %d", typ, code)
	}
	return out
}

type collected struct {
	OrderRef       string `json:"orderRef"`
	Status         string `json:"status"`
	HintCode       string `json:"hintCode"`
	CompletionData struct {
		Assertion        string   `json:"assertion"`
		Signature        string   `json:"signature"`
		CertificateChain []string `json:"certificateChain"`
	} `json:"completionData"`
}

func (e *env) collect(ref string) collected {
	e.t.Helper()
	var out collected
	if code := e.call(e.rp, "POST", "/rp/v1/collect", map[string]string{"orderRef": ref}, &out); code != 200 {
		e.t.Fatalf("collect: %d", code)
	}
	return out
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAuthOrderGivesVerifiableJWS(t *testing.T) {
	e := start(t)
	e.createUser("alice", "correct horse")
	o := e.startOrder("auth", map[string]string{"userId": "alice", "endUserIp": "192.0.2.10", "userVisibleData": b64("Log in to Bank")})
	if got := e.collect(o.OrderRef); got.Status != "pending" || got.HintCode != "outstandingTransaction" {
		t.Fatalf("fresh order: %+v", got)
	}
	if r := e.factor(o.OrderRef, "password", "correct horse"); !r.Accepted || r.Status != "pending" {
		t.Fatalf("password: %+v; one factor must not complete an order", r)
	}
	if r := e.factor(o.OrderRef, "test", "ok"); !r.Accepted || r.Status != "complete" {
		t.Fatalf("second factor: %+v", r)
	}
	got := e.collect(o.OrderRef)
	if got.Status != "complete" || got.CompletionData.Assertion == "" {
		t.Fatalf("collect: %+v", got)
	}
	// Verify with a JOSE library and the issuer certificate's key.
	issuer := readCert(t, e.dev.IssuerCA)
	sig, err := jose.ParseSigned(got.CompletionData.Assertion, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := sig.Verify(issuer.PublicKey.(*ecdsa.PublicKey))
	if err != nil {
		t.Fatalf("the assertion does not verify with the issuer key: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != "alice" || claims["aud"] != devenv.DevRP || claims["order_ref"] != o.OrderRef || claims["iss"] != "segl-dev" {
		t.Fatalf("claims: %v", claims)
	}
	if amr := fmt.Sprint(claims["amr"]); amr != "[pwd hwk mfa]" {
		t.Fatalf("amr %s", amr)
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 300 {
		t.Fatalf("exp-iat = %v", exp-iat)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pemDecode(b)
	c, err := x509.ParseCertificate(block)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSignOrderGivesCMSThatOpenSSLVerifies(t *testing.T) {
	e := start(t)
	e.createUser("bob", "battery staple")
	dir := t.TempDir()
	doc := []byte("I, Bob, agree to the loan terms of 2026-11-22.\n")
	docPath := filepath.Join(dir, "doc.txt")
	os.WriteFile(docPath, doc, 0o644)
	sum := sha256.Sum256(doc)
	o := e.startOrder("sign", map[string]string{"userId": "bob", "endUserIp": "2001:db8::1",
		"userVisibleData": b64("Loan agreement"), "documentDigest": base64.StdEncoding.EncodeToString(sum[:])})
	e.factor(o.OrderRef, "test", "ok")
	if r := e.factor(o.OrderRef, "password", "battery staple"); r.Status != "complete" {
		t.Fatalf("%+v", r)
	}
	got := e.collect(o.OrderRef)
	cms, err := base64.StdEncoding.DecodeString(got.CompletionData.Signature)
	if err != nil || len(cms) == 0 {
		t.Fatalf("signature: %q %v", got.CompletionData.Signature, err)
	}
	if len(got.CompletionData.CertificateChain) < 1 {
		t.Fatal("no certificate chain")
	}
	sigPath := filepath.Join(dir, "sig.der")
	os.WriteFile(sigPath, cms, 0o644)
	verify := func(content string) error {
		out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-content", content, "-inform", "DER", "-in", sigPath,
			"-CAfile", e.dev.IssuerCA, "-out", os.DevNull).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := verify(docPath); err != nil {
		t.Fatalf("openssl cms -verify refused the signature: %v", err)
	}
	altered := filepath.Join(dir, "altered.txt")
	os.WriteFile(altered, bytes.Replace(doc, []byte("loan"), []byte("LOAN"), 1), 0o644)
	if err := verify(altered); err == nil {
		t.Fatal("openssl accepted the signature for a changed document")
	}
	// Metrics: HSM latencies by operation, orders by state.
	resp, err := e.rp.Get(e.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`segl_hsm_operation_seconds_count{op="user_sign"} 1`, `segl_hsm_operation_seconds_count{op="activation_mac"}`,
		`segl_hsm_operation_seconds_count{op="password_pepper"}`, `segl_orders{state="complete"} 1`,
		`segl_http_requests_total{code="200",route="POST /rp/v1/factor"} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	// The signature was recorded before it was returned.
	events := auditEvents(t, e)
	if !containsInOrder(events, "factor.accepted", "signature.intent", "signature.made") {
		t.Fatalf("audit events %v", events)
	}
}

func auditEvents(t *testing.T, e *env) []string {
	t.Helper()
	var events []string
	err := e.d.Store().View(context.Background(), func(r store.Reader) error {
		return r.AuditRecords(1, func(s audit.Stored) (bool, error) {
			events = append(events, s.Record.Event)
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func containsInOrder(have []string, want ...string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestRefusals(t *testing.T) {
	e := start(t)
	e.createUser("carol", "open sesame")
	o := e.startOrder("auth", map[string]string{"userId": "carol", "endUserIp": "192.0.2.1"})

	t.Run("no client certificate", func(t *testing.T) {
		c := clientFor(t, e.dev.TLSCA, "", "")
		if _, err := c.Get(e.addr + "/healthz"); err == nil {
			t.Fatal("a client without a certificate got through")
		}
	})
	t.Run("a certificate from another CA", func(t *testing.T) {
		certPath, keyPath := foreignClient(t)
		c := clientFor(t, e.dev.TLSCA, certPath, keyPath)
		if _, err := c.Get(e.addr + "/healthz"); err == nil {
			t.Fatal("a certificate from another CA got through")
		}
	})
	t.Run("an unregistered certificate from the client CA", func(t *testing.T) {
		cert, key := unregisteredClient(t, filepath.Dir(e.dev.TLSCA))
		c := clientFor(t, e.dev.TLSCA, cert, key)
		var errResp apiError
		if code := e.call(c, "POST", "/rp/v1/collect", map[string]string{"orderRef": o.OrderRef}, &errResp); code != 401 || errResp.ErrorCode != "unauthorized" {
			t.Fatalf("%d %+v", code, errResp)
		}
	})
	t.Run("an officer certificate on the RP API", func(t *testing.T) {
		var errResp apiError
		if code := e.call(e.off, "POST", "/rp/v1/collect", map[string]string{"orderRef": o.OrderRef}, &errResp); code != 403 {
			t.Fatalf("%d", code)
		}
	})
	t.Run("another RP's order is not found", func(t *testing.T) {
		other, key := unregisteredClient(t, filepath.Dir(e.dev.TLSCA))
		pemBytes, _ := os.ReadFile(other)
		var rp map[string]any
		if code := e.call(e.off, "POST", "/admin/v1/rps", map[string]string{"id": "other-bank", "name": "Other Bank", "certificate": string(pemBytes)}, &rp); code != 201 {
			t.Fatalf("register: %d %v", code, rp)
		}
		c := clientFor(t, e.dev.TLSCA, other, key)
		var errResp apiError
		if code := e.call(c, "POST", "/rp/v1/collect", map[string]string{"orderRef": o.OrderRef}, &errResp); code != 404 || errResp.ErrorCode != "notFound" {
			t.Fatalf("another RP collected the order: %d %+v", code, errResp)
		}
		if code := e.call(c, "POST", "/rp/v1/cancel", map[string]string{"orderRef": o.OrderRef}, &errResp); code != 404 {
			t.Fatalf("another RP cancelled the order: %d", code)
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		var errResp apiError
		if code := e.call(e.rp, "POST", "/rp/v1/auth", `{"endUserIp":`, &errResp); code != 400 || errResp.ErrorCode != "invalidParameters" {
			t.Fatalf("%d %+v", code, errResp)
		}
	})
	t.Run("unknown field", func(t *testing.T) {
		var errResp apiError
		if code := e.call(e.rp, "POST", "/rp/v1/auth", `{"endUserIp":"192.0.2.1","personalNumber":"1"}`, &errResp); code != 400 {
			t.Fatalf("%d %+v", code, errResp)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		var errResp apiError
		big := `{"endUserIp":"192.0.2.1","userVisibleData":"` + strings.Repeat("A", 1<<20) + `"}`
		if code := e.call(e.rp, "POST", "/rp/v1/auth", big, &errResp); code != 400 || !strings.Contains(errResp.Details, "larger than") {
			t.Fatalf("%d %+v", code, errResp)
		}
	})
	t.Run("userVisibleData over 1500 characters", func(t *testing.T) {
		var errResp apiError
		uvd := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 1200)) // 1600 characters
		if code := e.call(e.rp, "POST", "/rp/v1/auth", map[string]string{"endUserIp": "192.0.2.1", "userVisibleData": uvd}, &errResp); code != 400 ||
			!strings.Contains(errResp.Details, "1500") {
			t.Fatalf("%d %+v", code, errResp)
		}
	})
	t.Run("one pending order per user", func(t *testing.T) {
		var errResp apiError
		if code := e.call(e.rp, "POST", "/rp/v1/auth", map[string]string{"userId": "carol", "endUserIp": "192.0.2.1"}, &errResp); code != 409 ||
			errResp.ErrorCode != "alreadyInProgress" {
			t.Fatalf("%d %+v", code, errResp)
		}
	})
	t.Run("wrong factors block the user everywhere", func(t *testing.T) {
		// A wrong password and a wrong other factor get the same answer.
		wrongPW := e.factor(o.OrderRef, "password", "not it")
		wrongOther := e.factor(o.OrderRef, "test", "not it")
		if wrongPW != wrongOther {
			t.Fatalf("a wrong password answers %+v, another wrong factor %+v", wrongPW, wrongOther)
		}
		for range 3 {
			e.factor(o.OrderRef, "password", "not it")
		}
		got := e.collect(o.OrderRef)
		if got.Status != "failed" || got.HintCode != "userBlocked" {
			t.Fatalf("after 5 failures: %+v", got)
		}
		var errResp apiError
		if code := e.call(e.rp, "POST", "/rp/v1/sign", map[string]string{"userId": "carol", "endUserIp": "192.0.2.1",
			"userVisibleData": b64("x"), "documentDigest": base64.StdEncoding.EncodeToString(make([]byte, 32))}, &errResp); code != 400 ||
			!strings.Contains(errResp.Details, "blocked") {
			t.Fatalf("a blocked user started an order: %d %+v", code, errResp)
		}
	})
	t.Run("disabled RP", func(t *testing.T) {
		// A client that resumes TLS sessions: once disabled, the RP must
		// not get back in on a session ticket issued before.
		resuming := clientFor(t, e.dev.TLSCA, e.dev.RPCert, e.dev.RPKey)
		tr := resuming.Transport.(*checkedTransport).next.(*http.Transport)
		tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		for i := range 2 {
			resp, err := resuming.Get(e.addr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if i == 1 && !resp.TLS.DidResume {
				t.Fatal("the second connection did not resume the TLS session")
			}
			tr.CloseIdleConnections()
		}
		var out map[string]any
		if code := e.call(e.off, "POST", "/admin/v1/rps/"+devenv.DevRP+"/disable", nil, &out); code != 200 {
			t.Fatalf("disable: %d %v", code, out)
		}
		if _, err := resuming.Get(e.addr + "/healthz"); err == nil {
			t.Fatal("a disabled RP got in by resuming a TLS session")
		}
		c := clientFor(t, e.dev.TLSCA, e.dev.RPCert, e.dev.RPKey) // a new connection
		_, err := c.Get(e.addr + "/healthz")
		if err == nil {
			t.Fatal("a disabled RP completed a handshake")
		}
		var errResp apiError
		// The old, open connection is refused per request too.
		if code := e.call(e.rp, "POST", "/rp/v1/collect", map[string]string{"orderRef": o.OrderRef}, &errResp); code == 200 {
			t.Fatal("a disabled RP's open connection was served")
		}
	})
	if logs := e.d.Logs.String(); strings.Contains(logs, "open sesame") || strings.Contains(logs, "not it") {
		t.Errorf("a password reached the log:\n%s", logs)
	}
	events := auditEvents(t, e)
	for _, want := range []string{"tls.unknown_certificate", "factor.refused", "user.blocked", "admin.rp.disabled", "tls.disabled_certificate"} {
		if !containsInOrder(events, want) {
			t.Errorf("no audit record %s in %v", want, events)
		}
	}
}

// slowFactor takes its time, so that a shutdown finds it in flight.
type slowFactor struct{ testFactor }

func (slowFactor) Type() factors.Type { return "slow" }
func (f slowFactor) Verify(ctx context.Context, a *factors.Attempt) (factors.Verdict, error) {
	time.Sleep(500 * time.Millisecond)
	return f.testFactor.Verify(ctx, a)
}

func TestGracefulShutdownFinishesRequests(t *testing.T) {
	d := daemontest.Start(t, slowFactor{})
	e := &env{t: t, dev: d.Dev, d: d, addr: d.Addr,
		rp:  clientFor(t, d.Dev.TLSCA, d.Dev.RPCert, d.Dev.RPKey),
		off: clientFor(t, d.Dev.TLSCA, d.Dev.Cert, d.Dev.Key)}
	e.createUser("erin", "swordfish")
	o := e.startOrder("auth", map[string]string{"userId": "erin", "endUserIp": "192.0.2.1"})
	answered := make(chan orders.FactorResponse, 1)
	go func() {
		// Not e.call: t.Fatal belongs to the test's goroutine.
		var out orders.FactorResponse
		body := `{"orderRef":"` + o.OrderRef + `","type":"slow","value":"ok"}`
		resp, err := e.rp.Post(e.addr+"/rp/v1/factor", "application/json", strings.NewReader(body))
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
		}
		answered <- out
	}()
	time.Sleep(150 * time.Millisecond) // the request is inside the factor check
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	// Had the shutdown cut the connection, the client would have an error
	// and no acceptance.
	select {
	case out := <-answered:
		if !out.Accepted {
			t.Fatalf("the request in flight was answered %+v", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request in flight was never answered")
	}
	if _, err := e.rp.Get(e.addr + "/healthz"); err == nil {
		t.Fatal("the daemon still answers after shutdown")
	}
}

func TestOrderExpiry(t *testing.T) {
	e := start(t)
	e.createUser("dave", "hunter22")
	o := e.startOrder("auth", map[string]string{"userId": "dave", "endUserIp": "192.0.2.1"})
	e.d.Clock.Set(3*time.Minute + time.Second)
	got := e.collect(o.OrderRef)
	if got.Status != "failed" || got.HintCode != "expiredTransaction" {
		t.Fatalf("%+v", got)
	}
	// The user may start again.
	e.startOrder("auth", map[string]string{"userId": "dave", "endUserIp": "192.0.2.1"})
}

func TestQR(t *testing.T) {
	e := start(t)
	o := e.startOrder("auth", map[string]string{"endUserIp": "192.0.2.1"})
	var qr struct{ QRData string }
	if code := e.call(e.rp, "POST", "/rp/v1/qr", map[string]string{"orderRef": o.OrderRef}, &qr); code != 200 {
		t.Fatal(code)
	}
	var ok struct{ OrderRef string }
	if code := e.call(e.rp, "POST", "/rp/v1/qr/verify", map[string]string{"qrData": qr.QRData}, &ok); code != 200 || ok.OrderRef != o.OrderRef {
		t.Fatalf("fresh scan: %d %+v", code, ok)
	}
	e.d.Clock.Set(5 * time.Second)
	var errResp apiError
	if code := e.call(e.rp, "POST", "/rp/v1/qr/verify", map[string]string{"qrData": qr.QRData}, &errResp); code != 400 {
		t.Fatalf("a 5-second-old QR code was accepted: %d", code)
	}
	e.d.Clock.Set(0) // fresh again: only the forgery is wrong below
	forged := qr.QRData[:len(qr.QRData)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", qr.QRData[len(qr.QRData)-1])+1)%16])
	if code := e.call(e.rp, "POST", "/rp/v1/qr/verify", map[string]string{"qrData": forged}, &errResp); code != 400 {
		t.Fatalf("a forged QR code was accepted: %d", code)
	}
	// The same code as an image.
	resp, err := e.rp.Post(e.addr+"/rp/v1/qr", "application/json", strings.NewReader(`{"orderRef":"`+o.OrderRef+`","format":"png"}`))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Header.Get("Content-Type") != "image/png" || img.Bounds().Dx() < 100 {
		t.Fatalf("PNG: %v %s", err, resp.Header.Get("Content-Type"))
	}
	// Cancelled, the order shows no more codes, and cannot be cancelled twice.
	if code := e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": o.OrderRef}, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	if got := e.collect(o.OrderRef); got.Status != "failed" || got.HintCode != "cancelled" {
		t.Fatalf("after cancel: %+v", got)
	}
	if code := e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": o.OrderRef}, &errResp); code != 400 {
		t.Fatalf("cancel twice: %d", code)
	}
	if code := e.call(e.rp, "POST", "/rp/v1/qr", map[string]string{"orderRef": o.OrderRef}, &errResp); code != 400 {
		t.Fatalf("a QR code for a cancelled order: %d", code)
	}
}

// A relying party verifies assertions the OIDC way: the key from
// GET /rp/v1/jwks whose kid the JWS header names, with the issuer's chain.
func TestJWKSVerifiesAssertions(t *testing.T) {
	e := start(t)
	e.createUser("jon", "hemmeligt1")
	o := e.startOrder("auth", map[string]string{"userId": "jon", "endUserIp": "192.0.2.1"})
	e.factor(o.OrderRef, "password", "hemmeligt1")
	e.factor(o.OrderRef, "test", "ok")
	got := e.collect(o.OrderRef)
	var set jose.JSONWebKeySet
	if code := e.call(e.rp, "GET", "/rp/v1/jwks", nil, &set); code != 200 || len(set.Keys) != 1 {
		t.Fatalf("jwks: %d %+v", code, set)
	}
	sig, err := jose.ParseSigned(got.CompletionData.Assertion, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(sig.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("no key in the set has the assertion's kid %q", sig.Signatures[0].Header.KeyID)
	}
	if _, err := sig.Verify(keys[0]); err != nil {
		t.Fatalf("the JWKS key does not verify the assertion: %v", err)
	}
	issuer := readCert(t, e.dev.IssuerCA)
	if len(keys[0].Certificates) == 0 || !keys[0].Certificates[0].Equal(issuer) || keys[0].Algorithm != "ES256" || keys[0].Use != "sig" {
		t.Fatalf("x5c/alg/use: %+v", keys[0])
	}
}
