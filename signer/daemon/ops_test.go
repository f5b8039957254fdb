package daemon_test

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/signer/config"
	"github.com/segl/segl/signer/daemon/daemontest"
)

// logLines decodes the daemon's JSON log.
func logLines(t *testing.T, d *daemontest.Daemon) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(d.Logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("a log line is not JSON: %s", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// Every request has a log line: method, route pattern, status, duration,
// caller and order; nothing of its body.
func TestRequestLog(t *testing.T) {
	e := start(t)
	e.createUser("ada", "hemmeligt1")
	o := e.startOrder("auth", map[string]string{"userId": "ada", "endUserIp": "192.0.2.1"})
	e.factor(o.OrderRef, "password", "hemmeligt1")
	cert, key := unregisteredClient(t, filepath.Dir(e.dev.TLSCA))
	e.call(clientFor(t, e.dev.TLSCA, cert, key), "POST", "/rp/v1/collect", map[string]string{"orderRef": o.OrderRef}, nil)
	e.call(e.rp, "POST", "/rp/v1/collect", map[string]string{"orderRef": "'; DROP TABLE orders; --"}, nil)
	var factor, stranger, junk map[string]any
	for _, l := range logLines(t, e.d) {
		if l["msg"] != "request" {
			continue
		}
		switch {
		case l["route"] == "POST /rp/v1/factor":
			factor = l
		case l["route"] == "POST /rp/v1/collect" && l["status"] == float64(401):
			stranger = l
		case l["route"] == "POST /rp/v1/collect" && l["status"] == float64(400):
			junk = l
		}
	}
	if factor == nil || factor["method"] != "POST" || factor["status"] != float64(200) || factor["caller"] != "rp:dev-rp" ||
		factor["order_ref"] != o.OrderRef || factor["duration_ms"] == nil {
		t.Fatalf("the factor's log line: %v", factor)
	}
	if stranger == nil || stranger["caller"] != "unknown" {
		t.Fatalf("an unregistered caller's line: %v", stranger)
	}
	if junk == nil || junk["order_ref"] != nil {
		t.Fatalf("a malformed orderRef reached the log: %v", junk)
	}
}

// The end-to-end flows with the log captured: no password, OTP, code,
// PIN or seed the test used is in it, in any spelling the test can think
// of.
func TestNoSecretInTheLog(t *testing.T) {
	e := start(t)
	secrets := []string{"hemmeligt-kodeord-1", "forkert-kodeord-2"}
	e.createUser("bea", secrets[0])
	// A password change, through the admin API.
	if code := e.call(e.off, "PUT", "/admin/v1/users/bea/password", map[string]string{"password": "nyt-kodeord-3"}, nil); code != 200 {
		t.Fatalf("password set: %d", code)
	}
	secrets = append(secrets, "nyt-kodeord-3")
	card := e.issueCard("bea")
	e.importPSKC(testPSKC)
	e.assign("HW0001", "bea")
	pay := map[string]any{"userId": "bea", "endUserIp": "192.0.2.1", "payment": map[string]string{"amountMinor": "4500", "currency": "DKK", "payee": "Bager"}}
	var o struct{ OrderRef string }
	e.call(e.rp, "POST", "/rp/v1/auth", pay, &o)
	e.factor(o.OrderRef, "password", "forkert-kodeord-2")
	e.factor(o.OrderRef, "password", "nyt-kodeord-3")
	ch := e.challenge(o.OrderRef)
	code := card.code(ch.KeyNumber)
	e.factor(o.OrderRef, "codecard", card.wrongCode(ch.KeyNumber))
	ch = e.challenge(o.OrderRef)
	e.factor(o.OrderRef, "codecard", card.code(ch.KeyNumber))
	secrets = append(secrets, code, card.code(ch.KeyNumber))
	e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": o.OrderRef, "type": "dlcode"}, nil)
	dl, err := e.d.DLCodes.Code(e.order(o.OrderRef))
	if err != nil {
		t.Fatal(err)
	}
	e.factor(o.OrderRef, "dlcode", dl)
	secrets = append(secrets, dl)
	o2 := e.startOrder("auth", map[string]string{"userId": "bea", "endUserIp": "192.0.2.1"})
	otp := hotp(rfcSeed, 0, 6)
	e.factor(o2.OrderRef, "otp", otp)
	secrets = append(secrets, otp)
	seed := []string{string(rfcSeed), hex.EncodeToString(rfcSeed), base64.StdEncoding.EncodeToString(rfcSeed)}
	secrets = append(secrets, seed...)
	pin, _ := os.ReadFile(e.dev.Token.PINFile)
	so, _ := os.ReadFile(e.dev.Token.SOPINFile)
	secrets = append(secrets, strings.TrimSpace(string(pin)), strings.TrimSpace(string(so)))
	logs := e.d.Logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Fatal("the log is empty: the test would prove nothing")
	}
	for _, s := range secrets {
		if len(s) < 6 {
			t.Fatalf("secret %q is too short to search for", s)
		}
		if strings.Contains(logs, s) {
			t.Errorf("the log holds a secret the test used: %q", s)
		}
	}
}

// ops-listen serves /healthz, /readyz and /metrics in plain HTTP without
// a certificate, and nothing else.
func TestOpsListener(t *testing.T) {
	d := daemontest.StartWith(t, daemontest.Options{Config: func(c *config.Config) { c.OpsListen = "127.0.0.1:0" }})
	c := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := c.Get(d.OpsAddr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	for _, path := range []string{"/rp/v1/collect", "/admin/v1/users", "/openapi.yaml"} {
		resp, err := c.Get(d.OpsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("%s on the ops listener: %d", path, resp.StatusCode)
		}
	}
}

// docs/metrics.md lists every metric of segld's own, with its labels.
func TestMetricsDocumented(t *testing.T) {
	e := start(t)
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(segl_[a-z_]+)` \\| [a-z]+ \\| ([^|]*)\\|")
	documented := map[string][]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		var labels []string
		for _, l := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(m[2], -1) {
			labels = append(labels, l[1])
		}
		documented[m[1]] = labels
	}
	have := e.d.Metrics()
	if len(have) < 8 {
		t.Fatalf("only %d metrics found: %v", len(have), have)
	}
	for name, labels := range have {
		doc, ok := documented[name]
		if !ok {
			t.Errorf("docs/metrics.md does not list %s", name)
			continue
		}
		slices.Sort(labels)
		slices.Sort(doc)
		if !slices.Equal(labels, doc) {
			t.Errorf("%s has labels %v, docs/metrics.md says %v", name, labels, doc)
		}
	}
	for name := range documented {
		if _, ok := have[name]; !ok {
			t.Errorf("docs/metrics.md lists %s, which segld does not have", name)
		}
	}
}

// An HSM that fails under a request is 503 maintenance with Retry-After,
// not an internal error, and counts nothing against the user.
func TestHSMTroubleIsMaintenance(t *testing.T) {
	e := start(t)
	e.createUser("cia", "hemmeligt1")
	o := e.startOrder("auth", map[string]string{"userId": "cia", "endUserIp": "192.0.2.1"})
	tokens := filepath.Join(e.dev.Token.Dir, "tokens")
	if err := os.Rename(tokens, tokens+".away"); err != nil {
		t.Fatal(err)
	}
	back := func() { os.Rename(tokens+".away", tokens) }
	defer back()
	var resp apiError
	code := e.call(e.rp, "POST", "/rp/v1/factor", map[string]string{"orderRef": o.OrderRef, "type": "password", "value": "forkert"}, &resp)
	if code != 503 || resp.ErrorCode != "maintenance" || e.lastHeader.Get("Retry-After") == "" {
		t.Fatalf("a factor with the HSM gone: %d %+v, Retry-After %q", code, resp, e.lastHeader.Get("Retry-After"))
	}
	back()
	if failures, _ := e.user("cia"); failures != 0 {
		t.Fatalf("the HSM's failure counted %d against the user", failures)
	}
}
